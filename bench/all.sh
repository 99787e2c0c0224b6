#!/usr/bin/env bash
# Every side-by-side benchmark in bench/, each with a short budget, and one Markdown page of
# results: bench/RESULTS.md (a table of mdad against each peer per workload, a bar chart of the
# ratios, and every benchmark's own output).
#
#   bench/all.sh            short budgets (about half an hour in all)
#   BUDGET=full bench/all.sh   each benchmark's own defaults
#
# Needs the release build (bench/build-release.sh runs first) and the peers of scripts/deps
# BENCH_PACKAGES (procmail, dovecot, Postfix's postalias). A benchmark that fails is reported
# as failed in the page; the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
out=bench/results
mkdir -p "$out"
short=1; [ "${BUDGET:-short}" = full ] && short=0

bench/build-release.sh > "$out/build.txt" 2>&1 || { cat "$out/build.txt" >&2; exit 1; }

run() {   # NAME COMMAND...
    local name=$1; shift
    echo "== $name: $*" >&2
    local start=$(date +%s)
    if "$@" > "$out/$name.txt" 2>&1; then echo ok > "$out/$name.status"; else echo "failed (exit $?)" > "$out/$name.status"; fi
    echo "$(( $(date +%s) - start ))" > "$out/$name.seconds"
}

if [ $short = 1 ]; then
    run aliases bench/aliases.sh 100000
    run deliver python3 bench/deliver.py --runs 30
    run lmtp python3 bench/lmtp.py --seconds 2
    run mime bench/mime.sh 40 10
    run sieve bench/sieve.sh 10
    run procmail python3 bench/procmail.py --runs 100
    run spam python3 bench/spam.py 60
    run bayes python3 bench/bayes.py 400 60
    run relay python3 bench/relay.py --messages 500 --recovery 2000
    run pgsql bench/pgsql.sh 20000 5000
    run rewrite bench/rewrite.sh 2 500
else
    run aliases bench/aliases.sh
    run deliver python3 bench/deliver.py
    run lmtp python3 bench/lmtp.py
    run mime bench/mime.sh
    run sieve bench/sieve.sh
    run procmail python3 bench/procmail.py
    run spam python3 bench/spam.py
    run bayes python3 bench/bayes.py
    run relay python3 bench/relay.py
    run pgsql bench/pgsql.sh
    run rewrite bench/rewrite.sh
fi

python3 bench/results_table.py "$out" > bench/RESULTS.md
echo "wrote bench/RESULTS.md" >&2
