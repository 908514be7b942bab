// Bundles the targets: the extension host (node, cjs, `vscode` external), the CLI (node, cjs) and the webview (browser,
// esm).
import * as esbuild from 'esbuild';
import { generateContributions } from './generate-contributions.mjs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');

// package.json's debuggers entries and setting defaults come from src/build/contributions.ts.
if (!(await generateContributions())) process.exit(1);

/** @type {import('esbuild').BuildOptions[]} */
const targets = [
  {
    entryPoints: ['src/extension/extension.ts'],
    outfile: 'dist/extension.js',
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['vscode', 'bufferutil', 'utf-8-validate'],
  },
  // The CI command (`npx ws-inspector test`, package.json's bin): plain Node on src/core. `vscode` is not external, so
  // the build fails if anything it imports reaches for it.
  {
    entryPoints: ['src/cli/main.ts'],
    outfile: 'dist/cli.js',
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    external: ['bufferutil', 'utf-8-validate'],
  },
  {
    entryPoints: ['webview/main.ts'],
    outfile: 'dist/webview.js',
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
  },
  // The connect form's webview (src/extension/connectForm.ts): a bundle of its own, so the form does not load the
  // inspector.
  {
    entryPoints: ['webview/connectFormMain.ts'],
    outfile: 'dist/connectForm.js',
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
  },
];

const contexts = await Promise.all(
  targets.map((t) =>
    esbuild.context({
      ...t,
      minify: production,
      sourcemap: !production,
      sourcesContent: false,
      logLevel: 'warning',
    }),
  ),
);
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}
