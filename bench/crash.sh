#!/usr/bin/env bash
# The SIGKILL harness at length: mdad serve killed at random moments while four clients
# deliver over LMTP, restarted each time; reports kills survived, messages checked, lost
# (must be 0), partial (must be 0) and duplicates (messages in flight at a kill, sent again).
#   bench/crash.sh [MESSAGES] [KILLS]      (build first: swift build, or bench/build-release.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
messages=${1:-5000}
kills=${2:-200}
mdad=${MDAD:-$(ls .build-static/release/mdad 2>/dev/null || echo .build/debug/mdad)}
work=$(mktemp -d /tmp/mdad-crash.XXXXXX)
trap 'rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/etc" "$work/vmail"
cat > "$work/etc/main.cf" <<CF
myhostname = mx.example.test
lmtp_listen = inet:127.0.0.1:$port
virtual_mailbox_domains = example.com
virtual_mailbox_base = $work/vmail
virtual_mailbox_maps = inline:{ alice@example.com=alice/ }
virtual_uid_maps = static:$(id -u)
virtual_gid_maps = static:$(id -g)
virtual_minimum_uid = 0
maillog_file = $work/maillog
spool_directory = $work
maildir_sync = group
CF
python3 Tests/EndToEndTests/Scripts/crash_harness.py "$mdad" "$work/etc" "$port" "$work/vmail/alice" "$messages" "$kills" "${SEED:-1}"
