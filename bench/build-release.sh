#!/usr/bin/env bash
# The release builds the benchmarks measure (and the ones to install):
# - mdad (the daemon and admin commands) and mdad-procmail: the Swift runtime linked
#   statically, relative relocations packed (DT_RELR, lld), in .build-static;
# - mdad-deliver, which starts once per message: a fully static executable
#   (-static-executable), in .build-exe. With no dynamic loader, no relocations and no
#   position-independent data to copy on write, it starts in about half the time. Install it
#   next to mdad: it answers user lookups from /etc/passwd and /etc/group and hands a
#   delivery to `mdad deliver` when NSS would need a module (see README, "Installing").
#   The linker's warnings about NSS in static programs are expected and filtered out.
set -euo pipefail
cd "$(dirname "$0")/.."
for product in mdad mdad-procmail; do
    swift build -c release --static-swift-stdlib --scratch-path .build-static --product "$product" \
        -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld -Xlinker -z -Xlinker pack-relative-relocs
done
scripts/build-static-deliver
echo "built .build-static/release/mdad, .build-static/release/mdad-procmail and .build-exe/release/mdad-deliver"
