// Reads typed values out of the YAML tree, each problem a diagnostic at its node: the parser's building blocks.

import { isAlias, isMap, isScalar, isSeq, type Document, type Node, type Scalar } from 'yaml';
import { createDiagnostic, type Diagnostic, type DiagnosticCode, type LineIndex, type SourceRange } from './diagnostics';
import { scanRefs, type Ref } from './interpolate';
import type { ExternalRef, JsonValue } from './model';

export type YNode = Node | null | undefined;

export interface Entry {
  key: string;
  keyNode: Scalar;
  value: YNode;
}

/** The variable names that `${name}` may use at a point of the file. */
export class Scope {
  private readonly names = new Set<string>();
  constructor(
    private readonly parent?: Scope,
    /** Where `${$.path}` is allowed (a mock's reply). */
    readonly messagePaths: boolean = parent?.messagePaths ?? false,
  ) {}

  add(name: string): void {
    this.names.add(name);
  }

  has(name: string): boolean {
    if (this.names.has(name)) return true;
    // `${user.id}` reads into the variable `user`.
    for (let i = name.lastIndexOf('.'); i > 0; i = name.lastIndexOf('.', i - 1)) if (this.names.has(name.slice(0, i))) return true;
    return this.parent?.has(name) ?? false;
  }

  all(): string[] {
    return [...new Set([...(this.parent?.all() ?? []), ...this.names])];
  }
}

/** A `${name}` whose check waits until every scenario's captures are known (endpoints and named messages). */
interface DeferredRef {
  ref: Ref;
  range: SourceRange;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/;

export class Reader {
  readonly diagnostics: Diagnostic[] = [];
  readonly envRefs: ExternalRef[] = [];
  readonly secretRefs: ExternalRef[] = [];
  readonly deferred: DeferredRef[] = [];
  /** Where `${…}` names are checked; `undefined`: deferred (see `deferred`). */
  scope: Scope | undefined;

  constructor(
    readonly text: string,
    readonly doc: Document,
    readonly lines: LineIndex,
  ) {}

  range(node: YNode, fallback?: SourceRange): SourceRange {
    const r = node?.range;
    if (!r) return fallback ?? this.lines.range(0, 0);
    return this.lines.range(r[0], Math.max(r[1], r[0] + 1));
  }

  error(at: YNode | SourceRange, code: DiagnosticCode, message: string): undefined {
    this.diagnostics.push(createDiagnostic(isRange(at) ? at : this.range(at), code, message));
    return undefined;
  }

  warn(at: SourceRange, code: DiagnosticCode, message: string): void {
    this.diagnostics.push(createDiagnostic(at, code, message, 'warning'));
  }

  /** The node an alias stands for. */
  deref(node: YNode): YNode {
    return isAlias(node) ? (node.resolve(this.doc) as YNode) : node;
  }

  /** A mapping's entries, with unknown keys reported (`what` names the place: "a send step"). */
  map(node: YNode, what: string, allowed: readonly string[] | undefined, at?: SourceRange): Map<string, Entry> | undefined {
    const n = this.deref(node);
    if (!isMap(n)) return this.error(n ?? at ?? null, 'WSX_TYPE', `${what} must be a mapping (key: value lines)${describe(n)}`);
    const out = new Map<string, Entry>();
    for (const pair of n.items) {
      const k = pair.key as Node;
      if (!isScalar(k) || (typeof k.value !== 'string' && typeof k.value !== 'number')) {
        this.error(k, 'WSX_TYPE', `keys in ${what} must be plain names`);
        continue;
      }
      const key = String(k.value);
      if (allowed && !allowed.includes(key)) {
        this.error(k, 'WSX_UNKNOWN_KEY', `unknown key "${key}" in ${what}: expected ${oneOf(allowed)}${suggest(key, allowed)}`);
        continue;
      }
      out.set(key, { key, keyNode: k, value: pair.value as YNode });
    }
    return out;
  }

  /** Reports the first of `keys` missing from `entries`; true when all are there. */
  require(entries: Map<string, Entry>, keys: readonly string[], at: YNode | SourceRange, what: string): boolean {
    for (const k of keys) if (!entries.has(k)) return this.error(at, 'WSX_REQUIRED', `${what} needs "${k}"`) ?? false;
    return true;
  }

  /** A string; numbers and booleans are taken as written (`text: 42` is "42"). */
  string(node: YNode, what: string, at?: SourceRange): string | undefined {
    const n = this.deref(node);
    if (isScalar(n) && (typeof n.value === 'string' || typeof n.value === 'number' || typeof n.value === 'boolean')) {
      return typeof n.value === 'string' ? n.value : ((n as Scalar.Parsed).source ?? String(n.value));
    }
    return this.error(n ?? at ?? null, 'WSX_TYPE', `${what} must be a string${describe(n)}`);
  }

  /** A string whose `${…}` references are checked in the current scope. */
  interp(node: YNode, what: string, at?: SourceRange): string | undefined {
    const s = this.string(node, what, at);
    if (s !== undefined) this.checkRefs(this.deref(node), s);
    return s;
  }

  number(node: YNode, what: string, opts: { min?: number; max?: number; integer?: boolean } = {}): number | undefined {
    const n = this.deref(node);
    const v = isScalar(n) ? n.value : undefined;
    const kind = opts.integer ? 'an integer' : 'a number';
    const bounds = opts.min !== undefined && opts.max !== undefined ? ` from ${opts.min} to ${opts.max}` : opts.min !== undefined ? ` of at least ${opts.min}` : '';
    if (typeof v !== 'number' || !Number.isFinite(v) || (opts.integer && !Number.isInteger(v))) {
      return this.error(n, 'WSX_TYPE', `${what} must be ${kind}${bounds}${describe(n)}`);
    }
    if ((opts.min !== undefined && v < opts.min) || (opts.max !== undefined && v > opts.max)) {
      return this.error(n, 'WSX_TYPE', `${what} must be ${kind}${bounds}; got ${v}`);
    }
    return v;
  }

  bool(node: YNode, what: string): boolean | undefined {
    const n = this.deref(node);
    if (isScalar(n) && typeof n.value === 'boolean') return n.value;
    return this.error(n, 'WSX_TYPE', `${what} must be true or false${describe(n)}`);
  }

  /** Milliseconds: a number (ms) or a string like "500ms", "2s", "1m". */
  duration(node: YNode, what: string): number | undefined {
    const n = this.deref(node);
    const v = isScalar(n) ? n.value : undefined;
    if (typeof v === 'number' && v >= 0 && Number.isFinite(v)) return v;
    const m = typeof v === 'string' ? DURATION.exec(v.trim()) : null;
    if (m) return Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1);
    return this.error(n, typeof v === 'string' ? 'WSX_BAD_DURATION' : 'WSX_TYPE', `${what} must be a duration: milliseconds (500) or "500ms", "2s", "1m"${describe(n)}`);
  }

  /** A sequence's items. */
  list(node: YNode, what: string, at?: SourceRange): YNode[] | undefined {
    const n = this.deref(node);
    if (!isSeq(n)) return this.error(n ?? at ?? null, 'WSX_TYPE', `${what} must be a list (lines starting with "- ")${describe(n)}`);
    return n.items as YNode[];
  }

  /** A list of strings; one string stands for a list of one. */
  stringList(node: YNode, what: string): string[] | undefined {
    const n = this.deref(node);
    if (isScalar(n)) {
      const s = this.interp(n, what);
      return s === undefined ? undefined : [s];
    }
    const items = this.list(n, what);
    return items?.flatMap((i) => this.interp(i, `each of ${what}`) ?? []);
  }

  /** A mapping of names to strings (headers). */
  stringMap(node: YNode, what: string): Record<string, string> | undefined {
    const m = this.map(node, what, undefined);
    if (!m) return undefined;
    const out: Record<string, string> = {};
    for (const e of m.values()) {
      const v = this.interp(e.value, `${what}: ${e.key}`, this.range(e.keyNode));
      if (v !== undefined) out[e.key] = v;
    }
    return out;
  }

  /** The node as plain JSON, each string's references checked. */
  value(node: YNode): JsonValue {
    const n = this.deref(node);
    if (isMap(n)) {
      const o: Record<string, JsonValue> = {};
      for (const p of n.items) {
        const k = this.deref(p.key as Node);
        const key = isScalar(k) ? String(k.value) : String(k);
        if (isScalar(k) && typeof k.value === 'string') this.checkRefs(k, k.value);
        o[key] = this.value(p.value as YNode);
      }
      return o;
    }
    if (isSeq(n)) return n.items.map((i) => this.value(i as YNode));
    if (isScalar(n)) {
      const v = n.value;
      if (typeof v === 'string') this.checkRefs(n, v);
      if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null) return v;
      return v === undefined ? null : String(v);
    }
    return null;
  }

  /** Checks the `${…}` references in `s` (the value of `node`), and records the env and secret ones. */
  checkRefs(node: YNode, s: string): void {
    if (!s.includes('${')) return;
    const { refs, error } = scanRefs(s);
    if (error) this.error(this.refRange(node, s, error.at, error.at + 2), 'WSX_MISSING_VARIABLE', error.message);
    for (const ref of refs) {
      const range = this.refRange(node, s, ref.start, ref.end);
      if (ref.kind === 'env') this.envRefs.push({ name: ref.name, range });
      else if (ref.kind === 'secret') this.secretRefs.push({ name: ref.name, range });
      else if (this.scope === undefined) this.deferred.push({ ref, range });
      else this.checkName(this.scope, ref, range);
    }
  }

  /** Reports `ref` when `scope` does not define it. */
  checkName(scope: Scope, ref: Ref, range: SourceRange): void {
    if (ref.kind === 'path') {
      if (!scope.messagePaths) {
        this.error(range, 'WSX_MISSING_VARIABLE', `\${${ref.name}} reads the message a mock rule answers, and is only allowed in a mock's reply; in a scenario, capture the value into a variable first`);
      }
      return;
    }
    if (ref.kind !== 'var' || scope.has(ref.name)) return;
    const known = scope.all();
    this.error(
      range,
      'WSX_MISSING_VARIABLE',
      `variable "${ref.name}" is not defined here: define it under variables, capture it in an earlier step, or use \${env:${ref.name}}` +
        (known.length > 0 ? ` (defined here: ${known.slice(0, 12).join(', ')})` : ''),
    );
  }

  /** Where `s.slice(start, end)` is in the file: found in the node's source, else the node. */
  private refRange(node: YNode, s: string, start: number, end: number): SourceRange {
    const r = node?.range;
    if (!r) return this.range(node);
    const raw = this.text.slice(r[0], r[1]);
    const piece = s.slice(start, end);
    const i = raw.indexOf(piece);
    return i === -1 ? this.range(node) : this.lines.range(r[0] + i, r[0] + i + piece.length);
  }
}

function isRange(x: unknown): x is SourceRange {
  return typeof x === 'object' && x !== null && typeof (x as SourceRange).line === 'number' && typeof (x as SourceRange).offset === 'number';
}

/** "; got a list" and the like, for type errors. */
export function describe(n: YNode): string {
  if (n === null || n === undefined) return '; got nothing';
  if (isMap(n)) return '; got a mapping';
  if (isSeq(n)) return '; got a list';
  if (isScalar(n)) {
    const v = n.value;
    if (v === null) return '; got nothing (null)';
    if (typeof v === 'string') return `; got "${v.length > 40 ? v.slice(0, 40) + '…' : v}"`;
    return `; got ${String(v)}`;
  }
  return '';
}

export function oneOf(keys: readonly string[]): string {
  if (keys.length === 1) return `"${keys[0]}"`;
  return `one of ${keys.map((k) => `"${k}"`).join(', ')}`;
}

/** " (did you mean "expect"?)" for a near miss. */
export function suggest(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= (word.length <= 3 ? 1 : Math.max(2, Math.floor(word.length / 3))) ? ` (did you mean "${best}"?)` : '';
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}
