#!/usr/bin/env bash
# MIME parse-and-decode throughput and memory: mdad's Pipeline (MIMEBench, release build)
# against Python's email package on the same generated corpus, side by side.
#
#   bench/mime.sh [COUNT] [BIG_MB]     defaults: 200 messages (2 KB to 2 MB), a 100 MB message
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-200}
big_mb=${2:-100}
if ! out=$(swift build -c release --product MIMEBench --scratch-path .build-bench 2>&1); then
    echo "$out" >&2
    exit 1
fi
bench=.build-bench/release/MIMEBench
work=$(mktemp -d /tmp/mdad-mime-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
"$bench" generate "$work/corpus" "$count"
"$bench" generate-big "$work/big.eml" "$big_mb"

echo "== mdad (MIMEBench, release)"
"$bench" run "$work/corpus" | tee "$work/mdad.txt"
"$bench" big "$work/big.eml" | tee "$work/mdad-big.txt"
echo "== Python $(python3 -c 'import sys; print(sys.version.split()[0])') email package (policy=default)"
python3 bench/mime_email.py run "$work/corpus" | tee "$work/py.txt"
python3 bench/mime_email.py big "$work/big.eml" | tee "$work/py-big.txt"

get() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
echo "== ratios (mdad / Python)"
awk -v a="$(get "$work/mdad.txt" mb_per_s)" -v b="$(get "$work/py.txt" mb_per_s)" \
    'BEGIN { printf "corpus MB/s: mdad %.1f, python %.1f, ratio %.1fx\n", a, b, a / b }'
awk -v a="$(get "$work/mdad.txt" msgs_per_s)" -v b="$(get "$work/py.txt" msgs_per_s)" \
    'BEGIN { printf "corpus messages/s: mdad %.1f, python %.1f, ratio %.1fx\n", a, b, a / b }'
awk -v a="$(get "$work/mdad-big.txt" big_mb_per_s)" -v b="$(get "$work/py-big.txt" big_mb_per_s)" \
    'BEGIN { printf "%s MB message MB/s: mdad %.1f, python %.1f, ratio %.1fx\n", '"$big_mb"', a, b, a / b }'
awk -v a="$(get "$work/mdad-big.txt" big_rss_growth_kb)" -v b="$(get "$work/py-big.txt" big_rss_growth_kb)" \
    'BEGIN { printf "%s MB message peak RSS growth: mdad %.1f MB, python %.1f MB\n", '"$big_mb"', a / 1024, b / 1024 }'
