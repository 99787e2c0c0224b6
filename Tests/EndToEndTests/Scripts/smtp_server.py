#!/usr/bin/env python3
"""A scripted SMTP server for mdad's relay tests: it accepts mail on 127.0.0.1 and injects
the failures a test asks for. Every message it accepts is written to OUT/NNNN.json (envelope
and data); every command line it reads is appended to OUT/commands.log.

  smtp_server.py --port P --out DIR [--greeting "421 4.3.2 not now"] [--rcpt ADDR=REPLY]...
                 [--drop-in-data N] [--data-reply REPLY] [--cert PEM --key PEM [--implicit-tls]] [--no-pipelining]
                 [--no-8bitmime] [--auth USER:PASS] [--size N] [--lifetime SECONDS]

--drop-in-data N: close the connection in the middle of DATA for the first N messages.
The server stops by itself after --lifetime seconds (default 300); tests stop it by PID.
"""
import argparse, base64, json, os, socket, ssl, socketserver, threading, time

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, required=True)
p.add_argument("--out", required=True)
p.add_argument("--host", default="127.0.0.1", help="the loopback address to listen on (127.0.0.1 or ::1)")
p.add_argument("--greeting", default="220 scripted.test ESMTP")
p.add_argument("--rcpt", action="append", default=[])
p.add_argument("--drop-in-data", type=int, default=0)
p.add_argument("--data-reply", default="250 2.0.0 Ok: queued")
p.add_argument("--cert")
p.add_argument("--key")
p.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte (port 465 style)")
p.add_argument("--no-pipelining", action="store_true")
p.add_argument("--no-8bitmime", action="store_true")
p.add_argument("--broken-tls", action="store_true", help="answer STARTTLS with 220, then bytes that are not TLS, and hang up")
p.add_argument("--auth")
p.add_argument("--size", type=int, default=0)
p.add_argument("--lifetime", type=float, default=300)
args = p.parse_args()

rcpt_replies = {}
for r in args.rcpt:
    addr, reply = r.split("=", 1)
    rcpt_replies[addr.lower()] = reply
lock = threading.Lock()
state = {"count": 0, "drops": 0}
os.makedirs(args.out, exist_ok=True)
tls_context = None
if args.cert:
    tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls_context.load_cert_chain(args.cert, args.key)


def log(line):
    with lock:
        with open(os.path.join(args.out, "commands.log"), "a") as f:
            f.write(line + "\n")


class Handler(socketserver.StreamRequestHandler):
    timeout = 30

    def reply(self, text):
        self.wfile.write((text + "\r\n").encode())
        self.wfile.flush()

    def readline(self):
        line = self.rfile.readline(4096)
        if not line:
            raise EOFError()
        return line

    def handle(self):
        self.tls = False
        try:
            if args.implicit_tls:
                self.request = tls_context.wrap_socket(self.request, server_side=True)
                self.rfile = self.request.makefile("rb")
                self.wfile = self.request.makefile("wb")
                self.tls = True
            self.session()
        except (EOFError, ConnectionError, ssl.SSLError, socket.timeout, OSError):
            pass

    def ehlo_lines(self):
        ext = ["scripted.test"]
        if not args.no_pipelining:
            ext.append("PIPELINING")
        if args.size:
            ext.append("SIZE %d" % args.size)
        if not args.no_8bitmime:
            ext.append("8BITMIME")
        ext += ["ENHANCEDSTATUSCODES", "DSN", "SMTPUTF8"]
        if tls_context and not self.tls:
            ext.append("STARTTLS")
        if args.auth:
            ext.append("AUTH PLAIN LOGIN")
        return ext

    def session(self):
        self.reply(args.greeting)
        if not args.greeting.startswith("220"):
            self.readline()
            return
        mail_from, rcpts, params = None, [], ""
        while True:
            raw = self.readline()
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            log(("TLS " if self.tls else "") + (line if not line.upper().startswith("AUTH PLAIN ") else "AUTH PLAIN ***"))
            cmd = line.upper()
            if cmd.startswith("EHLO"):
                ext = self.ehlo_lines()
                for e in ext[:-1]:
                    self.reply("250-" + e)
                self.reply("250 " + ext[-1])
            elif cmd.startswith("HELO"):
                self.reply("250 scripted.test")
            elif cmd == "STARTTLS" and tls_context and not self.tls:
                self.reply("220 2.0.0 Ready to start TLS")
                if args.broken_tls:
                    self.request.sendall(b"this is not a TLS record\r\n" * 4)
                    return
                self.request = tls_context.wrap_socket(self.request, server_side=True)
                self.rfile = self.request.makefile("rb")
                self.wfile = self.request.makefile("wb")
                self.tls = True
            elif cmd.startswith("AUTH PLAIN "):
                token = base64.b64decode(line[11:]).split(b"\0")
                ok = args.auth and b":".join(token[1:]).decode() == args.auth
                self.reply("235 2.7.0 Authentication successful" if ok else "535 5.7.8 Error: authentication failed")
            elif cmd.startswith("MAIL FROM:"):
                mail_from, rcpts, params = line[10:].split(" ")[0].strip("<>"), [], line
                self.reply("250 2.1.0 Ok")
            elif cmd.startswith("RCPT TO:"):
                addr = line[8:].split(" ")[0].strip("<>")
                reply = rcpt_replies.get(addr.lower(), "250 2.1.5 Ok")
                if reply.startswith("2"):
                    rcpts.append({"address": addr, "line": line})
                self.reply(reply)
            elif cmd == "DATA":
                if not rcpts:
                    self.reply("554 5.5.1 Error: no valid recipients")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = b""
                while True:
                    l = self.readline()
                    if l in (b".\r\n", b".\n"):
                        break
                    if l.startswith(b".."):
                        l = l[1:]
                    data += l
                    with lock:
                        drop = state["drops"] < args.drop_in_data and len(data) > 0
                        if drop:
                            state["drops"] += 1
                    if drop:
                        log("DROPPED IN DATA")
                        self.request.shutdown(socket.SHUT_RDWR)
                        self.request.close()
                        return
                if args.data_reply.startswith("2"):
                    with lock:
                        state["count"] += 1
                        n = state["count"]
                    with open(os.path.join(args.out, "%04d.json" % n), "w") as f:
                        json.dump({"from": mail_from, "mail": params, "to": rcpts, "tls": self.tls,
                                   "data": data.decode("utf-8", "replace")}, f)
                self.reply(args.data_reply)
                mail_from, rcpts = None, []
            elif cmd == "RSET":
                mail_from, rcpts = None, []
                self.reply("250 2.0.0 Ok")
            elif cmd == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif cmd == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Error: command not recognized")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
    # socketserver's default backlog of 5 drops the handshake of the sixth of 20 simultaneous
    # connections: the client then waits for a greeting that never comes.
    request_queue_size = 128


class Server6(Server):
    address_family = socket.AF_INET6


server = (Server6 if ":" in args.host else Server)((args.host, args.port), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
with open(os.path.join(args.out, "ready"), "w") as f:
    f.write(str(os.getpid()))
time.sleep(args.lifetime)
