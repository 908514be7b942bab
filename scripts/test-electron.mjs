// Runs the same extension-host suite as test-vscode.mjs under @vscode/test-electron, which downloads VS Code:
// for machines with internet access (these build machines have none; they use code-server).
import * as esbuild from 'esbuild';
import { runTests } from '@vscode/test-electron';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
await esbuild.build({
  entryPoints: ['test/vscode/index.ts'],
  outfile: join(root, 'out', 'vscode', 'index.js'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  external: ['vscode', 'mocha'],
  sourcemap: 'inline',
});
try {
  await runTests({ extensionDevelopmentPath: root, extensionTestsPath: join(root, 'out', 'vscode', 'index.js') });
} catch (err) {
  console.error('extension-host tests failed:', err instanceof Error ? err.message : err);
  process.exit(1);
}
