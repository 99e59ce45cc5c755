#!/usr/bin/env bash
# Scale benchmark (not run in CI): builds the release binary and examples/scale_respond,
# then runs bench/scale.py, which writes a 10,000- and a 100,000-entry knowledge base
# (fixed seed, words of the shipped knowledge) into temporary directories and prints cold
# and warm start, reload after one edit, RSS after load and after 10,000 requests, and
# `respond` p50/p99 in-process and over HTTP, as one table.
#
#   bench/scale.sh
#   SIZES=10000 REQUESTS=2000 bench/scale.sh
#
# Needs python3 (3.11 or later, standard library only) and about 5 GB of free memory.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== building the release binary and examples/scale_respond"
cargo build --release --quiet
cargo build --release --quiet --example scale_respond
exec python3 bench/scale.py
