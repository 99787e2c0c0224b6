#!/usr/bin/env bash
# Fuzzes one target (or all) with libFuzzer and AddressSanitizer, for a time budget each.
# (Linked with lld: gold fails on the sanitizer build.)
#   fuzz/run.sh [TARGET|all] [SECONDS]
# Targets: see Sources/FuzzTargets/FuzzTargets.swift. Seeds come from Tests/FuzzTests/Corpus/TARGET
# (read only); the growing corpus lives in fuzz/corpus/TARGET (not in git). A crash is written
# to fuzz/crashes/TARGET/; copy it into Tests/FuzzTests/Corpus/TARGET/ so the replay test keeps
# it as a regression test. Not run by CI (CI replays the corpora through the same entry points).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-all}
seconds=${2:-60}
swift build -c release --scratch-path .build-fuzz --product mdad-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld >&2
bin=.build-fuzz/release/mdad-fuzz
if [ "$target" = all ]; then
    targets=$(ls Tests/FuzzTests/Corpus)
else
    targets=$target
fi
for t in $targets; do
    mkdir -p "fuzz/corpus/$t" "fuzz/crashes/$t"
    echo "== $t ($seconds s)"
    MDAD_FUZZ_TARGET=$t "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="fuzz/crashes/$t/" -print_final_stats=1 "fuzz/corpus/$t" "Tests/FuzzTests/Corpus/$t" 2>&1 \
        | grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)" || true
done
