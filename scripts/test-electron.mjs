// Runs the same extension-host suite as test-vscode.mjs under @vscode/test-electron, which downloads VS Code:
// for machines with internet access (these build machines have none; they use code-server).
import { buildVscodeSuite } from './buildVscodeSuite.mjs';
import { runTests } from '@vscode/test-electron';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const outDir = await buildVscodeSuite(root);
try {
  await runTests({ extensionDevelopmentPath: root, extensionTestsPath: join(outDir, 'index.js') });
} catch (err) {
  console.error('extension-host tests failed:', err instanceof Error ? err.message : err);
  process.exit(1);
}
