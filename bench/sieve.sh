#!/usr/bin/env bash
# Sieve executions per second: a realistic 40-rule user script (bench/sieve-40-rules.sieve) over
# the standard corpus (Tests/EndToEndTests/Corpus), mdad against Pigeonhole's sieve-test
# (Debian's dovecot-sieve), side by side in one run.
#   bench/sieve.sh [ROUNDS]          (build first: bench/build-release.sh)
#
# Pigeonhole runs its precompiled binary (sievec writes the .svbin sieve-test loads), so its
# compile is excluded; each of its executions is one sieve-test process. mdad is measured
# the same way (one `mdad sieve-test` process per execution, which compiles the script: mdad
# keeps no binary), and in-process (`-R N`: one compile, N executions), which is how the
# rules stage runs a cached script.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
mdad=${MDAD:-.build-static/release/mdad}
[ -x "$mdad" ] || { echo "no $mdad: run bench/build-release.sh first" >&2; exit 1; }
command -v sieve-test >/dev/null || { echo "Pigeonhole's sieve-test is missing (apt-get install dovecot-sieve)" >&2; exit 1; }
work=$(mktemp -d /tmp/mdad-sieve-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"
if [ "$(id -u)" = 0 ]; then user=nobody; group=nogroup; else user=$(id -un); group=$(id -gn); fi
mkdir -p "$work/home" "$work/scripts" "$work/corpus"
cat > "$work/dovecot.conf" <<CONF
mail_home = $work/home
mail_location = maildir:$work/home/Maildir
mail_uid = $user
mail_gid = $group
CONF
cp bench/sieve-40-rules.sieve "$work/scripts/user.sieve"
cp Tests/EndToEndTests/Corpus/*.eml "$work/corpus/"
chmod -R a+rX "$work"
[ "$(id -u)" = 0 ] && chown -R "$user:$group" "$work/home" "$work/scripts"
script="$work/scripts/user.sieve"
sievec -c "$work/dovecot.conf" "$script"
[ -f "$work/scripts/user.svbin" ] || { echo "sievec wrote no binary" >&2; exit 1; }
msgs=("$work"/corpus/*.eml)

# The two must agree before their speed means anything.
same=0
for m in "${msgs[@]}"; do
    a=$(sieve-test -c "$work/dovecot.conf" "$script" "$m" 2>/dev/null || true)
    b=$("$mdad" sieve-test "$script" "$m" 2>/dev/null || true)
    [ "$a" = "$b" ] && same=$((same + 1))
done

now() { date +%s%N; }
s=$(now)
for _ in $(seq "$rounds"); do for m in "${msgs[@]}"; do sieve-test -c "$work/dovecot.conf" "$script" "$m" >/dev/null 2>&1; done; done
pig_ns=$(( $(now) - s ))
s=$(now)
for _ in $(seq "$rounds"); do for m in "${msgs[@]}"; do "$mdad" sieve-test "$script" "$m" >/dev/null 2>&1; done; done
mdad_ns=$(( $(now) - s ))
# In-process: N executions of the compiled script per message, timed by mdad itself.
inproc_s=0
per=$(( rounds * 50 ))
for m in "${msgs[@]}"; do
    t=$("$mdad" sieve-test -R "$((per + 1))" "$script" "$m" 2>&1 >/dev/null | sed -n 's/^executions: [0-9]* in \([0-9.e-]*\)s$/\1/p')
    inproc_s=$(echo "$inproc_s + $t" | bc -l)
done

n=$(( rounds * ${#msgs[@]} ))
pig_rate=$(echo "$n * 1000000000 / $pig_ns" | bc -l)
mdad_rate=$(echo "$n * 1000000000 / $mdad_ns" | bc -l)
inproc_rate=$(echo "$per * ${#msgs[@]} / $inproc_s" | bc -l)
echo "script: 40 rules; corpus: ${#msgs[@]} messages; outputs identical for $same/${#msgs[@]} messages"
printf "%-44s %14s %10s\n" "" "executions/s" "vs Pigeonhole"
printf "%-44s %14.0f %10s\n" "Pigeonhole sieve-test (precompiled .svbin)" "$pig_rate" "1.00x"
printf "%-44s %14.0f %9.2fx\n" "mdad sieve-test (one process each)" "$mdad_rate" "$(echo "$mdad_rate / $pig_rate" | bc -l)"
printf "%-44s %14.0f %9.2fx\n" "mdad in-process (compiled once, -R)" "$inproc_rate" "$(echo "$inproc_rate / $pig_rate" | bc -l)"
