#!/usr/bin/env bash
# Starts examples/full_stack.rs as a user would, sends it traffic of every outcome, drives
# its dashboard page in Chromium (.ci/browser-check.sh), runs schemathesis against the
# monitoring API's own OpenAPI document, and stops it with SIGTERM (clean shutdown:
# WebSockets closed, notifier drained, its report printed).
#
#   bash .ci/full_stack.sh
#
# Builds the release examples once (`cargo build --release --examples --all-features`) in
# $CARGO_TARGET_DIR; scripts/load.sh reuses that build. Every slow step runs under `timeout`.
# Time budget on the 2-core CI machine (cold): release build of the examples ~6 min,
# chromium install 1-2 min, browser run ~20 s, schemathesis install ~30 s and run ~60 s.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tower-fortify-target}"
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
say() { printf 'full_stack: %s\n' "$*"; }
die() { printf 'full_stack: FAILED: %s\n' "$*" >&2; exit 1; }

say "release build of the examples"
timeout 1800 cargo build --release --examples --all-features
bin="$CARGO_TARGET_DIR/release/examples/full_stack"
[ -x "$bin" ] || die "no $bin"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
export ADMIN_TOKEN="ci-admin-token-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
log="$CARGO_TARGET_DIR/full_stack.log"

say "starting $bin on $base (log: $log)"
ADDR="127.0.0.1:$port" REDIS_URL='' "$bin" >"$log" 2>&1 &
pid=$!
stop() {
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
}
trap stop EXIT

for _ in $(seq 1 100); do
  curl -fs -o /dev/null "$base/admin/health/live" && break
  kill -0 "$pid" 2>/dev/null || { cat "$log"; die "the server exited at start"; }
  sleep 0.1
done
curl -fs -o /dev/null "$base/admin/health/live" || die "the server did not answer within 10 s"
grep -q "dashboard: $base/admin/" "$log" || die "the start-up text names no dashboard URL"
grep -q '^state: in memory' "$log" || die "the start-up text does not say where the state lives"

# expect STATUS CURL-ARGS...: one request, its status must be STATUS.
expect() {
  local want="$1"; shift
  local got
  got="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$@")"
  [ "$got" = "$want" ] || die "curl $* answered $got, expected $want"
  printf '  %s  curl %s\n' "$got" "$*"
}

say "traffic: normal, 403, 400, 429"
premium='x-api-key: demo-premium-key-0001'
expect 200 "$base/instruments"
expect 200 "$base/quote/ACME"
expect 200 "$base/"
for qty in 1 2 3; do
  expect 201 -H "$premium" -H 'content-type: application/json' \
    -d "{\"symbol\":\"ACME\",\"side\":\"buy\",\"quantity\":$qty}" "$base/orders"
done
expect 200 -H "$premium" "$base/orders"
expect 403 "$base/quote/ACME?note=1%27%20OR%20%271%27%3D%271"
expect 403 -H "$premium" -H 'content-type: application/json' \
  -d '{"symbol":"<script>alert(1)</script>","side":"buy","quantity":1}' "$base/orders"
expect 400 -H 'Host: evil.example' "$base/instruments"
codes="$(for _ in $(seq 1 15); do curl -s -o /dev/null -w '%{http_code} ' "$base/quote/GLOBX"; done)"
echo "  anonymous burst of 15: $codes"
case "$codes" in *429*) ;; *) die "no 429 in an anonymous burst of 15" ;; esac

metrics="$(curl -fs -H "Authorization: Bearer $ADMIN_TOKEN" "$base/admin/metrics")"
for want in 'outcome="rate_limited"' 'outcome="injection_blocked"' 'outcome="untrusted_host"' \
  'trading_orders_placed_total 3' 'trading_fills_total 3'; do
  grep -qF "$want" <<<"$metrics" || die "/admin/metrics has no $want"
done
say "/admin/metrics counts every outcome and the trading metrics"

say "dashboard page in chromium"
# The anonymous budget refills in 2 s; the page's own requests are on the admin budget.
BASE_URL="$base/admin/" SCREENSHOT="$CARGO_TARGET_DIR/dashboard.png" \
  SCREENSHOT_PHONE="$CARGO_TARGET_DIR/dashboard-phone.png" \
  EXPECT_NOTIFY=1 EXPECT_INJECTION=1 EXPECT_EXTENSION=trading MIN_POLLS=3 \
  bash .ci/browser-check.sh

say "schemathesis $SCHEMATHESIS_VERSION against /admin/openapi.json"
if ! command -v st >/dev/null 2>&1 || [ "$(st --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -n1)" != "$SCHEMATHESIS_VERSION" ]; then
  PIP_ROOT_USER_ACTION=ignore timeout 600 python3 -m pip install -q --disable-pip-version-check \
    "schemathesis==$SCHEMATHESIS_VERSION"
fi
schema="$CARGO_TARGET_DIR/full_stack-openapi.json"
curl -fs -H "Authorization: Bearer $ADMIN_TOKEN" "$base/admin/openapi.json" -o "$schema"
# The admin budget is 20/s per client: stay under it so every answer is the service's own.
timeout 600 st run "$schema" --url "$base/admin" \
  -H "Authorization: Bearer $ADMIN_TOKEN" \
  --checks all --max-examples 25 --rate-limit 15/s \
  --request-timeout 10 --no-color \
  || die "schemathesis found the monitoring API at odds with its document (or a 5xx)"

say "stopping with SIGTERM"
kill -TERM "$pid"
for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null && die "still running 15 s after SIGTERM"
wait "$pid" || die "exit status $? after SIGTERM"
trap - EXIT
grep -q '^notifier drained' "$log" || { cat "$log"; die "no notifier report on shutdown"; }
tail -n 4 "$log"
say "passed"
