#!/usr/bin/env bash
# The guard layers in the application's OpenAPI document (src/openapi), proved on
# examples/full_stack.rs: validates the augmented document it serves at /openapi.json with
# openapi-spec-validator, then, against the running server:
#
#   before: schemathesis with the application's own document (`full_stack
#           --print-openapi-app`, what utoipa-axum collected from the routes), and the
#           guards' refusals provoked on purpose (cases.py below). Allowed to fail: that
#           document knows none of the guards' 429, 403, 400, 413, 415. Summaries printed.
#   after:  the same with the augmented /openapi.json. Must pass: no undocumented status
#           code or content type, no 5xx, every response conforming to the document; the
#           random run must have met the guards' 429, and each provoked refusal must get
#           its status and be documented.
#
#   bash .ci/openapi.sh
#
# Uses the release build of full_stack that .ci/full_stack.sh makes (`cargo build --release
# --examples --all-features`); run alone, it builds that one example. Every step runs under
# `timeout`. Time on the 2-core CI machine, warm: about a minute of schemathesis in all.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tower-fortify-target}"
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance
# Examples per operation; about 20 operations.
MAX_EXAMPLES="${OPENAPI_MAX_EXAMPLES:-25}"
# Credentials for the operations that name a security scheme (schemathesis reads the
# schemes from the document): the order routes get a premium key, /admin the admin token,
# so their handlers answer rather than 401. The other routes stay anonymous, on the tight
# anonymous budget (5/s, burst 10): the run meets the guards' 429.
export API_KEY='demo-premium-key-0001'
say() { printf 'openapi: %s\n' "$*"; }
die() { printf 'openapi: FAILED: %s\n' "$*" >&2; exit 1; }

if ! python3 -c "import openapi_spec_validator" >/dev/null 2>&1; then
  PIP_ROOT_USER_ACTION=ignore timeout 600 python3 -m pip install -q --disable-pip-version-check openapi-spec-validator
fi
if [ "$(python3 -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null)" != "$SCHEMATHESIS_VERSION" ]; then
  say "installing schemathesis $SCHEMATHESIS_VERSION"
  PIP_ROOT_USER_ACTION=ignore timeout 600 python3 -m pip install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

# A no-op after .ci/full_stack.sh's release build of the examples.
timeout 1800 cargo build --release --example full_stack --all-features
bin="$CARGO_TARGET_DIR/release/examples/full_stack"
work="$(mktemp -d)"
export ADMIN_TOKEN="ci-openapi-token-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
export REDIS_URL=''

timeout 60 "$bin" --print-openapi-app >"$work/before.json"
timeout 60 "$bin" --print-openapi >"$work/after.json"

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
  curl -fs --max-time 2 -o /dev/null "$base/admin/health/live" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/server.log"; die "full_stack exited at start"; }
  sleep 0.1
done
curl -fs --max-time 10 "$base/openapi.json" >"$work/served.json" || die "no /openapi.json"
python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' \
  "$work/served.json" "$work/after.json" || die "/openapi.json is not the document of --print-openapi"

say "openapi-spec-validator on the augmented /openapi.json"
timeout 120 python3 -m openapi_spec_validator "$work/served.json"

cat >"$work/schemathesis.toml" <<'TOML'
[auth.openapi.api_key]
api_key = "${API_KEY}"

[auth.openapi.bearer]
bearer = "${ADMIN_TOKEN}"
TOML

# st run DOCUMENT [ARGS...], from $work so schemathesis reads the configuration above and
# keeps its cache (.schemathesis/) out of the repository.
st_run() {
  local doc="$1"; shift
  (cd "$work" && timeout 300 st run "$doc" --url "$base" --checks "$CHECKS" \
    --max-examples "$MAX_EXAMPLES" --seed 1 --request-timeout 10 --no-color "$@")
}

# The guards' refusals, provoked on purpose (random data rarely looks like an attack) and
# judged by schemathesis' own checks against DOCUMENT: cases.py DOCUMENT before|after.
cat >"$work/cases.py" <<'PY'
import sys

import schemathesis
from schemathesis.checks import (
    content_type_conformance, not_a_server_error, response_headers_conformance,
    response_schema_conformance, status_code_conformance,
)
from schemathesis.core.failures import FailureGroup

doc, when, base, key = sys.argv[1:5]
schema = schemathesis.openapi.from_path(doc)
checks = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]
order = {"symbol": "ACME", "side": "buy", "quantity": 1}
keyed = {"x-api-key": key}
cases = [
    (403, "GET", "/quote/{symbol}", "SQL injection in the path",
     dict(path_parameters={"symbol": "1' OR '1'='1"})),
    (403, "POST", "/orders", "XSS in the order",
     dict(headers=keyed, body={**order, "symbol": "<script>alert(1)</script>"})),
    (400, "GET", "/instruments", "a foreign Host", dict(headers={"Host": "evil.example"})),
    (413, "POST", "/orders", "an order larger than the 64 KiB inspected",
     dict(headers=keyed, body={**order, "symbol": "A" * 70000})),
    (415, "POST", "/orders", "a Content-Encoding the injection layer cannot decode",
     dict(headers={**keyed, "Content-Encoding": "zstd"}, body=order)),
]
# Then anonymous requests until the anonymous budget (burst 10, 5/s) runs out: 429.
cases += [(None, "GET", "/instruments", "an anonymous burst", {})] * 40
failures, limited = 0, False
for want, method, path, what, kw in cases:
    if want is None and limited:
        break
    if "body" in kw:
        kw["media_type"] = "application/json"
    case = schema[path][method].Case(**kw)
    res = case.call(base_url=base)
    try:
        case.validate_response(res, checks=checks)
        ok, verdict = True, "documented"
    except FailureGroup as e:
        ok, verdict = False, "NOT documented: " + "; ".join(sorted({f.title for f in e.exceptions}))
    status = res.status_code
    limited = limited or status == 429
    if want is not None or status == 429 or not ok:
        print(f"openapi: {when}: {what}: {method} {path} -> {status}, {verdict}")
    if not ok or (want is not None and status != want):
        failures += 1
if not limited:
    print(f"openapi: {when}: no 429 in 40 anonymous requests")
    failures += 1
sys.exit(1 if failures else 0)
PY

say "before: schemathesis with the application's own document (failures expected)"
st_run "$work/before.json" >"$work/before.txt" 2>&1 && before=passed || before=failed
say "before: the run $before; the statuses it did not expect:"
grep -E '^ +Received: ' "$work/before.txt" | sort | uniq -c || true
sed -n '/= SUMMARY =/,$p' "$work/before.txt"
sleep 3 # every budget (anonymous, admin, the key's) is full again after 2 s
timeout 120 python3 "$work/cases.py" "$work/before.json" before "$base" "$API_KEY" || true
sleep 3

say "after: schemathesis with the augmented /openapi.json"
st_run "$work/served.json" --report har --report-har-path "$work/run.har" >"$work/after.txt" 2>&1 \
  || { cat "$work/after.txt"; die "schemathesis found the server at odds with the augmented document"; }
sed -n '/= SUMMARY =/,$p' "$work/after.txt"
python3 - "$work/run.har" <<'PY' || die "the schemathesis run met a 5xx or no 429"
import collections, json, sys
entries = json.load(open(sys.argv[1]))["log"]["entries"]
statuses = collections.Counter(e["response"]["status"] for e in entries)
print("openapi: after: statuses the run met:", dict(sorted(statuses.items())))
sys.exit(0 if statuses[429] and not any(s >= 500 for s in statuses) else 1)
PY
sleep 3
timeout 120 python3 "$work/cases.py" "$work/served.json" after "$base" "$API_KEY" \
  || die "a refusal of the guards is not what the augmented document says"
say "ok"
