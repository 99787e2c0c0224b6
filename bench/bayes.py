#!/usr/bin/env python3
"""Bayes speed, side by side in one run on the same generated corpus (bench/spam.py's
messages, Debian's stock rules, local tests only):

  learning:  `sa-learn --spam/--ham` against `mdad spam learn --spam/--ham` (messages/s)
  checking:  spamd with Bayes (driven by spamc) against `mdad spam check` with Bayes

    bench/bayes.py [TRAIN] [CHECK] [--jobs N]      (build first: bench/build-release.sh)

MDAD=path overrides the binary. Both learners start from an empty database; both checkers
use the database they learned, with auto-learning off so every message sees the same one.
"""
import os, random, resource, shutil, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spam  # noqa: E402  (the corpus generator and the process helpers)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MDAD = os.environ.get("MDAD", os.path.join(ROOT, ".build-static/release/mdad"))
RULES = "/usr/share/spamassassin"


def timed(command, env=None):
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    subprocess.run(command, shell=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wall = time.time() - t0
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    train = int(args[0]) if args else 1000
    check = int(args[1]) if len(args) > 1 else 400
    jobs = os.cpu_count() or 2
    if "--jobs" in sys.argv:
        jobs = int(sys.argv[sys.argv.index("--jobs") + 1])
    if not os.path.exists(MDAD):
        sys.exit(f"{MDAD} missing: run bench/build-release.sh first")
    work = tempfile.mkdtemp(prefix="mdad-bayes-bench.")
    try:
        os.chmod(work, 0o755)
        site = os.path.join(work, "site")
        os.makedirs(site)
        for name in os.listdir("/etc/spamassassin"):
            if name.endswith(".pre"):
                shutil.copy(os.path.join("/etc/spamassassin", name), site)
        sadb = os.path.join(work, "sa-db")
        os.makedirs(sadb)
        os.chmod(sadb, 0o777)
        with open(os.path.join(site, "local.cf"), "w") as f:
            f.write(f"use_bayes 1\nbayes_auto_learn 0\nbayes_learn_to_journal 0\nbayes_path {sadb}/bayes\nreport_safe 0\nlock_method flock\n")
        rng = random.Random(88)
        dirs = {k: os.path.join(work, k) for k in ("spam", "ham", "check")}
        for d in dirs.values():
            os.makedirs(d)
        for n in range(train):
            text = spam.message(rng, n)
            # Half and half, so that both sides reach bayes_min_spam_num and bayes_min_ham_num.
            kind = "spam" if n % 2 == 0 else "ham"
            with open(os.path.join(dirs[kind], f"{n:05d}.eml"), "w") as f:
                f.write(text)
        files = []
        for n in range(check):
            path = os.path.join(dirs["check"], f"{n:05d}.eml")
            with open(path, "w") as f:
                f.write(spam.message(rng, 100000 + n))
            files.append(path)
        for d, _, fs in os.walk(work):
            os.chmod(d, 0o777 if d.startswith(sadb) else 0o755)
            for x in fs:
                os.chmod(os.path.join(d, x), 0o644)
        home = os.path.join(work, "home")
        os.makedirs(home)
        os.chmod(home, 0o777)
        env = {**os.environ, "HOME": home}
        nspam, nham = len(os.listdir(dirs["spam"])), len(os.listdir(dirs["ham"]))

        # Learning, one process each side (sa-learn and mdad spam learn both write one database).
        sa = f"sa-learn -L --configpath={RULES} --siteconfigpath={site} --dbpath {sadb}/bayes"
        sa_wall, sa_cpu = 0.0, 0.0
        for kind in ("spam", "ham"):
            w, c = timed(f"{sa} --{kind} {dirs[kind]}", env)
            sa_wall, sa_cpu = sa_wall + w, sa_cpu + c
        for d, _, fs in os.walk(sadb):
            os.chmod(d, 0o777)
            for x in fs:
                os.chmod(os.path.join(d, x), 0o666)
        mddb = os.path.join(work, "mdad-db")
        rules = f"--rules {RULES} --rules {site}"
        md_wall, md_cpu = 0.0, 0.0
        for kind in ("spam", "ham"):
            w, c = timed(f"{MDAD} spam learn {rules} --dbpath {mddb} --{kind} {dirs[kind]}", env)
            md_wall, md_cpu = md_wall + w, md_cpu + c
        # The rule load `mdad spam check` pays once per process (a daemon once per start).
        load_wall, load_cpu = timed(f"{MDAD} spam check {rules} --json {files[0]}", env)

        # Checking with Bayes: spamd (as nobody, Bayes database readable) and mdad.
        port = spam.free_port()
        spamd = spam.start_spamd(port, jobs, site, work, env)
        spam.run_parallel([f"spamc -d 127.0.0.1 -p {port} < {files[i % len(files)]}" for i in range(jobs * 2)])
        probe = subprocess.run(f"spamc -d 127.0.0.1 -p {port} < {files[0]}", shell=True, capture_output=True, text=True).stdout
        lists = []
        for i in range(jobs):
            lp = os.path.join(work, f"list{i}")
            with open(lp, "w") as f:
                f.write("\n".join(files[i::jobs]) + "\n")
            lists.append(lp)
        cpu0 = spam.cpu_of_tree(spamd.pid)
        t0 = time.time()
        spam.run_parallel([f"while read f; do spamc -d 127.0.0.1 -p {port} < \"$f\" > /dev/null; done < {lp}" for lp in lists])
        sd_wall = time.time() - t0
        sd_cpu = spam.cpu_of_tree(spamd.pid) - cpu0
        spamd.send_signal(signal.SIGTERM)
        spamd.wait(timeout=60)
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        spam.run_parallel([f"{MDAD} spam check {rules} --dbpath {mddb} --json $(cat {lp}) > {lp}.json" for lp in lists])
        mc_wall = time.time() - t0
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        mc_cpu = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
        bayes_hits = sum(1 for lp in lists for line in open(lp + ".json") if '"BAYES_' in line)
        checked = sum(1 for lp in lists for _ in open(lp + ".json"))
        if checked != check:
            sys.exit(f"mdad checked {checked} of {check} messages")
        if "BAYES_" not in probe:
            print("warning: spamd's answer shows no BAYES_ rule: is its Bayes database readable?")
        mc_wall_msgs = mc_wall - load_wall
        mc_cpu_msgs = mc_cpu - jobs * load_cpu

        print(f"bayes: learn {train} messages ({nspam} spam, {nham} ham), check {check}, {jobs} jobs when checking, stock rules, no network")
        print(f"{'':38} {'SpamAssassin':>14} {'mdad':>14} {'ratio':>8}")
        print(f"{'learn: messages per second':38} {train / sa_wall:14.1f} {train / md_wall:14.1f} {sa_wall / md_wall:7.1f}x")
        print(f"{'learn: CPU ms per message':38} {sa_cpu / train * 1000:14.2f} {md_cpu / train * 1000:14.2f} {sa_cpu / max(md_cpu, 1e-9):7.1f}x")
        print(f"{'check with Bayes: messages per second':38} {check / sd_wall:14.1f} {check / mc_wall:14.1f} {sd_wall / mc_wall:7.1f}x")
        print(f"{'  the same, rules loaded':38} {check / sd_wall:14.1f} {check / mc_wall_msgs:14.1f} {sd_wall / mc_wall_msgs:7.1f}x")
        print(f"{'check: CPU ms per message (server)':38} {sd_cpu / check * 1000:14.2f} {mc_cpu_msgs / check * 1000:14.2f} {sd_cpu / max(mc_cpu_msgs, 1e-9):7.1f}x")
        print(f"mdad results with a BAYES_ rule: {bayes_hits} of {check}; mdad rule load: {load_wall * 1000:.0f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
