#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian 12 + Node 20 machine (as root, or with sudo):
# Debian packages, then the npm dependencies. Safe to run again; skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

# openssl: test certificates. chromium: the webview and E2E tests. libkrb5-dev: code-server's kerberos module.
# redis-server: the Redis backplane tests start their own on a free loopback port (nothing is mocked).
# ripgrep: code-server's search, installed from Debian because @vscode/ripgrep's postinstall downloads from GitHub.
# python3-websockets: a Python `websockets` server is a proxy test's target (test/support/pythonWebsockets.ts runs it
# with /usr/bin/python3), another stack's defaults: permessage-deflate and a keepalive ping every 20 s.
# tcpdump: the session reader's tests record real loopback traffic into pcap files (they run as root).
need=()
for p in openssl chromium libkrb5-dev ripgrep redis-server python3-websockets tcpdump; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# @vscode/ripgrep looks in this cache before it tries to download rg.
tmp="${TMPDIR:-/tmp}"
cache="$tmp/vscode-ripgrep-cache-1.15.11"
tarball="$cache/ripgrep-v13.0.0-10-x86_64-unknown-linux-musl.tar.gz"
if [ ! -f "$tarball" ]; then
  mkdir -p "$cache"
  d=$(mktemp -d)
  cp /usr/bin/rg "$d/rg"
  tar -czf "$tarball" -C "$d" rg
  rm -rf "$d"
fi

# code-server refuses to install as root without unsafe-perm; node-pty's postinstall runs `npx node-gyp`.
export npm_config_unsafe_perm=true npm_config_yes=true
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
