#!/usr/bin/env bash
# Load benchmark of the HTTP server: builds and starts the release binary, measures
# GET /healthz and POST /v1/respond in the same run with wrk, and prints requests/s,
# p50/p99 latency and the ratio respond/healthz.
#
#   bench/load.sh                 # 10 s per endpoint, 32 connections
#   DURATION=30s CONNECTIONS=64 bench/load.sh
#   bench/load.sh state           # /v1/respond in conversations, with sessions in memory,
#                                 # in SQLite and in PostgreSQL, one after the other
#   bench/load.sh log             # /v1/respond with the conversation log off, then on
#
# `state` needs PostgreSQL: PG_URL (default postgres://postgres@127.0.0.1:5432/test); the
# benchmark's tables go in a schema of their own, dropped at the end.
# Needs wrk (Debian: apt-get install wrk). Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
THREADS=${THREADS:-1}
PORT=${PORT:-18181}
ADDR="127.0.0.1:${PORT}"

if ! command -v wrk >/dev/null; then
  echo "wrk not found: apt-get install wrk" >&2
  exit 1
fi

echo "== building the release binary"
cargo build --release --quiet

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

MODE=${1:-http}

start_server() {
  echo "== starting sahaya serve on $ADDR${1:+ with $1}"
  RUST_LOG=warn SAHAYA_WATCH=false target/release/sahaya serve --addr "$ADDR" ${1:+--config "$1"} \
    2>"$work/server.log" &
  server_pid=$!
  for _ in $(seq 1 300); do
    if curl -fs "http://$ADDR/readyz" >/dev/null 2>&1; then
      return
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
      echo "the server did not start:" >&2
      cat "$work/server.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "the server did not become ready" >&2
  exit 1
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# A mix of real questions in the three languages, one per request in turn.
cat >"$work/respond.lua" <<'LUA'
local bodies = {
  '{"text":"Where is my parcel?"}',
  '{"text":"Πού είναι το δέμα μου;"}',
  '{"text":"నా పార్సెల్ ఎక్కడ ఉంది?"}',
  '{"text":"how much does it cost to send a parcel to Athens","formality":"informal"}',
  '{"text":"θέλω να αλλάξω τη διεύθυνση παράδοσης"}',
  '{"text":"naa parcel ekkada undi"}',
}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format("POST", "/v1/respond", {["Content-Type"] = "application/json"}, bodies[i])
end
LUA

# In conversations: each request is a message of one of 500 conversations, so every one
# reads and writes its conversation's memory.
cat >"$work/sessions.lua" <<'LUA'
local texts = {
  "Where is my parcel?",
  "Πού είναι το δέμα μου;",
  "నా పార్సెల్ ఎక్కడ ఉంది?",
  "how much does it cost to send a parcel to Athens",
  "θέλω να αλλάξω τη διεύθυνση παράδοσης",
  "naa parcel ekkada undi",
}
local i = 0
request = function()
  i = i + 1
  local body = string.format('{"text":"%s","session_id":"bench-%d"}', texts[i % #texts + 1], i % 500)
  return wrk.format("POST", "/v1/respond", {["Content-Type"] = "application/json"}, body)
end
LUA

# A field of wrk's latency distribution (50%, 99%) and requests/s, from a saved run.
field() { awk -v k="$2" '$1 == k { print $2; exit }' "$work/$1.txt"; }
rps() { awk '/^Requests\/sec:/ { print $2 }' "$work/$1.txt"; }

run() {
  local name=$1
  shift
  echo "== wrk $name: $THREADS thread(s), $CONNECTIONS connections, $DURATION"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$@" >"$work/$name.txt"
  if grep -q "Non-2xx" "$work/$name.txt"; then
    cat "$work/$name.txt" >&2
    echo "$name: some responses were errors" >&2
    exit 1
  fi
}

if [ "$MODE" = log ]; then
  printf '[state]\nsessions = "memory"\npath = "%s"\n[log]\nenabled = false\n' "$work/state.db" >"$work/log-off.toml"
  printf '[state]\nsessions = "memory"\npath = "%s"\n[log]\nenabled = true\n' "$work/state.db" >"$work/log-on.toml"
  for variant in log-off log-on; do
    start_server "$work/$variant.toml"
    wrk -t1 -c4 -d2s -s "$work/respond.lua" "http://$ADDR" >/dev/null
    run "$variant" -s "$work/respond.lua" "http://$ADDR"
    stop_server
  done
  printf '\n%-10s %12s %10s %10s\n' log "requests/s" p50 p99
  for variant in log-off log-on; do
    printf '%-10s %12s %10s %10s\n' "$variant" "$(rps $variant)" "$(field $variant 50%)" "$(field $variant 99%)"
  done
  awk -v on="$(rps log-on)" -v off="$(rps log-off)" 'BEGIN {
    ratio = on / off
    printf "\nratio on/off: %.2f (target >= 0.90): %s\n", ratio, (ratio >= 0.9 ? "met" : "NOT met")
  }'
  logged=$(sqlite3 "$work/state.db" "SELECT count(*) FROM reply_log" 2>/dev/null || echo "?")
  echo "rows in the log after the run: $logged"
  echo "machine: $(nproc) core(s); server and wrk share them"
  exit 0
fi

if [ "$MODE" = state ]; then
  PG_URL=${PG_URL:-postgres://postgres@127.0.0.1:5432/test}
  schema="sahaya_bench_$$"
  psql -q "$PG_URL" -c "CREATE SCHEMA $schema" >/dev/null
  trap 'psql -q "$PG_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1; cleanup' EXIT
  printf '[state]\nsessions = "memory"\npath = "%s"\n' "$work/memory.db" >"$work/memory.toml"
  printf '[state]\npath = "%s"\n' "$work/state.db" >"$work/sqlite.toml"
  printf '[state]\nurl = "%s%soptions=-csearch_path%%3D%s"\n' "$PG_URL" \
    "$(case $PG_URL in *\?*) echo '&' ;; *) echo '?' ;; esac)" "$schema" >"$work/postgres.toml"
  for backend in memory sqlite postgres; do
    start_server "$work/$backend.toml"
    wrk -t1 -c4 -d2s -s "$work/sessions.lua" "http://$ADDR" >/dev/null
    run "$backend" -s "$work/sessions.lua" "http://$ADDR"
    stop_server
  done
  m_rps=$(rps memory)
  printf '\n%-12s %12s %10s %10s %12s\n' sessions "requests/s" p50 p99 "vs memory"
  for backend in memory sqlite postgres; do
    printf '%-12s %12s %10s %10s %12s\n' "$backend" "$(rps $backend)" "$(field $backend 50%)" \
      "$(field $backend 99%)" "$(awk -v r="$(rps $backend)" -v m="$m_rps" 'BEGIN { printf "%.2f", r / m }')"
  done
  echo "machine: $(nproc) core(s); server, database and wrk share them"
  exit 0
fi

start_server
# Warm up (page cache, allocator, connection setup), then measure.
wrk -t1 -c4 -d2s -s "$work/respond.lua" "http://$ADDR" >/dev/null
run healthz "http://$ADDR/healthz"
run respond -s "$work/respond.lua" "http://$ADDR"


h_rps=$(rps healthz)
r_rps=$(rps respond)
printf '\n%-14s %14s %10s %10s\n' endpoint "requests/s" p50 p99
printf '%-14s %14s %10s %10s\n' "GET /healthz" "$h_rps" "$(field healthz 50%)" "$(field healthz 99%)"
printf '%-14s %14s %10s %10s\n' "POST /v1/respond" "$r_rps" "$(field respond 50%)" "$(field respond 99%)"
awk -v r="$r_rps" -v h="$h_rps" 'BEGIN {
  ratio = r / h
  printf "\nratio respond/healthz: %.2f (target >= 0.50): %s\n", ratio, (ratio >= 0.5 ? "met" : "NOT met")
}'
# Time spent inside the server per request (from its own histogram), which shows how much
# of a /v1/respond is the engine rather than HTTP.
metrics=$(exec 3<>"/dev/tcp/127.0.0.1/${PORT}"
  printf 'GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
  cat <&3)
for ep in /healthz /v1/respond; do
  echo "$metrics" | awk -v ep="$ep" '
    index($0, "sahaya_http_request_duration_seconds_sum{endpoint=\"" ep "\"}") == 1 { sum = $2 }
    index($0, "sahaya_http_request_duration_seconds_count{endpoint=\"" ep "\"}") == 1 { n = $2 }
    END { if (n > 0) printf "mean time in the server, %s: %.1f us\n", ep, sum / n * 1e6 }'
done
echo "machine: $(nproc) core(s); server and wrk share them"
