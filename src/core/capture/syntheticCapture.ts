// Capture events for traffic the inspector did not read off a socket: the browser's WebSocket frames reported over
// the DevTools protocol, and the messages of the Redis backplane. They go into the same store as tapped traffic, so
// the panel, the export and the filters treat them alike. The frame header is the one the fields give (it was not
// on any wire the inspector saw), and `meta.source` on the connection events says where the record came from.
import { isUtf8 } from 'node:buffer';
import type { CaptureSink, ConnectionEvent, Direction, FrameEvent, HandshakeEvent, HttpHead, MessageEvent } from './events';
import { OPCODE_BINARY, OPCODE_CLOSE, OPCODE_TEXT } from '../wire/constants';
import { encodeFrameHeader } from '../wire/frameEncoder';
import { closeInfo } from '../wire/messageAssembler';

const timeOrigin = performance.timeOrigin;
const now = (): number => timeOrigin + performance.now();

export interface SyntheticFrame {
  connectionId: string;
  direction: Direction;
  /** 1 text, 2 binary, 8 close, 9 ping, 10 pong. */
  opcode: number;
  /** The unmasked, uncompressed payload. */
  payload: Buffer;
  /** Epoch ms; default now. */
  time?: number;
  /** Whether the frame was masked on the wire (its key is not known: the header then carries four zero bytes). */
  masked?: boolean;
}

/**
 * Appends one final frame and, for text and binary, the message it makes (whose frameIds link the frame to it). A
 * close frame gets its code and reason. Returns the ids the sink gave.
 */
export function recordSyntheticFrame(sink: CaptureSink, f: SyntheticFrame): { frameId: number; messageId?: number } {
  const time = f.time ?? now();
  const maskKey = f.masked === true ? Buffer.alloc(4) : undefined;
  const header = encodeFrameHeader({ opcode: f.opcode, payload: f.payload, maskKey });
  const n = f.payload.length;
  const close = f.opcode === OPCODE_CLOSE ? closeInfo(f.payload) : undefined;
  const frame: FrameEvent = {
    id: 0,
    kind: 'frame',
    connectionId: f.connectionId,
    time,
    direction: f.direction,
    fin: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: f.opcode,
    masked: maskKey !== undefined,
    maskKey: maskKey === undefined ? undefined : header.subarray(header.length - 4),
    payloadLength: n,
    lengthForm: n <= 125 ? 7 : n <= 0xffff ? 16 : 64,
    headerLength: header.length,
    header,
    payload: f.payload,
    closeCode: close?.code,
    closeReason: close?.reason,
    messageId: undefined,
    alsoSentTo: undefined,
  };
  const frameId = sink.append(frame);
  if (f.opcode !== OPCODE_TEXT && f.opcode !== OPCODE_BINARY) return { frameId };
  const message: MessageEvent = {
    id: 0,
    kind: 'message',
    connectionId: f.connectionId,
    time,
    direction: f.direction,
    opcode: f.opcode,
    data: f.payload,
    wireLength: n,
    compressed: false,
    inflatedLength: undefined,
    inflateError: undefined,
    utf8Valid: f.opcode === OPCODE_TEXT ? isUtf8(f.payload) : undefined,
    frameIds: [frameId],
    alsoSentTo: undefined,
  };
  const messageId = sink.append(message);
  return { frameId, messageId };
}

export interface SyntheticConnection {
  connectionId: string;
  state: 'open' | 'closed';
  role: 'server' | 'client';
  /** Labels; set `source` (for example 'browser' or 'backplane') so the panel can say where the record came from. */
  meta?: Record<string, string>;
  code?: number;
  reason?: string;
  clean?: boolean;
  time?: number;
}

export function recordSyntheticConnection(sink: CaptureSink, c: SyntheticConnection): number {
  const ev: Omit<ConnectionEvent, 'id'> = {
    kind: 'connection',
    connectionId: c.connectionId,
    time: c.time ?? now(),
    state: c.state,
    role: c.role,
    meta: c.meta,
    code: c.code,
    reason: c.reason,
    clean: c.clean,
  };
  return sink.append(ev);
}

export interface SyntheticHandshake {
  connectionId: string;
  request: { startLine: string; headers: HttpHead['headers'] };
  response?: { startLine: string; headers: HttpHead['headers'] };
  status: number;
  time?: number;
  openMs?: number;
}

/** A handshake known from its parsed parts. The head lengths are those of the heads as HTTP/1.1 would write them. */
export function recordSyntheticHandshake(sink: CaptureSink, h: SyntheticHandshake): number {
  const head = (x: { startLine: string; headers: HttpHead['headers'] }): HttpHead => ({
    startLine: x.startLine,
    headers: x.headers,
    length: Buffer.byteLength(x.startLine) + 2 + x.headers.reduce((n, [k, v]) => n + Buffer.byteLength(k) + 2 + Buffer.byteLength(v) + 2, 0) + 2,
  });
  const response = h.response === undefined ? undefined : head(h.response);
  const find = (name: string): string | undefined =>
    h.response?.headers.find(([k]) => k.toLowerCase() === name)?.[1];
  const ev: Omit<HandshakeEvent, 'id'> = {
    kind: 'handshake',
    connectionId: h.connectionId,
    time: h.time ?? now(),
    request: head(h.request),
    response,
    status: h.status,
    ok: h.status === 101,
    subprotocol: find('sec-websocket-protocol'),
    extensions: find('sec-websocket-extensions'),
    openMs: h.openMs,
  };
  return sink.append(ev);
}
