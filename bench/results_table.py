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
for name in ("aliases", "deliver", "lmtp", "mime"):
    status = read(f"{name}.status").strip() or "not run"
    secs = read(f"{name}.seconds").strip()
    print(f"### {name} ({status}{', ' + secs + ' s' if secs else ''})\n")
    print("```")
    print(read(f"{name}.txt").rstrip()[-6000:])
    print("```\n")
