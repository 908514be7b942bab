#!/usr/bin/env bash
# Brings everything up on a fresh machine: installs, builds, packs the .vsix, and runs VS Code (code-server) on
# 127.0.0.1 with the extension installed. Prints the URL; Ctrl+C stops it.
# PORT (default 8080) picks code-server's port; WORKSPACE (default ./.sandbox/workspace) the folder it opens.
# The settings in .sandbox/ud/User/settings.json are written once, when there is none: later starts keep the user's.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/package.sh >/dev/null
vsix="$PWD/websocket-inspector-$(node -p 'require("./package.json").version').vsix"
mkdir -p .sandbox
exec node --input-type=module -e "
import { startCodeServer } from './scripts/codeServer.mjs';
import { mkdirSync } from 'node:fs';
const workspace = process.env.WORKSPACE || '$PWD/.sandbox/workspace';
mkdirSync(workspace, { recursive: true });
const cs = await startCodeServer({ runDir: '.sandbox', port: Number(process.env.PORT || 8080), installVsix: '$vsix', keepSettings: true });
const url = cs.url + '/?folder=' + encodeURIComponent(workspace);
console.log('');
console.log('VS Code with WebSocket Inspector: ' + url);
console.log('Open it in a browser, then F1 > \"WebSocket: Start Broadcast Server\". Ctrl+C stops it.');
const stop = () => cs.stop().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
"
