// The small JSON path of scenario files: `$`, `$.a.b`, `$.items[0].id`, `$['a key']`; `a.b` is read as `$.a.b`.
// One value per path (no wildcards or filters): a step says exactly which field it means.

import type { PathSegment } from './model';

/** The segments of `text`, or a message saying what is wrong. */
export function parseJsonPath(text: string): PathSegment[] | string {
  const t = text.trim();
  if (t === '') return 'an empty JSON path: expected $ or $.field';
  let s = t;
  if (s.startsWith('$')) s = s.slice(1);
  else if (!s.startsWith('[')) s = '.' + s;
  const out: PathSegment[] = [];
  let i = 0;
  while (i < s.length) {
    if (s[i] === '.') {
      const m = /^[^.[\]\s]+/.exec(s.slice(i + 1));
      if (!m) return `"${text}": expected a field name after "." at ${i + 1}`;
      out.push(m[0]);
      i += 1 + m[0].length;
    } else if (s[i] === '[') {
      const rest = s.slice(i);
      const idx = /^\[(\d+)\]/.exec(rest);
      const quoted = /^\[\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*\]/.exec(rest);
      if (idx) {
        out.push(Number(idx[1]));
        i += idx[0].length;
      } else if (quoted) {
        out.push((quoted[1] ?? quoted[2]).replace(/\\(.)/g, '$1'));
        i += quoted[0].length;
      } else {
        return `"${text}": expected [index] or ['key'] at ${i + 1}`;
      }
    } else {
      return `"${text}": expected "." or "[" at ${i + 1}`;
    }
  }
  return out;
}

/** The value at `path`; `found` is false when a step of it is missing. */
export function valueAt(root: unknown, path: readonly PathSegment[]): { found: boolean; value: unknown } {
  let v = root;
  for (const seg of path) {
    if (typeof seg === 'number') {
      if (!Array.isArray(v) || seg >= v.length) return { found: false, value: undefined };
      v = v[seg];
    } else {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, seg)) {
        return { found: false, value: undefined };
      }
      v = (v as Record<string, unknown>)[seg];
    }
  }
  return { found: true, value: v };
}

/** JSON equality: the same type and value, arrays in order, objects with the same keys in any order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((x, i) => jsonEqual(x, bb[i]));
  }
  const ak = Object.keys(a as object);
  const bo = b as Record<string, unknown>;
  if (ak.length !== Object.keys(bo).length) return false;
  return ak.every((k) => Object.prototype.hasOwnProperty.call(bo, k) && jsonEqual((a as Record<string, unknown>)[k], bo[k]));
}

/** `$.a[0]['b c']` for segments (for messages). */
export function formatJsonPath(path: readonly PathSegment[]): string {
  let s = '$';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) s += `.${seg}`;
    else s += `['${seg.replace(/['\\]/g, '\\$&')}']`;
  }
  return s;
}
