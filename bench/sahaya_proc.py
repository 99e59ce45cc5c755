"""Starts `sahaya serve` on a free loopback port for the benchmark scripts of this folder.

Standard library only. The binary is target/release/sahaya, built first with
`cargo build --release` (a no-op when it is up to date); SAHAYA_BIN names another binary
and skips the build.
"""

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def binary():
    given = os.environ.get("SAHAYA_BIN")
    if given:
        return given
    print("== cargo build --release", flush=True)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", "release", "sahaya")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid):
    """Resident memory of `pid` in KiB, from /proc/PID/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS line")


class Server:
    """`sahaya serve` with the shipped content, an empty settings file and `env` added."""

    def __init__(self, env=None, start_timeout=120):
        self.port = free_port()
        self.addr = f"127.0.0.1:{self.port}"
        self.config = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
        self.config.close()
        self.log = tempfile.TemporaryFile()
        full_env = dict(os.environ, RUST_LOG="warn", SAHAYA_WATCH="false")
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [binary(), "--data", ROOT, "serve", "--addr", self.addr,
             "--config", self.config.name],
            env=full_env, stdout=subprocess.DEVNULL, stderr=self.log,
        )
        deadline = time.monotonic() + start_timeout
        while True:
            if self.proc.poll() is not None:
                self.log.seek(0)
                sys.stderr.write(self.log.read().decode(errors="replace"))
                raise SystemExit("the server did not start")
            try:
                if self.get("/healthz", timeout=1)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit("the server did not answer /healthz in time")
            time.sleep(0.1)

    @property
    def pid(self):
        return self.proc.pid

    def connection(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def get(self, path, timeout=10):
        conn = self.connection(timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        os.unlink(self.config.name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
