#!/usr/bin/env python3
"""The independent judge for mdad's MIME views: Python's own `email` package.

Reads every .eml file in the directory given (default: this script's directory) and prints,
as one JSON document, what Python makes of each message:
  - decoded header values (Subject, X-Split) via str(msg[name]);
  - address headers (From, To, Cc, Reply-To) via their .groups, one "name|addr_spec" per
    mailbox and "group:NAME" before a group's members;
  - every part in msg.walk() order: content type, file name, for text/* leaves the text
    from get_content(), for other leaves the decoded payload's size and a checksum.

mdad's MIMECorpusJudgeTests run this script and compare the output with mdad's own views.
"""
import email
import email.policy
import json
import os
import sys


def addresses(header):
    out = []
    for group in header.groups:
        if group.display_name is not None:
            out.append("group:" + group.display_name)
        for a in group.addresses:
            out.append((a.display_name or "-") + "|" + a.addr_spec)
    return out


def judge(path):
    with open(path, "rb") as f:
        msg = email.message_from_bytes(f.read(), policy=email.policy.default)
    headers = {}
    for name in ("Subject", "X-Split"):
        if msg[name] is not None:
            headers[name] = str(msg[name])
    addrs = {}
    for name in ("From", "To", "Cc", "Reply-To"):
        if msg[name] is not None:
            try:
                addrs[name] = addresses(msg[name])
            except Exception as e:  # noqa: BLE001 - report, do not judge
                addrs[name] = ["python error: %s" % e]
    parts = []
    for part in msg.walk():
        entry = {"type": part.get_content_type(), "filename": part.get_filename(), "text": None, "payload": None}
        if part.get_content_maintype() == "text" and not part.is_multipart():
            entry["text"] = part.get_content()
        elif not part.is_multipart() and part.get_content_type() != "message/rfc822":
            data = part.get_payload(decode=True) or b""
            entry["payload"] = "%d bytes, sum %d" % (len(data), sum(data) % 65536)
        parts.append(entry)
    return {"file": os.path.basename(path), "headers": headers, "addresses": addrs, "parts": parts}


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    names = sorted(n for n in os.listdir(directory) if n.endswith(".eml"))
    json.dump([judge(os.path.join(directory, n)) for n in names], sys.stdout, ensure_ascii=True)


if __name__ == "__main__":
    main()
