#!/bin/sh
# Builds and tests the example package on its own (its own .build, mdad as a path dependency),
# then shows its stage in postconf. Run from anywhere: examples/custom-stage/build.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
swift build --package-path "$here"
swift test --package-path "$here"
bin=$(swift build --package-path "$here" --show-bin-path)/my-mdad
"$bin" postconf urgent_words
