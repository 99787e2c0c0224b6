#!/usr/bin/env bash
# The release builds the benchmarks measure (and the ones to install):
# - mdad, the daemon and admin commands: the Swift runtime linked statically, relative
#   relocations packed (DT_RELR, lld), in .build-static;
# - mdad-deliver and mdad-procmail, which start once per message: fully static executables
#   (-static-executable), in .build-exe. With no dynamic loader at all, a delivery starts in
#   about a quarter of the time the dynamically linked program needs (the loader's symbol
#   lookups were half of it). glibc's NSS still loads its modules for getpwnam at run time,
#   so the program must run on the glibc it was built with (the linker warns about that).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --static-swift-stdlib --scratch-path .build-static --product mdad \
    -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld -Xlinker -z -Xlinker pack-relative-relocs
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for product in mdad-deliver mdad-procmail; do
    if ! swift build -c release --static-swift-stdlib -Xswiftc -static-executable --scratch-path .build-exe \
        --product "$product" > "$log" 2>&1; then
        cat "$log" >&2
        exit 1
    fi
    # The NSS warnings above are expected; anything else is shown.
    grep -v "statically linked applications requires at runtime" "$log" || true
done
echo "built .build-static/release/mdad, .build-exe/release/mdad-deliver and .build-exe/release/mdad-procmail"
