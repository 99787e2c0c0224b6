#!/usr/bin/env python3
"""Python's email package on the same work as MIMEBench, for bench/mime.sh.

  mime_email.py run DIR   parse every .eml in DIR (read into memory first) with
                          policy=email.policy.default, decode the Subject, every text part
                          with get_content() and every other leaf with get_payload(decode=True)
  mime_email.py big MB    the same for one MB-megabyte message; prints peak RSS
"""
import email
import email.policy
import os
import resource
import sys
import time


def parse_and_decode(data):
    msg = email.message_from_bytes(data, policy=email.policy.default)
    total = len(str(msg["Subject"] or ""))
    for part in msg.walk():
        if part.is_multipart() or part.get_content_type() == "message/rfc822":
            continue
        if part.get_content_maintype() == "text":
            total += len(part.get_content())
        else:
            total += len(part.get_payload(decode=True) or b"")
    return total


def run(directory):
    names = sorted(n for n in os.listdir(directory) if n.endswith(".eml"))
    blobs = [open(os.path.join(directory, n), "rb").read() for n in names]
    size = sum(len(b) for b in blobs)
    best = float("inf")
    for _ in range(2):
        t0 = time.monotonic()
        for b in blobs:
            parse_and_decode(b)
        best = min(best, time.monotonic() - t0)
    print("messages %d" % len(blobs))
    print("bytes %d" % size)
    print("seconds %f" % best)
    print("mb_per_s %f" % (size / 1e6 / best))
    print("msgs_per_s %f" % (len(blobs) / best))


def big(path):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    data = open(path, "rb").read()
    t0 = time.monotonic()
    parse_and_decode(data)
    seconds = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("big_bytes %d" % len(data))
    print("big_seconds %f" % seconds)
    print("big_mb_per_s %f" % (len(data) / 1e6 / seconds))
    print("big_rss_growth_kb %d" % (after - before))


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2])
    else:
        big(sys.argv[2])
