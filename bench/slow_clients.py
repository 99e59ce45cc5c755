#!/usr/bin/env python3
"""Slow clients: opens 300 connections to the release server on loopback that send half
their request headers, or nothing, and then stay silent. Once the header read timeout has
passed they must be closed by the server, and GET /healthz must answer within 100 ms again.
Prints how many were closed and the measured /healthz latency (on fresh connections, and
while the slow connections were still open).

    bench/slow_clients.py            # CLIENTS=300 HEADER_TIMEOUT=2
    SAHAYA_BIN=target/debug/sahaya bench/slow_clients.py

Standard library only.
"""

import os
import socket
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sahaya_proc import Server  # noqa: E402

CLIENTS = int(os.environ.get("CLIENTS", "300"))
HEADER_TIMEOUT = int(os.environ.get("HEADER_TIMEOUT", "2"))
LIMIT_MS = 100.0
PROBES = 20


def healthz_ms(server):
    """Milliseconds for one GET /healthz on a new connection (connect included)."""
    started = time.perf_counter()
    status, _ = server.get("/healthz", timeout=30)
    took = (time.perf_counter() - started) * 1000
    if status != 200:
        raise SystemExit(f"/healthz answered {status}")
    return took


def probe(server):
    times = [healthz_ms(server) for _ in range(PROBES)]
    return statistics.median(times), max(times)


def closed_by_server(sock):
    """True when the server has closed `sock` (EOF or reset), without waiting."""
    sock.setblocking(False)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except BlockingIOError:
        return False
    except ConnectionError:
        return True


def main():
    started = time.monotonic()
    env = {"SAHAYA_HEADER_READ_TIMEOUT_SECS": str(HEADER_TIMEOUT)}
    with Server(env) as server:
        base_median, base_max = probe(server)
        slow = []
        for i in range(CLIENTS):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            if i % 2 == 0:
                s.sendall(b"POST /v1/respond HTTP/1.1\r\nHost: localhost\r\nContent-Ty")
            slow.append(s)
        opened = time.monotonic()
        during_median, during_max = probe(server)

        # Past the header timeout, with a margin for a loaded machine.
        wait = HEADER_TIMEOUT + 1 - (time.monotonic() - opened)
        if wait > 0:
            time.sleep(wait)
        deadline = time.monotonic() + 10
        while True:
            closed = sum(closed_by_server(s) for s in slow)
            if closed == len(slow) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        after_median, after_max = probe(server)
        for s in slow:
            s.close()

    print(f"slow connections: {CLIENTS} (half with partial headers, half silent), "
          f"header timeout {HEADER_TIMEOUT} s")
    print(f"closed by the server after the timeout: {closed}/{CLIENTS}")
    print(f"/healthz before:               median {base_median:.2f} ms, max {base_max:.2f} ms")
    print(f"/healthz with them open:       median {during_median:.2f} ms, "
          f"max {during_max:.2f} ms")
    print(f"/healthz after the timeout:    median {after_median:.2f} ms, "
          f"max {after_max:.2f} ms (limit {LIMIT_MS:.0f} ms)")
    print(f"time: {time.monotonic() - started:.1f} s")
    ok = closed == CLIENTS and after_max <= LIMIT_MS
    if closed != CLIENTS:
        print("FAIL: some slow connections are still open")
    if after_max > LIMIT_MS:
        print("FAIL: /healthz is slower than the limit")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
