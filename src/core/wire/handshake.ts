// The opening handshake as seen on the wire: an incremental HTTP head parser and the RFC 6455 §4 checks.
import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { HeaderWire, HttpHead, HttpHeader } from './types';
import { DEFAULT_MAX_HEAD_BYTES, EMPTY_BUFFER, WS_GUID } from './constants';
import { createWireError } from './errors';

export interface HeadResult {
  head: HttpHead;
  /** Bytes that followed the head in the same chunks (frames or a body). A view when possible. */
  rest: Buffer;
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');

/** Accumulates bytes until CRLFCRLF and parses the head. */
export class HttpHeadParser {
  private buf: Buffer = EMPTY_BUFFER;
  private done = false;

  /** @param maxHeadBytes a head longer than this is `WS_ERR_HANDSHAKE_TOO_LARGE`. Default 16 KiB. */
  constructor(private readonly maxHeadBytes = DEFAULT_MAX_HEAD_BYTES) {}

  /**
   * Feeds bytes; returns the head and the bytes after it once CRLFCRLF has arrived, else undefined.
   * Throws a WireError (`WS_ERR_HANDSHAKE_TOO_LARGE`, 1009) when the bound is passed. Not to be called after a result.
   */
  push(chunk: Buffer): HeadResult | undefined {
    if (this.done) throw new Error('HttpHeadParser: head already parsed');
    const from = Math.max(0, this.buf.length - 3);
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const at = this.buf.indexOf(CRLFCRLF, from);
    if (at === -1 || at + 4 > this.maxHeadBytes) {
      if (this.buf.length > this.maxHeadBytes || at !== -1) {
        throw createWireError('WS_ERR_HANDSHAKE_TOO_LARGE', `HTTP head exceeds ${this.maxHeadBytes} bytes`, 1009);
      }
      return undefined;
    }
    this.done = true;
    const end = at + 4;
    const head = parseHttpHead(this.buf.subarray(0, end));
    const rest = this.buf.subarray(end);
    this.buf = EMPTY_BUFFER;
    return { head, rest };
  }
}

/**
 * Parses a complete head (start line, headers, CRLFCRLF). Lines are split on the latin-1 reading of the bytes, as
 * HTTP/1.1 defines; each header value is then read as UTF-8 when its bytes are valid UTF-8 (else it stays latin-1 and
 * is marked so), and the whitespace around it is kept (see HttpHeader). An obs-fold continuation is joined to the
 * value with one space (RFC 9110 §5.5).
 */
export function parseHttpHead(bytes: Buffer): HttpHead {
  const lines = bytes.toString('latin1').split('\r\n');
  const raw: Array<[name: string, value: string]> = [];
  // lines ends with two empty strings (the final CRLFCRLF)
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') continue;
    if ((line[0] === ' ' || line[0] === '\t') && raw.length > 0) {
      // obs-fold: a continuation of the previous value; the whitespace after the value is the last line's
      const prev = raw[raw.length - 1];
      prev[1] = prev[1].slice(0, owsEnd(prev[1])) + ' ' + line.slice(owsStart(line, 0, line.length));
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    raw.push([line.slice(0, colon).trim(), line.slice(colon + 1)]);
  }
  return { startLine: lines[0], headers: raw.map(([name, field]) => headerOf(name, field)), length: bytes.length };
}

const isOws = (c: number): boolean => c === 0x20 || c === 0x09;
function owsStart(s: string, from: number, to: number): number {
  while (from < to && isOws(s.charCodeAt(from))) from++;
  return from;
}
function owsEnd(s: string): number {
  let to = s.length;
  while (to > 0 && isOws(s.charCodeAt(to - 1))) to--;
  return to;
}

/** A header line from its name and the latin-1 reading of what followed the colon. */
function headerOf(name: string, field: string): HttpHeader {
  const from = owsStart(field, 0, field.length);
  const to = Math.max(from, owsEnd(field));
  let value = field.slice(from, to);
  const wire: HeaderWire = {};
  if (/[\u0080-\u00ff]/.test(value)) {
    const bytes = Buffer.from(value, 'latin1');
    if (isUtf8(bytes)) value = bytes.toString('utf8');
    else wire.latin1 = true;
  }
  const before = field.slice(0, from);
  const after = field.slice(to);
  if (before !== ' ' || after !== '') wire.space = [before, after];
  return wire.latin1 || wire.space ? [name, value, wire] : [name, value];
}

export interface StatusLine {
  version: string;
  status: number;
  reason: string;
}

/** `HTTP/1.1 101 Switching Protocols` → parts, or undefined when it is not a status line. */
export function parseStatusLine(line: string): StatusLine | undefined {
  const m = /^(HTTP\/\d(?:\.\d)?) (\d{3})(?: (.*))?$/.exec(line);
  if (!m) return undefined;
  return { version: m[1], status: Number(m[2]), reason: m[3] ?? '' };
}

export interface RequestLine {
  method: string;
  target: string;
  version: string;
}

/** `GET /chat HTTP/1.1` → parts, or undefined. */
export function parseRequestLine(line: string): RequestLine | undefined {
  const m = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) (HTTP\/\d(?:\.\d)?)$/.exec(line);
  if (!m) return undefined;
  return { method: m[1], target: m[2], version: m[3] };
}

/** Every value of a header (case-insensitive name), in wire order. */
export function getHeaders(head: HttpHead, name: string): string[] {
  const lower = name.toLowerCase();
  const out: string[] = [];
  for (const [n, v] of head.headers) if (n.toLowerCase() === lower) out.push(v);
  return out;
}

/** A header's value (case-insensitive name); repeated headers are joined with ', ' (RFC 9110 §5.3). */
export function getHeader(head: HttpHead, name: string): string | undefined {
  const all = getHeaders(head, name);
  return all.length === 0 ? undefined : all.join(', ');
}

/** Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2). */
export function computeAccept(key: string): string {
  return createHash('sha1').update(key + WS_GUID).digest('base64');
}

function hasToken(value: string | undefined, token: string): boolean {
  return value !== undefined && value.split(',').some((t) => t.trim().toLowerCase() === token);
}

/**
 * Checks a 101 response against its request as a client would (RFC 6455 §4.1): Upgrade, Connection and
 * Sec-WebSocket-Accept. Returns undefined when valid, else why not.
 */
export function upgradeProblem(request: HttpHead, response: HttpHead): string | undefined {
  const status = parseStatusLine(response.startLine)?.status;
  if (status !== 101) return `status ${status ?? 'missing'}, not 101`;
  if (!hasToken(getHeader(response, 'upgrade'), 'websocket')) return 'Upgrade header is not "websocket"';
  if (!hasToken(getHeader(response, 'connection'), 'upgrade')) return 'Connection header has no "Upgrade" token';
  const key = getHeader(request, 'sec-websocket-key');
  const accept = getHeader(response, 'sec-websocket-accept');
  if (key === undefined) return 'request has no Sec-WebSocket-Key';
  if (accept !== computeAccept(key.trim())) return 'invalid Sec-WebSocket-Accept';
  return undefined;
}
