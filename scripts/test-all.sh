#!/usr/bin/env bash
# Every test, from a fresh checkout: installs what is needed, builds, type-checks, lints, then runs the unit tests
# (plain Node, real loopback sockets), the extension-host suite (real VS Code in code-server) and the E2E tests
# (real webview in Chromium). Ends with one line: "N passed, N failed". Exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh || { echo "setup failed"; echo "tests: 0 passed, 1 failed"; exit 1; }
rm -rf out/results
mkdir -p out/results

status=0
step() {
  local name="$1"; shift
  echo ""
  echo "=== $name"
  if ! "$@"; then
    echo "=== $name: FAILED"
    status=1
    [ -f "out/results/$name.json" ] || echo '{"passed":0,"failed":1}' > "out/results/$name.json"
  fi
}

step build npm run --silent build
step check-types npm run --silent check-types
step lint npm run --silent lint
step unit node scripts/test-unit.mjs
step vscode node scripts/test-vscode.mjs
step e2e node scripts/test-e2e.mjs

echo ""
node -e '
const fs = require("fs");
let p = 0, f = 0;
for (const file of fs.readdirSync("out/results").filter((n) => n.endsWith(".json"))) {
  const r = JSON.parse(fs.readFileSync("out/results/" + file, "utf8"));
  console.log(`  ${file.replace(/\.json$/, "").padEnd(12)} ${r.passed} passed, ${r.failed} failed`);
  p += r.passed; f += r.failed;
}
console.log(`tests: ${p} passed, ${f} failed`);
'
exit $status
