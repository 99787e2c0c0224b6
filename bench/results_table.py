"""Turns the outputs of bench/all.sh (bench/results/NAME.txt) into bench/RESULTS.md: one table
row per workload (mdad, the peer, the ratio; above 1 means mdad is faster), a text bar chart
of the ratios, and each benchmark's output as it printed it."""
import os, re, subprocess, sys, datetime

out = sys.argv[1]


def read(name):
    try:
        with open(os.path.join(out, name)) as f:
            return f.read()
    except OSError:
        return ""


pigeonhole = 0
rows = []  # (benchmark, workload, unit, mdad, peer name, peer value, ratio mdad-faster)


def num(s):
    return float(s.replace(",", ""))


# aliases.sh: "compile   123 ms   45 ms   2.73x"
for line in read("aliases.txt").splitlines():
    m = re.match(r"(compile|\S+ lookups \(-q -\))\s+(\d+) ms\s+(\d+) ms\s+([\d.]+)x", line)
    if m:
        pf, md = num(m.group(2)), num(m.group(3))
        rows.append(("aliases", m.group(1), "ms", md, "postalias", pf, pf / md if md else 0))

# deliver.py: per-second table, then ms-per-delivery table.
section = None
for line in read("deliver.txt").splitlines():
    if line.startswith("deliveries per second"):
        section = "rate"; continue
    if line.startswith("median ms per delivery"):
        section = "ms"; continue
    parts = line.split()
    if section == "rate" and len(parts) == 6 and parts[0].isdigit():
        m, d, p = map(num, parts[1:4])
        rows.append(("deliver", f"{parts[0]} in flight", "deliveries/s", m, "dovecot-lda", d, m / d if d else 0))
        rows.append(("deliver", f"{parts[0]} in flight", "deliveries/s", m, "procmail", p, m / p if p else 0))
    elif section == "ms" and len(parts) >= 6 and re.match(r"^[\d.]+$", parts[-1]):
        name = " ".join(parts[:-5])
        m, d, p = map(num, parts[-5:-2])
        rows.append(("deliver", f"{name} message", "ms/delivery", m, "dovecot-lda", d, d / m if m else 0))
        rows.append(("deliver", f"{name} message", "ms/delivery", m, "procmail", p, p / m if m else 0))

# lmtp.py: "rcpts conc | mdad msg/s rcpt/s p50 p99 | dovecot msg/s ... | ratio | no-fsync"
for line in read("lmtp.txt").splitlines():
    cells = [c.split() for c in line.split("|")]
    if len(cells) >= 4 and len(cells[0]) == 2 and all(x.isdigit() for x in cells[0]):
        m, d = num(cells[1][0]), num(cells[2][0])
        # The benchmark's own ratio (from unrounded rates).
        rows.append(("lmtp", f"{cells[0][0]} rcpt, {cells[0][1]} connections", "msg/s", m, "dovecot-lmtp", d, num(cells[3][0])))

# mime.sh: "corpus MB/s: mdad 12.3, python 4.5, ratio 2.7x"
for line in read("mime.txt").splitlines():
    m = re.match(r"(.+?): mdad ([\d.]+)(?: MB)?, python ([\d.]+)(?: MB)?, ratio ([\d.]+)x", line)
    if m:
        rows.append(("mime", m.group(1), "", num(m.group(2)), "python email", num(m.group(3)), num(m.group(4))))

# sieve.sh: "mdad sieve-test (one process each)   102   1.15x"
for line in read("sieve.txt").splitlines():
    m = re.match(r"Pigeonhole sieve-test .*?\s+([\d.]+)\s+1\.00x", line)
    if m:
        pigeonhole = num(m.group(1))
    m = re.match(r"(mdad .+?)\s+([\d.]+)\s+([\d.]+)x$", line)
    if m:
        rows.append(("sieve", m.group(1), "executions/s", num(m.group(2)), "pigeonhole sieve-test", pigeonhole, num(m.group(3))))

# procmail.py: "  procmail   154.2 deliveries/s (…)  ratio to procmail 1.00"
rates = {}
for line in read("procmail.txt").splitlines():
    m = re.match(r"\s+(.+?)\s+([\d.]+) deliveries/s.*ratio to procmail ([\d.]+)", line)
    if m:
        rates[m.group(1)] = (num(m.group(2)), num(m.group(3)))
for name, (rate, ratio) in rates.items():
    if name != "procmail":
        rows.append(("procmail", name, "deliveries/s", rate, "procmail", rates.get("procmail", (0, 0))[0], ratio))

# spam.py: "messages per second   5.10   71.91   111.90   21.9x   1.6x"
for line in read("spam.txt").splitlines():
    m = re.match(r"(messages per second.*?|CPU ms per message \(server\))\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x\s+([\d.]+)x", line)
    if m:
        unit = "ms/message" if m.group(1).startswith("CPU") else "messages/s"
        rows.append(("spam", m.group(1), unit, num(m.group(4)), "spamd", num(m.group(2)), num(m.group(5))))
        rows.append(("spam", m.group(1), unit, num(m.group(4)), "rspamd", num(m.group(3)), num(m.group(6))))

# bayes.py: "learn: messages per second   30.1   243.5   8.1x"
for line in read("bayes.txt").splitlines():
    m = re.match(r"((?:learn|check|\s+the same).*?)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x$", line)
    if m:
        rows.append(("bayes", m.group(1).strip(), "", num(m.group(3)), "SpamAssassin", num(m.group(2)), num(m.group(4))))

# relay.py: "concurrency 1   245.6   332.3   1.35x"
for line in read("relay.txt").splitlines():
    m = re.match(r"(concurrency \d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x", line)
    if m:
        rows.append(("relay", m.group(1), "msg/s", num(m.group(3)), "postfix", num(m.group(2)), num(m.group(4))))

# pgsql.sh: "lookups per second   911   425   0.47x"
for line in read("pgsql.txt").splitlines():
    m = re.match(r"lookups per second\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)x", line)
    if m:
        rows.append(("pgsql", "lookups", "lookups/s", num(m.group(2)), "postfix pgsql", num(m.group(1)), num(m.group(3))))

# rewrite.sh: two rates and a ratio that is not like for like (said in the workload's name).
rw = {}
for line in read("rewrite.txt").splitlines():
    m = re.match(r"(mdad rewrite stage alone|Postfix smtpd\+cleanup\+qmgr\+discard)\s+([\d.]+)$", line)
    if m:
        rw[m.group(1)] = num(m.group(2))
if len(rw) == 2:
    m, p = rw["mdad rewrite stage alone"], rw["Postfix smtpd+cleanup+qmgr+discard"]
    rows.append(("rewrite", "stage alone vs Postfix's whole path (not like for like)", "messages/s", m, "postfix", p, m / p if p else 0))

print("# Benchmarks: mdad side by side with its peers\n")
host = subprocess.run(["uname", "-srm"], capture_output=True, text=True).stdout.strip()
print(f"Written by `bench/all.sh` on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {host}, "
      f"{os.cpu_count()} cores. Short budgets: read the ratios, not the absolute figures, and re-run "
      "with `BUDGET=full bench/all.sh` on a quiet machine before quoting them.\n")
print("Ratio above 1: mdad is faster (or, for times, takes less).\n")
print("| benchmark | workload | unit | mdad | peer | peer's | ratio |")
print("| --- | --- | --- | ---: | --- | ---: | ---: |")
for b, w, u, m, pn, p, r in rows:
    print(f"| {b} | {w} | {u} | {m:g} | {pn} | {p:g} | {r:.2f} |")
print()
print("## Chart (ratio, log scale; | marks 1.0)\n")
print("```")
import math
for b, w, u, m, pn, p, r in rows:
    label = f"{b}: {w} vs {pn}"[:52]
    pos = 20 + int(round(10 * math.log2(r))) if r > 0 else 0
    pos = max(0, min(60, pos))
    bar = ("#" * pos).ljust(61)
    bar = bar[:20] + ("|" if pos <= 20 else bar[20]) + bar[21:]
    print(f"{label:<52} {bar} {r:.2f}")
print("```\n")
print("## Each benchmark's output\n")
for name in ("aliases", "deliver", "lmtp", "mime", "sieve", "procmail", "spam", "bayes", "relay", "pgsql", "rewrite"):
    status = read(f"{name}.status").strip() or "not run"
    secs = read(f"{name}.seconds").strip()
    print(f"### {name} ({status}{', ' + secs + ' s' if secs else ''})\n")
    print("```")
    print(read(f"{name}.txt").rstrip()[-6000:])
    print("```\n")
