// Writes the generated parts of package.json's `contributes` (src/build/contributions.ts): the debuggers entries that
// carry the `wsInspector` launch.json attribute, and the default, bounds, enum and scope of each `wsInspector.*`
// setting. `--check` writes nothing and exits 1, with a diff, when package.json differs (npm run lint runs it).
import * as esbuild from 'esbuild';
import { Buffer } from 'node:buffer';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE_JSON = join(root, 'package.json');

/** The compiled src/build/contributions.ts. */
async function loadContributions() {
  const out = await esbuild.build({
    entryPoints: [join(root, 'src/build/contributions.ts')],
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    logLevel: 'warning',
  });
  const code = out.outputFiles[0].text;
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

/** A debuggers entry is generated when one of its configurations has the `wsInspector` attribute. */
const isGenerated = (d) => Object.values(d?.configurationAttributes ?? {}).some((c) => c?.properties?.wsInspector !== undefined);

/** Puts the generated parts into `pkg` (in place); returns the problems the generator cannot fix by itself. */
function apply(pkg, { debuggers, settingFields }) {
  const problems = [];
  const contributes = (pkg.contributes ??= {});
  // Hand-written entries (another debugger's attributes) stay where they are; the generated ones go where they were.
  const existing = contributes.debuggers ?? [];
  const at = existing.findIndex(isGenerated);
  const kept = existing.filter((d) => !isGenerated(d));
  const before = at < 0 ? kept.length : existing.slice(0, at).filter((d) => !isGenerated(d)).length;
  contributes.debuggers = [...kept.slice(0, before), ...debuggers(), ...kept.slice(before)];

  const properties = contributes.configuration?.properties ?? {};
  const fields = settingFields();
  for (const name of Object.keys(properties)) {
    if (name.startsWith('wsInspector.') && !fields[name]) problems.push(`${name} is in package.json but not in src/extension/settingsTable.ts.`);
  }
  for (const [name, f] of Object.entries(fields)) {
    const prop = properties[name];
    if (!prop) {
      problems.push(`${name} is in src/extension/settingsTable.ts but not in package.json: add it there with its description.`);
      continue;
    }
    let p = withField(prop, 'type', f.type);
    if (f.machineScope) p = withField(p, 'scope', 'machine', 'type');
    else if (p.scope === 'machine') delete p.scope;
    p = withField(p, 'default', f.default, 'scope', 'type');
    if (f.enum) p = withField(p, 'enum', [...f.enum], 'default');
    if (f.minimum !== undefined) p = withField(p, 'minimum', f.minimum, 'default');
    if (f.maximum !== undefined) p = withField(p, 'maximum', f.maximum, 'minimum');
    if (f.itemEnum) p = withField(p, 'items', withField(p.items ?? { type: 'string' }, 'enum', [...f.itemEnum], 'type'));
    properties[name] = p;
  }
  return problems;
}

/** `obj` with `key` set: in its place when it is there, else after the first of `after` that is (else last). */
function withField(obj, key, value, ...after) {
  if (key in obj) return { ...obj, [key]: value };
  const anchor = after.find((k) => k in obj);
  if (anchor === undefined) return { ...obj, [key]: value };
  const out = {};
  for (const [k, v] of Object.entries(obj)) {
    out[k] = v;
    if (k === anchor) out[key] = value;
  }
  return out;
}

/** The lines that differ, with two lines of context: `-` package.json's (its line numbers), `+` the generated. */
function lineDiff(before, after, maxLines = 80) {
  const a = before.split('\n');
  const b = after.split('\n');
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  // Longest common subsequence of the differing middle, to pair the unchanged lines in it.
  const n = endA - start;
  const m = endB - start;
  const lcs = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[start + i] === b[start + j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const ops = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[start + i] === b[start + j]) {
      ops.push([' ', start + i, a[start + i]]);
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      ops.push(['-', start + i, a[start + i]]);
      i++;
    } else {
      ops.push(['+', start + j, b[start + j]]);
      j++;
    }
  }
  // Two lines of context on each side of the change.
  for (let k = 1; k <= 2; k++) {
    if (start - k >= 0) ops.unshift([' ', start - k, a[start - k]]);
    if (endA - 1 + k < a.length) ops.push([' ', endA - 1 + k, a[endA - 1 + k]]);
  }
  const out = [];
  ops.forEach(([op, line, text], k) => {
    const near = ops.slice(Math.max(0, k - 2), k + 3).some(([o]) => o !== ' ');
    if (op !== ' ' || near) out.push(`${String(line + 1).padStart(5)} ${op} ${text}`);
    else if (out.length && out[out.length - 1] !== '      ...') out.push('      ...');
  });
  if (out.length > maxLines) return [...out.slice(0, maxLines), `      … ${out.length - maxLines} more lines`].join('\n');
  return out.join('\n');
}

/** Updates package.json (or, with `check`, only compares); resolves to true when it was (or now is) up to date. */
export async function generateContributions({ check = false } = {}) {
  const contributions = await loadContributions();
  const text = readFileSync(PACKAGE_JSON, 'utf8');
  const pkg = JSON.parse(text);
  const problems = apply(pkg, contributions);
  const generated = `${JSON.stringify(pkg, null, 2)}\n`;
  for (const p of problems) console.error(`generate-contributions: ${p}`);
  if (generated === text) {
    if (check && problems.length === 0) console.log('generate-contributions: package.json is up to date.');
    return problems.length === 0;
  }
  if (check) {
    console.error('generate-contributions: package.json differs from src/build/contributions.ts (line, - package.json, + generated):');
    console.error(lineDiff(text, generated));
    console.error('Edit src/extension/settingsTable.ts or src/extension/debugAttribute.ts, then run `npm run build` (or node scripts/generate-contributions.mjs).');
    return false;
  }
  writeFileSync(PACKAGE_JSON, generated);
  console.log('generate-contributions: package.json updated.');
  return problems.length === 0;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const ok = await generateContributions({ check: process.argv.includes('--check') });
  if (!ok) process.exitCode = 1;
}
