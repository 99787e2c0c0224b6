#!/usr/bin/env python3
"""LMTP load: `mdad serve` against Dovecot's LMTP (dovecot-lmtpd), side by side in one run.

Both servers deliver to Maildirs on the same disk as the same unprivileged user, with their
durability promise: every message fsynced and its directory entry durable before its 250
(mdad: maildir_sync = group; Dovecot: its default mail_fsync = optimized). mdad's
maildir_sync = none (no flush at all) is measured as the ceiling.

Load: persistent connections at concurrency 1, 4 and 16, each sending MAIL/RCPT/DATA in a
loop with a mix of 2 KB, 20 KB, 200 KB and 2 MB messages (weights 50/30/15/5), to 1 and to 5
recipients. Reports messages/s, recipients/s and p50/p99 latency (MAIL to last reply), and
each server's resident memory with 200 idle connections.

With --root-modes, two more mdad servers run as root and write the benchmark user's
mailboxes as that user: lmtp_privilege_mode = fsuid (the delivery thread's file-system
identity) and = process (a child mdad deliver per copy), so the privilege modes can be
compared with the one-unprivileged-user set-up.

Usage (as root: it creates a benchmark user and starts Dovecot):
    bench/build-release.sh && bench/lmtp.py [--seconds 5]
"""
import argparse, os, pwd, random, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZES = [(2_000, 50), (20_000, 30), (200_000, 15), (2_000_000, 5)]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def make_message(size, n):
    head = f"From: bench@example.org\r\nTo: user@example.com\r\nSubject: bench {n}\r\nMessage-ID: <{n}.{size}@bench>\r\n\r\n".encode()
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n"
    body = line * max(1, (size - len(head)) // len(line))
    return head + body


def read_reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise EOFError("server closed the connection")
        lines.append(line)
        if len(line) < 4 or line[3:4] == b" ":
            return line[:3]


def client(port, recipients, messages, stop, results, errors):
    s = socket.create_connection(("127.0.0.1", port))
    f = s.makefile("rb")
    read_reply(f)
    s.sendall(b"LHLO bench\r\n")
    read_reply(f)
    rng = random.Random(threading.get_ident())
    while not stop.is_set():
        msg = rng.choices(messages, weights=[w for _, w in SIZES])[0]
        t0 = time.perf_counter()
        cmd = b"MAIL FROM:<bench@example.org>\r\n" + b"".join(b"RCPT TO:<%s>\r\n" % r for r in recipients) + b"DATA\r\n"
        s.sendall(cmd)
        codes = [read_reply(f) for _ in range(1 + len(recipients) + 1)]
        if codes[-1] != b"354" or any(c != b"250" for c in codes[:-1]):
            errors.append(("envelope", codes))
            s.sendall(b"RSET\r\n")
            read_reply(f)
            continue
        s.sendall(msg + b".\r\n")
        finals = [read_reply(f) for _ in recipients]
        t1 = time.perf_counter()
        if any(c != b"250" for c in finals):
            errors.append(("data", finals))
        else:
            results.append((t1 - t0, len(recipients)))
    s.sendall(b"QUIT\r\n")
    s.close()


def run_load(port, concurrency, recipients, seconds, messages):
    stop = threading.Event()
    results, errors = [], []
    threads = [threading.Thread(target=client, args=(port, recipients, messages, stop, results, errors)) for _ in range(concurrency)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        sys.exit(f"errors on port {port}: {errors[:3]}")
    lat = sorted(r[0] for r in results)
    n = len(results)
    return {"msgs": n / wall, "rcpts": sum(r[1] for r in results) / wall,
            "p50": lat[n // 2] * 1000 if n else 0, "p99": lat[min(n - 1, int(n * 0.99))] * 1000 if n else 0}


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def idle_memory(port, pids):
    socks = []
    for _ in range(200):
        s = socket.create_connection(("127.0.0.1", port))
        s.recv(1000)
        socks.append(s)
    time.sleep(1)
    total = sum(rss_kb(p) for p in pids())
    for s in socks:
        s.close()
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--mdad", default=os.path.join(ROOT, ".build-static", "release", "mdad"))
    ap.add_argument("--root-modes", action="store_true", help="also run mdad as root in both privilege modes")
    args = ap.parse_args()
    if os.getuid() != 0:
        sys.exit("run as root")
    work = tempfile.mkdtemp(prefix="mdad-lmtp-bench-")
    os.chmod(work, 0o755)
    user = f"mdadb{random.randint(10000, 99999)}"
    subprocess.run(["useradd", "--no-create-home", "--home-dir", work, "--shell", "/usr/sbin/nologin", "--user-group", user], check=True)
    procs = []
    dovecot_pid_file = os.path.join(work, "dovecot", "run", "master.pid")
    try:
        pw = pwd.getpwnam(user)
        rcpts = [b"rcpt%d@example.com" % i for i in range(1, 6)]
        servers = [("mdad", "group", None), ("mdad-nosync", "none", None)]
        if args.root_modes:
            servers += [("mdad-root-fsuid", "group", "fsuid"), ("mdad-root-process", "group", "process")]
        for name, _, _ in servers:
            os.makedirs(os.path.join(work, name, "etc"))
            os.makedirs(os.path.join(work, name, "vmail"))
        os.makedirs(os.path.join(work, "dovecot/home"))
        ports = {name: free_port() for name, _, _ in servers}
        ports["dovecot"] = free_port()
        for name, sync, mode in servers:
            base = os.path.join(work, name)
            open(os.path.join(base, "etc", "main.cf"), "w").write(
                f"myhostname = bench.example.test\nlmtp_listen = inet:127.0.0.1:{ports[name]}\n"
                f"virtual_mailbox_domains = example.com\nvirtual_mailbox_base = {base}/vmail\n"
                f"virtual_mailbox_maps = inline:{{ @example.com=catchall/ }}\n"
                f"virtual_uid_maps = static:{pw.pw_uid}\nvirtual_gid_maps = static:{pw.pw_gid}\n"
                f"message_size_limit = 0\nmaillog_file = {base}/maillog\nspool_directory = {base}\n"
                f"maildir_sync = {sync}\nlmtp_max_connections = 1000\nspool_memory_limit = 4194304\n"
                + (f"lmtp_privilege_mode = {mode}\n" if mode else ""))
        for dirpath, dirs, files in os.walk(work):
            os.chown(dirpath, pw.pw_uid, pw.pw_gid)
            for f in files:
                os.chown(os.path.join(dirpath, f), pw.pw_uid, pw.pw_gid)
        os.makedirs(os.path.join(work, "dovecot", "run"))
        conf = os.path.join(work, "dovecot", "dovecot.conf")
        open(conf, "w").write(f"""
base_dir = {work}/dovecot/run
state_dir = {work}/dovecot/state
log_path = {work}/dovecot/log
protocols = lmtp
ssl = no
listen = 127.0.0.1
mail_location = maildir:~/Maildir
first_valid_uid = 1
passdb {{
  driver = static
  args = nopassword=y
}}
userdb {{
  driver = static
  args = uid={pw.pw_uid} gid={pw.pw_gid} home={work}/dovecot/home/%u
}}
service lmtp {{
  process_limit = 64
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {ports['dovecot']}
  }}
}}
service anvil {{
  chroot =
}}
""")

        def demote():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)

        for name, _, mode in servers:
            p = subprocess.Popen([args.mdad, "serve", "-c", os.path.join(work, name, "etc")], preexec_fn=None if mode else demote,
                                 stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, name + ".err"), "w"))
            procs.append((name, p))
        subprocess.run(["/usr/sbin/dovecot", "-c", conf], check=True)
        time.sleep(1.5)

        messages = [make_message(size, i) for i, (size, _) in enumerate(SIZES)]
        results = {}
        for recipients in (1, 5):
            for concurrency in (1, 4, 16):
                for name in ["mdad", "dovecot", "mdad-nosync"] + [n for n, _, m in servers if m]:
                    results[(recipients, concurrency, name)] = run_load(ports[name], concurrency, rcpts[:recipients], args.seconds, messages)

        def mdad_pids():
            return [p.pid for n, p in procs if n == "mdad"]

        def dovecot_pids():
            out = subprocess.run(["pgrep", "-f", f"dovecot|lmtp"], capture_output=True, text=True).stdout.split()
            return [int(x) for x in out]

        mem_mdad = idle_memory(ports["mdad"], mdad_pids)
        mem_dovecot = idle_memory(ports["dovecot"], dovecot_pids)

        print(f"LMTP load, {args.seconds:.0f} s per cell, message mix 2 KB/20 KB/200 KB/2 MB at 50/30/15/5 %")
        print(f"{'rcpts':>5} {'conc':>4} | {'mdad msg/s':>10} {'rcpt/s':>7} {'p50 ms':>7} {'p99 ms':>7} | "
              f"{'dovecot msg/s':>13} {'rcpt/s':>7} {'p50 ms':>7} {'p99 ms':>7} | {'ratio':>5} | {'no-fsync msg/s':>14}")
        for recipients in (1, 5):
            for concurrency in (1, 4, 16):
                m = results[(recipients, concurrency, "mdad")]
                d = results[(recipients, concurrency, "dovecot")]
                n = results[(recipients, concurrency, "mdad-nosync")]
                print(f"{recipients:>5} {concurrency:>4} | {m['msgs']:>10.0f} {m['rcpts']:>7.0f} {m['p50']:>7.1f} {m['p99']:>7.1f} | "
                      f"{d['msgs']:>13.0f} {d['rcpts']:>7.0f} {d['p50']:>7.1f} {d['p99']:>7.1f} | {m['msgs'] / d['msgs']:>5.2f} | {n['msgs']:>14.0f}")
        if args.root_modes:
            print("mdad as root, writing as the mailbox owner (msg/s; ratio to mdad as that user):")
            for recipients in (1, 5):
                for concurrency in (1, 4, 16):
                    base = results[(recipients, concurrency, "mdad")]["msgs"]
                    cells = [f"{m}: {results[(recipients, concurrency, 'mdad-root-' + m)]['msgs']:.0f} "
                             f"({results[(recipients, concurrency, 'mdad-root-' + m)]['msgs'] / base:.2f})" for m in ("fsuid", "process")]
                    print(f"  rcpts {recipients} conc {concurrency:>2}: " + ", ".join(cells))
        print(f"resident memory with 200 idle connections: mdad {mem_mdad / 1024:.1f} MB, dovecot (all processes) {mem_dovecot / 1024:.1f} MB")
    finally:
        for name, p in procs:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        if os.path.exists(dovecot_pid_file):
            try:
                os.kill(int(open(dovecot_pid_file).read().strip()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
            time.sleep(1)
        subprocess.run(["userdel", user], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
