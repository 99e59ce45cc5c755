#!/usr/bin/env python3
"""Memory under many conversations: 3,000 POST /v1/respond requests, each opening a new
conversation with a session id of the maximal length (128 bytes), against the release
server on loopback. Prints the server's resident memory (VmRSS from /proc/PID/status)
before and after, and fails when it grew by more than 50 MB. Also checks that a 250 KB
session id is refused (422) instead of being kept.

    bench/rss.py                     # REQUESTS=3000 THREADS=4 TIME_LIMIT=300
    SAHAYA_BIN=target/debug/sahaya bench/rss.py

Standard library only; Linux (/proc).
"""

import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sahaya_proc import Server, rss_kib  # noqa: E402

REQUESTS = int(os.environ.get("REQUESTS", "3000"))
THREADS = int(os.environ.get("THREADS", "4"))
TIME_LIMIT = float(os.environ.get("TIME_LIMIT", "300"))
MAX_GROWTH_MB = 50
SESSION_ID_BYTES = 128
TEXTS = [
    "Where is my parcel?",
    "Πού είναι το δέμα μου;",
    "నా పార్సెల్ ఎక్కడ ఉంది?",
    "how much does it cost to send a parcel to Athens",
]


def post(conn, body):
    conn.request("POST", "/v1/respond", body=json.dumps(body).encode(),
                 headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    return resp.status


def worker(server, first, count, deadline, statuses, lock):
    conn = server.connection()
    try:
        for i in range(first, first + count):
            if time.monotonic() > deadline:
                break
            prefix = f"bench-{i:08d}-"
            session = prefix + "x" * (SESSION_ID_BYTES - len(prefix))
            status = post(conn, {"text": TEXTS[i % len(TEXTS)], "session_id": session})
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
    finally:
        conn.close()


def main():
    started = time.monotonic()
    deadline = started + TIME_LIMIT
    with Server() as server:
        # Warm up (index pages, allocator pools) without sessions.
        conn = server.connection()
        for i in range(50):
            post(conn, {"text": TEXTS[i % len(TEXTS)]})
        # The limit holds: a huge id is refused, not stored.
        huge = post(conn, {"text": "Where is my parcel?", "session_id": "x" * 250_000})
        conn.close()
        before = rss_kib(server.pid)

        statuses, lock, threads = {}, threading.Lock(), []
        per = -(-REQUESTS // THREADS)
        for t in range(THREADS):
            first = t * per
            count = max(0, min(per, REQUESTS - first))
            th = threading.Thread(target=worker,
                                  args=(server, first, count, deadline, statuses, lock))
            th.start()
            threads.append(th)
        for th in threads:
            th.join()
        after = rss_kib(server.pid)

    sent = sum(statuses.values())
    growth_mb = (after - before) / 1024
    print(f"requests: {sent} with {SESSION_ID_BYTES}-byte session ids, statuses {statuses}")
    print(f"250 KB session id: HTTP {huge} (422 expected)")
    print(f"RSS start: {before / 1024:.1f} MB")
    print(f"RSS end:   {after / 1024:.1f} MB")
    print(f"growth:    {growth_mb:+.1f} MB (limit {MAX_GROWTH_MB} MB)")
    print(f"time:      {time.monotonic() - started:.1f} s")
    ok = True
    if sent < REQUESTS:
        print(f"FAIL: only {sent} of {REQUESTS} requests within {TIME_LIMIT:.0f} s")
        ok = False
    if statuses.get(200, 0) != sent:
        print("FAIL: some requests were not answered with 200")
        ok = False
    if huge != 422:
        print("FAIL: the 250 KB session id was not refused")
        ok = False
    if growth_mb > MAX_GROWTH_MB:
        print("FAIL: memory grew by more than the limit")
        ok = False
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
