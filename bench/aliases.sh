#!/usr/bin/env bash
# Compile a 1,000,000-line aliases file and look up 1,000,000 random keys, side by side with
# Postfix's postalias (cdb tables, from Debian's postfix-cdb), in one run.
#   bench/aliases.sh [LINES]          (build first: bench/build-release.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
mdad=.build-static/release/mdad
work=$(mktemp -d /tmp/mdad-aliases-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/etc" && : > "$work/etc/main.cf"
python3 - "$work" "$lines" <<'PY'
import random, sys
work, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
with open(f"{work}/aliases", "w") as f:
    for i in range(n):
        f.write(f"user{i}: u{i}@example.com, list{i % 97}, \"|/usr/bin/filter {i}\"\n")
with open(f"{work}/keys", "w") as f:
    for _ in range(n):
        f.write(f"user{rng.randrange(n * 11 // 10)}\n")   # about 9 % misses
PY
cp "$work/aliases" "$work/aliases-mdad"
t() { local s e; s=$(date +%s%N); "$@" > "$work/out" 2>/dev/null || true; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
pf_build=$(t /usr/sbin/postalias -c "$work/etc" "cdb:$work/aliases")
md_build=$(t "$mdad" postalias -c "$work/etc" "cdb:$work/aliases-mdad")
pf_q=$(t sh -c "/usr/sbin/postalias -c '$work/etc' -q - 'cdb:$work/aliases' < '$work/keys'")
pf_found=$(wc -l < "$work/out")
md_q=$(t sh -c "'$mdad' postalias -c '$work/etc' -q - 'cdb:$work/aliases-mdad' < '$work/keys'")
md_found=$(wc -l < "$work/out")
echo "aliases: $lines lines; lookups: $lines random keys through -q - (found: postalias $pf_found, mdad $md_found)"
printf "%-22s %12s %12s %8s\n" "" "postalias" "mdad" "ratio"
printf "%-22s %10s ms %10s ms %7.2fx\n" "compile" "$pf_build" "$md_build" "$(echo "$pf_build / $md_build" | bc -l)"
printf "%-22s %10s ms %10s ms %7.2fx\n" "$lines lookups (-q -)" "$pf_q" "$md_q" "$(echo "$pf_q / $md_q" | bc -l)"
printf "%-22s %12.0f %12.0f\n" "lookups per second" "$(echo "$lines * 1000 / $pf_q" | bc -l)" "$(echo "$lines * 1000 / $md_q" | bc -l)"
