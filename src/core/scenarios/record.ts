// Record as scenario: one captured connection (a client connection, or a proxied program's) written as a scenario file
// that sends what was sent and expects what came back. Volatile fields (ids, times, tokens) that a later message sends
// back become captures; the other volatile fields are left out of the expectations. Credentials in the upgrade
// request become `${secret:…}` references and are never written.

import { stringify } from 'yaml';
import type { CaptureEvent, ConnectionEvent, HandshakeEvent, MessageEvent } from '../capture/events';

export interface RecordOptions {
  /** The connection's events in order (handshake, messages, close); other connections' events are skipped. */
  events: readonly CaptureEvent[];
  /** Which connection, when `events` holds several. Default: the first message's. */
  connectionId?: string;
  /** The scenario's name. Default "recorded". */
  name?: string;
  /** The endpoint's URL. Default: the connection's `meta.url`, or the handshake's Host and path. */
  url?: string;
  /** Field names that hold volatile values, besides the usual ones (id, time, timestamp, token, …). */
  volatile?: string[];
}

const VOLATILE_NAME = /^(?:id|.*[a-z](?:Id|ID)|.*_id|uuid|guid|nonce|seq|time|timestamp|ts|date|at|.*At|.*_at|created|updated|expires?|token|session|sessionId|requestId|traceId)$/;
const VOLATILE_VALUE = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-][\d:]+)?)$/i;
const CREDENTIAL_HEADERS = /^(?:authorization|cookie|x-api-key|x-auth-token|proxy-authorization)$/i;
/** Request headers the client sets itself. */
const OWN_HEADERS = /^(?:host|upgrade|connection|sec-websocket-key|sec-websocket-version|sec-websocket-extensions|sec-websocket-protocol|user-agent|origin)$/i;

interface Volatile {
  path: string;
  value: unknown;
}

export interface RecordedScenario {
  /** The scenario file, YAML. */
  text: string;
  /** The `${secret:…}` names it uses for the credentials it left out: the host asks the user for their values. */
  secrets: string[];
}

/** The scenario file for the conversation in `o.events`. */
export function recordScenario(o: RecordOptions): RecordedScenario {
  const id = o.connectionId ?? o.events.find((e) => e.kind === 'message')?.connectionId ?? o.events[0]?.connectionId;
  const events = o.events.filter((e) => e.connectionId === id);
  const hs = events.find((e): e is HandshakeEvent => e.kind === 'handshake');
  const meta = events.find((e): e is ConnectionEvent => e.kind === 'connection' && e.meta?.url !== undefined)?.meta;
  const isVolatile = (k: string, v: unknown) => VOLATILE_NAME.test(k) || (o.volatile ?? []).includes(k) || (typeof v === 'string' && VOLATILE_VALUE.test(v)) || (typeof v === 'number' && v > 1e12);
  const endpoint: Record<string, unknown> = { url: o.url ?? meta?.url ?? urlOf(hs) };
  const { headers, secrets } = requestHeaders(hs);
  if (Object.keys(headers).length) endpoint.headers = headers;
  const offered = hs?.request.headers.find(([n]) => /^sec-websocket-protocol$/i.test(n))?.[1];
  if (offered) endpoint.subprotocols = offered.split(',').map((s) => s.trim());
  const steps: unknown[] = [{ connect: hs && hs.status !== 101 && hs.status !== 0 ? { endpoint: 'server', connection: 'server', status: hs.status } : 'server' }];
  const captured: Array<{ name: string; value: string }> = [];
  const messages = events.filter((e): e is MessageEvent => e.kind === 'message');
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m.direction === 'c2s') {
      steps.push({ send: sendBody(m, captured) });
      continue;
    }
    const later = messages.slice(i + 1).filter((x) => x.direction === 'c2s').map((x) => x.data.toString('utf8'));
    steps.push({ expect: expectBody(m, isVolatile, later, captured) });
  }
  steps.push(...closeSteps(events));
  const doc = { version: 1, endpoints: { server: endpoint }, scenarios: { [o.name ?? 'recorded']: { steps } } };
  return { text: stringify(doc, { lineWidth: 0 }), secrets };
}

function urlOf(hs: HandshakeEvent | undefined): string {
  if (!hs) return 'ws://127.0.0.1:8765/';
  const host = hs.request.headers.find(([n]) => /^host$/i.test(n))?.[1] ?? '127.0.0.1';
  const path = hs.request.startLine.split(' ')[1] ?? '/';
  return `ws://${host}${path}`;
}

function requestHeaders(hs: HandshakeEvent | undefined): { headers: Record<string, string>; secrets: string[] } {
  const headers: Record<string, string> = {};
  const secrets: string[] = [];
  for (const [name, value] of hs?.request.headers ?? []) {
    if (OWN_HEADERS.test(name)) continue;
    if (CREDENTIAL_HEADERS.test(name)) {
      const key = name.toLowerCase().replace(/[^a-z0-9]+/g, '_');
      const scheme = /^(\S+)\s+\S/.exec(value);
      headers[name] = `${scheme && name.toLowerCase().endsWith('authorization') ? scheme[1] + ' ' : ''}\${secret:${key}}`;
      secrets.push(key);
    } else {
      headers[name] = value.replace(/\$\{/g, '$${');
    }
  }
  return { headers, secrets };
}

/** `text` with each captured value replaced by its reference. */
function withCaptured(text: string, captured: ReadonlyArray<{ name: string; value: string }>): string {
  for (const c of captured) text = text.split(c.value).join(`\${${c.name}}`);
  return text;
}

function sendBody(m: MessageEvent, captured: ReadonlyArray<{ name: string; value: string }>): unknown {
  if (m.opcode === 2) return { hex: m.data.toString('hex') };
  const text = withCaptured(m.data.toString('utf8').replace(/\$\{/g, '$${'), captured);
  const json = tryJson(text);
  return json !== undefined && typeof json === 'object' && json !== null ? { json } : { text };
}

function expectBody(m: MessageEvent, isVolatile: (k: string, v: unknown) => boolean, later: string[], captured: Array<{ name: string; value: string }>): unknown {
  if (m.opcode === 2) return { opcode: 'binary', length: m.data.length };
  const text = m.data.toString('utf8');
  const json = tryJson(text);
  if (json === undefined || json === null || typeof json !== 'object' || Array.isArray(json)) return { text: withCaptured(text.replace(/\$\{/g, '$${'), captured) };
  const fixed: Record<string, unknown> = {};
  const volatile: Volatile[] = [];
  walk(json, '$', isVolatile, fixed, volatile);
  // A value an earlier message gave (and a capture took) is expected as that capture.
  for (const [p, x] of Object.entries(fixed)) {
    const c = captured.find((k) => k.value === (typeof x === 'string' ? x : JSON.stringify(x)));
    if (c) fixed[p] = `\${${c.name}}`;
  }
  const out: Record<string, unknown> = Object.keys(fixed).length ? { json: fixed } : { regex: '^\\{' };
  const capture: Record<string, string> = {};
  for (const v of volatile) {
    const value = typeof v.value === 'string' ? v.value : JSON.stringify(v.value);
    if (value.length < 3 || !later.some((t) => t.includes(value)) || captured.some((c) => c.value === value)) continue;
    const name = uniqueName(v.path, captured);
    capture[name] = v.path;
    captured.push({ name, value });
  }
  if (Object.keys(capture).length) out.capture = capture;
  return out;
}

/** Splits an object's leaves into fixed ones (path → value) and volatile ones. Arrays are compared whole. */
function walk(v: unknown, path: string, isVolatile: (k: string, v: unknown) => boolean, fixed: Record<string, unknown>, volatile: Volatile[]): void {
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    const p = /^[A-Za-z_][\w-]*$/.test(k) ? `${path}.${k}` : `${path}['${k.replace(/['\\]/g, '\\$&')}']`;
    if (x !== null && typeof x === 'object' && !Array.isArray(x)) walk(x, p, isVolatile, fixed, volatile);
    else if (isVolatile(k, x)) volatile.push({ path: p, value: x });
    else fixed[p] = typeof x === 'string' ? x.replace(/\$\{/g, '$${') : x;
  }
}

function uniqueName(path: string, taken: ReadonlyArray<{ name: string }>): string {
  const base = path.replace(/^\$\.?/, '').replace(/[^\w]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : '')) || 'value';
  let name = base;
  for (let i = 2; taken.some((t) => t.name === name); i++) name = `${base}${i}`;
  return name;
}

function closeSteps(events: readonly CaptureEvent[]): unknown[] {
  const closed = [...events].reverse().find((e) => e.kind === 'connection' && e.state === 'closed');
  if (!closed || closed.kind !== 'connection' || !closed.closeFrames) return [];
  const { sent, received } = closed.closeFrames;
  const clientSent = closed.role === 'client' ? sent : received;
  const serverSent = closed.role === 'client' ? received : sent;
  const firstFrames = events.filter((e) => e.kind === 'frame' && e.opcode === 8);
  const clientFirst = firstFrames[0]?.kind === 'frame' && firstFrames[0].direction === 'c2s';
  if (clientSent && (clientFirst || !serverSent)) {
    return [{ close: { code: clientSent.code === 1005 ? 1000 : clientSent.code, ...(serverSent ? { expectCode: serverSent.code } : {}) } }];
  }
  if (serverSent) return [{ expectClose: serverSent.code === 1005 ? {} : { code: serverSent.code } }];
  return [];
}

function tryJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}
