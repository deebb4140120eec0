#!/usr/bin/env bash
# sqlmap against a deliberately injectable handler (issue #12): exits non-zero when sqlmap finds
# an injectable parameter (or a run cannot be completed), zero when every run finds nothing.
#
# Usage: scripts/sqlmap_check.sh BASE_URL
#   BASE_URL  e.g. http://127.0.0.1:3000 (the test-only example behind the injection layer)
# Environment (defaults in brackets):
#   GET_PATH [/item?id=1]  POST_PATH [/item]  POST_DATA [id=1]  PARAM [id]
#   TAMPERS ["none between space2comment randomcase charencode"]
#   RUN_TIMEOUT [600]  seconds per sqlmap run (coreutils `timeout`; a run that hits it fails)
#   SQLMAP [sqlmap]    SQLMAP_ARGS []  extra arguments (e.g. "-v 3", "--proxy=http://127.0.0.1:8081")
#   KEEP_LOGS []       a directory to keep each run's log in
# Every run: --batch --level 3 --risk 2, one parameter (-p), fresh session (own --output-dir,
# --flush-session), techniques sqlmap's default (BEUSTQ). Needs Debian's `sqlmap` package.
set -uo pipefail

base="${1:?usage: $0 BASE_URL}"
base="${base%/}"
get_path="${GET_PATH:-/item?id=1}"
post_path="${POST_PATH:-/item}"
post_data="${POST_DATA:-id=1}"
param="${PARAM:-id}"
tampers="${TAMPERS:-none between space2comment randomcase charencode}"
run_timeout="${RUN_TIMEOUT:-600}"
sqlmap_bin="${SQLMAP:-sqlmap}"
read -r -a extra <<<"${SQLMAP_ARGS:-}"

command -v "$sqlmap_bin" >/dev/null || { echo "sqlmap_check: $sqlmap_bin not found (apt-get install sqlmap)" >&2; exit 2; }
command -v timeout >/dev/null || { echo "sqlmap_check: coreutils timeout not found" >&2; exit 2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
[ -n "${KEEP_LOGS:-}" ] && mkdir -p "$KEEP_LOGS"

failed=0
for target in GET POST; do
  for tamper in $tampers; do
    run="$target-$tamper"
    log="$work/$run.log"
    args=(--batch --level 3 --risk 2 -p "$param" --flush-session --disable-coloring
          --output-dir "$work/out-$run")
    if [ "$target" = GET ]; then
      args+=(-u "$base$get_path")
    else
      args+=(-u "$base$post_path" --data "$post_data")
    fi
    [ "$tamper" != none ] && args+=(--tamper "$tamper")
    start=$SECONDS
    timeout --kill-after=10 "$run_timeout" "$sqlmap_bin" "${args[@]}" "${extra[@]}" </dev/null >"$log" 2>&1
    rc=$?
    secs=$((SECONDS - start))
    # sqlmap's findings: "Parameter: id (GET)" + "Type: ...", "parameter 'id' is vulnerable",
    # "sqlmap identified the following injection point(s)", "appears to be ... injectable".
    types="$(grep -E '^[[:space:]]+Type: ' "$log" | sed -E 's/^[[:space:]]+Type: //' | sort -u | paste -sd, -)"
    if grep -qE "is vulnerable|identified the following injection point|Parameter: .*\((GET|POST)\)" "$log" \
       || grep -qE "parameter '[^']+' (appears to be|is) '[^']+' injectable" "$log"; then
      verdict="INJECTABLE (${types:-see log})"
      failed=1
    elif [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
      verdict="TIMEOUT after ${run_timeout}s (inconclusive)"
      failed=1
    elif grep -qE "all tested parameters do not appear to be injectable|does not seem to be injectable" "$log"; then
      verdict="not injectable"
    elif grep -qE "\[CRITICAL\]" "$log"; then
      verdict="ERROR: $(grep -E '\[CRITICAL\]' "$log" | head -1 | sed -E 's/^.*\[CRITICAL\] //' | cut -c1-120)"
      failed=1
    else
      verdict="UNKNOWN (rc=$rc)"
      failed=1
    fi
    printf 'sqlmap %-4s %-13s %4ss  %s\n' "$target" "$tamper" "$secs" "$verdict"
    [ -n "${KEEP_LOGS:-}" ] && cp "$log" "$KEEP_LOGS/$run.log"
  done
done
exit "$failed"
