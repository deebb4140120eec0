#!/usr/bin/env bash
# Fuzzing for tower-fortify: builds every cargo-fuzz target once (stable toolchain, no
# sanitizer), then runs each for 30 seconds. Called by .ci/run; run it alone from the
# repository root as `bash .ci/fuzz.sh`. Any crash (a panic or a failed invariant) fails it.
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tower-fortify-target}"
export CARGO_TERM_COLOR=never
seconds="${FUZZ_SECONDS:-30}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  timeout 900 cargo install cargo-fuzz --locked
fi

# The fuzz build (instrumented, its own workspace) is cached next to the main build.
fuzz_target_dir="$CARGO_TARGET_DIR/fuzz"
targets=(injection_request forwarded host csp_config cors_config rejection)
timeout 1800 env -u CARGO_TARGET_DIR cargo fuzz build -s none --target-dir "$fuzz_target_dir"
for t in "${targets[@]}"; do
  printf -- '--- fuzz %s for %s s\n' "$t" "$seconds"
  log="$fuzz_target_dir/$t.log"
  # -max_total_time bounds the run; the timeout only catches a hang.
  if ! timeout $((seconds + 120)) env -u CARGO_TARGET_DIR cargo fuzz run -s none \
    --target-dir "$fuzz_target_dir" "$t" -- -max_total_time="$seconds" >"$log" 2>&1; then
    grep -vE '^#[0-9]+' "$log" | tail -n 40 >&2
    echo "fuzz: $t failed; the crashing input is under fuzz/artifacts/$t/" >&2
    exit 1
  fi
  grep -E '^Done [0-9]+ runs' "$log"
done
echo "fuzz: ${#targets[@]} targets ran ${seconds} s each without a crash"
