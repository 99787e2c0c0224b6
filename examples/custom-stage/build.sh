#!/bin/sh
# Builds and tests the example package on its own (mdad as a path dependency, its own build
# directory outside the source tree), then shows its stage in postconf.
#   examples/custom-stage/build.sh [SCRATCH_DIR]      (default /tmp/mdad-custom-stage-build)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
scratch=${1:-/tmp/mdad-custom-stage-build}
# mdad's own package compiles this directory's stage in its tests: leave no files behind here.
trap 'rm -f "$here/Package.resolved"' EXIT
swift build --package-path "$here" --scratch-path "$scratch"
swift test --package-path "$here" --scratch-path "$scratch"
"$(swift build --package-path "$here" --scratch-path "$scratch" --show-bin-path)/my-mdad" postconf urgent_words
