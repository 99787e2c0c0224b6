#!/usr/bin/env python3
"""Load and abuse against mdad serve: many connections, slow clients, pipelined RCPT floods,
header bombs, deep MIME nesting. Usage: abuse_client.py SCENARIO HOST:PORT. Prints JSON."""
import json, socket, sys, threading, time

scenario, address = sys.argv[1], sys.argv[2]
host, port = address.rsplit(":", 1)
port = int(port)

def connect(timeout=30):
    s = socket.create_connection((host, port), timeout=timeout)
    return s, s.makefile("rb")

def reply(f):
    lines = []
    while True:
        line = f.readline()
        if not line:
            return "(closed)" if not lines else "\n".join(lines)
        lines.append(line.decode("utf-8", "replace").rstrip("\r\n"))
        if line[3:4] != b"-":
            return "\n".join(lines)

def deliver(message, rcpts=("alice@example.com",), timeout=60):
    s, f = connect(timeout)
    try:
        reply(f)
        s.sendall(b"LHLO abuse\r\n"); reply(f)
        s.sendall(b"MAIL FROM:<s@example.org>\r\n"); reply(f)
        for r in rcpts:
            s.sendall(b"RCPT TO:<%s>\r\n" % r.encode()); reply(f)
        s.sendall(b"DATA\r\n"); reply(f)
        s.sendall(message.replace(b"\r\n.", b"\r\n..") + b"\r\n.\r\n")
        return [reply(f) for _ in rcpts]
    finally:
        s.close()

out = {}
if scenario == "connections":
    n = 1000
    results = [None] * n
    socks = []
    start = time.time()
    for i in range(n):
        socks.append(connect(60))
    greetings = [reply(f) for s, f in socks]
    def run(i):
        s, f = socks[i]
        try:
            s.sendall(b"LHLO c%d\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n" % i)
            for _ in range(4):
                reply(f)
            s.sendall(b"Subject: connection %d\r\n\r\nbody\r\n.\r\nQUIT\r\n" % i)
            results[i] = reply(f)
        except OSError as e:
            results[i] = "error %s" % e
        finally:
            s.close()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads: t.start()
    for t in threads: t.join()
    out = {"greeted": sum(g.startswith("220") for g in greetings), "delivered": sum(bool(r and r.startswith("250")) for r in results),
           "seconds": round(time.time() - start, 2)}
elif scenario == "slow":
    # One client trickles a command line a byte at a time and never ends it; another delivers
    # normally meanwhile.
    s, f = connect(60)
    reply(f)
    start = time.time()
    closed_with = None
    def trickle():
        global closed_with
        try:
            for i in range(120):
                s.sendall(b"X")
                time.sleep(0.25)
        except OSError:
            pass
    t = threading.Thread(target=trickle)
    t.start()
    normal = deliver(b"Subject: while a slow client waits\r\n\r\nbody")
    closed_with = reply(f)
    cut = time.time() - start
    t.join()
    out = {"normal": normal, "slow_reply": closed_with, "cut_after": round(cut, 1)}
elif scenario == "rcpt-flood":
    s, f = connect(120)
    reply(f)
    n = 10000
    s.sendall(b"LHLO flood\r\nMAIL FROM:<s@example.org>\r\n" + b"".join(b"RCPT TO:<alice@example.com>\r\n" for _ in range(n)) + b"RSET\r\nQUIT\r\n")
    replies = []
    while True:
        r = reply(f)
        if r == "(closed)":
            break
        replies.append(r.split("\n")[-1][:9])
        if r.startswith("221"):
            break
    out = {"replies": len(replies), "accepted": sum(r.startswith("250 2.1.5") for r in replies),
           "refused": sum(r.startswith("452") for r in replies), "last": replies[-1] if replies else None}
elif scenario == "header-bomb":
    many = b"".join(b"X-Bomb-%d: value %d\r\n" % (i, i) for i in range(100000)) + b"Subject: many\r\n\r\nbody"
    long = b"X-Long: " + b"a" * (10 << 20) + b"\r\nSubject: long\r\n\r\nbody"
    start = time.time()
    r1 = deliver(many)
    t1 = time.time() - start
    r2 = deliver(long)
    out = {"many_headers": r1, "many_seconds": round(t1, 2), "long_line": r2, "seconds": round(time.time() - start, 2)}
elif scenario == "deep-mime":
    depth = 1000
    parts = []
    for i in range(depth):
        parts.append(b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1))
    body = b"".join(parts) + b"--b%d\r\nContent-Type: text/plain\r\n\r\ninnermost\r\n" % depth
    body += b"".join(b"--b%d--\r\n" % i for i in range(depth, -1, -1))
    msg = b"Subject: deep\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n" + body
    start = time.time()
    out = {"reply": deliver(msg), "seconds": round(time.time() - start, 2)}
print(json.dumps(out))
