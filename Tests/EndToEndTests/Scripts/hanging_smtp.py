#!/usr/bin/env python3
"""An SMTP server that hangs, for the relay's timeout tests (loopback only).

--mode silent: accepts connections and never says a word.
--mode at-dot: speaks SMTP until the end of DATA, then never answers the final dot.
Writes PORT_DIR/ready once listening; stops when killed."""
import argparse, os, socket, threading

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--out", required=True)
p.add_argument("--mode", choices=["silent", "at-dot"], required=True)
a = p.parse_args()
held = []


def serve(c):
    held.append(c)
    if a.mode == "silent":
        return
    f = c.makefile("rb")
    c.sendall(b"220 hanging.test ESMTP\r\n")
    while True:
        line = f.readline()
        if not line:
            return
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            c.sendall(b"250-hanging.test\r\n250 8BITMIME\r\n")
        elif verb == b"DATA":
            c.sendall(b"354 go ahead\r\n")
            while True:
                body = f.readline()
                if not body or body in (b".\r\n", b".\n"):
                    open(os.path.join(a.out, "dot-received"), "a").write("x\n")
                    return              # never answers: the connection stays open
        elif verb == b"QUIT":
            c.sendall(b"221 bye\r\n")
            return
        else:
            c.sendall(b"250 ok\r\n")


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", a.port))
s.listen(16)
open(os.path.join(a.out, "ready"), "w").close()
while True:
    conn, _ = s.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
