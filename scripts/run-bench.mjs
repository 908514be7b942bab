// Bundles bench/run.ts with esbuild and runs it: `npm run bench [-- decoder|fanout|memory|panel|load|isolation|proxy]`.
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const entries = ['bench/run.ts', ...readdirSync('bench').filter((f) => f.endsWith('.child.ts')).map((f) => `bench/${f}`)];
await esbuild.build({
  entryPoints: entries,
  outdir: 'out/bench',
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  packages: 'external',
  logLevel: 'warning',
});
const r = spawnSync(process.execPath, ['--expose-gc', 'out/bench/run.js', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
