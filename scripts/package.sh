#!/usr/bin/env bash
# Builds the production bundles and packs them into websocket-inspector-<version>.vsix.
set -euo pipefail
cd "$(dirname "$0")/.."
node scripts/build.mjs --production
npx vsce package --no-dependencies --allow-missing-repository --skip-license --no-rewrite-relative-links -o "websocket-inspector-$(node -p 'require("./package.json").version').vsix" "$@"
