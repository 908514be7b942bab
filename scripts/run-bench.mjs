// Bundles bench/run.ts with esbuild and runs it: `npm run bench [-- decoder|fanout|memory|panel|load|isolation|proxy]`.
// The session import benchmark (`-- sessionImport`) runs alone, in a process of its own: it measures its heap.
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';

const entries = ['bench/run.ts', 'bench/sessionImport.bench.ts', ...readdirSync('bench').filter((f) => f.endsWith('.child.ts')).map((f) => `bench/${f}`)];
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
const only = process.argv.slice(2);
const isSession = (o) => 'sessionImport'.includes(o);
const rest = only.filter((o) => !isSession(o));
let status = 0;
if (only.length === 0 || rest.length > 0) {
  status = spawnSync(process.execPath, ['--expose-gc', 'out/bench/run.js', ...rest], { stdio: 'inherit' }).status ?? 1;
}
if (only.length === 0 || only.some(isSession)) {
  const r = spawnSync(process.execPath, ['--expose-gc', 'out/bench/sessionImport.bench.js'], { stdio: 'inherit' });
  status ||= r.status ?? 1;
}
process.exit(status);
