// `.env` files for `${env:NAME}`: `NAME=value` lines, `export NAME=value`, `#` comments, '…' taken as written and "…"
// with \n, \t, \" and \\ escapes.

import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';

/** The variables of a .env file's text. A line that is none of the forms above is skipped. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][\w.-]*)\s*=\s*(.*)$/.exec(lines[i]);
    if (!m) continue;
    let v = m[2];
    const q = v[0];
    if (q === '"' || q === "'") {
      // A quoted value may go on over several lines, up to its closing quote.
      let body = v.slice(1);
      while (!closes(body, q) && i + 1 < lines.length) body += '\n' + lines[++i];
      const end = closingIndex(body, q);
      body = end === -1 ? body : body.slice(0, end);
      v = q === '"' ? body.replace(/\\([nrt"\\])/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c) : body;
    } else {
      v = v.replace(/\s+#.*$/, '').trim();
    }
    out[m[1]] = v;
  }
  return out;
}

function closingIndex(s: string, q: string): number {
  for (let i = 0; i < s.length; i++) {
    if (q === '"' && s[i] === '\\') i++;
    else if (s[i] === q) return i;
  }
  return -1;
}

function closes(s: string, q: string): boolean {
  return closingIndex(s, q) !== -1;
}

/**
 * The environment a run sees: the .env files in order (a later one overrides an earlier one), and `base` (the process
 * environment) over them all, as dotenv and Node's --env-file do. Paths are relative to `dir`. A missing file fails
 * with its path, unless `optional` (a scenario file's own envFiles: a .env with secrets is often not in git, nor in CI).
 */
export async function loadEnvironment(
  files: readonly string[],
  dir: string,
  base: Record<string, string | undefined> = process.env,
  optional = false,
): Promise<Record<string, string | undefined>> {
  const fromFiles: Record<string, string> = {};
  for (const f of files) {
    const path = isAbsolute(f) ? f : resolve(dir, f);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (optional && (err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new Error(`Cannot read the .env file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
    Object.assign(fromFiles, parseDotEnv(text));
  }
  return { ...fromFiles, ...base };
}
