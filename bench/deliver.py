#!/usr/bin/env python3
"""Side-by-side benchmark: `mdad deliver` against dovecot-lda and procmail.

Two measurements, both side by side in one run:
1. median milliseconds per delivery, one delivery at a time;
2. deliveries per second with 1 and 4 deliveries in flight (threads each spawning one
   process per message), the way Postfix runs several local(8) processes at once.

Each contender delivers the same messages into its own Maildir, run the way an MTA runs a
local delivery agent: one process per message, the message on standard input, as an
unprivileged user. The timing loops themselves run in a child process that has already become
that user, and start each delivery with posix_spawn, so the harness adds as little as it can to
every contender's time (a fork of this Python process per delivery would add about 1.5 ms to
each). Runs are interleaved (mdad, dovecot-lda, procmail, mdad, ...) so that
machine noise hits all contenders alike. Every run must exit 0 and leave exactly one new
file; the script checks that before it reports times.

Usage (as root, which it needs only to create and remove the benchmark user):
    bench/deliver.py [--runs N] [--mdad PATH]
Prints a table of median milliseconds per delivery and each peer's time relative to mdad.
"""
import argparse, os, pwd, shutil, statistics, subprocess, sys, tempfile, time, random
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_messages(d):
    sample = open(os.path.join(ROOT, "config", "sample.eml"), "rb").read()
    msgs = {"sample 0.4 KB": sample}
    line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n"
    head = b"From: a@example.org\r\nTo: b@example.test\r\nSubject: bench\r\n\r\n"
    msgs["100 KB CRLF"] = head + line * (100_000 // len(line))
    msgs["5 MB CRLF"] = head + line * (5_000_000 // len(line))
    paths = {}
    for name, data in msgs.items():
        p = os.path.join(d, name.split()[0] + "-" + name.split()[1] + ".eml")
        open(p, "wb").write(data)
        paths[name] = p
    return paths


def spawn(cmd, env, stdin_path=None, quiet=True):
    """Runs cmd with posix_spawn (no fork of this interpreter) and returns (exit code, stderr)."""
    actions = []
    fd_in = os.open(stdin_path or os.devnull, os.O_RDONLY)
    fd_null = os.open(os.devnull, os.O_WRONLY)
    err_r, err_w = (None, None) if quiet else os.pipe()
    actions = [(os.POSIX_SPAWN_DUP2, fd_in, 0), (os.POSIX_SPAWN_DUP2, fd_null, 1),
               (os.POSIX_SPAWN_DUP2, fd_null if quiet else err_w, 2)]
    try:
        pid = os.posix_spawn(cmd[0], cmd, env, file_actions=actions)
    finally:
        os.close(fd_in)
        os.close(fd_null)
        if err_w is not None:
            os.close(err_w)
    err = b""
    if err_r is not None:
        with os.fdopen(err_r, "rb") as f:
            err = f.read()
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), err


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--mdad", default=os.path.join(ROOT, ".build-exe", "release", "mdad-deliver"),
                    help="mdad-deliver (default), or mdad itself (then run as `mdad deliver`)")
    args = ap.parse_args()
    if os.getuid() != 0:
        sys.exit("run as root (it creates a temporary benchmark user)")
    for tool in (args.mdad, "/usr/lib/dovecot/dovecot-lda", "/usr/bin/procmail"):
        if not os.access(tool, os.X_OK):
            sys.exit(f"missing {tool}: build mdad (bench/build-release.sh) "
                     f"and install dovecot-core and procmail")

    work = tempfile.mkdtemp(prefix="mdad-bench-")
    os.chmod(work, 0o755)
    user = f"mdadb{random.randint(10000, 99999)}"
    home = os.path.join(work, "home")
    subprocess.run(["useradd", "--no-create-home", "--home-dir", home, "--shell", "/usr/sbin/nologin",
                    "--user-group", user], check=True)
    exit_code = 1
    try:
        pw = pwd.getpwnam(user)
        os.makedirs(home)
        msgs = make_messages(work)
        for d in ("mdad", "dovecot", "procmail"):
            os.makedirs(os.path.join(home, d))
        open(os.path.join(home, "mdad", "main.cf"), "w").write(
            "home_mailbox = mdad/Maildir/\nmessage_size_limit = 0\nmyhostname = bench.example.test\n")
        open(os.path.join(home, "dovecot", "dovecot.conf"), "w").write(
            f"mail_location = maildir:{home}/dovecot/Maildir\nlog_path = {home}/dovecot/log\n"
            f"ssl = no\nprotocols =\nbase_dir = {home}/dovecot/run\nstate_dir = {home}/dovecot/state\n")
        open(os.path.join(home, "procmail", "rc"), "w").write(
            f"MAILDIR={home}/procmail\nDEFAULT={home}/procmail/Maildir/\n")
        for dirpath, dirs, files in os.walk(home):
            os.chown(dirpath, pw.pw_uid, pw.pw_gid)
            for f in files:
                os.chown(os.path.join(dirpath, f), pw.pw_uid, pw.pw_gid)

        env = {"HOME": home, "USER": user, "LOGNAME": user, "PATH": "/usr/bin:/bin"}
        contenders = {
            "mdad deliver": ([args.mdad] + ([] if args.mdad.endswith("mdad-deliver") else ["deliver"])
                             + ["-c", f"{home}/mdad", "-f", "a@example.org", "-a", "b@example.test"],
                             f"{home}/mdad/Maildir"),
            "dovecot-lda": (["/usr/lib/dovecot/dovecot-lda", "-c", f"{home}/dovecot/dovecot.conf",
                             "-f", "a@example.org", "-a", "b@example.test"], f"{home}/dovecot/Maildir"),
            "procmail": (["/usr/bin/procmail", "-m", f"{home}/procmail/rc"], f"{home}/procmail/Maildir"),
        }

        def demote():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)

        def measure():
            results = {}
            for mname, mpath in msgs.items():
                runs = args.runs if "MB" not in mname else max(10, args.runs // 10)
                times = {c: [] for c in contenders}
                for c, (cmd, md) in contenders.items():
                    shutil.rmtree(md, ignore_errors=True)
                for i in range(runs + 5):
                    for c, (cmd, md) in contenders.items():
                        t0 = time.perf_counter()
                        code, err = spawn(cmd, env, mpath, quiet=False)
                        t1 = time.perf_counter()
                        if code != 0:
                            sys.exit(f"{c} failed ({code}) on {mname}: {err.decode(errors='replace')}")
                        if i >= 5:  # warm-up runs are not counted
                            times[c].append((t1 - t0) * 1000)
                for c, (cmd, md) in contenders.items():
                    n = len(os.listdir(os.path.join(md, "new")))
                    if n != runs + 5:
                        sys.exit(f"{c}: expected {runs + 5} messages in new/, found {n}")
                results[mname] = {c: statistics.median(t) for c, t in times.items()}
                results[mname]["runs"] = runs

            # Start-up on its own: `--help` parses the arguments and exits.
            startup = []
            help_cmd = contenders["mdad deliver"][0][:1] + ([] if args.mdad.endswith("mdad-deliver") else ["deliver"]) + ["--help"]
            for i in range(args.runs):
                t0 = time.perf_counter()
                spawn(help_cmd, env)
                startup.append((time.perf_counter() - t0) * 1000)
            true_times = []
            for i in range(args.runs):
                t0 = time.perf_counter()
                spawn(["/bin/true"], env)
                true_times.append((time.perf_counter() - t0) * 1000)

            # Throughput: deliveries per second at 1 and 4 in flight, small message.
            rates = {}
            small = msgs["sample 0.4 KB"]
            def one(cmd):
                return spawn(cmd, env, small)[0]
            for parallel in (1, 4):
                per = {c: [] for c in contenders}
                for round_ in range(3):
                    for c, (cmd, md) in contenders.items():
                        n = args.runs
                        t0 = time.perf_counter()
                        with ThreadPoolExecutor(max_workers=parallel) as pool:
                            codes = list(pool.map(lambda _: one(cmd), range(n)))
                        wall = time.perf_counter() - t0
                        if any(codes):
                            sys.exit(f"{c} failed in the throughput run: exit codes {set(codes)}")
                        per[c].append(n / wall)
                rates[parallel] = {c: statistics.median(v) for c, v in per.items()}

            print(f"binary: {args.mdad}")
            print(f"start-up: --help {statistics.median(startup):.2f} ms, /bin/true {statistics.median(true_times):.2f} ms (median of {args.runs}, spawn overhead included)")
            print()
            print(f"deliveries per second, 0.4 KB message (median of 3 rounds of {args.runs})")
            print(f"{'in flight':<12}{'mdad':>10}{'dovecot-lda':>14}{'procmail':>11}{'mdad/lda':>10}{'mdad/procmail':>15}")
            for parallel, r in rates.items():
                m, d, p = r["mdad deliver"], r["dovecot-lda"], r["procmail"]
                print(f"{parallel:<12}{m:>10.0f}{d:>14.0f}{p:>11.0f}{m / d:>10.2f}{m / p:>15.2f}")
            print()
            print(f"median ms per delivery (one process per message, {args.runs} runs; 5 MB: fewer)")
            print(f"{'message':<16}{'mdad':>10}{'dovecot-lda':>14}{'procmail':>11}{'lda/mdad':>10}{'procmail/mdad':>15}")
            for mname, r in results.items():
                m, d, p = r["mdad deliver"], r["dovecot-lda"], r["procmail"]
                print(f"{mname:<16}{m:>10.2f}{d:>14.2f}{p:>11.2f}{d / m:>10.2f}{p / m:>15.2f}")
            print("ratios above 1 mean mdad is faster. mdad and dovecot-lda fsync the file and new/; "
                  "procmail's Maildir delivery does not fsync the directory.")

        # The measuring child becomes the benchmark user once, so every delivery is a plain
        # posix_spawn from an unprivileged process, as from Postfix's local(8).
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                demote()
                measure()
                code = 0
            except SystemExit as e:
                print(e, file=sys.stderr)
            except BaseException:
                import traceback
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        exit_code = os.waitstatus_to_exitcode(status)
    finally:
        subprocess.run(["userdel", user], check=False)
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(exit_code)


if __name__ == "__main__":
    main()
