#!/usr/bin/env python3
"""A DNS stub for the relay tests: answers MX, A and AAAA questions on 127.0.0.1 (UDP, and
TCP on the same port) from its arguments and NXDOMAIN for anything else, so no test ever asks
a real DNS server. With --truncate every UDP answer is empty with TC set, so the client must
ask again over TCP.

  dns_stub.py --port P --out DIR [--mx DOMAIN=PREF:EXCHANGE]... [--a NAME=IPV4]...
              [--aaaa NAME=IPV6]... [--truncate]

Every question is appended to DIR/queries.log; DIR/ready appears once it listens.
"""
import argparse, os, socket, struct, threading, time

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--out", required=True)
p.add_argument("--mx", action="append", default=[])
p.add_argument("--a", action="append", default=[])
p.add_argument("--aaaa", action="append", default=[])
p.add_argument("--truncate", action="store_true")
p.add_argument("--lifetime", type=float, default=600)
p.add_argument("--host", default="127.0.0.1", help="127.0.0.1 or ::1")
args = p.parse_args()
mx, a, aaaa = {}, {}, {}
for m in args.mx:
    d, v = m.split("=", 1)
    pref, ex = v.split(":", 1)
    mx.setdefault(d.lower(), []).append((int(pref), ex))
for r in args.a:
    n, ip = r.split("=", 1)
    a.setdefault(n.lower(), []).append(ip)
for r in args.aaaa:
    n, ip = r.split("=", 1)
    aaaa.setdefault(n.lower(), []).append(ip)


def encode_name(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".") if l) + b"\0"


def read_name(msg, pos):
    labels = []
    while msg[pos]:
        labels.append(msg[pos + 1:pos + 1 + msg[pos]].decode())
        pos += 1 + msg[pos]
    return ".".join(labels).lower(), pos + 1


def answer(msg, transport):
    qid = msg[:2]
    name, pos = read_name(msg, 12)
    qtype = struct.unpack(">H", msg[pos:pos + 2])[0]
    question = msg[12:pos + 4]
    with open(os.path.join(args.out, "queries.log"), "a") as f:
        f.write(f"{name} { {15: 'MX', 1: 'A', 28: 'AAAA'}.get(qtype, qtype)}{' tcp' if transport == 'tcp' else ''}\n")
    answers = []
    if qtype == 15:
        for pref, ex in mx.get(name, []):
            rdata = struct.pack(">H", pref) + encode_name(ex)
            answers.append(b"\xc0\x0c" + struct.pack(">HHIH", 15, 1, 60, len(rdata)) + rdata)
    elif qtype == 1:
        for ip in a.get(name, []):
            answers.append(b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + socket.inet_aton(ip))
    elif qtype == 28:
        for ip in aaaa.get(name, []):
            answers.append(b"\xc0\x0c" + struct.pack(">HHIH", 28, 1, 60, 16) + socket.inet_pton(socket.AF_INET6, ip))
    known = name in mx or name in a or name in aaaa
    flags = 0x8180 if known else 0x8183
    if transport == "udp" and args.truncate:
        return qid + struct.pack(">HHHHH", flags | 0x0200, 1, 0, 0, 0) + question
    return qid + struct.pack(">HHHHH", flags, 1, len(answers), 0, 0) + question + b"".join(answers)


def serve_tcp(listener):
    while True:
        c, _ = listener.accept()
        try:
            c.settimeout(5)
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                chunk = c.recv(4096)
                if not chunk:
                    break
                data += chunk
            if len(data) >= 2:
                reply = answer(data[2:2 + struct.unpack(">H", data[:2])[0]], "tcp")
                c.sendall(struct.pack(">H", len(reply)) + reply)
        except OSError:
            pass
        finally:
            c.close()


family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
tcp = socket.socket(family, socket.SOCK_STREAM)
tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
tcp.bind((args.host, args.port))
tcp.listen(16)
threading.Thread(target=serve_tcp, args=(tcp,), daemon=True).start()
s = socket.socket(family, socket.SOCK_DGRAM)
s.bind((args.host, args.port))
s.settimeout(1)
os.makedirs(args.out, exist_ok=True)
open(os.path.join(args.out, "ready"), "w").write(str(os.getpid()))
deadline = time.time() + args.lifetime
while time.time() < deadline:
    try:
        msg, peer = s.recvfrom(4096)
    except socket.timeout:
        continue
    s.sendto(answer(msg, "udp"), peer)
