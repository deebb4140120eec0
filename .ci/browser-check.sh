#!/usr/bin/env bash
# Runs .ci/browser-check.mjs against a running server's dashboard page, installing what it needs
# first: Debian's chromium (apt) and playwright-core (npm, no browser download) in a cache
# directory outside the clone, so a second run reuses both.
#
#   BASE_URL=http://127.0.0.1:3000/admin/ ADMIN_TOKEN=... SCREENSHOT=/tmp/dashboard.png \
#     bash .ci/browser-check.sh
#
# Every EXPECT_*/MIN_POLLS/SCREENSHOT_PHONE variable of the .mjs passes through.
# BROWSER_CHECK_TIMEOUT (seconds, default 90) bounds the browser run.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${BASE_URL:?BASE_URL must be set, e.g. http://127.0.0.1:3000/admin/}"
: "${ADMIN_TOKEN:?ADMIN_TOKEN must be set}"

PLAYWRIGHT_CORE_VERSION="${PLAYWRIGHT_CORE_VERSION:-1.65.1}"
cache_root="${XDG_CACHE_HOME:-$HOME/.cache}"
if [ -n "${CARGO_TARGET_DIR:-}" ]; then cache_root="$(dirname "$CARGO_TARGET_DIR")"; fi
export PLAYWRIGHT_PREFIX="${PLAYWRIGHT_PREFIX:-$cache_root/tower-fortify-node}"
# playwright-core must never fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

if [ ! -x "$CHROMIUM" ]; then
  echo "browser-check: installing chromium (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq -o DPkg::Lock::Timeout=300 chromium >/dev/null
fi
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "browser-check: installing nodejs and npm (Debian)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq -o DPkg::Lock::Timeout=300 nodejs npm >/dev/null
fi
installed="$(node -p "try{require('$PLAYWRIGHT_PREFIX/node_modules/playwright-core/package.json').version}catch(e){''}" 2>/dev/null || true)"
if [ "$installed" != "$PLAYWRIGHT_CORE_VERSION" ]; then
  echo "browser-check: installing playwright-core@$PLAYWRIGHT_CORE_VERSION into $PLAYWRIGHT_PREFIX"
  mkdir -p "$PLAYWRIGHT_PREFIX"
  timeout 300 npm install --prefix "$PLAYWRIGHT_PREFIX" --no-save --no-audit --no-fund --loglevel=error \
    "playwright-core@$PLAYWRIGHT_CORE_VERSION"
fi

echo "browser-check: $("$CHROMIUM" --version 2>/dev/null | tail -n 1), playwright-core $PLAYWRIGHT_CORE_VERSION, page $BASE_URL"
# The .mjs has its own 60 s bound; this one catches a hung browser or node.
timeout --kill-after=10 "${BROWSER_CHECK_TIMEOUT:-90}" node .ci/browser-check.mjs
