#!/usr/bin/env python3
"""Relaying throughput of mdad as the null client, side by side with Postfix as the same null
client, both relaying to one private Postfix on loopback that accepts and discards; and how
long mdad takes to recover and drain 10,000 messages left in `active` by a crash.

  bench/relay.py [--messages N] [--recovery N] [--mdad PATH]

Needs root (private Postfix instances under /tmp, stopped by PID) and the release build
(bench/build-release.sh). Each run: N messages of about 2 KB are put in the client's queue
(mdad: `mdad sendmail` with `mdad serve` stopped; Postfix: its sendmail with
defer_transports = smtp, then stopped), then the client is started (Postfix: and flushed)
and the time until its queue is empty is taken.
"""
import argparse, os, shutil, signal, socket, subprocess, sys, tempfile, time

ap = argparse.ArgumentParser()
ap.add_argument("--messages", type=int, default=2000)
ap.add_argument("--recovery", type=int, default=10000)
ap.add_argument("--mdad", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.build-static/release/mdad"))
args = ap.parse_args()
MDAD = os.path.abspath(args.mdad)
if os.geteuid() != 0:
    sys.exit("bench/relay.py needs root (private Postfix instances)")
if not os.access(MDAD, os.X_OK):
    sys.exit(f"{MDAD} not found: run bench/build-release.sh first, or give --mdad")

SERVICES = """pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
local unix - n n - - local
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Postfix:
    def __init__(self, root, main, smtpd_port=None):
        self.root = root
        for d in ("etc", "queue", "data"):
            os.makedirs(f"{root}/{d}", exist_ok=True)
        os.chmod(root, 0o755)
        shutil.chown(f"{root}/data", "postfix")
        base = f"""compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
alias_maps =
alias_database =
biff = no
smtputf8_enable = no
maillog_file_prefixes = /tmp
maillog_file = {root}/maillog
"""
        with open(f"{root}/etc/main.cf", "w") as f:
            f.write(base + main)
        with open(f"{root}/etc/master.cf", "w") as f:
            if smtpd_port:
                f.write(f"127.0.0.1:{smtpd_port} inet n - n - - smtpd\n")
            f.write(SERVICES)
        subprocess.run(["/usr/sbin/postfix", "-c", f"{root}/etc", "check"], check=False)

    def start(self):
        subprocess.run(["/usr/sbin/postfix", "-c", f"{self.root}/etc", "start"], check=True, capture_output=True)

    def stop(self):
        pidfile = f"{self.root}/queue/pid/master.pid"
        try:
            pid = int(open(pidfile).read().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            return
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except OSError:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)

    def queued(self):
        n = 0
        for q in ("maildrop", "incoming", "active", "deferred"):
            for _, _, files in os.walk(f"{self.root}/queue/{q}"):
                n += len(files)
        return n


def message(i):
    body = "".join(f"line {k} of message {i}: the quick brown fox jumps over the lazy dog\n" for k in range(26))
    return f"From: bench@client.test\nTo: sink{i % 50}@example.net\nSubject: relay bench {i}\n\n{body}".encode()


def mdad_config(root, sink_port, conc):
    """main.cf of mdad as the null client relaying to the sink."""
    os.makedirs(f"{root}/etc")
    with open(f"{root}/etc/main.cf", "w") as f:
        f.write(f"""myhostname = client.test
mydestination =
relayhost = [127.0.0.1]:{sink_port}
queue_directory = {root}/queue
lmtp_listen = inet:127.0.0.1:{free_port()}
maillog_file = {root}/maillog
smtp_destination_concurrency_limit = {conc}
""")


def wait_empty(count, timeout=900):
    t0 = time.time()
    while count() > 0:
        if time.time() - t0 > timeout:
            raise SystemExit("timed out waiting for the queue to drain")
        time.sleep(0.02)
    return time.time() - t0


started = []


def main():
    work = tempfile.mkdtemp(prefix="mdad-relay-bench.")
    os.chmod(work, 0o755)
    sink_port = free_port()
    sink = Postfix(f"{work}/sink", f"""myhostname = sink.example.net
mydestination = example.net
mynetworks = 127.0.0.0/8
local_recipient_maps =
local_transport = discard:
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
""", smtpd_port=sink_port)
    sink.start()
    started.append(sink)
    results = {}
    try:
        n = args.messages
        msgs = [message(i) for i in range(n)]
        for conc in (1, 8):
            # Postfix as the null client: queued with defer_transports = smtp (through pickup and
            # cleanup into deferred), stopped, then started without it and flushed, so that
            # the timed part is the relaying of messages already in its queue, as for mdad.
            main_pf = f"""myhostname = client.test
mydestination =
relayhost = [127.0.0.1]:{sink_port}
smtp_destination_concurrency_limit = {conc}
default_destination_concurrency_limit = {conc}
initial_destination_concurrency = {conc}
"""
            pf = Postfix(f"{work}/pf{conc}", main_pf + "defer_transports = smtp\n")
            pf.start()
            started.append(pf)
            for i, m in enumerate(msgs):
                subprocess.run(["/usr/sbin/sendmail", "-C", f"{work}/pf{conc}/etc", "-i", "-f", "bench@client.test",
                                f"sink{i % 50}@example.net"], input=m, check=True, stderr=subprocess.DEVNULL)
            deferred = lambda: sum(len(f) for _, _, f in os.walk(f"{work}/pf{conc}/queue/deferred"))
            t_wait = time.time()
            while deferred() < n and time.time() - t_wait < 300:
                time.sleep(0.1)
            pf.stop()
            time.sleep(0.5)
            pf = Postfix(f"{work}/pf{conc}", main_pf)
            t0 = time.time()
            pf.start()
            subprocess.run(["/usr/sbin/postqueue", "-c", f"{work}/pf{conc}/etc", "-f"], check=True)
            wait_empty(pf.queued)
            pf_t = time.time() - t0
            pf.stop()

            # mdad as the null client: queued with mdad sendmail, then mdad serve started.
            root = f"{work}/mdad{conc}"
            mdad_config(root, sink_port, conc)
            for i, m in enumerate(msgs):
                subprocess.run([MDAD, "sendmail", "-C", f"{root}/etc", "-i", "-f", "bench@client.test", f"sink{i % 50}@example.net"],
                               input=m, check=True)
            count = lambda: sum(len([f for f in os.listdir(f"{root}/queue/{q}") if not f.startswith(".")])
                                for q in ("incoming", "active", "deferred", "maildrop"))
            t0 = time.time()
            serve = subprocess.Popen([MDAD, "serve", "-c", f"{root}/etc"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_empty(count)
            md_t = time.time() - t0
            serve.send_signal(signal.SIGTERM)
            serve.wait()
            log = open(f"{root}/maillog").read()
            sent = log.count("status=sent")
            if sent != n:
                print(f"warning: mdad logged {sent} sent for {n} messages", file=sys.stderr)
            results[conc] = (n / pf_t, n / md_t)

        # Recovery: a crash leaves R messages in active; start mdad serve and time the
        # recovery (active back to incoming) and the drain.
        r = args.recovery
        root = f"{work}/recovery"
        mdad_config(root, sink_port, 8)
        subprocess.run([MDAD, "sendmail", "-C", f"{root}/etc", "-i", "-f", "bench@client.test", "sink@example.net"],
                       input=message(0), check=True)
        q = f"{root}/queue"
        first = os.listdir(f"{q}/incoming")[0]
        data = open(f"{q}/incoming/{first}", "rb").read()
        os.unlink(f"{q}/incoming/{first}")
        for i in range(r):
            with open(f"{q}/active/B{i:010X}", "wb") as f:
                f.write(data)
        count = lambda: sum(len(os.listdir(f"{q}/{s}")) for s in ("incoming", "active", "deferred"))
        t0 = time.time()
        serve = subprocess.Popen([MDAD, "serve", "-c", f"{root}/etc"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        recovered_at = None
        while count() > 0:
            if recovered_at is None and os.path.exists(f"{root}/maillog") and "recovered" in open(f"{root}/maillog").read():
                recovered_at = time.time() - t0
            time.sleep(0.02)
            if time.time() - t0 > 1800:
                break
        drain = time.time() - t0
        serve.send_signal(signal.SIGTERM)
        serve.wait()
        print(f"relay: {n} messages of about 2 KB, queued first, then the queue manager started; "
              f"sink: Postfix on 127.0.0.1 discarding")
        print(f"{'':16} {'Postfix msg/s':>14} {'mdad msg/s':>12} {'mdad/Postfix':>13}")
        for conc, (p, m) in results.items():
            print(f"concurrency {conc:<4} {p:14.1f} {m:12.1f} {m / p:12.2f}x")
        print(f"recovery: {r} messages left in active: recovered (back to incoming) after "
              f"{recovered_at if recovered_at is not None else float('nan'):.2f} s, all relayed after {drain:.1f} s "
              f"({r / drain:.0f} msg/s)")
    finally:
        for p in started:
            p.stop()
        shutil.rmtree(work, ignore_errors=True)


main()
