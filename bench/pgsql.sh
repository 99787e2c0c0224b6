#!/usr/bin/env bash
# Lookups per second through a pgsql: table, mdad against Postfix's own (postfix-pgsql), on the
# same PostgreSQL server and the same table file: both read the keys from stdin (`-q -`), one
# connection each, one query per key.
#   bench/pgsql.sh [ROWS] [KEYS]     (MDAD=path/to/mdad; default the release build of
#                                     bench/build-release.sh, else the debug build)
# Starts its own PostgreSQL (Debian's postgresql) in a temporary directory on 127.0.0.1 at a
# free port, as the postgres user when run as root, and stops it by PID at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-100000}
keys=${2:-20000}
mdad=${MDAD:-.build-static/release/mdad}
[ -x "$mdad" ] || mdad=.build/debug/mdad
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work=$(mktemp -d /tmp/mdad-pgsql-bench.XXXXXX)
as_pg=()
if [ "$(id -u)" = 0 ]; then chown postgres: "$work"; as_pg=(setpriv --reuid=postgres --regid=postgres --clear-groups --); fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
pid=
cleanup() { [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done; rm -rf "$work"; }
trap cleanup EXIT
"${as_pg[@]}" "$bin/initdb" -D "$work/data" -U postgres -E UTF8 --no-locale --auth=trust --no-sync > /dev/null
cat >> "$work/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$work'
fsync = off
CONF
printf 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n' > "$work/data/pg_hba.conf"
"${as_pg[@]}" "$bin/postgres" -D "$work/data" > "$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do "${as_pg[@]}" "$bin/pg_isready" -q -h "$work" -p "$port" && break; sleep 0.1; done
psql() { "${as_pg[@]}" "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres "$@"; }
psql -d postgres -c "CREATE ROLE mdad LOGIN PASSWORD 'bench'" -c "CREATE DATABASE maildb OWNER mdad"
psql -d maildb -c "CREATE TABLE aliases (alias text PRIMARY KEY, goto text NOT NULL)" \
     -c "INSERT INTO aliases SELECT 'user' || i || '@example.com', 'u' || i || '@example.org' FROM generate_series(1, $rows) i" \
     -c "GRANT SELECT ON aliases TO mdad" -c "ANALYZE aliases"
python3 - "$work/keys" "$rows" "$keys" <<'PY'
import random, sys
path, rows, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(1)
with open(path, "w") as f:
    for _ in range(n):
        f.write(f"user{rng.randrange(1, rows * 11 // 10)}@example.com\n")   # about 9 % misses
PY
cat > "$work/aliases.cf" <<CF
hosts = 127.0.0.1:$port
user = mdad
password = bench
dbname = maildb
query = SELECT goto FROM aliases WHERE alias = '%s'
CF
mkdir "$work/etc" && : > "$work/etc/main.cf"
# Wall time in ms; the client's CPU time (user + system, ms) goes to $work/cpu.
t() {
    local s e; s=$(date +%s%N)
    /usr/bin/time -f "%U %S" -o "$work/cpu" "$@" > "$work/out" 2>/dev/null || true
    e=$(date +%s%N); echo $(( (e - s) / 1000000 ))
}
cpu() { awk '{ printf "%d", ($1 + $2) * 1000 }' "$work/cpu"; }
pf=$(t sh -c "exec /usr/sbin/postmap -c '$work/etc' -q - 'pgsql:$work/aliases.cf' < '$work/keys'")
pf_cpu=$(cpu); pf_found=$(wc -l < "$work/out"); cp "$work/out" "$work/out-postfix"
md=$(t sh -c "exec '$mdad' postmap -c '$work/etc' -q - 'pgsql:$work/aliases.cf' < '$work/keys'")
md_cpu=$(cpu); md_found=$(wc -l < "$work/out")
same=$(cmp -s "$work/out" "$work/out-postfix" && echo "identical output" || echo "OUTPUT DIFFERS")
echo "pgsql: $rows rows, $keys random keys through postmap -q - (found: postfix $pf_found, mdad $md_found; $same); mdad = $mdad"
printf "%-22s %12s %12s %8s\n" "" "postfix" "mdad" "ratio"
printf "%-22s %10s ms %10s ms %7.2fx\n" "$keys lookups" "$pf" "$md" "$(echo "$pf / $md" | bc -l)"
printf "%-22s %12.0f %12.0f %7.2fx\n" "lookups per second" "$(echo "$keys * 1000 / $pf" | bc -l)" "$(echo "$keys * 1000 / $md" | bc -l)" "$(echo "$pf / $md" | bc -l)"
printf "%-22s %10s ms %10s ms   (the client alone; the server's share is the same)\n" "client CPU" "$pf_cpu" "$md_cpu"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
