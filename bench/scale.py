#!/usr/bin/env python3
"""Scale benchmark: large synthetic knowledge bases, start-up, reload, memory and latency.

For each size (10,000 and 100,000 entries by default; an entry is one topic in one
language, with a question and 4 alternates), writes a knowledge base into a fresh
temporary directory, reproducibly (fixed seed, words drawn from the vocabulary of the
shipped knowledge files), with the shipped locales, then measures:

- cold start: `sahaya serve` on the fresh directory until /readyz answers 200;
- warm start: the same again (a persistent index, when there is one, is reused);
- RSS (VmRSS of /proc/PID/status) after load, and VmRSS/VmHWM after 10,000 requests;
- `/v1/respond` p50/p99 over HTTP (one keep-alive connection, one request at a time);
- reload: one topic file edited, time until /readyz reports the next generation;
- `respond` p50/p99 in-process (examples/scale_respond, the same messages).

Prints one table. Run through bench/scale.sh, which builds the binaries first.

    SIZES=10000,100000 REQUESTS=10000 bench/scale.py

Standard library only; Linux (/proc).
"""

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = 16
LANGS = ["en", "el", "te"]
ALTERNATES = 4
TOPICS_PER_FOLDER = 1000
MESSAGES = 400
REQUESTS = int(os.environ.get("REQUESTS", "10000"))
SIZES = [int(s) for s in os.environ.get("SIZES", "10000,100000").split(",")]
BIN = os.environ.get("SAHAYA_BIN", os.path.join(ROOT, "target", "release", "sahaya"))
EXAMPLE = os.path.join(ROOT, "target", "release", "examples", "scale_respond")
START_LIMIT = float(os.environ.get("START_LIMIT", "600"))



def words_of(text):
    """The words of `text`: whitespace-separated, punctuation and digits stripped (Telugu
    vowel signs and viramas are marks, which stay)."""
    for token in text.split():
        word = "".join(c for c in token if unicodedata.category(c)[0] in "LM")
        if len(word) > 1:
            yield word.lower()


def vocabulary():
    """Per language, the distinct words of the shipped questions, alternates and answers."""
    words = {lang: set() for lang in LANGS}
    for dirpath, _, files in os.walk(os.path.join(ROOT, "knowledge")):
        for name in sorted(files):
            if not name.endswith(".toml") or name == "synonyms.toml":
                continue
            with open(os.path.join(dirpath, name), "rb") as f:
                doc = tomllib.load(f)
            for lang in LANGS:
                t = doc.get(lang)
                if not isinstance(t, dict):
                    continue
                texts = [t.get("question", ""), t.get("answer", "")]
                texts += t.get("alternates", [])
                for text in texts:
                    words[lang].update(words_of(text))
    return {lang: sorted(ws) for lang, ws in words.items()}


def phrase(rng, words, lo, hi):
    return " ".join(rng.choice(words) for _ in range(rng.randint(lo, hi)))


def toml_str(s):
    return json.dumps(s, ensure_ascii=False)


def topic_file(tid, texts):
    out = [f'id = "{tid}"', ""]
    for lang in LANGS:
        q, alts, answer = texts[lang]
        out.append(f"[{lang}]")
        out.append(f"question = {toml_str(q)}")
        out.append("alternates = [" + ", ".join(toml_str(a) for a in alts) + "]")
        out.append(f"answer = {toml_str(answer)}")
        if lang != "en":
            out.append(f"answer_informal = {toml_str(answer)}")
        out.append("")
    return "\n".join(out)


def generate(entries, dest):
    """Writes `entries` entries (entries / 3 topics, rounded up) into `dest`; returns the
    messages to send and one topic file to edit."""
    vocab = vocabulary()
    rng = random.Random(SEED)
    topics = -(-entries // len(LANGS))
    kdir = os.path.join(dest, "knowledge")
    all_texts = []
    for i in range(topics):
        tid = f"topic_{i:06d}"
        texts = {}
        for lang in LANGS:
            q = phrase(rng, vocab[lang], 4, 8) + "?"
            alts = [phrase(rng, vocab[lang], 3, 8) for _ in range(ALTERNATES)]
            answer = phrase(rng, vocab[lang], 10, 25) + "."
            texts[lang] = (q, alts, answer)
        folder = os.path.join(kdir, f"part_{i // TOPICS_PER_FOLDER:03d}")
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{tid}.toml"), "w", encoding="utf-8") as f:
            f.write(topic_file(tid, texts))
        all_texts.append(texts)
    for lang in LANGS:
        shutil.copytree(os.path.join(ROOT, "locales", lang), os.path.join(dest, "locales", lang))
    # Messages: most are a phrasing with a word dropped and another added; some are words
    # drawn at random (off-topic for the base).
    messages = []
    for _ in range(MESSAGES):
        lang = rng.choice(LANGS)
        if rng.random() < 0.8:
            q, alts, _ = all_texts[rng.randrange(topics)][lang]
            words = rng.choice([q.rstrip("?")] + alts).split()
            if len(words) > 3:
                words.pop(rng.randrange(len(words)))
            words.insert(rng.randrange(len(words) + 1), rng.choice(vocab[lang]))
            messages.append(" ".join(words))
        else:
            messages.append(phrase(rng, vocab[lang], 2, 7))
    edit = os.path.join(kdir, "part_000", "topic_000000.toml")
    return messages, edit


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def get_json(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, (json.loads(body) if body else None)
    finally:
        conn.close()


class Server:
    def __init__(self, data):
        self.port = free_port()
        self.log = open(os.path.join(data, "..", f"serve-{self.port}.log"), "w")
        env = dict(os.environ, RUST_LOG="info", SAHAYA_WATCH="true")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [BIN, "--data", data, "serve", "--addr", f"127.0.0.1:{self.port}"],
            stdout=self.log,
            stderr=self.log,
            env=env,
        )

    def wait_ready(self):
        deadline = self.started + START_LIMIT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited ({self.proc.returncode}); see {self.log.name}")
            try:
                status, body = get_json(self.port, "/readyz")
                if status == 200:
                    return time.monotonic() - self.started, body
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError("the server did not become ready")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, int(round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def http_latencies(port, messages, n):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"}
    bodies = [json.dumps({"text": m}, ensure_ascii=False).encode() for m in messages]
    took = []
    for i in range(n):
        t0 = time.perf_counter()
        conn.request("POST", "/v1/respond", body=bodies[i % len(bodies)], headers=headers)
        resp = conn.getresponse()
        resp.read()
        took.append(time.perf_counter() - t0)
        if resp.status != 200:
            raise RuntimeError(f"/v1/respond answered {resp.status}")
    conn.close()
    took.sort()
    return percentile(took, 50) * 1000, percentile(took, 99) * 1000


def reload_after_edit(server, edit, generation):
    with open(edit, encoding="utf-8") as f:
        text = f.read()
    text = text.replace('answer = "', 'answer = "Edited. ', 1)
    t0 = time.monotonic()
    with open(edit, "w", encoding="utf-8") as f:
        f.write(text)
    while time.monotonic() - t0 < START_LIMIT:
        status, body = get_json(server.port, "/readyz")
        if status == 200 and body["content"]["generation"] > generation:
            return time.monotonic() - t0
        if body and body.get("reload_error"):
            raise RuntimeError(f"reload failed: {body['reload_error']}")
        time.sleep(0.02)
    raise RuntimeError("the edit was not served")


def in_process(data, messages_file):
    out = subprocess.run(
        [EXAMPLE, data, messages_file], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_size(entries):
    work = tempfile.mkdtemp(prefix=f"sahaya-scale-{entries}-")
    data = os.path.join(work, "data")
    os.makedirs(data)
    try:
        t0 = time.monotonic()
        messages, edit = generate(entries, data)
        messages_file = os.path.join(work, "messages.txt")
        with open(messages_file, "w", encoding="utf-8") as f:
            f.write("\n".join(messages) + "\n")
        print(f"== {entries} entries written in {time.monotonic() - t0:.1f} s ({work})", flush=True)
        row = {"entries": entries}

        server = Server(data)
        row["cold_s"], _ = server.wait_ready()
        server.stop()
        print(f"   cold start {row['cold_s']:.1f} s", flush=True)

        server = Server(data)
        row["warm_s"], ready = server.wait_ready()
        print(f"   warm start {row['warm_s']:.1f} s", flush=True)
        try:
            time.sleep(1)
            row["rss_load_mib"] = status_kib(server.proc.pid, "VmRSS") / 1024
            row["http_p50_ms"], row["http_p99_ms"] = http_latencies(server.port, messages, REQUESTS)
            row["rss_req_mib"] = status_kib(server.proc.pid, "VmRSS") / 1024
            row["hwm_mib"] = status_kib(server.proc.pid, "VmHWM") / 1024
            print(
                f"   RSS {row['rss_load_mib']:.0f} MiB after load, {row['rss_req_mib']:.0f} MiB "
                f"after {REQUESTS} requests (peak {row['hwm_mib']:.0f} MiB)",
                flush=True,
            )
            row["reload_s"] = reload_after_edit(server, edit, ready["content"]["generation"])
            print(f"   reload after one edit {row['reload_s']:.1f} s", flush=True)
        finally:
            server.stop()

        r = in_process(data, messages_file)
        row["proc_p50_ms"], row["proc_p99_ms"] = r["p50_ms"], r["p99_ms"]
        row["proc_load_s"] = r["load_s"]
        print(f"   in-process: load {r['load_s']:.1f} s, respond p50 {r['p50_ms']:.3f} ms", flush=True)
        return row
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main():
    for path in (BIN, EXAMPLE):
        if not os.path.exists(path):
            sys.exit(f"{path} not found: run bench/scale.sh, which builds it")
    rows = [run_size(n) for n in SIZES]
    cols = [
        ("entries", "entries", "{:,}"),
        ("cold start", "cold_s", "{:.1f} s"),
        ("warm start", "warm_s", "{:.1f} s"),
        ("reload, one edit", "reload_s", "{:.1f} s"),
        ("RSS after load", "rss_load_mib", "{:.0f} MiB"),
        (f"RSS after {REQUESTS:,} requests (peak)", None, None),
        ("respond p50 / p99 in-process", None, None),
        ("/v1/respond p50 / p99", None, None),
    ]
    print()
    print("| " + " | ".join(c[0] for c in cols) + " |")
    print("|" + "---|" * len(cols))
    for r in rows:
        cells = []
        for _, key, fmt in cols[:5]:
            cells.append(fmt.format(r[key]))
        cells.append(f"{r['rss_req_mib']:.0f} MiB ({r['hwm_mib']:.0f} MiB)")
        cells.append(f"{r['proc_p50_ms']:.2f} / {r['proc_p99_ms']:.2f} ms")
        cells.append(f"{r['http_p50_ms']:.2f} / {r['http_p99_ms']:.2f} ms")
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
