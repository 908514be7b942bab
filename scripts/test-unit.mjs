// Transpiles test/unit/**/*.test.ts (and what they import) with esbuild, then runs them with node's test runner.
// Type checking is `npm run check-types`; this keeps the test loop fast.
// Usage: node scripts/test-unit.mjs [filter substring ...]
import * as esbuild from 'esbuild';
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.test.ts') ? [join(dir, e.name)] : [],
  );
}

const filters = process.argv.slice(2);
const entries = walk('test/unit').filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (entries.length === 0) {
  console.error('no unit test files match', filters);
  process.exit(1);
}
// One folder per run, so that two runs on one machine do not delete each other's files.
const outdir = `out/unit-${process.pid}`;
rmSync(outdir, { recursive: true, force: true });
await esbuild.build({
  entryPoints: entries,
  outdir,
  outbase: 'test/unit',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'inline',
  packages: 'external',
  logLevel: 'warning',
});
const files = entries.map((f) => join(outdir, relative('test/unit', f)).replace(/\.ts$/, '.js'));
mkdirSync('out/results', { recursive: true });
const tap = 'out/results/unit.tap';
const r = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', '--test-concurrency=1',
    '--test-reporter=spec', '--test-reporter-destination=stdout',
    '--test-reporter=tap', `--test-reporter-destination=${tap}`, ...files],
  { stdio: 'inherit' },
);
// The summary test-all.sh adds up: node's TAP reporter ends with "# pass N" / "# fail N".
const text = readFileSync(tap, 'utf8');
const count = (k) => Number(text.match(new RegExp(`^# ${k} (\\d+)$`, 'm'))?.[1] ?? 0);
writeFileSync('out/results/unit.json', JSON.stringify({ passed: count('pass'), failed: count('fail') + count('cancelled') }));
rmSync(outdir, { recursive: true, force: true });
process.exit(r.status ?? 1);
