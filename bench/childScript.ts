// Where a benchmark's load-generating child script is. scripts/run-bench.mjs bundles every bench/*.child.ts next to
// run.js; when a benchmark file runs alone, the child is bundled now, into a temporary folder.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export async function childScript(name: string): Promise<string> {
  const beside = path.join(__dirname, `${name}.child.js`);
  if (fs.existsSync(beside)) return beside;
  const esbuild = await import('esbuild');
  const outfile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), `${name}-`)), `${name}.child.js`);
  await esbuild.build({
    entryPoints: [path.resolve(`bench/${name}.child.ts`)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    logLevel: 'warning',
    // The temporary file must still resolve `ws` from this repository.
    nodePaths: [path.resolve('node_modules')],
  });
  return outfile;
}
