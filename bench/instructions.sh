#!/usr/bin/env bash
# Instructions per `respond` on the shipped content, counted by callgrind: repeatable for
# the same binary and messages whatever else the machine does, so a regression shows up
# without timing noise. Prints the count per respond and the hottest functions (self cost).
#
#   bench/instructions.sh          # the five hottest functions
#   TOP=15 bench/instructions.sh
#
# Needs valgrind (Debian: apt-get install valgrind). The harness is examples/respond_loop.rs:
# 8 messages in te/el/en × 100 rounds; only its loop is counted, not loading the content.
set -euo pipefail
cd "$(dirname "$0")/.."
TOP=${TOP:-5}

if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
  echo "valgrind not found: apt-get install valgrind" >&2
  exit 1
fi

echo "== building the harness (release)"
cargo build --release --quiet --example respond_loop

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "== counting (loading the content under valgrind takes a minute or two)"
valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" \
  --toggle-collect='*hot_loop*' target/release/examples/respond_loop . >/dev/null 2>"$out/valgrind.log"

callgrind_annotate --threshold=100 "$out/callgrind.out" >"$out/annotated.txt"
total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "$out/annotated.txt")
if [ -z "$total" ]; then
  echo "no count in the callgrind output:" >&2
  cat "$out/valgrind.log" >&2
  exit 1
fi
responds=800
echo
echo "instructions per respond: $((total / responds)) ($total for $responds responds)"
echo
echo "hottest functions (self instructions per respond, share of the total):"
# Lines after the header look like "12,345,678 (12.34%)  file:function".
awk -v top="$TOP" -v n="$responds" '
  /PROGRAM TOTALS/ { next }
  /^-+$/ { dashes++; next }
  dashes >= 3 && $1 ~ /^[0-9,]+$/ {
    ir = $1; gsub(",", "", ir)
    share = $0; sub(/^[^(]*\( */, "", share); sub(/\).*$/, "", share)
    fn = $0; sub(/^ *[0-9,]+ +\([^)]*\) +/, "", fn); sub(/ \[.*$/, "", fn)
    printf "%10d  %7s  %s\n", ir / n, share, fn
    if (++shown == top) exit
  }' "$out/annotated.txt"
