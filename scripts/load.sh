#!/usr/bin/env bash
# Load test: what the whole stack costs on a realistic endpoint, in one run.
#
#   bash scripts/load.sh                 # 10 s per side
#   DURATION=30s CONNECTIONS=32 bash scripts/load.sh
#
# Runs examples/full_stack.rs twice on loopback, pinned to one core (taskset), and drives
# `GET /quote/ACME` with wrk pinned to another core:
#   bare  - BARE=1: the same routes and handlers, no layer at all;
#   full  - every layer (metrics, notify, security headers, trusted host, CORS, rate
#           limits, injection), the anonymous quota raised (ANONYMOUS_PER_SECOND) so the
#           load client's requests are allowed, as most real traffic is;
#   shadow - the same with the default quota and the limiter in shadow mode
#           (RATE_LIMIT_SHADOW=1): nearly every request is over its limit, decided,
#           reported as an event, counted and aggregated into notifications, not refused.
# wrk sends the headers a browser sends (user agent, accept, language, encoding, referer),
# which the injection layer inspects. Prints requests/s, p50/p99 latency, the share of 2xx
# and the server's CPU time per request per side, and the ratios to bare by throughput and
# by CPU per request (goal for full: >= 0.80; on a busy machine only the CPU ratio holds). Uses the release build of the examples in $CARGO_TARGET_DIR
# (the one .ci/full_stack.sh makes); installs wrk from Debian if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tower-fortify-target}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
PATH_UNDER_TEST="${PATH_UNDER_TEST:-/quote/ACME}"

if ! command -v wrk >/dev/null 2>&1; then
  echo "load: installing wrk (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq -o DPkg::Lock::Timeout=300 wrk >/dev/null
fi
timeout 1800 cargo build --release --examples --all-features --quiet
bin="$CARGO_TARGET_DIR/release/examples/full_stack"

cores="$(nproc)"
if [ "$cores" -ge 2 ]; then
  server_cpu=0
  client_cpu=1
else
  server_cpu=0
  client_cpu=0
  echo "load: one core only: server and wrk share it, the figures are not meaningful"
fi

# What a browser sends with a fetch of the quote.
browser=(
  -H 'User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36'
  -H 'Accept: application/json, text/plain, */*'
  -H 'Accept-Language: en-GB,en;q=0.9,de;q=0.8'
  -H 'Accept-Encoding: gzip, deflate, br'
  -H 'Referer: http://127.0.0.1/markets?tab=equities'
)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run NAME ENV...: starts the server with ENV, runs wrk, prints one result line, stops it.
run() {
  local name="$1"; shift
  local port pid out
  port="$(free_port)"
  env "$@" ADDR="127.0.0.1:$port" ADMIN_TOKEN="load-test-admin-token-0123456789" REDIS_URL='' \
    taskset -c "$server_cpu" "$bin" >"$CARGO_TARGET_DIR/load-$name.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$port$PATH_UNDER_TEST" && break
    sleep 0.1
  done
  # A short warm-up, then the measured run.
  taskset -c "$client_cpu" timeout 30 wrk -t1 -c"$CONNECTIONS" -d2s "${browser[@]}" "http://127.0.0.1:$port$PATH_UNDER_TEST" >/dev/null
  # The server's CPU time (user + system clock ticks) over the measured run: CPU per
  # request is the figure that holds when other processes share the core.
  local ticks0 ticks1
  ticks0="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
  out="$(taskset -c "$client_cpu" timeout 300 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency \
    "${browser[@]}" "http://127.0.0.1:$port$PATH_UNDER_TEST")"
  ticks1="$(awk '{print $14 + $15}' "/proc/$pid/stat")"
  kill -TERM "$pid"
  wait "$pid" || true
  echo "$out" >"$CARGO_TARGET_DIR/load-$name.wrk"
  awk -v name="$name" -v ticks="$((ticks1 - ticks0))" -v hz="$(getconf CLK_TCK)" '
    /Requests\/sec:/ { rps = $2 }
    / requests in / { total = $1 }
    /Non-2xx or 3xx responses:/ { non2xx = $5 }
    $1 == "50%" { p50 = $2 }
    $1 == "99%" { p99 = $2 }
    END {
      share = total > 0 ? 100 * (total - non2xx) / total : 0
      cpu = total > 0 ? 1e6 * ticks / hz / total : 0
      printf "%-6s %8.0f req/s   p50 %8s   p99 %8s   2xx %6.2f%% of %d   server CPU %.1f us/request\n", name, rps, p50, p99, share, total, cpu
      print rps, cpu > "/dev/stderr"
    }' <<<"$out" 2>"$CARGO_TARGET_DIR/load-$name.rps"
}

echo "load: GET $PATH_UNDER_TEST, wrk -t1 -c$CONNECTIONS -d$DURATION, server on cpu $server_cpu, wrk on cpu $client_cpu ($cores cores)"
run bare BARE=1
run full ANONYMOUS_PER_SECOND=100000000
run shadow RATE_LIMIT_SHADOW=1
python3 - "$CARGO_TARGET_DIR" <<'EOF'
import sys
sides = {}
for side in ("bare", "full", "shadow"):
    rps, cpu = open(f"{sys.argv[1]}/load-{side}.rps").read().split()
    sides[side] = (float(rps), float(cpu))
bare_rps, bare_cpu = sides["bare"]
for side, what in (("full", "goal >= 0.80"), ("shadow", "every request over its limit and reported")):
    rps, cpu = sides[side]
    ratio = rps / bare_rps if bare_rps else 0.0
    by_cpu = bare_cpu / cpu if cpu else 0.0
    # On a machine other processes share, the server may not saturate its core and the
    # throughput ratio flatters; CPU per request holds either way. The goal needs both.
    below = "  BELOW GOAL" if side == "full" and min(ratio, by_cpu) < 0.8 else ""
    print(f"ratio {side}/bare: {ratio:.2f} throughput, {by_cpu:.2f} by server CPU per request "
          f"(+{cpu - bare_cpu:.1f} us) ({what}){below}")
EOF
