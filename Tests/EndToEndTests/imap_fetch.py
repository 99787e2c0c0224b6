#!/usr/bin/env python3
"""Fetches a whole IMAP account and prints it as JSON, for mdad's Dovecot end-to-end tests.

usage: imap_fetch.py HOST PORT USER PASSWORD [--append MAILBOX FLAGS BASE64-MESSAGE]

With --append, first APPENDs the message to MAILBOX with FLAGS (an IMAP flag list such as
"(\\Seen $Label1)"), so that Dovecot, not mdad, is the first to assign those keywords.

Prints one JSON object:
  {"list":   [{"name": ..., "delimiter": ..., "flags": [...]}, ...],   LIST "" "*"
   "lsub":   [{"name": ..., "delimiter": ..., "flags": [...]}, ...],   LSUB "" "*"
   "subscribed": [names with \\Subscribed in LIST (SUBSCRIBED) "" "*"],
   "mailboxes": {name: [{"uid": n, "flags": [...], "body": base64 of BODY[]}, ...]}}
Mailbox names are as IMAP sends them (modified UTF-7). Every selectable mailbox is opened
read-only (EXAMINE) and fetched with BODY.PEEK[], so nothing on the server changes.
"""

import base64
import imaplib
import json
import re
import sys

LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.+)$')


def unquote(raw):
    if raw.startswith(b'"') and raw.endswith(b'"'):
        return re.sub(rb'\\(.)', rb'\1', raw[1:-1])
    return raw


def parse_list(data):
    out = []
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):  # a name sent as a literal
            item = item[0].rsplit(b' ', 1)[0] + b' "' + item[1] + b'"'
        m = LIST_LINE.match(item)
        if not m:
            raise SystemExit("unparsed LIST line: %r" % item)
        delim = m.group('delim')
        out.append({
            "name": unquote(m.group('name')).decode('ascii'),
            "delimiter": None if delim == b'NIL' else unquote(delim).decode('ascii'),
            "flags": m.group('flags').decode('ascii').split(),
        })
    return out


def quoted(name):
    return '"' + name.replace('\\', '\\\\').replace('"', '\\"') + '"'


def fetch_all(conn, name):
    typ, data = conn.select(quoted(name), readonly=True)
    if typ != 'OK':
        raise SystemExit("EXAMINE %s failed: %r" % (name, data))
    count = int(data[0])
    messages = []
    if count == 0:
        return messages
    typ, data = conn.fetch('1:*', '(UID FLAGS BODY.PEEK[])')
    if typ != 'OK':
        raise SystemExit("FETCH in %s failed: %r" % (name, data))
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, body = item
        uid = re.search(rb'UID (\d+)', head)
        flags = re.search(rb'FLAGS \(([^)]*)\)', head)
        messages.append({
            "uid": int(uid.group(1)) if uid else None,
            "flags": flags.group(1).decode('ascii').split() if flags else [],
            "body": base64.b64encode(body).decode('ascii'),
        })
    conn.close()
    return messages


def main():
    if len(sys.argv) not in (5, 9) or (len(sys.argv) == 9 and sys.argv[5] != '--append'):
        raise SystemExit(__doc__)
    host, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    conn = imaplib.IMAP4(host, port)
    conn.login(user, password)
    if len(sys.argv) == 9:
        mailbox, flags, message = sys.argv[6], sys.argv[7], base64.b64decode(sys.argv[8])
        typ, data = conn.append(quoted(mailbox), flags, None, message)
        if typ != 'OK':
            raise SystemExit("APPEND failed: %r" % data)
    typ, data = conn.list('""', '*')
    listed = parse_list(data)
    typ, data = conn.lsub('""', '*')
    lsub = parse_list(data)
    # LIST-EXTENDED (RFC 5258): the selection option SUBSCRIBED.
    typ, data = conn._simple_command('LIST', '(SUBSCRIBED)', '""', '"*"')
    typ, data = conn._untagged_response(typ, data, 'LIST')
    subscribed = [m["name"] for m in parse_list(data) if "\\Subscribed" in m["flags"]]
    mailboxes = {}
    for mailbox in listed:
        if "\\Noselect" in mailbox["flags"] or "\\NonExistent" in mailbox["flags"]:
            continue
        mailboxes[mailbox["name"]] = fetch_all(conn, mailbox["name"])
    conn.logout()
    json.dump({"list": listed, "lsub": lsub, "subscribed": subscribed, "mailboxes": mailboxes},
              sys.stdout, sort_keys=True)


if __name__ == '__main__':
    main()
