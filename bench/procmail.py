#!/usr/bin/env python3
"""Side-by-side benchmark: `mdad procmail` and mdad's rules stage against procmail itself on a
30-recipe procmailrc.

Both run the way Postfix runs a mailbox_command: one process per message, the message on
standard input (`-m RCFILE`, so the same rc decides for both), delivering into Maildir
folders and mbox files under a throwaway MAILDIR. The messages are the test corpus
(Tests/EndToEndTests/Corpus/*.eml), cycled. Runs are interleaved (mdad, procmail, mdad, ...)
so machine noise hits both alike. Every run must exit 0; afterwards both MAILDIRs must hold
the same number of messages, or the script fails instead of reporting.

Run as root, a third contender is mdad's rules stage: `mdad-deliver -d USER` with
`pipeline = rules` and `rules_engines = procmail`, the same rc as a temporary user's
~/.procmailrc (mdad deliver becomes the user, as with Postfix's mailbox_command).

Usage: bench/procmail.py [--runs N] [--mdad PATH]
PATH is mdad-procmail (default; `mdad procmail` in a program that links only the delivery
libraries) or mdad itself (then run as `mdad procmail`). Prints deliveries per second for each
and the ratio mdad/procmail.
"""
import argparse, glob, os, pwd, random, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RC = r"""
MAILDIR=@DIR@
DEFAULT=$MAILDIR/inbox/
LOGFILE=$MAILDIR/procmail.log
LOGABSTRACT=no
:0
* ^X-Spam-Flag: YES
spam/
:0
* 3^0 ^Subject:.*(viagra|lottery|winner)
* 2^0 ^From:.*@(cheap|deals)\.
* -5^0 ^From:.*@example\.(org|com)
spam/
:0
* ^List-Id:.*<\/[^.>]+
lists/$MATCH/
:0
* ^Mailing-List:.*\/[a-z0-9-]+@
lists/mlist/
:0
* ^FROM_DAEMON
bounces/
:0
* ^FROM_MAILER
bounces/
:0
* ^TO_postmaster@
postmaster/
:0
* ^TO_abuse@
abuse/
:0
* ^Subject:.*\[security\]
security/
:0
* ^From:.*boss@example\.org
important/
:0
* ^From:.*(hr|payroll)@example\.org
hr/
:0
* ^Subject:.*invoice
* ^From:.*billing@
invoices/
:0
* ^Subject:.*(meeting|agenda)
meetings/
:0 B
* ^BEGIN:VCALENDAR
calendar/
:0
* ^Content-Type: multipart/report
reports/
:0
* ^Precedence: (bulk|junk)
bulk/
:0
* ^Auto-Submitted: auto-
automated/
:0
* ^X-Mailer:.*mutt
mutt/
:0
* ^Subject:.*newsletter
newsletters
:0
* ^From:.*github\.com
github/
:0
* ^From:.*gitlab
gitlab/
:0
* ^Subject:.*\[jira\]
jira/
:0
* ^Subject:.*(build|ci) (failed|passed)
ci/
:0
* ^To:.*family@
family/
:0
* ^Subject:.*receipt
receipts/
:0
* ^From:.*@bank\.example
bank/
:0
* ^Subject:.*travel
travel/
:0
* ^X-Priority: 1
urgent/
:0
* < 64
tiny/
"""


def count_messages(d):
    n = 0
    for root, dirs, files in os.walk(d):
        if os.path.basename(root) in ("new", "cur"):
            n += len(files)
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=400)
    default = os.path.join(ROOT, ".build-static", "release", "mdad-procmail")
    ap.add_argument("--mdad", default=default)
    args = ap.parse_args()
    for tool in (args.mdad, "/usr/bin/procmail"):
        if not os.access(tool, os.X_OK):
            sys.exit(f"missing {tool}: run bench/build-release.sh and install procmail")
    corpus = sorted(glob.glob(os.path.join(ROOT, "Tests", "EndToEndTests", "Corpus", "*.eml")))
    messages = [open(p, "rb").read() for p in corpus]
    work = tempfile.mkdtemp(prefix="mdad-bench-procmail-")
    os.chmod(work, 0o755)
    user = None
    try:
        mdad = [args.mdad] if args.mdad.endswith("mdad-procmail") else [args.mdad, "procmail"]
        contenders = {"mdad procmail": mdad, "procmail": ["/usr/bin/procmail"]}
        rcs, times = {}, {name: 0.0 for name in contenders}
        for name in contenders:
            d = os.path.join(work, name.replace(" ", "-"))
            os.makedirs(d)
            rc = os.path.join(work, name.replace(" ", "-") + ".rc")
            open(rc, "w").write(RC.replace("@DIR@", d))
            rcs[name] = (d, rc)
            contenders[name] = contenders[name] + ["-m", rc]
        deliver = os.path.join(os.path.dirname(args.mdad), "mdad-deliver")
        if os.getuid() == 0 and os.access(deliver, os.X_OK):
            user = f"mdadp{random.randint(10000, 99999)}"
            home = os.path.join(work, "stage-home")
            subprocess.run(["useradd", "--no-create-home", "--home-dir", home, "--shell", "/usr/sbin/nologin",
                            "--user-group", user], check=True)
            pw = pwd.getpwnam(user)
            os.makedirs(home)
            open(os.path.join(home, ".procmailrc"), "w").write(RC.replace("@DIR@", os.path.join(home, "Mail")))
            for p in (home, os.path.join(home, ".procmailrc")):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            conf = os.path.join(work, "etc")
            os.makedirs(conf)
            open(os.path.join(conf, "main.cf"), "w").write(
                "myhostname = bench.example\npipeline = rules\nrules_engines = procmail\n")
            contenders["mdad rules stage"] = [deliver, "-c", conf, "-d", user, "-f", "bench@example.org"]
            rcs["mdad rules stage"] = (home, None)
            times["mdad rules stage"] = 0.0
        env = {"PATH": "/usr/bin:/bin", "LANG": "C", "HOME": work}
        for i in range(args.runs):
            msg = messages[i % len(messages)]
            for name, argv in contenders.items():
                t0 = time.perf_counter()
                r = subprocess.run(argv, input=msg, env=env, cwd=work,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                times[name] += time.perf_counter() - t0
                if r.returncode != 0:
                    sys.exit(f"{name} exited {r.returncode}: {r.stderr.decode(errors='replace')}")
        counts = {name: count_messages(rcs[name][0]) for name in contenders}
        if len(set(counts.values())) != 1:
            sys.exit(f"the contenders stored different numbers of messages: {counts}")
        print(f"30-recipe procmailrc, {args.runs} deliveries each, {len(messages)} corpus messages cycled, "
              f"one process per message ({args.mdad})")
        rate = {name: args.runs / t for name, t in times.items()}
        for name in contenders:
            print(f"  {name:17s} {rate[name]:8.1f} deliveries/s  ({1000 * times[name] / args.runs:.2f} ms each)"
                  f"  ratio to procmail {rate[name] / rate['procmail']:.2f}")
    finally:
        if user:
            subprocess.run(["userdel", user])
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
