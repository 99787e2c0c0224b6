#!/usr/bin/env bash
# Messages per second through the rewrite stage alone (50 canonical_maps entries, 20
# header_checks rules, myorigin qualification and masquerading), with a breakdown of where the
# time goes (the stage's parts timed one by one, and perf's top symbols when perf is
# installed), side by side with Postfix's cleanup(8) on the same main.cf settings.
#
#   bench/rewrite.sh [SECONDS] [MESSAGES]        (needs root for the private Postfix)
#
# Postfix cannot run cleanup(8) alone, so its figure is the whole path a message takes into
# Postfix's queue and out again: smtpd on loopback, cleanup, qmgr, and the discard transport,
# one SMTP session, timed from the first MAIL FROM to the last "removed" in its log. That is
# more work than mdad's stage alone does, so the ratio flatters mdad; it is printed as a
# reference point, not a like-for-like race.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-5}
count=${2:-2000}
swift build -c release --product RewriteBench >/dev/null
bench=.build/release/RewriteBench
work=$(mktemp -d /tmp/mdad-rewrite-bench.XXXXXX)
master=""
cleanup() {
    if [ -n "$master" ]; then kill "$master" 2>/dev/null || true; sleep 1; fi
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/etc" "$work/msgs" "$work/pf/etc" "$work/pf/queue" "$work/pf/data"
chmod 755 "$work" "$work/etc"

python3 - "$work" <<'PY'
import random, sys
work = sys.argv[1]
rng = random.Random(7)
with open(f"{work}/etc/canonical", "w") as f:
    for i in range(50):
        f.write(f"user{i}@example.com  first.last{i}@example.com\n")
with open(f"{work}/etc/header_checks", "w") as f:
    rules = [
        "/^Subject:.*viagra/ REJECT spam", "/^Subject:.*lottery winner/ REJECT spam",
        "/^X-Mailer: BadMailer/ REJECT bad mailer", "/^Received: from unknown/ WARN unknown relay",
        "/^X-Spam-Flag: YES/ DISCARD", "/^Content-Type:.*application\\/x-msdownload/ REJECT no executables",
        "/^X-Originating-IP: \\[10\\./ IGNORE", "/^User-Agent: Spammer/ REJECT",
        "/^To:.*undisclosed/ WARN undisclosed", "/^From:.*@spam\\.example/ REJECT spam domain",
        "/^Subject:.*\\bfree money\\b/ REJECT spam", "/^X-Priority: 1/ WARN urgent",
        "/^Message-ID:.*@localhost>/ WARN local id", "/^Reply-To:.*@phish\\.example/ REJECT phishing",
        "/^X-Campaign:/ IGNORE", "/^List-Unsubscribe:.*track/ WARN tracking",
        "/^Date:.*1970/ REJECT bad date", "/^Sender:.*bounce-\\d+@/ WARN bounce sender",
        "/^X-Test-Drop:/ IGNORE", "/^Subject: =\\?.*\\?B\\?.{200,}/ REJECT long encoded subject",
    ]
    f.write("\n".join(rules) + "\n")
words = "the quick brown fox jumps over the lazy dog mail delivery agent rewrite header".split()
for n in range(200):
    tos = [f"user{rng.randrange(80)}@example.com" if rng.random() < .7 else f"person{n}" for _ in range(rng.randrange(1, 5))]
    cc = ", ".join(f"\"Name {k}\" <cc{k}@host{k % 3}.example.com>" for k in range(rng.randrange(0, 4)))
    body = "".join(" ".join(rng.choice(words) for _ in range(12)) + "\n" for _ in range(rng.randrange(20, 80)))
    msg = (f"X-Bench-Sender: user{rng.randrange(60)}@example.com\n"
           f"Received: from relay.example.net (relay.example.net [192.0.2.{n % 250}])\n\tby mx.example.com; Wed, 25 Nov 2026 01:00:00 +0000\n"
           f"Message-ID: <bench-{n}@example.com>\nDate: Wed, 25 Nov 2026 01:00:00 +0000\n"
           f"From: Sender {n} <user{rng.randrange(60)}@example.com>\nTo: {', '.join(tos)}\n"
           + (f"Cc: {cc}\n" if cc else "") +
           f"Subject: message {n} about {rng.choice(words)}\nMIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n{body}")
    open(f"{work}/msgs/{n:04d}.eml", "w").write(msg)
PY
settings="myhostname = mx.example.com
mydomain = example.com
myorigin = \$mydomain
mydestination = \$myhostname
masquerade_domains = example.com
canonical_maps = texthash:$work/etc/canonical
header_checks = pcre:$work/etc/header_checks"
printf '%s\n' "$settings" > "$work/etc/main.cf"

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (figures from a busy machine are not comparable)"
echo "== mdad rewrite stage alone (release build, one thread, ${seconds}s) =="
"$bench" "$work/etc" "$work/msgs" "$seconds" | tee "$work/mdad.out"
mdad_rate=$(awk '/^messages_per_second/ {print $2}' "$work/mdad.out")
echo
echo "== where the time goes (each part timed alone; microseconds per message, share) =="
awk '/^part/ {printf "  %-16s %8.1f us  %5.1f %%\n", $2, $3, $4}' "$work/mdad.out"

if command -v perf >/dev/null; then
    echo
    echo "== perf: mdad's functions by time including callees (children, self) =="
    perf record -q -F 999 -g -o "$work/perf.data" -- "$bench" "$work/etc" "$work/msgs" 2 >/dev/null 2>&1 || true
    perf report -q -i "$work/perf.data" --children --stdio --percent-limit 3 -g none --sort symbol 2>/dev/null \
        | grep -E 'Plugins|Pipeline' | swift demangle --simplified 2>/dev/null \
        | sed -E 's/^ +/  /; s/\[\.\] //' | cut -c1-140 | head -25 || true
fi

echo
echo "== Postfix $(postconf -dh mail_version): smtpd -> cleanup -> qmgr -> discard, same settings, $count messages =="
chown postfix "$work/pf/data"
cat > "$work/pf/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $work/pf/queue
data_directory = $work/pf/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
biff = no
maillog_file_prefixes = /tmp
maillog_file = $work/pf/maillog
default_transport = discard
local_transport = discard
smtpd_delay_reject = no
$settings
EOF
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/pf/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
proxymap unix - - n - - proxymap
discard unix - - n - - discard
error unix - - n - - error
retry unix - - n - - error
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
showq unix n - n - - showq
flush unix n - n 1000? 0 flush
postlog unix-dgram n - n - 1 postlogd
EOF
postfix -c "$work/pf/etc" start >/dev/null 2>&1
for _ in $(seq 50); do [ -s "$work/pf/queue/pid/master.pid" ] && break; sleep 0.1; done
master=$(tr -d ' ' < "$work/pf/queue/pid/master.pid")
sleep 1
python3 - "$work" "$port" "$count" <<'PY' | tee "$work/postfix.out"
import os, smtplib, sys, time
work, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = sorted(os.listdir(f"{work}/msgs"))
msgs = [open(f"{work}/msgs/{n}", "rb").read() for n in names]
log = f"{work}/pf/maillog"
before = open(log).read().count(": removed") if os.path.exists(log) else 0
start = time.monotonic()
s = smtplib.SMTP("127.0.0.1", port)
s.ehlo("bench.example")
for i in range(count):
    m = msgs[i % len(msgs)]
    sender = m.split(b"\n", 1)[0].split(b": ", 1)[1].decode()
    s.sendmail(sender, ["rcpt@example.com"], m)
s.quit()
while open(log).read().count(": removed") - before < count:
    if time.monotonic() - start > 600: sys.exit("timed out waiting for Postfix")
    time.sleep(0.05)
elapsed = time.monotonic() - start
print(f"messages {count}\nseconds {elapsed:.3f}\nmessages_per_second {count / elapsed:.1f}")
PY
postfix_rate=$(awk '/^messages_per_second/ {print $2}' "$work/postfix.out")
echo
printf "%-46s %12s\n" "" "messages/s"
printf "%-46s %12.0f\n" "mdad rewrite stage alone" "$mdad_rate"
printf "%-46s %12.0f\n" "Postfix smtpd+cleanup+qmgr+discard" "$postfix_rate"
printf "%-46s %11.1fx\n" "ratio (mdad / Postfix; not like for like)" "$(echo "$mdad_rate / $postfix_rate" | bc -l)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
