#!/usr/bin/env bash
# Sets up a fresh Debian/Ubuntu machine (or a laptop) for running and testing the app:
# redis-server, openssl and Chromium (for the browser tests) from apt when missing, then the locked npm
# packages, which bring Node 22, and the pinned Bicep CLI (NuGet, with the .NET SDK when it is there).
# No browser is ever downloaded by npm; after this, `npm run check` needs no network.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# ip(8), for the checks run with loopback only (scripts/offline.sh).
command -v ip >/dev/null 2>&1 || need+=(iproute2)
[ -n "${CHROMIUM_PATH:-}" ] || command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
  need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "setup: installing ${need[*]} with apt-get"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    # The Debian package starts a system service on 6379; we start our own instances instead.
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
      $sudo systemctl stop redis-server || true
    fi
  else
    echo "setup: please install ${need[*]} (e.g. 'brew install redis openssl', and set CHROMIUM_PATH to a Chromium or Chrome), then run this again" >&2
    exit 1
  fi
fi

command -v npm >/dev/null 2>&1 || { echo "setup: npm is required (any Node.js >= 18 to bootstrap; the project installs Node 22 itself)" >&2; exit 1; }

# npm ci installs the exact locked tree; the 'node' package in it puts Node 22 first on the PATH of
# every npm script, whatever Node runs npm itself.
npm ci --no-audit --no-fund --loglevel=error
# The Bicep CLI that `npm run check` lints the templates with, from NuGet through the .NET SDK (without the
# SDK it says so in one line and the checks skip the Bicep lint): after this, the checks need no network.
npm exec --offline -- node scripts/bicep.ts fetch
echo "setup: Node for npm scripts is $(npm exec --offline -- node --version), redis-server $(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')"
