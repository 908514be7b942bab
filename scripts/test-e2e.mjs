// End-to-end tests of the inspector panel: builds and packs the .vsix, installs it into an offline code-server,
// and runs test/e2e/*.e2e.ts (node:test + playwright-core driving Debian's Chromium) against it.
// Screenshots go to .test-runs/screenshots/. Writes out/results/e2e.json ({ passed, failed }) for test-all.
// Usage: node scripts/test-e2e.mjs [--dev] [name]   (--dev loads the extension folder instead of the .vsix; name runs
// only the test/e2e files whose name contains it)
import * as esbuild from 'esbuild';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startCodeServer } from './codeServer.mjs';

const root = resolve(fileURLToPath(import.meta.url), '..', '..');
const dev = process.argv.includes('--dev');
const results = join(root, 'out', 'results');
mkdirSync(results, { recursive: true });
const report = (passed, failed) => writeFileSync(join(results, 'e2e.json'), JSON.stringify({ passed, failed }));

let vsix;
if (dev) {
  const b = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) process.exit(1);
} else {
  const p = spawnSync('bash', ['scripts/package.sh'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (p.status !== 0) {
    report(0, 1);
    process.exit(1);
  }
  const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  vsix = join(root, `websocket-inspector-${version}.vsix`);
}

const outDir = join(root, 'out', 'e2e');
rmSync(outDir, { recursive: true, force: true });
// Names to run (substrings of the file names, any of them), in the files' order; none: every file.
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const entries = readdirSync(join(root, 'test', 'e2e'))
  .filter((f) => f.endsWith('.e2e.ts') && (only.length === 0 || only.some((o) => f.includes(o))))
  .map((f) => join(root, 'test', 'e2e', f));
await esbuild.build({
  entryPoints: entries,
  outdir: outDir,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  sourcemap: 'inline',
  logLevel: 'warning',
});

const runDir = mkdtempSync(join(root, '.test-runs', 'e2e-'));
const workspace = join(runDir, 'workspace');
mkdirSync(workspace, { recursive: true });
const shots = join(root, '.test-runs', 'screenshots');
mkdirSync(shots, { recursive: true });
const wsPort = await freePort();
const csLog = [];
const cs = await startCodeServer({
  runDir,
  installVsix: vsix,
  // The bulk test sends 3,000 messages at once: lift the per-client rate limit (default 100/s) for this run.
  settings: { 'wsInspector.server.port': wsPort, 'wsInspector.server.rateLimit.messagesPerSecond': 1_000_000, 'wsInspector.server.rateLimit.burst': 1_000_000, 'git.openRepositoryInParentFolders': 'never', 'git.enabled': false, 'workbench.colorTheme': process.env.E2E_THEME || 'Default Dark Modern' },
  log: (l) => csLog.push(l),
});
let passed = 0;
let failed = 1;
try {
  let url = `${cs.url}/?folder=${encodeURIComponent(workspace)}`;
  if (dev) {
    const payload = [['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${cs.port}${root}`], ['skipWelcome', 'true']];
    url += `&payload=${encodeURIComponent(JSON.stringify(payload))}`;
  }
  const tap = join(outDir, 'report.tap');
  const files = readdirSync(outDir).filter((f) => f.endsWith('.js')).map((f) => join(outDir, f));
  const child = spawn(
    process.execPath,
    ['--enable-source-maps', '--test', '--test-concurrency=1', '--test-reporter=spec', '--test-reporter-destination=stdout',
      '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files],
    { stdio: 'inherit', env: { ...process.env, E2E_URL: url, E2E_WS_PORT: String(wsPort), E2E_SHOTS: shots } },
  );
  const code = await new Promise((res) => child.on('exit', (c) => res(c ?? 1)));
  const lines = readFileSync(tap, 'utf8').split('\n');
  // Count leaf tests (subtests of the suites), not the suites themselves.
  passed = lines.filter((l) => /^ {4}ok \d+/.test(l)).length;
  failed = lines.filter((l) => /^ {4}not ok \d+/.test(l)).length;
  if (code !== 0 && failed === 0) failed = 1;
  if (code !== 0) console.error(`code-server said (last lines):\n${csLog.slice(-20).join('\n')}`);
  console.log(`e2e: ${passed} passed, ${failed} failed; screenshots in ${shots}`);
} finally {
  await cs.stop();
  report(passed, failed);
}
process.exit(failed ? 1 : 0);
