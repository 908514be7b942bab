// Fails when files under src/ import each other in a cycle, type-only imports included: a type cycle is a layering
// cycle too (wire/ must not need capture/ even for a type). `node scripts/check-cycles.mjs [--runtime-only]`.
import * as esbuild from 'esbuild';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const runtimeOnly = process.argv.includes('--runtime-only');

function tsFilesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => join(e.parentPath ?? e.path, e.name));
}

const entryPoints = ['src/extension/extension.ts', ...tsFilesUnder('src/cli'), ...tsFilesUnder('src/core')];

// esbuild drops imports that are only used as types; this makes it keep them, so they show in the metafile.
// Missing exports of .ts files are not an error to esbuild (they may be types), so the bundle still builds.
const keepTypeImports = {
  name: 'keep-type-imports',
  setup(build) {
    build.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8')
        .replace(/^(import|export)\s+type\s+(?=[{*]|\w+\s+from\b)/gm, '$1 ')
        .replace(/^(import|export)\s*\{[^}]*\}\s*from\b/gm, (clause) => clause.replace(/([{,]\s*)type\s+(?=\w)/g, '$1'));
      return { contents: source, loader: 'ts' };
    });
  },
};

const result = await esbuild.build({
  entryPoints,
  bundle: true,
  write: false,
  metafile: true,
  outdir: 'out/check-cycles',
  platform: 'node',
  format: 'esm',
  external: ['vscode'],
  packages: 'external',
  logLevel: 'error',
  plugins: runtimeOnly ? [] : [keepTypeImports],
  tsconfigRaw: runtimeOnly ? undefined : { compilerOptions: { verbatimModuleSyntax: true } },
});

/** file -> the files under src/ it imports */
const graph = new Map();
for (const [file, input] of Object.entries(result.metafile.inputs)) {
  if (!file.startsWith('src/')) continue;
  const targets = input.imports.filter((i) => !i.external && i.path.startsWith('src/')).map((i) => i.path);
  graph.set(file, [...new Set(targets)].sort());
}

/** Tarjan's strongly connected components; every cycle lies inside one. */
function components(g) {
  const index = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const out = [];
  let next = 0;
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v), index.get(w)));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      out.push(scc);
    }
  };
  for (const v of [...g.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

/** The shortest path from `start` back to itself inside `members`, or undefined. */
function shortestCycle(start, members) {
  const prev = new Map();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i];
    for (const w of graph.get(v) ?? []) {
      if (!members.has(w)) continue;
      if (w === start) {
        const chain = [v];
        while (chain[0] !== start) chain.unshift(prev.get(chain[0]));
        return chain;
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return undefined;
}

const cycles = new Map();
for (const scc of components(graph)) {
  const members = new Set(scc);
  if (scc.length === 1 && !(graph.get(scc[0]) ?? []).includes(scc[0])) continue;
  for (const start of [...members].sort()) {
    const chain = shortestCycle(start, members);
    if (!chain) continue;
    const first = chain.indexOf([...chain].sort()[0]);
    const canonical = [...chain.slice(first), ...chain.slice(0, first)];
    cycles.set(canonical.join(' -> '), canonical);
  }
}

const what = runtimeOnly ? 'runtime imports' : 'imports, type-only included';
if (cycles.size === 0) {
  console.log(`check-cycles: no import cycles in src/ (${graph.size} files, ${what})`);
} else {
  console.error(`check-cycles: ${cycles.size} import cycle(s) in src/ (${what}):`);
  for (const chain of cycles.values()) console.error(`  ${[...chain, chain[0]].join('\n    -> ')}`);
  process.exit(1);
}
