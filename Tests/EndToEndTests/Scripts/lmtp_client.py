#!/usr/bin/env python3
"""An independent LMTP client for mdad's socket tests: Python's smtplib.LMTP, plus raw
sockets where smtplib has no API (BDAT, pipelining, hanging up mid-DATA).
Usage: lmtp_client.py SCENARIO ADDRESS   (ADDRESS is host:port or a UNIX socket path)
Prints one JSON object."""
import json, smtplib, socket, sys, time

scenario, address = sys.argv[1], sys.argv[2]


def connect_raw():
    if address.startswith("/"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(address)
    else:
        host, port = address.rsplit(":", 1)
        s = socket.create_connection((host.strip("[]"), int(port)))
    s.settimeout(10)
    return s


def read_replies(s, count):
    """Reads `count` complete replies (multi-line ones count once)."""
    data = b""
    replies = []
    while len(replies) < count:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        while b"\r\n" in data and len(replies) < count:
            # a reply ends at a line whose 4th char is a space
            lines = data.split(b"\r\n")
            acc = []
            consumed = 0
            done = False
            for line in lines[:-1]:
                acc.append(line.decode("utf-8", "replace"))
                consumed += len(line) + 2
                if len(line) >= 4 and line[3:4] == b" " or len(line) == 3:
                    done = True
                    break
            if not done:
                break
            replies.append("\n".join(acc))
            data = data[consumed:]
    return replies


def lmtp():
    if address.startswith("/"):
        return smtplib.LMTP(address)
    host, port = address.rsplit(":", 1)
    return smtplib.LMTP(host.strip("[]"), int(port))


out = {}
if scenario == "per-recipient":
    c = lmtp()
    c.ehlo("client.test")
    refused = c.sendmail("sender@example.org", ["alice@example.com", "nobody@example.com", "bob@example.com"],
                         b"Subject: two good one unknown\r\n\r\nhello\r\n")
    out["refused"] = {k: [v[0], v[1].decode()] for k, v in refused.items()}
    c.quit()
elif scenario == "rewrite":
    c = lmtp()
    c.ehlo("client.test")
    c.sendmail("sender", ["alice@example.com"], b"From: Alice <alice>\r\nTo: bob, carol@example.org\r\nSubject: rewrite\r\n\r\nhi\r\n")
    c.quit()
elif scenario == "dot-8bit":
    c = lmtp()
    c.ehlo("client.test")
    body = b"Subject: dots \xe4\xf6\xfc\r\n\r\n.leading dot\r\n..two dots\r\n.\xff\x00 binary-ish\r\nend\r\n"
    c.sendmail("", ["alice@example.com"], body)
    c.quit()
    out["sent"] = body.decode("latin-1")
elif scenario == "bdat":
    s = connect_raw()
    read_replies(s, 1)
    s.sendall(b"LHLO client\r\n")
    read_replies(s, 1)
    s.sendall(b"MAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\n")
    out["envelope"] = read_replies(s, 3)
    part1 = b"Subject: bdat\r\n\r\n"
    part2 = b".not stuffed\r\nlast line\r\n"
    s.sendall(b"BDAT %d\r\n" % len(part1) + part1 + b"BDAT %d LAST\r\n" % len(part2) + part2)
    out["replies"] = read_replies(s, 3)
    s.sendall(b"QUIT\r\n")
    read_replies(s, 1)
elif scenario == "pipelined":
    s = connect_raw()
    read_replies(s, 1)
    s.sendall(b"LHLO client\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<nobody@example.com>\r\n"
              b"RCPT TO:<bob@example.com>\r\nDATA\r\nSubject: pipelined\r\n\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n")
    out["replies"] = read_replies(s, 10)
elif scenario == "oversize":
    c = lmtp()
    c.ehlo("client.test")
    try:
        refused = c.sendmail("s@example.org", ["alice@example.com", "bob@example.com"], b"Subject: big\r\n\r\n" + b"x" * 300000 + b"\r\n")
        out["refused"] = {k: [v[0], v[1].decode()] for k, v in refused.items()}
    except smtplib.SMTPDataError as e:
        out["error"] = [e.smtp_code, e.smtp_error.decode()]
    except smtplib.SMTPRecipientsRefused as e:
        out["all_refused"] = {k: [v[0], v[1].decode()] for k, v in e.recipients.items()}
    except smtplib.SMTPSenderRefused as e:
        out["mail_refused"] = [e.smtp_code, e.smtp_error.decode()]
    c.quit()
elif scenario == "oversize-raw":
    # No SIZE= on MAIL FROM: the limit is found while the data arrives.
    s = connect_raw()
    read_replies(s, 1)
    s.sendall(b"LHLO client\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
    read_replies(s, 5)
    s.sendall(b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 300 + b".\r\nNOOP\r\n")
    out["replies"] = read_replies(s, 3)
elif scenario == "hangup":
    s = connect_raw()
    read_replies(s, 1)
    s.sendall(b"LHLO client\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n")
    out["replies"] = read_replies(s, 4)
    s.sendall(b"Subject: never finished\r\n\r\npartial body")
    time.sleep(0.2)
    s.close()
elif scenario == "big":
    # 100 MB of content, streamed: the server must not hold it in memory.
    s = connect_raw()
    read_replies(s, 1)
    s.sendall(b"LHLO client\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n")
    read_replies(s, 4)
    s.sendall(b"Subject: big\r\n\r\n")
    line = b"0123456789" * 10 + b"\r\n"
    block = line * 10000   # about 1 MB
    for _ in range(100):
        s.sendall(block)
    s.sendall(b".\r\n")
    s.settimeout(120)
    out["replies"] = read_replies(s, 1)
    out["size"] = len(block) * 100
elif scenario == "raw-rcpts":
    # Recipients from standard input (one line, space-separated), one message to all of them.
    rcpts = sys.stdin.readline().split()
    s = connect_raw()
    read_replies(s, 1)
    s.sendall(b"LHLO client\r\nMAIL FROM:<s@example.org>\r\n" + b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n")
    envelope = read_replies(s, 3 + len(rcpts))
    s.sendall(b"Subject: privilege separation\r\n\r\nbody\r\n.\r\n")
    out["envelope"] = envelope
    # LMTP answers once per accepted recipient (RFC 2033 section 4.2).
    accepted = [r for r in envelope[2:2 + len(rcpts)] if r.startswith("2")]
    out["replies"] = read_replies(s, len(accepted))
elif scenario == "raw-message":
    # Recipients on the first line of standard input, the message (LF lines) after it.
    rcpts = sys.stdin.readline().split()
    message = sys.stdin.read().replace("\n", "\r\n").encode()
    s = connect_raw()
    read_replies(s, 1)
    s.sendall(b"LHLO client\r\nMAIL FROM:<s@example.org>\r\n" + b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n")
    out["envelope"] = read_replies(s, 3 + len(rcpts))
    s.sendall(message + b".\r\n")
    accepted = [r for r in out["envelope"][2:2 + len(rcpts)] if r.startswith("2")]
    out["replies"] = read_replies(s, len(accepted))
elif scenario == "envelope":
    # The sender on the first line of standard input (empty: <>), the recipients on the
    # second, the message (LF lines) after them.
    sender = sys.stdin.readline().strip()
    rcpts = sys.stdin.readline().split()
    message = sys.stdin.read().replace("\n", "\r\n").encode()
    s = connect_raw()
    read_replies(s, 1)
    s.sendall(b"LHLO client\r\nMAIL FROM:<%s>\r\n" % sender.encode() + b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n")
    out["envelope"] = read_replies(s, 3 + len(rcpts))
    accepted = [r for r in out["envelope"][2:2 + len(rcpts)] if r.startswith("2")]
    if accepted:
        s.sendall(message + b".\r\n")
        out["replies"] = read_replies(s, len(accepted))
    else:
        out["replies"] = []
elif scenario == "many":
    # Opens three connections at once and reports each greeting.
    socks = [connect_raw() for _ in range(3)]
    out["greetings"] = [read_replies(s, 1)[0] if True else "" for s in socks]
elif scenario == "idle":
    s = connect_raw()
    s.settimeout(15)
    greeting = read_replies(s, 1)
    t0 = time.time()
    out["replies"] = greeting + read_replies(s, 1)
    out["waited"] = time.time() - t0
elif scenario == "connect":
    s = connect_raw()
    out["replies"] = read_replies(s, 1)
elif scenario == "slow-data":
    # Starts a transaction, waits for the signal file the test removes, then finishes it.
    s = connect_raw()
    read_replies(s, 1)
    s.sendall(b"LHLO client\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nSubject: during shutdown\r\n\r\n")
    out["before"] = read_replies(s, 4)
    print("ready", flush=True, file=sys.stderr)
    sys.stdin.readline()   # the test sends SIGTERM to mdad, then a line here
    s.sendall(b"body\r\n.\r\nNOOP\r\n")
    out["after"] = read_replies(s, 2)
print(json.dumps(out))
