#!/usr/bin/env bash
# The guard layers in the application's OpenAPI document (src/openapi): starts
# examples/openapi.rs, validates its augmented /openapi.json with openapi-spec-validator,
# and runs schemathesis against the running server with that document: no undocumented
# status code, no 5xx, and the run must have provoked the guards' 429 and 403.
#
#   bash .ci/openapi.sh
#   OPENAPI_BEFORE=1 bash .ci/openapi.sh   # also run schemathesis with the application's
#                                          # own document first (it finds the 429 and 403)
#
# Uses the debug build of the examples in $CARGO_TARGET_DIR (the "examples" step of
# .ci/run builds it). Time on the 2-core CI machine, warm: ~20 s of schemathesis.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tower-fortify-target}"
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
say() { printf 'openapi: %s\n' "$*"; }
die() { printf 'openapi: FAILED: %s\n' "$*" >&2; exit 1; }

if ! python3 -c "import openapi_spec_validator" >/dev/null 2>&1; then
  PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check openapi-spec-validator
fi
if [ "$(python3 -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" != "$SCHEMATHESIS_VERSION" ]; then
  say "installing schemathesis $SCHEMATHESIS_VERSION"
  PIP_ROOT_USER_ACTION=ignore timeout 600 python3 -m pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

timeout 1200 cargo build --example openapi --all-features
bin="$CARGO_TARGET_DIR/debug/examples/openapi"
work="$(mktemp -d)"

"$bin" --print-openapi >"$work/after.json"
"$bin" --print-openapi-plain >"$work/before.json"
say "openapi-spec-validator on the augmented document"
timeout 120 python3 -m openapi_spec_validator "$work/after.json"

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
ADDR="127.0.0.1:$port" "$bin" >"$work/server.log" 2>&1 &
pid=$!
stop() {
  if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap stop EXIT
for _ in $(seq 1 100); do
  curl -fs -o /dev/null "$base/openapi.json" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log"; die "the server exited at start"; }
  sleep 0.1
done
curl -fs "$base/openapi.json" >"$work/served.json"
python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' \
  "$work/served.json" "$work/after.json" || die "/openapi.json is not the augmented document"

if [ "${OPENAPI_BEFORE:-}" = 1 ]; then
  say "schemathesis with the application's own document (failures expected)"
  (cd "$work" && timeout 300 st run "$work/before.json" --url "$base" --checks "$CHECKS" \
    --max-examples 50 --seed 1 --no-color >"$work/before.txt" 2>&1) || true
  grep -E '^ +Received: ' "$work/before.txt" | sort | uniq -c || true
  sed -n '/= SUMMARY =/,$p' "$work/before.txt"
  sleep 3 # let the rate limiter's burst come back
fi

say "schemathesis with the augmented document"
# From $work, so schemathesis keeps its cache (.schemathesis/) out of the repository.
(cd "$work" && timeout 300 st run "$work/after.json" --url "$base" --checks "$CHECKS" \
  --max-examples 50 --seed 1 --no-color --report har --report-har-path "$work/run.har") \
  | sed -n '/= SUMMARY =/,$p' || die "schemathesis found a failure (see above)"

# The run must have met the guards: otherwise it proves nothing about their documentation.
python3 - "$work/run.har" <<'PY' || die "the schemathesis run provoked no 429 or no 403"
import collections, json, sys
entries = json.load(open(sys.argv[1]))["log"]["entries"]
statuses = collections.Counter(e["response"]["status"] for e in entries)
print("openapi: statuses seen:", dict(sorted(statuses.items())))
sys.exit(0 if statuses[429] and statuses[403] and not any(s >= 500 for s in statuses) else 1)
PY
say "ok"
