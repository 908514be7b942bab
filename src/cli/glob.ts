// The CLI's file arguments: paths, folders (searched for scenario files) and globs (`*`, `**`, `?`, `{a,b}`), for
// shells that pass them through quoted (and for Windows, whose shell never expands them).

import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';

const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', 'out']);
const GLOB_CHARS = /[*?{[]/;

/** A glob (forward slashes) as a regular expression over a relative path with forward slashes. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i];
    if (ch === '*' && glob[i + 1] === '*') {
      // `**/` is any number of folders, none included; a trailing `**` is anything.
      if (glob[i + 2] === '/') {
        re += '(?:[^/]*/)*';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '{') {
      const end = glob.indexOf('}', i);
      if (end === -1) re += '\\{';
      else {
        re += `(?:${glob.slice(i + 1, end).split(',').map(escape).join('|')})`;
        i = end;
      }
    } else re += escape(ch);
  }
  return new RegExp(`^${re}$`);
}

function escape(s: string): string {
  return s.replace(/[.+^${}()|[\]\\*?]/g, '\\$&');
}

function walk(dir: string, out: string[]): void {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name) && !e.name.startsWith('.')) walk(join(dir, e.name), out);
    } else if (e.isFile()) out.push(join(dir, e.name));
  }
}

/**
 * The files the arguments name, sorted and without duplicates. A folder gives the files in it (and below) that
 * `isScenario` accepts; a glob gives the files it matches; a plain path is taken as it is (a missing one is reported by
 * the caller when it reads it). No argument stands for the working folder.
 */
export function expandFileArgs(args: readonly string[], cwd: string, isScenario: (path: string) => boolean): string[] {
  const found = new Set<string>();
  for (const arg of args.length ? args : ['.']) {
    const pattern = arg.split(sep).join('/');
    if (!GLOB_CHARS.test(pattern)) {
      const abs = resolve(cwd, arg);
      let dir = false;
      try {
        dir = statSync(abs).isDirectory();
      } catch {
        // Reported when it is read.
      }
      if (!dir) found.add(abs);
      else {
        const all: string[] = [];
        walk(abs, all);
        for (const f of all) if (isScenario(f)) found.add(f);
      }
      continue;
    }
    const segments = pattern.split('/');
    const firstGlob = segments.findIndex((s) => GLOB_CHARS.test(s));
    const base = resolve(cwd, segments.slice(0, firstGlob).join('/') || '.');
    const re = globToRegExp(segments.slice(firstGlob).join('/'));
    const all: string[] = [];
    walk(base, all);
    for (const f of all) if (re.test(relative(base, f).split(sep).join('/'))) found.add(f);
  }
  return [...found].sort();
}
