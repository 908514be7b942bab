// Builds what the extension-host suite runs against (the extension's dist/) and bundles the mocha suite
// (test/vscode) to out/vscode/index.js, for either runner.
import * as esbuild from 'esbuild';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export async function buildVscodeSuite(root) {
  const b = spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) throw new Error('the extension build failed');
  const outDir = join(root, 'out', 'vscode');
  await esbuild.build({
    entryPoints: [join(root, 'test/vscode/index.ts')],
    outfile: join(outDir, 'index.js'),
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', 'mocha'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return outDir;
}
