#!/usr/bin/env python3
"""A DNS stub for the relay tests: answers MX and A questions on 127.0.0.1 UDP from its
arguments and NXDOMAIN for anything else, so no test ever asks a real DNS server.

  dns_stub.py --port P --out DIR [--mx DOMAIN=PREF:EXCHANGE]... [--a NAME=IPV4]...

Every question is appended to DIR/queries.log; DIR/ready appears once it listens.
"""
import argparse, os, socket, struct, time

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--out", required=True)
p.add_argument("--mx", action="append", default=[])
p.add_argument("--a", action="append", default=[])
p.add_argument("--lifetime", type=float, default=600)
args = p.parse_args()
mx, a = {}, {}
for m in args.mx:
    d, v = m.split("=", 1)
    pref, ex = v.split(":", 1)
    mx.setdefault(d.lower(), []).append((int(pref), ex))
for r in args.a:
    n, ip = r.split("=", 1)
    a.setdefault(n.lower(), []).append(ip)


def encode_name(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\0"


def read_name(msg, pos):
    labels = []
    while msg[pos]:
        labels.append(msg[pos + 1:pos + 1 + msg[pos]].decode())
        pos += 1 + msg[pos]
    return ".".join(labels).lower(), pos + 1


s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", args.port))
s.settimeout(1)
os.makedirs(args.out, exist_ok=True)
open(os.path.join(args.out, "ready"), "w").write(str(os.getpid()))
deadline = time.time() + args.lifetime
while time.time() < deadline:
    try:
        msg, peer = s.recvfrom(4096)
    except socket.timeout:
        continue
    qid = msg[:2]
    name, pos = read_name(msg, 12)
    qtype = struct.unpack(">H", msg[pos:pos + 2])[0]
    question = msg[12:pos + 4]
    with open(os.path.join(args.out, "queries.log"), "a") as f:
        f.write(f"{name} {'MX' if qtype == 15 else 'A' if qtype == 1 else qtype}\n")
    answers = []
    if qtype == 15:
        for pref, ex in mx.get(name, []):
            rdata = struct.pack(">H", pref) + encode_name(ex)
            answers.append(b"\xc0\x0c" + struct.pack(">HHIH", 15, 1, 60, len(rdata)) + rdata)
    elif qtype == 1:
        for ip in a.get(name, []):
            rdata = socket.inet_aton(ip)
            answers.append(b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + rdata)
    known = name in mx or name in a
    flags = 0x8180 if known else 0x8183
    s.sendto(qid + struct.pack(">HHHHH", flags, 1, len(answers), 0, 0) + question + b"".join(answers), peer)
