// Whether a received message is what a matcher asks for, and if not, what was expected and what came, as texts a diff
// view can set side by side.

import { readFile } from 'node:fs/promises';
import { encodeBody, resolvePath, type BodyContext } from './body';
import { MissingValueError } from './interpolate';
import { formatJsonPath, jsonEqual, valueAt } from './jsonPath';
import type { MessageMatcher, PathSegment } from './model';
import { atPointer, checkSchema } from './schemaCheck';

/** A message as a scenario connection or the mock got it. */
export interface Received {
  data: Buffer;
  isBinary: boolean;
  /** Order of arrival on its connection, from 1. */
  seq: number;
  /** Parsed JSON, once asked for: `undefined` not yet, `NOT_JSON` when it is not JSON. */
  json?: unknown;
}

const NOT_JSON = Symbol('not JSON');

/** The message's JSON, or NOT_JSON. */
export function jsonOf(m: Received): unknown {
  if (m.json === undefined) {
    try {
      m.json = m.isBinary ? NOT_JSON : JSON.parse(m.data.toString('utf8'));
    } catch {
      m.json = NOT_JSON;
    }
  }
  return m.json;
}

export function isJson(v: unknown): boolean {
  return v !== NOT_JSON;
}

const MAX_SHOWN_BYTES = 4096;

/** The message as a person reads it: its JSON pretty-printed, its text, or binary as hex. */
export function showReceived(m: Received): string {
  if (m.isBinary) {
    const hex = m.data.subarray(0, MAX_SHOWN_BYTES).toString('hex').replace(/(..)(?!$)/g, '$1 ');
    return `binary, ${m.data.length} bytes: ${hex}${m.data.length > MAX_SHOWN_BYTES ? ' …' : ''}`;
  }
  const j = jsonOf(m);
  if (isJson(j) && j !== null && typeof j === 'object') return JSON.stringify(j, null, 2);
  const t = m.data.toString('utf8');
  return t.length > MAX_SHOWN_BYTES ? t.slice(0, MAX_SHOWN_BYTES) + ' …' : t;
}

/** A matcher with its variables filled in, its schema file read and its named message encoded. */
export interface ResolvedMatcher {
  source: MessageMatcher;
  text?: string;
  regex?: RegExp;
  json?: Array<{ path: string; segments: PathSegment[]; value: unknown }>;
  schema?: unknown;
  opcode?: 'text' | 'binary';
  length?: { min?: number; max?: number };
  message?: { name: string; data: string | Buffer; json: unknown };
}

/** Schema files read so far, by path (a file named by many expects is read once per run). */
export type SchemaFiles = Map<string, unknown>;

export async function resolveMatcher(m: MessageMatcher, c: BodyContext, schemas: SchemaFiles): Promise<ResolvedMatcher> {
  const r: ResolvedMatcher = { source: m, opcode: m.opcode, length: m.length };
  if (m.text !== undefined) r.text = c.vars.text(m.text);
  if (m.regex) {
    const source = c.vars.text(m.regex.source);
    try {
      r.regex = new RegExp(source, m.regex.flags);
    } catch (err) {
      throw new MissingValueError(`regex /${source}/ is not valid once its variables are filled in: ${(err as Error).message}`);
    }
  }
  if (m.json) r.json = m.json.map((j) => ({ path: j.path, segments: j.segments, value: c.vars.value(j.value) }));
  if (m.schema) r.schema = 'inline' in m.schema ? m.schema.inline : await schemaFile(resolvePath(c.baseDir, c.vars.text(m.schema.file)), schemas);
  if (m.message !== undefined) {
    const data = await encodeBody({ kind: 'ref', name: m.message, range: m.range }, c);
    let json: unknown = NOT_JSON;
    if (typeof data === 'string') {
      try {
        json = JSON.parse(data);
      } catch {
        // Compared as text.
      }
    }
    r.message = { name: m.message, data, json };
  }
  return r;
}

async function schemaFile(path: string, schemas: SchemaFiles): Promise<unknown> {
  if (schemas.has(path)) return schemas.get(path);
  let schema: unknown;
  try {
    schema = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the JSON Schema ${path}: ${(err as Error).message}`, { cause: err });
  }
  schemas.set(path, schema);
  return schema;
}

/** Why a message does not match: `expected` and `actual` are texts for a diff. */
export interface Mismatch {
  reason: string;
  expected: string;
  actual: string;
}

const MISSING = '<missing>';

/** The first test of `m` that `msg` fails, or undefined when it matches. */
export function mismatch(m: ResolvedMatcher, msg: Received): Mismatch | undefined {
  const opcode = msg.isBinary ? 'binary' : 'text';
  if (m.opcode !== undefined && m.opcode !== opcode) {
    return { reason: `a ${opcode} message where a ${m.opcode} one was expected`, expected: `opcode: ${m.opcode}`, actual: `opcode: ${opcode}` };
  }
  const len = msg.data.length;
  if (m.length && ((m.length.min !== undefined && len < m.length.min) || (m.length.max !== undefined && len > m.length.max))) {
    const want = lengthText(m.length);
    return { reason: `a message of ${len} bytes where ${want} bytes were expected`, expected: `length: ${want}`, actual: `length: ${len}` };
  }
  const text = msg.isBinary ? undefined : msg.data.toString('utf8');
  if (m.text !== undefined && text !== m.text) {
    return { reason: text === undefined ? 'a binary message where text was expected' : 'the text differs', expected: m.text, actual: showReceived(msg) };
  }
  if (m.regex) {
    m.regex.lastIndex = 0;
    if (text === undefined || !m.regex.test(text)) {
      return { reason: `the text does not match /${m.regex.source}/${m.regex.flags}`, expected: `/${m.regex.source}/${m.regex.flags}`, actual: showReceived(msg) };
    }
  }
  return jsonMismatch(m, msg) ?? schemaMismatch(m, msg) ?? messageMismatch(m, msg);
}

function lengthText(l: { min?: number; max?: number }): string {
  if (l.min === l.max) return String(l.min);
  if (l.max === undefined) return `at least ${l.min}`;
  if (l.min === undefined) return `at most ${l.max}`;
  return `${l.min}..${l.max}`;
}

function notJson(what: string, expected: string, msg: Received): Mismatch {
  return { reason: `the message is not JSON, so ${what} cannot be checked`, expected, actual: showReceived(msg) };
}

function jsonMismatch(m: ResolvedMatcher, msg: Received): Mismatch | undefined {
  if (!m.json || m.json.length === 0) return undefined;
  const expectedObj = Object.fromEntries(m.json.map((j) => [j.path, j.value]));
  const expected = JSON.stringify(expectedObj, null, 2);
  const root = jsonOf(msg);
  if (!isJson(root)) return notJson('its JSON paths', expected, msg);
  const wrong: string[] = [];
  const actualObj: Record<string, unknown> = {};
  for (const j of m.json) {
    const { found, value } = valueAt(root, j.segments);
    actualObj[j.path] = found ? value : MISSING;
    if (!found || !jsonEqual(value, j.value)) {
      wrong.push(found ? `${formatJsonPath(j.segments)} is ${JSON.stringify(value)}, expected ${JSON.stringify(j.value)}` : `${formatJsonPath(j.segments)} is missing`);
    }
  }
  if (wrong.length === 0) return undefined;
  return { reason: wrong.join('; '), expected, actual: JSON.stringify(actualObj, null, 2) };
}

function schemaMismatch(m: ResolvedMatcher, msg: Received): Mismatch | undefined {
  if (m.schema === undefined) return undefined;
  const root = jsonOf(msg);
  if (!isJson(root)) return notJson('its JSON Schema', JSON.stringify(m.schema, null, 2), msg);
  const violations = checkSchema(m.schema, root);
  if (violations.length === 0) return undefined;
  const expected = violations.map((v) => `${v.pointer}: ${v.expected}`);
  const actual = violations.map((v) => {
    const { found, value } = atPointer(root, v.pointer);
    return `${v.pointer}: ${found ? JSON.stringify(value) : MISSING}`;
  });
  return { reason: `the message does not match the JSON Schema: ${expected.join('; ')}`, expected: expected.join('\n'), actual: actual.join('\n') };
}

function messageMismatch(m: ResolvedMatcher, msg: Received): Mismatch | undefined {
  if (!m.message) return undefined;
  const want = m.message;
  const root = jsonOf(msg);
  const same = isJson(want.json) && isJson(root) ? jsonEqual(want.json, root) : typeof want.data === 'string' ? !msg.isBinary && msg.data.toString('utf8') === want.data : msg.isBinary && want.data.equals(msg.data);
  if (same) return undefined;
  const expected = isJson(want.json) && want.json !== null && typeof want.json === 'object' ? JSON.stringify(want.json, null, 2) : showData(want.data);
  return { reason: `the message is not "${want.name}"`, expected, actual: showReceived(msg) };
}

function showData(d: string | Buffer): string {
  return typeof d === 'string' ? d : showReceived({ data: d, isBinary: true, seq: 0 });
}

/** Everything `m` asks for, one test a line (or its JSON alone): the expected side of a time-out's diff. */
export function describeMatcher(m: ResolvedMatcher): string {
  const lines: string[] = [];
  if (m.opcode) lines.push(`opcode: ${m.opcode}`);
  if (m.length) lines.push(`length: ${lengthText(m.length)}`);
  if (m.text !== undefined) lines.push(m.json || m.regex || m.schema !== undefined || m.message ? `text: ${m.text}` : m.text);
  if (m.regex) lines.push(`regex: /${m.regex.source}/${m.regex.flags}`);
  if (m.json) {
    const j = JSON.stringify(Object.fromEntries(m.json.map((x) => [x.path, x.value])), null, 2);
    lines.push(lines.length === 0 && m.schema === undefined && !m.message ? j : `json: ${j}`);
  }
  if (m.schema !== undefined) lines.push(`schema: ${JSON.stringify(m.schema, null, 2)}`);
  if (m.message) lines.push(`message ${m.message.name}: ${isJson(m.message.json) ? JSON.stringify(m.message.json, null, 2) : showData(m.message.data)}`);
  return lines.join('\n');
}
