// The message parts of a scenario file: what is sent (a body), what a received message must be (a matcher), and
// what is taken from it (captures).

import { isMap, isScalar } from 'yaml';
import type { SourceRange } from './diagnostics';
import { parseJsonPath } from './jsonPath';
import type { CaptureSpec, JsonExpectation, JsonValue, MessageBody, MessageMatcher } from './model';
import { describe, oneOf, type Entry, type Reader, type YNode } from './reader';
import { schemaProblem } from './schemaCheck';

export const BODY_KEYS = ['text', 'json', 'hex', 'base64', 'file', 'message'] as const;
export const MATCHER_KEYS = ['text', 'regex', 'json', 'schema', 'schemaFile', 'opcode', 'length', 'message'] as const;

/** The body among `entries` (exactly one of BODY_KEYS; `binary` goes with `file`). */
export function readBody(r: Reader, entries: Map<string, Entry>, at: SourceRange, what: string): MessageBody | undefined {
  const given = BODY_KEYS.filter((k) => entries.has(k));
  if (given.length === 0) return r.error(at, 'WSX_REQUIRED', `${what} needs what to send: ${oneOf(BODY_KEYS)}`);
  if (given.length > 1) return r.error(entries.get(given[1])!.keyNode, 'WSX_CONFLICT', `${what} takes one of ${BODY_KEYS.join(', ')}; got both "${given[0]}" and "${given[1]}"`);
  const e = entries.get(given[0])!;
  const range = r.range(e.keyNode);
  if (entries.has('binary') && given[0] !== 'file') r.error(entries.get('binary')!.keyNode, 'WSX_CONFLICT', '"binary" goes with "file" only');
  switch (given[0]) {
    case 'text': {
      const text = r.interp(e.value, 'text', range);
      return text === undefined ? undefined : { kind: 'text', text, range };
    }
    case 'json':
      return { kind: 'json', json: r.value(e.value), range };
    case 'hex': {
      const hex = r.interp(e.value, 'hex', range);
      if (hex !== undefined && !hex.includes('${') && !/^(?:[0-9a-fA-F]{2}|[\s:])*$/.test(hex)) {
        r.error(e.value, 'WSX_BAD_HEX', `hex must be pairs of hex digits (spaces allowed), like "81 05 48 65"; got "${hex}"`);
      }
      return hex === undefined ? undefined : { kind: 'hex', hex, range };
    }
    case 'base64': {
      const base64 = r.interp(e.value, 'base64', range);
      if (base64 !== undefined && !base64.includes('${') && !/^[A-Za-z0-9+/_\-\s]*={0,2}\s*$/.test(base64)) {
        r.error(e.value, 'WSX_BAD_BASE64', `base64 must be base64 text, like "SGVsbG8="; got "${base64}"`);
      }
      return base64 === undefined ? undefined : { kind: 'base64', base64, range };
    }
    case 'file': {
      const path = r.interp(e.value, 'file', range);
      const b = entries.get('binary');
      const binary = b ? r.bool(b.value, 'binary') : true;
      return path === undefined ? undefined : { kind: 'file', path, binary: binary ?? true, range };
    }
    default: {
      const name = r.string(e.value, 'message', range);
      return name === undefined ? undefined : { kind: 'ref', name, range };
    }
  }
}

/** A body written on its own (a named message, a mock's reply): a mapping, or a string for text. */
export function readBodyNode(r: Reader, node: YNode, what: string, at: SourceRange): MessageBody | undefined {
  const n = r.deref(node);
  if (isScalar(n) && typeof n.value === 'string') {
    const text = r.interp(n, what);
    return text === undefined ? undefined : { kind: 'text', text, range: r.range(n) };
  }
  const entries = r.map(n, what, [...BODY_KEYS, 'binary'], at);
  return entries && readBody(r, entries, r.range(n, at), what);
}

/** A matcher from the MATCHER_KEYS among `entries`; at least one must be there. */
export function readMatcher(r: Reader, entries: Map<string, Entry>, at: SourceRange, what: string): MessageMatcher | undefined {
  if (!MATCHER_KEYS.some((k) => entries.has(k))) {
    return r.error(at, 'WSX_REQUIRED', `${what} needs at least one test of the message: ${oneOf(MATCHER_KEYS)}`);
  }
  const m: MessageMatcher = { range: at };
  for (const e of entries.values()) {
    const range = r.range(e.keyNode);
    switch (e.key) {
      case 'text':
        m.text = r.interp(e.value, 'text', range);
        break;
      case 'regex':
        m.regex = readRegex(r, e.value, 'regex', range);
        break;
      case 'json':
        m.json = readJsonExpectations(r, e.value, range);
        break;
      case 'schema':
        m.schema = readSchema(r, e.value, range);
        break;
      case 'schemaFile': {
        const file = r.interp(e.value, 'schemaFile', range);
        if (file !== undefined) m.schema = { file };
        break;
      }
      case 'opcode':
        m.opcode = readOpcode(r, e.value);
        break;
      case 'length':
        m.length = readLength(r, e.value);
        break;
      case 'message':
        m.message = r.string(e.value, 'message', range);
        break;
    }
  }
  if (entries.has('schema') && entries.has('schemaFile')) r.error(entries.get('schemaFile')!.keyNode, 'WSX_CONFLICT', 'give "schema" or "schemaFile", not both');
  return m;
}

/** `/pattern/flags`, or a plain pattern. */
export function readRegex(r: Reader, node: YNode, what: string, at: SourceRange): { source: string; flags: string } | undefined {
  const s = r.interp(node, what, at);
  if (s === undefined) return undefined;
  const slashed = /^\/(.*)\/([dgimsuvy]*)$/s.exec(s);
  const re = slashed ? { source: slashed[1], flags: slashed[2] } : { source: s, flags: '' };
  if (!s.includes('${')) {
    try {
      new RegExp(re.source, re.flags);
    } catch (err) {
      r.error(node, 'WSX_BAD_REGEX', `${what} is not a valid regular expression: ${(err as Error).message}`);
    }
  }
  return re;
}

function readJsonExpectations(r: Reader, node: YNode, at: SourceRange): JsonExpectation[] | undefined {
  const n = r.deref(node);
  if (!isMap(n)) return [{ path: '$', segments: [], value: r.value(n), range: r.range(n, at) }];
  const out: JsonExpectation[] = [];
  const entries = r.map(n, 'json', undefined, at) ?? new Map<string, Entry>();
  for (const e of entries.values()) {
    const segments = parseJsonPath(e.key);
    if (typeof segments === 'string') {
      r.error(e.keyNode, 'WSX_BAD_JSON_PATH', `${segments}; keys under json are JSON paths like $.type or items[0].id`);
      continue;
    }
    out.push({ path: e.key, segments, value: r.value(e.value), range: r.range(e.keyNode) });
  }
  return out;
}

function readSchema(r: Reader, node: YNode, at: SourceRange): { inline: JsonValue } | undefined {
  const n = r.deref(node);
  if (!isMap(n) && !(isScalar(n) && typeof n.value === 'boolean')) {
    return r.error(n ?? at, 'WSX_TYPE', `schema must be a JSON Schema (a mapping like { type: object, required: [id] })${describe(n)}`);
  }
  const inline = r.value(n);
  const problem = schemaProblem(inline);
  if (problem) r.error(n, 'WSX_BAD_SCHEMA', `schema is not a valid JSON Schema (draft-07): ${problem}`);
  return { inline };
}

function readOpcode(r: Reader, node: YNode): 'text' | 'binary' | undefined {
  const n = r.deref(node);
  const v = isScalar(n) ? n.value : undefined;
  if (v === 'text' || v === 1) return 'text';
  if (v === 'binary' || v === 2) return 'binary';
  return r.error(n, 'WSX_TYPE', `opcode must be text (1) or binary (2)${describe(n)}`);
}

function readLength(r: Reader, node: YNode): { min?: number; max?: number } | undefined {
  const n = r.deref(node);
  if (isScalar(n)) {
    const v = r.number(n, 'length', { min: 0, integer: true });
    return v === undefined ? undefined : { min: v, max: v };
  }
  const e = r.map(n, 'length', ['min', 'max']);
  if (!e) return undefined;
  const min = e.has('min') ? r.number(e.get('min')!.value, 'length.min', { min: 0, integer: true }) : undefined;
  const max = e.has('max') ? r.number(e.get('max')!.value, 'length.max', { min: 0, integer: true }) : undefined;
  if (min === undefined && max === undefined) return r.error(n, 'WSX_REQUIRED', 'length needs "min", "max", or both');
  return { min, max };
}

/** One capture: a JSON path string, or `{ path }` / `{ regex }`. */
export function readCapture(r: Reader, as: string, node: YNode, at: SourceRange): CaptureSpec | undefined {
  const n = r.deref(node);
  if (isScalar(n)) {
    const text = r.string(n, `capture of ${as}`);
    if (text === undefined) return undefined;
    return withPath(r, { as, range: at }, text, n);
  }
  const e = r.map(n, `capture of ${as}`, ['path', 'regex'], at);
  if (!e) return undefined;
  return readCaptureSource(r, as, e, at);
}

/** The `path` or `regex` of a capture among `e`. */
export function readCaptureSource(r: Reader, as: string, e: Map<string, Entry>, at: SourceRange, pathKey = 'path'): CaptureSpec | undefined {
  const path = e.get(pathKey);
  const regex = e.get('regex');
  if (path && regex) return r.error(regex.keyNode, 'WSX_CONFLICT', `a capture takes "${pathKey}" (a JSON path) or "regex", not both`);
  if (!path && !regex) return r.error(at, 'WSX_REQUIRED', `a capture needs "${pathKey}" (a JSON path like $.session.id) or "regex" (its first group is taken)`);
  const spec: CaptureSpec = { as, range: at };
  if (regex) {
    spec.regex = readRegex(r, regex.value, 'regex', r.range(regex.keyNode));
    return spec.regex && spec;
  }
  const text = r.string(path!.value, pathKey, r.range(path!.keyNode));
  return text === undefined ? undefined : withPath(r, spec, text, path!.value);
}

function withPath(r: Reader, spec: CaptureSpec, text: string, node: YNode): CaptureSpec | undefined {
  const segments = parseJsonPath(text);
  if (typeof segments === 'string') return r.error(node, 'WSX_BAD_JSON_PATH', `${segments}; a capture takes a JSON path like $.session.id`);
  return { ...spec, path: segments, pathText: text };
}
