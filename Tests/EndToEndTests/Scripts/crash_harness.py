#!/usr/bin/env python3
"""SIGKILL harness: mdad serve is killed at random moments while clients deliver over LMTP,
and restarted; afterwards every message that got a 250 must be in the Maildir, whole.

Usage: crash_harness.py MDAD CONFIG_DIR PORT MAILDIR MESSAGES KILLS [SEED]
Prints one JSON object: kills, acked, checked, lost, duplicates (copies beyond one of an acked
message: the window between the file's link and the 250 reaching the client), partial (files
in new/ that match no sent message whole), tmp_left (files left in tmp/ after a final
delivery into the restarted server)."""
import json, os, random, re, signal, socket, subprocess, sys, threading, time

mdad, config, port, maildir, total, kills = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
rng = random.Random(int(sys.argv[7]) if len(sys.argv) > 7 else 1)

def message(i):
    size = rng.choice([300, 3000, 30000, 300000])
    body = "".join("line %d of message %d %s\r\n" % (n, i, "x" * 40) for n in range(size // 60))
    return ("Message-ID: <crash-%d@harness>\r\nSubject: crash %d\r\n\r\n" % (i, i) + body).encode()

payloads = {i: message(i) for i in range(total)}
acked = set()
lock = threading.Lock()
server = None
server_lock = threading.Lock()
stop = threading.Event()

def start():
    global server
    with server_lock:
        server = subprocess.Popen([mdad, "serve", "-c", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)

def read_reply(f):
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("closed")
        if line[3:4] != b"-":
            return line

def deliver(i):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    f = s.makefile("rb")
    try:
        read_reply(f)
        s.sendall(b"LHLO harness\r\n"); read_reply(f)
        s.sendall(b"MAIL FROM:<s@example.org>\r\n"); read_reply(f)
        s.sendall(b"RCPT TO:<alice@example.com>\r\n")
        if not read_reply(f).startswith(b"250"):
            return False
        s.sendall(b"DATA\r\n"); read_reply(f)
        data = payloads[i].replace(b"\r\n.", b"\r\n..")
        s.sendall(data + b".\r\n")
        return read_reply(f).startswith(b"250")
    finally:
        s.close()

def client(ids):
    for i in ids:
        while not stop.is_set():
            try:
                if deliver(i):
                    with lock:
                        acked.add(i)
                    break
            except (OSError, ConnectionError):
                time.sleep(0.05)   # the server is down: retry what got no 250

start()
threads = [threading.Thread(target=client, args=(list(range(t, total, 4)),)) for t in range(4)]
for t in threads:
    t.start()
done_kills = 0
while any(t.is_alive() for t in threads):
    # The kills are spread over the first three quarters of the run: the next one comes once
    # enough more messages got their 250, at a random moment a little later (mid-DATA,
    # mid-fsync, before the reply…). The last quarter leaves room for the last kill: were it
    # due near the end, the clients could finish during the random wait and it never came.
    threshold = (done_kills + 1) * (total * 3 // 4) // kills
    while done_kills < kills and len(acked) < threshold and any(t.is_alive() for t in threads):
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.05))
    if done_kills < kills and any(t.is_alive() for t in threads):
        with server_lock:
            server.send_signal(signal.SIGKILL)
            server.wait()
        done_kills += 1
        start()
    elif done_kills >= kills:
        time.sleep(0.05)
for t in threads:
    t.join()
# One more delivery into the restarted server: it cleans the killed servers' tmp/ files.
extra = total
payloads[extra] = message(extra)
ok = deliver(extra)
server.send_signal(signal.SIGTERM)
server.wait()

# Check: every acked message present and whole; nothing partial.
bodies = {}
for name in os.listdir(os.path.join(maildir, "new")):
    data = open(os.path.join(maildir, "new", name), "rb").read()
    bodies[name] = data
found = {i: 0 for i in payloads}
partial = 0
id_re = re.compile(rb"Message-ID: <crash-(\d+)@harness>")
for name, data in bodies.items():
    m = id_re.search(data)
    i = int(m.group(1)) if m else -1
    if i in payloads and data.endswith(payloads[i].replace(b"\r\n", b"\n")):
        found[i] += 1
    else:
        partial += 1
lost = [i for i in acked if found[i] == 0]
print(json.dumps({
    "kills": done_kills, "acked": len(acked), "checked": len(acked), "lost": len(lost),
    "duplicates": sum(max(0, found[i] - 1) for i in acked), "partial": partial,
    "tmp_left": len(os.listdir(os.path.join(maildir, "tmp"))), "final_delivery": ok,
}))
