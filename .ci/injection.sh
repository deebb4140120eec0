#!/usr/bin/env bash
# Injection detection gates (issue #12). Called by .ci/run after the tests.
# 1. injection_eval thresholds on the whole shared corpus (only when $CORPUS_DIR exists;
#    default ../shared/corpus beside the clone) and on the real-world benign suite (always);
# 2. prose (Debian fortunes) and random passwords/identifiers, measured with injection_eval;
# 3. sqlmap against the deliberately injectable example, unprotected (must be found
#    injectable: proves the harness works) and behind the layer (must find nothing).
# One release build serves the eval and the example. Idempotent; every slow step is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${CARGO_TARGET_DIR:=target}"
export CARGO_TARGET_DIR
step() { printf '\n== injection: %s\n' "$*"; }
need_apt() { # need_apt PACKAGE... : installs the packages that are missing
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    timeout 600 $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 900 $sudo apt-get install -y -qq "${missing[@]}"
  fi
}

step "release build of injection_eval and sqli_target"
timeout 2400 cargo build --release --all-features --example injection_eval --example sqli_target
bin="$CARGO_TARGET_DIR/release/examples"
eval_bin="$bin/injection_eval"
work="$(mktemp -d)"
server_pids=()
cleanup() { for p in "${server_pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# Goals of issue #12 (balanced unless said). On the whole corpus the gate protects against
# regressions; the validation part is reported, never tuned on. The false-positive gates
# read benign traffic only (benign-requests.jsonl), not the CRS rule negatives.
gate=(--min-recall 90 --min-recall sqli=95 --min-recall xss=95 --min-recall path-traversal=95
      --min-recall command-injection=95 --max-fp 0.05
      --strict-min-recall 90 --strict-max-fp 0.5)
corpus="${CORPUS_DIR:-../shared/corpus}"
if [ -d "$corpus" ]; then
  step "gate: whole shared corpus ($corpus)"
  timeout 600 "$eval_bin" "${gate[@]}" "$corpus/crs-requests.jsonl" "$corpus/benign-requests.jsonl"
  step "measure: validation part (reported, not a gate)"
  timeout 600 "$eval_bin" --part validation "$corpus/crs-requests.jsonl" "$corpus/benign-requests.jsonl"
else
  step "no shared corpus at $corpus: its gate is skipped"
fi
# The goal is none blocked; 16 of 521 still are (code and commands in markdown comments,
# support tickets and an uploaded README.md). The exact gate is
# `cargo test --test layers injection_benign`, which fails on
# any blocked request not listed in tests/fixtures/benign/known_blocked.txt and on a listed
# one that passes; here the figure is printed.
step "measure: real-world benign suite (goal: none blocked; not met, see known_blocked.txt)"
timeout 600 "$eval_bin" --profile balanced tests/fixtures/benign/*.jsonl

step "prose (fortunes) and random passwords/identifiers"
need_apt fortunes fortunes-de fortunes-es fortunes-it
timeout 300 python3 scripts/prose_lines.py "$work/prose.jsonl"
timeout 300 python3 scripts/random_benign.py "$work/random.jsonl"
timeout 1200 "$eval_bin" --profile balanced --max-fp "${PROSE_MAX_FP:-0.1}" "$work/prose.jsonl"
# Goal: passwords and identifiers at most 1 in 10,000 (0.01%); NOT met for passwords yet
# (74 of 100,000 passwords, 0 of 100,000 identifiers: 0.037% of the file when last
# measured): gated at 0.05% of the file so it cannot get worse, printed always.
timeout 1200 "$eval_bin" --profile balanced --max-fp "${RANDOM_MAX_FP:-0.05}" "$work/random.jsonl"

step "sqlmap against examples/sqli_target (deliberately injectable, loopback only)"
need_apt sqlmap
start_target() { # start_target PORT [--protect]
  "$bin/sqli_target" --port "$@" >"$work/target-$1.log" 2>&1 &
  server_pids+=($!)
  for _ in $(seq 50); do
    curl -s -o /dev/null "http://127.0.0.1:$1/item?id=1" && return 0
    sleep 0.1
  done
  echo "sqli_target on port $1 did not start" >&2; cat "$work/target-$1.log" >&2; return 1
}
start_target 18412
start_target 18413 --protect
# Unprotected: one quick run must find the injection, or the harness proves nothing.
if TAMPERS="none" RUN_TIMEOUT=120 scripts/sqlmap_check.sh http://127.0.0.1:18412 | tee "$work/unprotected.txt"; then
  echo "sqlmap found nothing on the UNPROTECTED target: the harness is broken" >&2; exit 1
fi
grep -q INJECTABLE "$work/unprotected.txt"
# Protected: every tamper, GET and POST, level 3 / risk 2, must find nothing. Bounded: the
# whole check gets SQLMAP_BUDGET seconds (default 6 min), each run RUN_TIMEOUT.
RUN_TIMEOUT="${RUN_TIMEOUT:-120}" timeout "${SQLMAP_BUDGET:-360}" scripts/sqlmap_check.sh http://127.0.0.1:18413
echo "injection: all gates passed"
