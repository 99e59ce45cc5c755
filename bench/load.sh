#!/usr/bin/env bash
# Load benchmark of the HTTP server: builds and starts the release binary, measures
# GET /healthz and POST /v1/respond in the same run with wrk, and prints requests/s,
# p50/p99 latency and the ratio respond/healthz.
#
#   bench/load.sh                 # 10 s per endpoint, 32 connections
#   DURATION=30s CONNECTIONS=64 bench/load.sh
#
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

echo "== starting sahaya serve on $ADDR"
RUST_LOG=warn SAHAYA_WATCH=false target/release/sahaya serve --addr "$ADDR" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/${PORT}") 2>/dev/null; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.1
done

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

# Warm up (page cache, allocator, connection setup), then measure.
wrk -t1 -c4 -d2s -s "$work/respond.lua" "http://$ADDR" >/dev/null
run healthz "http://$ADDR/healthz"
run respond -s "$work/respond.lua" "http://$ADDR"

field() { awk -v k="$2" '$1 == k { print $2; exit }' "$work/$1.txt"; }
rps() { awk '/^Requests\/sec:/ { print $2 }' "$work/$1.txt"; }

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
