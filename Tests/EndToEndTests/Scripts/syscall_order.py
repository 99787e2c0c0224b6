#!/usr/bin/env python3
"""Checks, in an strace -f log, that each delivery made its message durable before it said so.

Usage: syscall_order.py TRACE maildir|mbox [REPLY]
  maildir: for every file created in a tmp/ directory: its last write, then fsync of that file
           (or syncfs), then link into new/ or cur/, then fsync of that directory (or syncfs),
           then the acknowledgement.
  mbox:    for every write to the mailbox file: then fsync/fdatasync of it (or syncfs), then the
           acknowledgement.
  The acknowledgement is exit_group(0) without REPLY, or else a write/writev/sendmsg whose
  data contains REPLY (for example "250 2.0.0").
Prints one JSON object: deliveries checked and the violations found."""
import json, re, sys

trace, mode = sys.argv[1], sys.argv[2]
reply = sys.argv[3] if len(sys.argv) > 3 else None

events = []          # (start, end, pid, name, args, ret)
pending = {}
line_re = re.compile(r"^(\d+)\s+(.*)$")
for n, raw in enumerate(open(trace, errors="replace")):
    m = line_re.match(raw.rstrip("\n"))
    if not m:
        continue
    pid, rest = int(m.group(1)), m.group(2)
    if rest.startswith("<..."):
        r = re.match(r"<\.\.\. (\w+) resumed>(.*)", rest)
        if r and (pid, r.group(1)) in pending:
            start, args = pending.pop((pid, r.group(1)))
            ret = rest.rsplit("=", 1)[-1].strip() if "=" in rest else ""
            events.append((start, n, pid, r.group(1), args + r.group(2), ret))
        continue
    c = re.match(r"(\w+)\((.*)", rest)
    if not c:
        continue
    name, tail = c.group(1), c.group(2)
    if tail.endswith("<unfinished ...>"):
        pending[(pid, name)] = (n, tail)
        continue
    ret = rest.rsplit("=", 1)[-1].strip() if "=" in rest else ""
    events.append((n, n, pid, name, tail, ret))
events.sort()

def fd_of(args):
    m = re.match(r"\s*(\d+)", args)
    return int(m.group(1)) if m else None

def ok(e):
    return e[5].split(" ")[0] not in ("-1",) and not e[5].startswith("-1")

violations, checked = [], 0
acks = [e for e in events if (reply is None and e[3] == "exit_group" and e[4].startswith("0"))
        or (reply is not None and e[3] in ("write", "writev", "sendmsg", "sendto") and reply in e[4])]
syncfs = [e for e in events if e[3] == "syncfs" and ok(e)]

def durable_after(t, fd_events):
    """The first flush (of the fd, or any syncfs) that starts after t: its end, or None."""
    cands = [e for e in fd_events + syncfs if e[0] > t]
    return min((e[1] for e in cands), default=None)

if mode == "maildir":
    for e in events:
        if e[3] != "openat" or "/tmp/" not in e[4] or "O_CREAT" not in e[4] or not ok(e):
            continue
        path = re.search(r'"([^"]+)"', e[4]).group(1)
        fd = int(e[5])
        # This file's writes and flushes: same fd and pid, until that fd is closed or reused.
        reuse = [x for x in events if x[0] > e[1] and x[2] == e[2] and x[3] == "openat" and x[5] == str(fd)]
        limit = reuse[0][0] if reuse else float("inf")
        # The same thread: another thread's fd 18 is another file (a group commit's syncfs, which
        # flushes everything, counts from any thread).
        writes = [x for x in events if x[0] > e[1] and x[0] < limit and x[2] == e[2] and x[3] == "write" and fd_of(x[4]) == fd]
        flushes = [x for x in events if x[0] > e[1] and x[0] < limit and x[2] == e[2] and x[3] in ("fsync", "fdatasync") and fd_of(x[4]) == fd]
        links = [x for x in events if x[3] in ("link", "linkat", "rename", "renameat", "renameat2") and path in x[4] and ok(x)]
        if not links:
            continue   # a delivery that failed or was refused: nothing to acknowledge
        checked += 1
        last_write = max((w[1] for w in writes), default=e[1])
        link = links[0]
        file_durable = durable_after(last_write, flushes)
        if file_durable is None or file_durable > link[0]:
            violations.append(f"{path}: linked before its data was flushed")
            continue
        target = re.findall(r'"([^"]+)"', link[4])[-1]
        newdir = target.rsplit("/", 1)[0]
        dir_opens = [x for x in events if x[3] == "openat" and x[0] > link[1] and newdir.rstrip("/") in x[4] and "O_DIRECTORY" in x[4] and ok(x)]
        dir_flushes = [x for x in events if x[3] in ("fsync", "fdatasync") and x[0] > link[1]
                       and any(fd_of(x[4]) == int(o[5]) and o[2] == x[2] for o in dir_opens)]
        dir_durable = durable_after(link[1], dir_flushes)
        ack = [a for a in acks if a[0] > link[1]]
        if dir_durable is None:
            violations.append(f"{path}: directory never flushed after the link")
        elif not ack or ack[0][0] < dir_durable:
            violations.append(f"{path}: acknowledged before the directory entry was durable")
elif mode == "mbox":
    opens = [e for e in events if e[3] == "openat" and "O_APPEND" in e[4] and ok(e)]
    for o in opens:
        fd = int(o[5])
        writes = [x for x in events if x[0] > o[1] and x[3] == "write" and fd_of(x[4]) == fd and x[2] == o[2]]
        if not writes:
            continue
        checked += 1
        flushes = [x for x in events if x[0] > o[1] and x[2] == o[2] and x[3] in ("fsync", "fdatasync") and fd_of(x[4]) == fd]
        durable = durable_after(max(w[1] for w in writes), flushes)
        ack = [a for a in acks if a[0] > writes[-1][1]]
        if durable is None:
            violations.append(f"fd {fd}: mailbox never flushed")
        elif not ack or ack[0][0] < durable:
            violations.append(f"fd {fd}: acknowledged before the mailbox was flushed")
print(json.dumps({"checked": checked, "acknowledgements": len(acks), "violations": violations}))
