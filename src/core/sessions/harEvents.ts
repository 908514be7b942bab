// Capture events from the parts of a HAR WebSocket entry: its handshake from the request and response, and one frame
// and message per `_webSocketMessages` item. A HAR holds messages, not frames: each becomes one final frame whose
// header is the one its fields give (as for the browser's frames, syntheticCapture.ts).
import { isUtf8 } from 'node:buffer';
import type { CaptureSink, Direction, FrameEvent, HandshakeEvent, HttpHead, MessageEvent } from '../capture/events';
import type { HttpHeader } from '../wire/types';
import { OPCODE_BINARY, OPCODE_CLOSE, OPCODE_TEXT } from '../wire/constants';
import { negotiatedDeflate } from '../wire/deflate';
import { encodeFrameHeader } from '../wire/frameEncoder';
import { getHeader, parseStatusLine, upgradeProblem } from '../wire/handshake';
import { closeInfo } from '../wire/messageAssembler';

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** HAR headers (`{ name, value, comment? }`) as the capture's; `comment: 'latin-1'` (this product's export) is kept. */
function headers(v: unknown): HttpHeader[] {
  if (!Array.isArray(v)) return [];
  const out: HttpHeader[] = [];
  for (const h of v) {
    if (!isObject(h) || typeof h.name !== 'string') continue;
    const value = str(h.value) ?? '';
    out.push(h.comment === 'latin-1' ? [h.name, value, { latin1: true }] : [h.name, value]);
  }
  return out;
}

/** A head's byte length as HTTP/1.1 writes it, when the HAR does not give it (headersSize -1). */
function headLength(startLine: string, hs: HttpHeader[], given: unknown): number {
  const n = num(given);
  if (n !== undefined && n > 0) return n;
  return Buffer.byteLength(startLine) + 2 + hs.reduce((s, [k, v]) => s + Buffer.byteLength(k) + 2 + Buffer.byteLength(v) + 2, 0) + 2;
}

function requestHead(r: Json): HttpHead {
  const method = str(r.method) || 'GET';
  const url = str(r.url) ?? '/';
  let target = url;
  try {
    const u = new URL(url);
    target = u.pathname + u.search;
  } catch {
    // Not an absolute URL: the target as given.
  }
  const startLine = `${method} ${target || '/'} ${str(r.httpVersion) || 'HTTP/1.1'}`;
  const hs = headers(r.headers);
  return { startLine, headers: hs, length: headLength(startLine, hs, r.headersSize) };
}

function responseHead(r: Json): HttpHead | undefined {
  const status = num(r.status) ?? 0;
  const hs = headers(r.headers);
  if (status === 0 && hs.length === 0) return undefined;
  const version = str(r.httpVersion) || 'HTTP/1.1';
  const text = str(r.statusText) ?? '';
  const startLine = text === '' ? `${version} ${status}` : `${version} ${status} ${text}`;
  return { startLine, headers: hs, length: headLength(startLine, hs, r.headersSize) };
}

/** An entry's handshake event (undefined without a request), at `time`. */
export function harHandshake(entry: Json, connectionId: string, time: number): Omit<HandshakeEvent, 'id'> | undefined {
  if (!isObject(entry.request)) return undefined;
  const request = requestHead(entry.request);
  const response = isObject(entry.response) ? responseHead(entry.response) : undefined;
  const status = response ? (parseStatusLine(response.startLine)?.status ?? 0) : 0;
  const ev: Omit<HandshakeEvent, 'id'> = { kind: 'handshake', connectionId, time, request, status, ok: false };
  const openMs = num(entry.time);
  if (openMs !== undefined && openMs >= 0) ev.openMs = openMs;
  if (response === undefined) return ev;
  ev.response = response;
  ev.ok = status === 101 && upgradeProblem(request, response) === undefined;
  if (status === 101) {
    const sub = getHeader(response, 'sec-websocket-protocol');
    if (sub !== undefined) ev.subprotocol = sub;
    const ext = getHeader(response, 'sec-websocket-extensions');
    if (ext !== undefined) ev.extensions = ext;
    try {
      const deflate = negotiatedDeflate(ext);
      if (deflate !== undefined) ev.deflate = deflate;
    } catch {
      // An extension header that does not parse: the handshake still opens.
    }
  } else {
    const content = (entry.response as Json).content;
    if (isObject(content) && typeof content.text === 'string') {
      ev.body = content.encoding === 'base64' ? Buffer.from(content.text, 'base64') : Buffer.from(content.text, 'utf8');
    }
  }
  return ev;
}

export interface HarMessage {
  direction: Direction;
  /** Epoch ms. */
  time: number;
  opcode: number;
  payload: Buffer;
  unsent: boolean;
}

/** A `_webSocketMessages` item, or why it can't be read. */
export function harMessage(v: unknown): HarMessage | string {
  if (!isObject(v)) return 'not an object';
  const direction = v.type === 'send' ? 'c2s' : v.type === 'receive' ? 's2c' : undefined;
  if (direction === undefined) return `type ${JSON.stringify(v.type)} is neither "send" nor "receive"`;
  const time = num(v.time);
  const opcode = num(v.opcode);
  const data = str(v.data);
  if (time === undefined || opcode === undefined || data === undefined) return 'no time, opcode or data';
  // Text as is; binary (and anything else) as base64, as Chrome and this product's export write it.
  const payload = opcode === OPCODE_TEXT || !BASE64.test(data) ? Buffer.from(data, 'utf8') : Buffer.from(data, 'base64');
  return { direction, time: time * 1000, opcode, payload, unsent: v._unsent === true };
}

/**
 * Appends one final frame and, for text and binary, its message. A client's frame is marked masked (RFC 6455 §5.1)
 * with the four zero bytes of an unknown key, as the browser's frames are. `_unsent` becomes unsentTo.
 */
export function appendHarMessage(sink: CaptureSink, connectionId: string, m: HarMessage): void {
  const masked = m.direction === 'c2s';
  const header = encodeFrameHeader({ opcode: m.opcode, payload: m.payload, maskKey: masked ? Buffer.alloc(4) : undefined });
  const n = m.payload.length;
  const close = m.opcode === OPCODE_CLOSE ? closeInfo(m.payload) : undefined;
  const unsentTo = m.unsent ? [connectionId] : undefined;
  const frame: FrameEvent = {
    id: 0,
    kind: 'frame',
    connectionId,
    time: m.time,
    direction: m.direction,
    fin: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: m.opcode,
    masked,
    maskKey: masked ? header.subarray(header.length - 4) : undefined,
    payloadLength: n,
    lengthForm: n <= 125 ? 7 : n <= 0xffff ? 16 : 64,
    headerLength: header.length,
    header,
    payload: m.payload,
    closeCode: close?.code,
    closeReason: close?.reason,
    messageId: undefined,
    alsoSentTo: undefined,
    unsentTo,
  };
  const frameId = sink.append(frame);
  if (m.opcode !== OPCODE_TEXT && m.opcode !== OPCODE_BINARY) return;
  const message: MessageEvent = {
    id: 0,
    kind: 'message',
    connectionId,
    time: m.time,
    direction: m.direction,
    opcode: m.opcode,
    data: m.payload,
    wireLength: n,
    compressed: false,
    inflatedLength: undefined,
    inflateError: undefined,
    utf8Valid: m.opcode === OPCODE_TEXT ? isUtf8(m.payload) : undefined,
    frameIds: [frameId],
    alsoSentTo: undefined,
    unsentTo,
  };
  sink.append(message);
}
