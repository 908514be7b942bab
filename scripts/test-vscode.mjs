// Runs the mocha suite in test/vscode inside a real VS Code extension host: code-server's, driven by Debian's
// Chromium through playwright-core (the recipe in VSCODE-TESTING.md). On machines with internet access the
// same suite runs under @vscode/test-electron: `npm run test:vscode:electron`.
import { buildVscodeSuite } from './buildVscodeSuite.mjs';
import { chromium } from 'playwright-core';
import { mkdirSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { format } from 'node:util';
import { startCodeServer } from './codeServer.mjs';

const root = resolve(new URL('..', import.meta.url).pathname);
rmSync(join(root, 'out', 'vscode'), { recursive: true, force: true });
const outDir = await buildVscodeSuite(root);

mkdirSync(join(root, '.test-runs'), { recursive: true });
const runDir = mkdtempSync(join(root, '.test-runs', 'vscode-'));
const workspace = join(runDir, 'workspace');
mkdirSync(workspace, { recursive: true });
const csLog = [];
const cs = await startCodeServer({ runDir, log: (l) => csLog.push(l) });
let browser;
let exitCode = 1;
const summary = { passed: 0, failed: 0 };
try {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage();
  const done = new Promise((res) => {
    page.exposeFunction('codeAutomationExit', (code) => res(code));
  });
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    const line = format(...(Array.isArray(args) ? args : [args]));
    (type === 'error' ? console.error : console.log)(line);
    // mocha's spec reporter ends with "N passing" and "N failing"; test-all.sh adds them up.
    const m = /^\s*(\d+) (passing|failing)/.exec(line);
    if (m) summary[m[2] === 'passing' ? 'passed' : 'failed'] = Number(m[1]);
  });
  const remote = `vscode-remote://127.0.0.1:${cs.port}`;
  const payload = [
    ['extensionDevelopmentPath', `${remote}${root}`],
    ['extensionTestsPath', `${remote}${outDir}`],
    ['skipWelcome', 'true'],
  ];
  await page.goto(`${cs.url}/?folder=${encodeURIComponent(workspace)}&payload=${encodeURIComponent(JSON.stringify(payload))}`);
  const timeoutMs = Number(process.env.VSCODE_TEST_TIMEOUT_MS || 300_000);
  const code = await Promise.race([
    done,
    new Promise((res) => setTimeout(() => res('timeout'), timeoutMs)),
  ]);
  if (code === 'timeout') {
    console.error(`extension-host tests: no result within ${timeoutMs / 1000} s; code-server said:\n${csLog.slice(-40).join('\n')}`);
    exitCode = 1;
  } else {
    exitCode = Number(code);
  }
} finally {
  await browser?.close().catch(() => {});
  await cs.stop();
}
if (exitCode !== 0 && summary.failed === 0) summary.failed = 1; // a run that never reported counts as a failure
mkdirSync(join(root, 'out', 'results'), { recursive: true });
writeFileSync(join(root, 'out', 'results', 'vscode.json'), JSON.stringify(summary));
process.exit(exitCode);
