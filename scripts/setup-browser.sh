#!/usr/bin/env bash
# Installs what the browser tests (tests/browser/) need beyond Rust: Debian's `chromium` and a font
# (apt-get, only when /usr/bin/chromium is missing, and only as root: otherwise it says what to install)
# and the npm package `playwright-core`, pinned exactly in tests/browser/package.json and
# package-lock.json and installed by `npm ci` into tests/browser/node_modules (gitignored).
# playwright-core drives the system Chromium: nothing downloads a browser of its own.
#
# Idempotent and quiet when everything is in place: `npm ci` runs again only when package-lock.json
# changed since the last install (its SHA-256 is kept in node_modules/.trailguard-lock). Messages go
# to stderr; nothing is printed on stdout.
#
#   bash scripts/setup-browser.sh
#
# Environment: TRAILGUARD_CHROMIUM (a Chromium binary you provisioned yourself; default /usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/.."

chromium=${TRAILGUARD_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  if [ "$chromium" = /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-browser: installing Chromium from the Debian package" >&2
    log=$(mktemp)
    # dpkg is chatty even with -qq: its output is shown only when the install fails.
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; } >"$log" 2>&1; then
      cat "$log" >&2
      rm -f "$log"
      echo "setup-browser: apt-get install chromium failed" >&2
      exit 2
    fi
    rm -f "$log"
  else
    echo "setup-browser: no Chromium at $chromium (on Debian: apt-get install chromium; or set TRAILGUARD_CHROMIUM)" >&2
    exit 2
  fi
fi

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup-browser: node and npm are required (Node.js 20 or newer; on Debian: apt-get install nodejs npm)" >&2
  exit 2
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup-browser: Node.js 20 or newer is required (playwright-core's own minimum), found $(node --version)" >&2
  exit 2
fi

dir=tests/browser
stamp=$dir/node_modules/.trailguard-lock
want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$dir/node_modules/playwright-core/package.json" ]; then
  exit 0
fi
echo "setup-browser: installing $dir's packages from its package-lock.json (npm ci)" >&2
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >&2)
printf '%s\n' "$want" >"$stamp"
