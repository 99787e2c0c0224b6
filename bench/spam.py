#!/usr/bin/env python3
"""Spam scoring speed, side by side in one run: mdad's rule engine (`mdad spam check`) and
SpamAssassin's spamd driven by spamc, with the same rules (Debian's stock rules in
/usr/share/spamassassin, the *.pre plugin list from /etc/spamassassin, no Bayes, local tests
only: spamd -L) on the same generated corpus.

    bench/spam.py [MESSAGES] [--jobs N]      (build first: bench/build-release.sh)

Both sides run N jobs at a time (default: the number of CPUs): spamd with N children, mdad
as N processes each checking its share of the files. Reported: messages per second (wall
clock), CPU seconds per message (spamd: the server's and its children's CPU; mdad: the
processes'), and mdad's rule load time, which a daemon pays once.
"""
import os, random, resource, shutil, signal, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MDAD = os.path.join(ROOT, ".build-static/release/mdad")
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
        cpu0 = cpu_of_tree(spamd.pid)
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        run_parallel([f"while read f; do spamc -d 127.0.0.1 -p {port} < \"$f\" > /dev/null; done < {lp}" for lp in lists])
        sa_wall = time.time() - t0
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        sa_cpu = cpu_of_tree(spamd.pid) - cpu0
        spamc_cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
        spamd.send_signal(signal.SIGTERM)
        spamd.wait(timeout=60)

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
        print(f"{'':34} {'spamd+spamc':>14} {'mdad':>14} {'ratio':>8}")
        print(f"{'messages per second':34} {count / sa_wall:14.1f} {count / md_wall:14.1f} {sa_wall / md_wall:7.1f}x")
        print(f"{'messages per second, rules loaded':34} {count / sa_wall:14.1f} {count / md_wall_msgs:14.1f} {sa_wall / md_wall_msgs:7.1f}x")
        print(f"{'CPU ms per message (server)':34} {sa_cpu / count * 1000:14.2f} {md_cpu_msgs / count * 1000:14.2f} {sa_cpu / max(md_cpu_msgs, 1e-9):7.1f}x")
        print(f"{'CPU ms per message (spamc)':34} {spamc_cpu / count * 1000:14.2f}")
        print(f"mdad rule load (once per daemon start): {load_wall * 1000:.0f} ms wall, {load_cpu * 1000:.0f} ms CPU")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
