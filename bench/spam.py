#!/usr/bin/env python3
"""Spam scoring speed, side by side in one run: mdad's rule engine (`mdad spam check`) and
SpamAssassin's spamd driven by spamc, with the same rules (Debian's stock rules in
/usr/share/spamassassin, the *.pre plugin list from /etc/spamassassin, no Bayes, local tests
only: spamd -L) on the same generated corpus; and rspamd (Debian's stock configuration, every
network feature off: no RBLs, SURBL, fuzzy, SPF/DKIM/DMARC, redis, no modules with remote
maps (whitelist, multimap, mime_types, mid), DNS to a dead port on loopback) driven
by rspamc at the same concurrency. rspamd runs its own rules, so it is the reference for speed,
not for results.

    bench/spam.py [MESSAGES] [--jobs N]      (build first: bench/build-release.sh)

All sides run N jobs at a time (default: the number of CPUs): spamd with N children, rspamd
with N normal workers, mdad as N processes each checking its share of the files. rspamd
compiles its hyperscan databases on its first start (minutes); they are kept in
$TMPDIR/mdad-bench-rspamd-cache for the next run, and the run waits until they are loaded. Reported: messages per second (wall
clock), CPU seconds per message (spamd: the server's and its children's CPU; mdad: the
processes'), and mdad's rule load time, which a daemon pays once.
"""
import os, random, resource, shutil, signal, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# MDAD_BIN names another build to measure (a debug build gives no fair figure).
MDAD = os.environ.get("MDAD_BIN") or os.path.join(ROOT, ".build-static/release/mdad")
RULES = "/usr/share/spamassassin"

WORDS = ("the of and to in is you that it he was for on are as with his they at be this have from or one had by word "
         "but not what all were we when your can said there use an each which she do how their if will up other about out "
         "many then them these so some her would make like him into time has look two more write go see number no way could "
         "people my than first water been call who oil its now find long down day did get come made may part").split()
SPAM = [
    "Click here to claim your FREE gift card today!", "100% GUARANTEED results or your money back.",
    "Buy Viagra and Cialis online at the lowest price, no prescription needed.",
    "You have been selected as the winner of our international lottery.",
    "I need your help to transfer $25,000,000 (TWENTY FIVE MILLION US DOLLARS).",
    "Please send me your bank account details and your full name.", "Act now! Limited time offer!",
    "Lose weight fast with our amazing new diet pill.", "Make money fast working from home.",
    "Your account has been suspended, please verify your password immediately.",
    "Cheap replica watches, Rolex and Omega, best quality.", "Refinance your mortgage at the lowest rates.",
]
URIS = ["http://example.com/a", "https://www.example.org/login?u=1", "www.cheap.example.biz", "http://192.168.1.2/x.php",
        "http://bit.ly/3xY", "mailto:sales@example.info", "https://docs.example.com/r.pdf"]


def paragraph(rng, spammy):
    words = [rng.choice(WORDS) for _ in range(rng.randint(20, 80))]
    text = " ".join(words).capitalize() + "."
    if spammy or rng.random() < 0.1:
        text += " " + rng.choice(SPAM)
    if rng.random() < 0.3:
        text += " See " + rng.choice(URIS) + " ."
    return text


def message(rng, n):
    spammy = rng.random() < 0.5
    paras = [paragraph(rng, spammy) for _ in range(rng.randint(2, 12))]
    kind = rng.choice(["plain", "html", "alt"])
    h = [
        f"Received: from mx{n}.example.net (mx{n}.example.net [10.{n % 250}.0.1])\n\tby mail.example.com (Postfix) with ESMTP id Q{n}\n\tfor <you@example.com>; Wed, 25 Nov 2026 01:00:00 +0000",
        "From: " + rng.choice(["John Smith <john@example.com>", "info@example.biz", '"PayPal" <service@example.ru>']),
        "To: you@example.com",
        f"Subject: {rng.choice(['Meeting notes', 'URGENT BUSINESS PROPOSAL', 'Re: report', 'You have won!!!', 'Your order'])} {n}",
        "Date: Wed, 25 Nov 2026 01:00:00 +0000",
        f"Message-ID: <{n}.{rng.randint(0, 10**9)}@example.com>",
        "MIME-Version: 1.0",
    ]
    plain = "\n\n".join(paras)
    html = "<html><body>" + "".join(f"<p>{p}</p>\n" for p in paras) + "</body></html>"
    if kind == "plain":
        h.append("Content-Type: text/plain; charset=utf-8")
        body = plain
    elif kind == "html":
        h.append("Content-Type: text/html; charset=utf-8")
        body = html
    else:
        h.append('Content-Type: multipart/alternative; boundary="b1"')
        body = f"--b1\nContent-Type: text/plain; charset=utf-8\n\n{plain}\n--b1\nContent-Type: text/html; charset=utf-8\n\n{html}\n--b1--\n"
    return "\n".join(h) + "\n\n" + body + "\n"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_of_tree(pid):
    """utime+stime (seconds) of pid and its children that are alive."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid = int(fields[1])
        if int(p) == pid:
            # utime, stime, and cutime, cstime: children that exited and were reaped.
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
        elif ppid == pid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def start_spamd(port, jobs, site, work, env):
    """spamd on loopback with `jobs` children, local tests only, as nobody; waits until it listens."""
    spamd = subprocess.Popen(
        ["spamd", "-L", "-x", "-i", "127.0.0.1", "-p", str(port), "-u", "nobody", "-s", "stderr",
         f"--max-children={jobs}", f"--min-children={jobs}", "--max-conn-per-child=1000000", f"--configpath={RULES}",
         f"--siteconfigpath={site}", f"--pidfile={work}/spamd.pid"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "spamd.log"), "w"), env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return spamd
        except OSError:
            time.sleep(0.5)
    spamd.kill()
    sys.exit("spamd did not start; see " + os.path.join(work, "spamd.log"))
RSPAMD_DISABLED = ("rbl surbl fuzzy_check spf dkim dmarc arc asn emails phishing rspamd_update mx_check neural ratelimit greylist "
                   "reputation url_redirector history_redis replies dcc p0f antivirus external_services clickhouse elastic "
                   "metadata_exporter metric_exporter bimi dkim_signing hfilter whitelist multimap mime_types mid").split()


def start_rspamd(work, jobs):
    """rspamd on loopback with its own directories; returns (process, port, log path)."""
    conf = os.path.join(work, "rspamd")
    for sub in ("override.d", "local.d", "run", "log", "db"):
        os.makedirs(os.path.join(conf, sub), exist_ok=True)
    cache = os.path.join(tempfile.gettempdir(), "mdad-bench-rspamd-cache")
    os.makedirs(cache, exist_ok=True)
    port = free_port()
    with open(os.path.join(conf, "rspamd.conf"), "w") as f:
        f.write('.include "$CONFDIR/common.conf"\n'
                'options {\n  pidfile = "$RUNDIR/rspamd.pid";\n  .include "$CONFDIR/options.inc"\n'
                '  .include(try=true; priority=10) "$LOCAL_CONFDIR/override.d/options.inc"\n}\n'
                'logging { type = "file"; filename = "$LOGDIR/rspamd.log"; level = "info"; }\n'
                f'worker "normal" {{ bind_socket = "127.0.0.1:{port}"; count = {jobs}; .include "$CONFDIR/worker-normal.inc" }}\n')
    with open(os.path.join(conf, "override.d", "options.inc"), "w") as f:
        f.write('dns { nameserver = ["127.0.0.1:1"]; timeout = 0.1s; retransmits = 1; }\n'
                f'local_addrs = [];\nhs_cache_dir = "{cache}";\n')
    for m in RSPAMD_DISABLED:
        with open(os.path.join(conf, "override.d", m + ".conf"), "w") as f:
            f.write("enabled = false;\n")
    with open(os.path.join(conf, "override.d", "statistic.conf"), "w") as f:
        f.write('classifier "bayes" { enabled = false; }\n')
    log = os.path.join(conf, "log", "rspamd.log")
    proc = subprocess.Popen(
        ["rspamd", "-c", os.path.join(conf, "rspamd.conf"), "-u", "root", "-g", "root", "-f", "-i",
         "--var", f"LOCAL_CONFDIR={conf}", "--var", f"DBDIR={conf}/db", "--var", f"RUNDIR={conf}/run", "--var", f"LOGDIR={conf}/log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        text = open(log, errors="replace").read() if os.path.exists(log) else ""
        # The regexes are compiled to hyperscan (or were loaded from the cache) and the
        # workers answer: rspamd runs at full speed.
        if ("hyperscan database of" in text or "rspamd_rs_compile_cb" in text) and ping(port):
            time.sleep(2)
            return proc, port, log
        time.sleep(1)
    proc.kill()
    sys.exit("rspamd did not start (or did not load its hyperscan database); see " + log)


def ping(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.sendall(b"GET /ping HTTP/1.0\r\n\r\n")
            return b"pong" in s.recv(4096)
    except OSError:
        return False


def measure(server_pid, commands):
    """Runs the client commands in parallel: (wall seconds, server CPU seconds, client CPU seconds)."""
    cpu0 = cpu_of_tree(server_pid)
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    run_parallel(commands)
    wall = time.time() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, cpu_of_tree(server_pid) - cpu0, (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)


def run_parallel(commands):
    procs = [subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, shell=True) for c in commands]
    for p in procs:
        p.wait()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 400
    jobs = os.cpu_count() or 2
    if "--jobs" in sys.argv:
        jobs = int(sys.argv[sys.argv.index("--jobs") + 1])
    if not os.path.exists(MDAD):
        sys.exit(f"{MDAD} missing: run bench/build-release.sh first")
    work = tempfile.mkdtemp(prefix="mdad-spam-bench.")
    try:
        site = os.path.join(work, "site")
        os.makedirs(site)
        for name in os.listdir("/etc/spamassassin"):
            if name.endswith(".pre"):
                shutil.copy(os.path.join("/etc/spamassassin", name), site)
        with open(os.path.join(site, "local.cf"), "w") as f:
            f.write("use_bayes 0\nreport_safe 0\n")
        corpus = os.path.join(work, "corpus")
        os.makedirs(corpus)
        rng = random.Random(8)
        files = []
        for n in range(count):
            path = os.path.join(corpus, f"{n:05d}.eml")
            with open(path, "w") as f:
                f.write(message(rng, n))
            files.append(path)
        size = sum(os.path.getsize(p) for p in files) / len(files)
        os.chmod(work, 0o755)
        for d, _, fs in os.walk(work):
            os.chmod(d, 0o755)
            for x in fs:
                os.chmod(os.path.join(d, x), 0o644)

        # spamd on loopback, local tests only, as nobody (it refuses to score as root).
        port = free_port()
        home = os.path.join(work, "home")
        os.makedirs(home)
        os.chmod(home, 0o777)
        spamd = start_spamd(port, jobs, site, work, {**os.environ, "HOME": home})
        # Warm up every child (rules are compiled at start, but the first message pays more).
        run_parallel([f"spamc -d 127.0.0.1 -p {port} < {files[i % len(files)]}" for i in range(jobs * 2)])
        shares = [files[i::jobs] for i in range(jobs)]
        lists = []
        for i, share in enumerate(shares):
            lp = os.path.join(work, f"list{i}")
            with open(lp, "w") as f:
                f.write("\n".join(share) + "\n")
            lists.append(lp)
        sa_wall, sa_cpu, spamc_cpu = measure(spamd.pid, [f"while read f; do spamc -d 127.0.0.1 -p {port} < \"$f\" > /dev/null; done < {lp}" for lp in lists])
        spamd.send_signal(signal.SIGTERM)
        spamd.wait(timeout=60)

        # rspamd, driven by rspamc (one process per message, as spamc).
        rspamd, rport, rlog = start_rspamd(work, jobs)
        run_parallel([f"rspamc -h 127.0.0.1:{rport} {files[i % len(files)]}" for i in range(jobs * 2)])
        rs_wall, rs_cpu, rspamc_cpu = measure(rspamd.pid, [f"while read f; do rspamc -h 127.0.0.1:{rport} \"$f\" > /dev/null; done < {lp}" for lp in lists])
        scanned = open(rlog, errors="replace").read().count("rspamd_task_write_log") or None
        rspamd.send_signal(signal.SIGTERM)
        rspamd.wait(timeout=60)

        # mdad: rule load alone (one message), then the corpus.
        rules = f"--rules {RULES} --rules {site}"
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        subprocess.run(f"{MDAD} spam check {rules} --json {files[0]} > /dev/null", shell=True, check=True)
        load_wall = time.time() - t0
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        load_cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
        c0 = c1
        t0 = time.time()
        run_parallel([f"{MDAD} spam check {rules} --json $(cat {lp}) > {lp}.json" for lp in lists])
        md_wall = time.time() - t0
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        md_cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
        checked = sum(1 for lp in lists for _ in open(lp + ".json"))
        if checked != count:
            sys.exit(f"mdad checked {checked} of {count} messages")
        # A daemon compiles the rules once: take the load out of the per-message figures.
        md_wall_msgs = md_wall - load_wall
        md_cpu_msgs = md_cpu - jobs * load_cpu

        print(f"spam: {count} messages, {size / 1024:.1f} KiB average, {jobs} jobs at a time, Debian's stock rules, no Bayes, no network")
        print(f"{'':34} {'spamd+spamc':>14} {'rspamd+rspamc':>14} {'mdad':>14} {'mdad/spamd':>11} {'mdad/rspamd':>12}")
        def row(label, sa, rs, md, higher_is_better):
            r1 = md / sa if higher_is_better else sa / max(md, 1e-9)
            r2 = md / rs if higher_is_better else rs / max(md, 1e-9)
            print(f"{label:34} {sa:14.2f} {rs:14.2f} {md:14.2f} {r1:10.1f}x {r2:11.1f}x")
        row("messages per second", count / sa_wall, count / rs_wall, count / md_wall, True)
        row("messages per second, rules loaded", count / sa_wall, count / rs_wall, count / md_wall_msgs, True)
        row("CPU ms per message (server)", sa_cpu / count * 1000, rs_cpu / count * 1000, md_cpu_msgs / count * 1000, False)
        print(f"{'CPU ms per message (client)':34} {spamc_cpu / count * 1000:14.2f} {rspamc_cpu / count * 1000:14.2f}")
        if scanned is not None and scanned < count:
            print(f"warning: rspamd's log shows {scanned} scans for {count} messages")
        print(f"mdad rule load (once per daemon start): {load_wall * 1000:.0f} ms wall, {load_cpu * 1000:.0f} ms CPU")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
