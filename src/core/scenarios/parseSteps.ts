// A scenario's steps: each list item is a mapping with one step key (connect, send, expect, capture, wait, repeat,
// close, expectClose) and an optional `name`.

import { isScalar } from 'yaml';
import type { SourceRange } from './diagnostics';
import { isValidCloseCode } from '../wire/constants';
import { scanRefs } from './interpolate';
import type { CaptureSpec, CloseStep, ConnectStep, ExpectCloseStep, ExpectStep, MessageMatcher, RepeatStep, Step, StepKind } from './model';
import { STEP_KINDS } from './model';
import { BODY_KEYS, MATCHER_KEYS, readBody, readCapture, readCaptureSource, readMatcher } from './parseMessage';
import { describe, oneOf, Scope, suggest, type Entry, type Reader, type YNode } from './reader';

/** What the steps of one scenario are read against. */
export interface StepContext {
  r: Reader;
  endpoints: ReadonlySet<string>;
  messages: ReadonlySet<string>;
  /** Connections opened by the steps so far, in order. */
  connections: string[];
  /** The scenario's own scope: captures go here, so later steps (also after a repeat) see them. */
  scenarioScope: Scope;
  /** Every name any scenario captures (the deferred checks of endpoints and named messages use it). */
  allCaptures: Set<string>;
}

type Reading = (c: StepContext, node: YNode, at: SourceRange) => Step | undefined;

const READERS: Record<StepKind, Reading> = {
  connect: readConnect,
  send: readSend,
  expect: readExpect,
  capture: readCaptureStep,
  wait: (c, node) => {
    const ms = c.r.duration(node, 'wait');
    return ms === undefined ? undefined : { kind: 'wait', ms, range: c.r.range(node) };
  },
  repeat: readRepeat,
  close: readClose,
  expectClose: readExpectClose,
};

export function readSteps(c: StepContext, node: YNode, at: SourceRange): Step[] {
  const items = c.r.list(node, 'steps', at) ?? [];
  const steps: Step[] = [];
  for (const item of items) {
    const s = readStep(c, item);
    if (s) steps.push(s);
  }
  return steps;
}

function readStep(c: StepContext, node: YNode): Step | undefined {
  const r = c.r;
  if (isScalar(r.deref(node))) {
    return r.error(node, 'WSX_TYPE', `a step is a mapping with one of ${STEP_KINDS.join(', ')}, like "- send: hello"${describe(r.deref(node))}`);
  }
  const entries = r.map(node, 'a step', undefined);
  if (!entries) return undefined;
  const kinds = [...entries.keys()].filter((k): k is StepKind => (STEP_KINDS as readonly string[]).includes(k));
  for (const e of entries.values()) {
    if (e.key === 'name' || (STEP_KINDS as readonly string[]).includes(e.key)) continue;
    if (kinds.length === 0) r.error(e.keyNode, 'WSX_UNKNOWN_STEP', `unknown step "${e.key}": expected ${oneOf(STEP_KINDS)}${suggest(e.key, STEP_KINDS)}`);
    else r.error(e.keyNode, 'WSX_UNKNOWN_KEY', `unknown key "${e.key}" beside the ${kinds[0]} step: only "name" goes there; the step's own keys go under "${kinds[0]}:"`);
  }
  if (kinds.length === 0) {
    if (entries.size === 0 || [...entries.keys()].every((k) => k === 'name')) r.error(node, 'WSX_REQUIRED', `a step needs one of ${STEP_KINDS.join(', ')}`);
    return undefined;
  }
  if (kinds.length > 1) return r.error(entries.get(kinds[1])!.keyNode, 'WSX_CONFLICT', `one step per list item: "${kinds[0]}" and "${kinds[1]}" need a "- " each`);
  const e = entries.get(kinds[0])!;
  const range = r.range(node);
  const step = READERS[kinds[0]](c, e.value, r.range(e.keyNode));
  if (!step) return undefined;
  step.range = range;
  const name = entries.get('name');
  if (name) step.name = r.string(name.value, 'name');
  return step;
}

/** The step's `connection`, or the only one open; reported when it is unknown or not clear. */
function connectionOf(c: StepContext, e: Map<string, Entry> | undefined, at: SourceRange): string | undefined {
  const given = e?.get('connection');
  const open = c.connections;
  if (given) {
    const name = c.r.string(given.value, 'connection');
    if (name === undefined) return undefined;
    if (!open.includes(name)) {
      return c.r.error(given.value, 'WSX_UNKNOWN_CONNECTION', `no connection "${name}" is opened before this step: connect it first${open.length ? ` (opened: ${open.join(', ')})` : ''}`);
    }
    return name;
  }
  if (open.length === 1) return open[0];
  if (open.length === 0) return c.r.error(at, 'WSX_UNKNOWN_CONNECTION', 'no connection is opened before this step: add a connect step first');
  return c.r.error(at, 'WSX_REQUIRED', `which connection? add connection: ${oneOf(open)}`);
}

function readConnect(c: StepContext, node: YNode, at: SourceRange): ConnectStep | undefined {
  const r = c.r;
  if (isScalar(r.deref(node))) {
    const endpoint = r.string(node, 'connect');
    if (endpoint === undefined || !knownEndpoint(c, endpoint, node)) return undefined;
    addConnection(c, endpoint);
    return { kind: 'connect', connection: endpoint, endpoint, range: at };
  }
  const keys = ['connection', 'endpoint', 'url', 'headers', 'subprotocols', 'status', 'subprotocol', 'within'];
  const e = r.map(node, 'a connect step', keys, at);
  if (!e) return undefined;
  const get = (k: string) => e.get(k)?.value;
  const step: ConnectStep = { kind: 'connect', connection: '', range: at };
  if (e.has('endpoint') && e.has('url')) r.error(e.get('url')!.keyNode, 'WSX_CONFLICT', 'give "endpoint" or "url", not both');
  if (e.has('url')) step.url = r.interp(get('url'), 'url');
  if (e.has('endpoint')) step.endpoint = r.string(get('endpoint'), 'endpoint');
  const conn = e.has('connection') ? r.string(get('connection'), 'connection') : step.endpoint;
  if (conn === undefined) return r.error(at, 'WSX_REQUIRED', 'a connect step with a url needs "connection": the name later steps use for it');
  step.connection = conn;
  if (step.url === undefined && step.endpoint === undefined) step.endpoint = conn;
  if (step.endpoint !== undefined && !knownEndpoint(c, step.endpoint, e.get('endpoint')?.value ?? e.get('connection')?.value)) return undefined;
  if (e.has('headers')) step.headers = r.stringMap(get('headers'), 'headers');
  if (e.has('subprotocols')) step.subprotocols = r.stringList(get('subprotocols'), 'subprotocols');
  if (e.has('status')) step.status = r.number(get('status'), 'status', { min: 100, max: 599, integer: true });
  if (e.has('subprotocol')) {
    const v = r.deref(get('subprotocol'));
    step.subprotocol = isScalar(v) && v.value === null ? '' : r.string(v, 'subprotocol');
  }
  if (e.has('within')) step.withinMs = r.duration(get('within'), 'within');
  addConnection(c, conn);
  return step;
}

function knownEndpoint(c: StepContext, name: string, node: YNode): boolean {
  if (c.endpoints.has(name)) return true;
  const known = [...c.endpoints];
  c.r.error(node, 'WSX_UNKNOWN_ENDPOINT', `no endpoint named "${name}" under endpoints${known.length ? `: expected ${oneOf(known)}${suggest(name, known)}` : ''}, or give a url`);
  return false;
}

function addConnection(c: StepContext, name: string): void {
  if (!c.connections.includes(name)) c.connections.push(name);
}

function knownMessage(c: StepContext, name: string | undefined, at: SourceRange): boolean {
  if (name === undefined || c.messages.has(name)) return name !== undefined;
  const known = [...c.messages];
  c.r.error(at, 'WSX_UNKNOWN_MESSAGE', `no message named "${name}" under messages${known.length ? `: expected ${oneOf(known)}${suggest(name, known)}` : ''}; to send it as text, write { text: ${name} }`);
  return false;
}

function readSend(c: StepContext, node: YNode, at: SourceRange): Step | undefined {
  const r = c.r;
  if (isScalar(r.deref(node))) {
    const name = r.string(node, 'send');
    const connection = connectionOf(c, undefined, at);
    if (!knownMessage(c, name, r.range(node)) || connection === undefined) return undefined;
    return { kind: 'send', connection, body: { kind: 'ref', name: name!, range: r.range(node) }, range: at };
  }
  const e = r.map(node, 'a send step', ['connection', ...BODY_KEYS, 'binary'], at);
  if (!e) return undefined;
  const connection = connectionOf(c, e, at);
  const body = readBody(r, e, at, 'a send step');
  if (body?.kind === 'ref' && !knownMessage(c, body.name, body.range)) return undefined;
  return body && connection !== undefined ? { kind: 'send', connection, body, range: at } : undefined;
}

function readExpect(c: StepContext, node: YNode, at: SourceRange): ExpectStep | undefined {
  const r = c.r;
  if (isScalar(r.deref(node))) {
    const name = r.string(node, 'expect');
    const connection = connectionOf(c, undefined, at);
    if (!knownMessage(c, name, r.range(node)) || connection === undefined) return undefined;
    const matchers = [{ message: name, range: r.range(node) }];
    return { kind: 'expect', connection, matchers, ordered: true, allowOthers: false, captures: [], range: at };
  }
  const keys = ['connection', 'within', 'allowOthers', 'ordered', 'capture', 'messages', ...MATCHER_KEYS];
  const e = r.map(node, 'an expect step', keys, at);
  if (!e) return undefined;
  const connection = connectionOf(c, e, at);
  const matchers = readMatchers(c, e, at);
  const step: ExpectStep = { kind: 'expect', connection: connection ?? '', matchers: matchers ?? [], ordered: true, allowOthers: false, captures: [], range: at };
  if (e.has('within')) step.withinMs = r.duration(e.get('within')!.value, 'within');
  if (e.has('allowOthers')) step.allowOthers = r.bool(e.get('allowOthers')!.value, 'allowOthers') ?? false;
  if (e.has('ordered')) {
    step.ordered = r.bool(e.get('ordered')!.value, 'ordered') ?? true;
    if (!e.has('messages')) r.error(e.get('ordered')!.keyNode, 'WSX_CONFLICT', '"ordered" goes with "messages" (several expected messages)');
  }
  if (e.has('capture')) step.captures = readCaptureMap(c, e.get('capture')!.value, r.range(e.get('capture')!.keyNode));
  return connection === undefined || matchers === undefined ? undefined : step;
}

function readMatchers(c: StepContext, e: Map<string, Entry>, at: SourceRange): MessageMatcher[] | undefined {
  const r = c.r;
  const inline = MATCHER_KEYS.filter((k) => e.has(k));
  const list = e.get('messages');
  if (!list) {
    const m = readMatcher(r, e, at, 'an expect step');
    if (m?.message !== undefined && !knownMessage(c, m.message, m.range)) return undefined;
    return m && [m];
  }
  if (inline.length > 0) return r.error(e.get(inline[0])!.keyNode, 'WSX_CONFLICT', `"${inline[0]}" goes inside one of the "messages" when an expect lists several`);
  const items = r.list(list.value, 'messages', r.range(list.keyNode)) ?? [];
  const out: MessageMatcher[] = [];
  for (const item of items) {
    const at1 = r.range(item);
    if (isScalar(r.deref(item))) {
      const name = r.string(item, 'a message name');
      if (knownMessage(c, name, at1)) out.push({ message: name, range: at1 });
      continue;
    }
    const me = r.map(item, 'an expected message', MATCHER_KEYS, at1);
    const m = me && readMatcher(r, me, at1, 'an expected message');
    if (m && (m.message === undefined || knownMessage(c, m.message, m.range))) out.push(m);
  }
  if (items.length === 0) r.error(list.value ?? at, 'WSX_REQUIRED', 'messages needs at least one expected message');
  return out;
}

function readCaptureMap(c: StepContext, node: YNode, at: SourceRange): CaptureSpec[] {
  const e = c.r.map(node, 'capture (variable: JSON path)', undefined, at);
  const out: CaptureSpec[] = [];
  for (const x of e?.values() ?? []) {
    const spec = readCapture(c.r, x.key, x.value, c.r.range(x.keyNode));
    if (spec) out.push(spec);
  }
  // Known from the next step on (after the expect itself).
  for (const s of out) addCaptured(c, s.as);
  return out;
}

function addCaptured(c: StepContext, name: string): void {
  c.scenarioScope.add(name);
  c.allCaptures.add(name);
}

function readCaptureStep(c: StepContext, node: YNode, at: SourceRange): Step | undefined {
  const r = c.r;
  const e = r.map(node, 'a capture step', ['connection', 'as', 'from', 'regex'], at);
  if (!e) return undefined;
  const connection = connectionOf(c, e, at);
  if (!r.require(e, ['as'], at, 'a capture step')) return undefined;
  const as = r.string(e.get('as')!.value, 'as');
  const spec = as === undefined ? undefined : readCaptureSource(r, as, e, at, 'from');
  if (!spec || connection === undefined) return undefined;
  addCaptured(c, spec.as);
  return { kind: 'capture', connection, captures: [spec], range: at };
}

function readRepeat(c: StepContext, node: YNode, at: SourceRange): RepeatStep | undefined {
  const r = c.r;
  const e = r.map(node, 'a repeat step', ['times', 'over', 'as', 'index', 'steps'], at);
  if (!e || !r.require(e, ['steps'], at, 'a repeat step')) return undefined;
  const step: RepeatStep = { kind: 'repeat', as: 'item', index: 'index', steps: [], range: at };
  if (e.has('times') === e.has('over')) return r.error(at, e.has('times') ? 'WSX_CONFLICT' : 'WSX_REQUIRED', 'a repeat step needs "times" (a count) or "over" (a list), one of the two');
  if (e.has('times')) step.times = r.number(e.get('times')!.value, 'times', { min: 0, max: 1_000_000, integer: true });
  if (e.has('over')) step.over = readOver(c, e.get('over')!);
  if (e.has('as')) step.as = r.string(e.get('as')!.value, 'as') ?? 'item';
  if (e.has('index')) step.index = r.string(e.get('index')!.value, 'index') ?? 'index';
  const outer = r.scope;
  const inner = new Scope(outer);
  inner.add(step.as);
  inner.add(step.index);
  c.allCaptures.add(step.as);
  c.allCaptures.add(step.index);
  r.scope = inner;
  try {
    step.steps = readSteps(c, e.get('steps')!.value, r.range(e.get('steps')!.keyNode));
  } finally {
    r.scope = outer;
  }
  return step;
}

function readOver(c: StepContext, e: Entry): RepeatStep['over'] {
  const r = c.r;
  const n = r.deref(e.value);
  if (isScalar(n) && typeof n.value === 'string') {
    const { refs } = scanRefs(n.value);
    const whole = refs.length === 1 && refs[0].kind === 'var' && refs[0].start === 0 && refs[0].end === n.value.length;
    if (!whole) return r.error(n, 'WSX_TYPE', `over must be a list, or one variable that holds a list, like over: \${items}${describe(n)}`);
    r.checkRefs(n, n.value);
    return { variable: refs[0].name };
  }
  const items = r.list(n, 'over', r.range(e.keyNode));
  return items?.map((i) => r.value(i));
}

function readClose(c: StepContext, node: YNode, at: SourceRange): CloseStep | undefined {
  const r = c.r;
  const n = r.deref(node);
  const step: CloseStep = { kind: 'close', connection: '', code: 1000, reason: '', range: at };
  let e: Map<string, Entry> | undefined;
  if (isScalar(n) && typeof n.value === 'number') step.code = closeCode(c, n, 'code', true) ?? 1000;
  else if (isScalar(n) && n.value !== null) e = new Map([['connection', { key: 'connection', keyNode: n, value: n }]]);
  else if (!isScalar(n)) {
    e = r.map(n, 'a close step', ['connection', 'code', 'reason', 'expectCode', 'within'], at);
    if (!e) return undefined;
  }
  const connection = connectionOf(c, e, at);
  if (e?.has('code')) step.code = closeCode(c, e.get('code')!.value, 'code', true) ?? 1000;
  if (e?.has('reason')) step.reason = r.interp(e.get('reason')!.value, 'reason') ?? '';
  if (e?.has('expectCode')) step.expectCode = closeCode(c, e.get('expectCode')!.value, 'expectCode', false);
  if (e?.has('within')) step.withinMs = r.duration(e.get('within')!.value, 'within');
  return connection === undefined ? undefined : { ...step, connection };
}

function closeCode(c: StepContext, node: YNode, what: string, toSend: boolean): number | undefined {
  const code = c.r.number(node, what, { min: 1000, max: 4999, integer: true });
  if (code !== undefined && toSend && !isValidCloseCode(code)) {
    return c.r.error(node, 'WSX_BAD_CLOSE_CODE', `${what} ${code} cannot be sent in a close frame: expected 1000–1003, 1007–1014 or 3000–4999`);
  }
  return code;
}

function readExpectClose(c: StepContext, node: YNode, at: SourceRange): ExpectCloseStep | undefined {
  const r = c.r;
  const n = r.deref(node);
  const step: ExpectCloseStep = { kind: 'expectClose', connection: '', range: at };
  let e: Map<string, Entry> | undefined;
  if (isScalar(n) && typeof n.value === 'number') step.code = closeCode(c, n, 'code', false);
  else if (!(isScalar(n) && n.value === null)) {
    e = r.map(n, 'an expectClose step', ['connection', 'code', 'reason', 'within'], at);
    if (!e) return undefined;
  }
  const connection = connectionOf(c, e, at);
  if (e?.has('code')) step.code = closeCode(c, e.get('code')!.value, 'code', false);
  if (e?.has('reason')) step.reason = r.interp(e.get('reason')!.value, 'reason');
  if (e?.has('within')) step.withinMs = r.duration(e.get('within')!.value, 'within');
  return connection === undefined ? undefined : { ...step, connection };
}
