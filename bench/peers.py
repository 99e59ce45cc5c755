#!/usr/bin/env python3
"""Side-by-side: Sahaya against two plain retrieval baselines on the same messages.

    cargo build --release
    pip install scikit-learn rank_bm25
    python3 bench/peers.py [MESSAGES.jsonl ...]

Each baseline indexes every question, alternate, romanized phrasing and keyword of
knowledge/ and returns the topic of the best phrasing:
  - tfidf: TF-IDF over character 2-4-grams (scikit-learn, char_wb), cosine similarity;
  - bm25:  BM25 Okapi over lowercased, accent-free words (rank_bm25).
Sahaya runs as `target/release/sahaya serve` on a free loopback port.

Messages are JSON lines with "text", "lang" and the expected topic in "id" or "topic", and
an optional "kind" ("plain" or a hard kind). Without arguments, the development set in
../shared/devset (paraphrases.jsonl, hard.jsonl) is used when present. Greeklish and
romanized Telugu are sent without a language, the rest with it, as customers' apps do.

Printed per language and plain/hard: ranked first (the answer or first suggestion) for all
three, answered-and-right for Sahaya (baselines always "answer"), and the mean time per
message (Sahaya's includes the HTTP round trip on loopback).
"""
import glob
import json
import os
import socket
import subprocess
import sys
import time
import tomllib
import unicodedata
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LATIN_KINDS = {"greeklish", "romanized_te", "romanized"}


def fold(text):
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return unicodedata.normalize("NFC", text).replace("ς", "σ").replace("\u200c", "")


def phrasings():
    out = []
    for path in sorted(glob.glob(os.path.join(ROOT, "knowledge", "**", "*.toml"), recursive=True)):
        if os.path.basename(path) == "synonyms.toml":
            continue
        with open(path, "rb") as f:
            t = tomllib.load(f)
        if "id" not in t:
            continue
        for lang in ("en", "el", "te"):
            sec = t.get(lang) or {}
            texts = [sec.get("question", "")] + sec.get("alternates", []) + sec.get("romanized", []) + sec.get("keywords", [])
            out += [(t["id"], fold(x)) for x in texts if x]
    return out


def messages(paths):
    rows = []
    for p in paths:
        with open(p, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    topic = r.get("id") or r.get("topic")
                    if topic:
                        rows.append({"text": r["text"], "lang": r["lang"], "topic": topic,
                                     "hard": r.get("kind", "plain") != "plain",
                                     "latin": r.get("kind") in LATIN_KINDS})
    return rows


class Sahaya:
    def __init__(self):
        binary = os.path.join(ROOT, "target", "release", "sahaya")
        if not os.path.exists(binary):
            sys.exit("no release binary: cargo build --release")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.base = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([binary, "--data", ROOT, "serve", "--addr", f"127.0.0.1:{port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.base + "/healthz", timeout=1)
                return
            except Exception:
                time.sleep(0.2)
        self.close()
        sys.exit("the server did not start")

    def ask(self, text, lang):
        body = {"text": text, "session_id": f"peers-{time.time_ns()}"}
        if lang:
            body["lang"] = lang
        req = urllib.request.Request(self.base + "/v1/respond", data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            rep = json.loads(r.read())
        sug = [s["id"] for s in rep.get("suggestions") or []]
        first = rep.get("answer_id") or (sug[0] if sug else None)
        answered = rep.get("decision") in ("answer", "escalate") and rep.get("answer_id")
        return first, rep.get("answer_id") if answered else None

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def main():
    paths = sys.argv[1:]
    if not paths:
        dev = os.path.join(ROOT, "..", "shared", "devset")
        paths = [p for p in (os.path.join(dev, "paraphrases.jsonl"), os.path.join(dev, "hard.jsonl")) if os.path.exists(p)]
    if not paths:
        sys.exit("no messages: pass JSONL files")
    from rank_bm25 import BM25Okapi
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import linear_kernel

    ph = phrasings()
    topics = [t for t, _ in ph]
    rows = messages(paths)

    t0 = time.perf_counter()
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
    matrix = vec.fit_transform([x for _, x in ph])
    bm25 = BM25Okapi([x.split() for _, x in ph])
    build = time.perf_counter() - t0

    stats = {}
    timing = {"tfidf": 0.0, "bm25": 0.0, "sahaya": 0.0}
    engine = Sahaya()
    try:
        for r in rows:
            q = fold(r["text"])
            t = time.perf_counter()
            tfidf_top = topics[int(linear_kernel(vec.transform([q]), matrix).argmax())]
            timing["tfidf"] += time.perf_counter() - t
            t = time.perf_counter()
            scores = bm25.get_scores(q.split())
            bm25_top = topics[int(scores.argmax())]
            timing["bm25"] += time.perf_counter() - t
            t = time.perf_counter()
            first, answered = engine.ask(r["text"], None if r["latin"] else r["lang"])
            timing["sahaya"] += time.perf_counter() - t
            key = (r["lang"], "hard" if r["hard"] else "plain")
            s = stats.setdefault(key, {"n": 0, "tfidf": 0, "bm25": 0, "sahaya": 0, "answered": 0})
            s["n"] += 1
            s["tfidf"] += tfidf_top == r["topic"]
            s["bm25"] += bm25_top == r["topic"]
            s["sahaya"] += first == r["topic"]
            s["answered"] += answered == r["topic"]
    finally:
        engine.close()

    pct = lambda a, n: f"{100 * a / n:.1f}%"
    print(f"{len(rows)} messages, {len(ph)} knowledge phrasings (baselines built in {build:.2f} s)")
    print("| set | n | Sahaya ranked first | Sahaya answered and right | TF-IDF char 2-4 | BM25 |")
    print("|---|---|---|---|---|---|")
    for (lang, kind), s in sorted(stats.items()):
        print(f"| {lang} {kind} | {s['n']} | {pct(s['sahaya'], s['n'])} | {pct(s['answered'], s['n'])} "
              f"| {pct(s['tfidf'], s['n'])} | {pct(s['bm25'], s['n'])} |")
    n = max(1, len(rows))
    print(f"mean time per message: Sahaya {1000 * timing['sahaya'] / n:.2f} ms (HTTP on loopback), "
          f"TF-IDF {1000 * timing['tfidf'] / n:.2f} ms, BM25 {1000 * timing['bm25'] / n:.2f} ms")


if __name__ == "__main__":
    main()
