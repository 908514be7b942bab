// The typed messages between the extension host and the inspector webview. Both sides import this file, so it
// holds types, limits and pure helpers only: no `vscode`, no DOM, no Node `Buffer`.
//
// Breakpoint and proxy-compression messages are in breakpointsProtocol.ts.
//
// Flow: the webview posts `ready`; only then does the host post `init`. After that the host pushes `update`s (at
// most one per ~50 ms) and answers requests. Every request carries a `requestId`; its reply carries the same number
// as `inReplyTo` and the request's `type` as `request`, so each side can type the pairing.

import { BREAKPOINT_REQUEST_TYPES, isBreakpointRequest, type BreakpointRequests, type BreakpointsSnapshot, type ProxyCompressionDto, type SendResult } from './breakpointsProtocol';

export type Direction = 'c2s' | 's2c';

/** Longest preview text, in UTF-16 code units, that an event DTO carries. */
export const PREVIEW_CHARS = 200;
/** Most events one page request may ask for. */
export const MAX_PAGE = 2000;
/** Largest payload a detail reply carries; the rest is cut and `truncated` says so. */
export const MAX_DETAIL_BYTES = 1024 * 1024;
/** A held binary payload up to this size is sent whole to the panel and can be edited there as hex. */
export const MAX_HEX_EDIT_BYTES = 64 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// Event DTOs: small, no full payloads.

interface DtoBase {
  id: number;
  connectionId: string;
  /** Epoch ms. */
  time: number;
}

export interface FrameDto extends DtoBase {
  kind: 'frame';
  /** A broadcast recorded once: how many other connections got this same frame (see FrameEvent.alsoSentTo). */
  alsoSentToCount?: number;
  direction: Direction;
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  payloadLength: number;
  headerLength: number;
  closeCode?: number;
  closeReason?: string;
  /** Id of the message this frame completed, when known. */
  messageId?: number;
  /** Read after this direction's first header violation (see FrameEvent.afterViolation): not assembled. */
  afterViolation?: true;
  /** Connections (`connectionId` and the broadcast's others) it was written to and never left for: see FrameEvent.unsentTo. */
  unsentTo?: string[];
  /** Start of the payload: UTF-8 text for text frames and continuations, hex bytes for binary. */
  preview: string;
  /** The preview is hex of binary data rather than text. */
  previewHex: boolean;
  /** The payload was longer than the preview. */
  previewTruncated: boolean;
}

export interface MessageDto extends DtoBase {
  kind: 'message';
  /** As on FrameDto. */
  alsoSentToCount?: number;
  direction: Direction;
  opcode: 1 | 2;
  /** Sum of the frames' payload lengths on the wire. */
  wireLength: number;
  /** Length of the reassembled (inflated) data. */
  length: number;
  compressed: boolean;
  inflatedLength?: number;
  inflateError?: string;
  utf8Valid?: boolean;
  frameIds: number[];
  /** As on FrameDto: the connections this message did not wholly leave for. */
  unsentTo?: string[];
  preview: string;
  previewHex: boolean;
  previewTruncated: boolean;
}

export interface ErrorDto extends DtoBase {
  kind: 'error';
  direction?: Direction;
  code: string;
  closeCode: number;
  message: string;
  /** Bytes that can't be framed (see ErrorEvent.byteCount). */
  byteCount?: number;
}

export interface HandshakeDto extends DtoBase {
  kind: 'handshake';
  /** `GET /path HTTP/1.1`. */
  requestLine: string;
  status: number;
  ok: boolean;
  subprotocol?: string;
  extensions?: string;
  openMs?: number;
}

export interface ConnectionEventDto extends DtoBase {
  kind: 'connection';
  state: 'open' | 'closed';
  role: 'server' | 'client';
  meta?: Record<string, string>;
  code?: number;
  reason?: string;
  clean?: boolean;
  /** On close, from a capture of the wire: the close frame this end (`role`) sent and the one its peer sent, if any. */
  closeFrames?: { sent?: CloseFrameDto; received?: CloseFrameDto };
  /** On close, when not clean and frames were captured: whose close frame did not cross (`sent`: this end's). */
  missingClose?: 'sent' | 'received' | 'both';
  /** On close: bytes this end wrote that never left (the socket closed first), and the recorded frames and messages of them. */
  unsent?: { bytes: number; frameIds: number[]; messageIds: number[] };
  bytesIn?: number;
  /** Bytes the kernel took: written and sent. */
  bytesOut?: number;
}

/** A close frame's status (1005 when it carried none) and reason. */
export interface CloseFrameDto {
  code: number;
  reason: string;
  /** This end wrote it, and the connection closed before it left. */
  unsent?: true;
}

export type EventDto = FrameDto | MessageDto | ErrorDto | HandshakeDto | ConnectionEventDto;

// ---------------------------------------------------------------------------------------------------------------
// Details: fetched on demand for the selected row.

/**
 * A header line: the value without the whitespace around it (UTF-8, or latin-1 when its bytes were not valid UTF-8),
 * and, when there is something to say, that encoding and the whitespace as it was on the wire.
 */
export type HttpHeaderDto = [name: string, value: string, wire?: { latin1?: true; space?: [before: string, after: string] }];

export interface HttpHeadDto {
  startLine: string;
  headers: HttpHeaderDto[];
  length: number;
}

/** A header line as it was on the wire (`name:` and the value with its whitespace), and whether it reads as latin-1. */
export function headerLine([name, value, wire]: HttpHeaderDto): { text: string; latin1: boolean } {
  const [before, after] = wire?.space ?? [' ', ''];
  return { text: `${name}:${before}${value}${after}`, latin1: wire?.latin1 === true };
}

export interface HandshakeDetail {
  kind: 'handshake';
  id: number;
  connectionId: string;
  time: number;
  request: HttpHeadDto;
  response?: HttpHeadDto;
  status: number;
  ok: boolean;
  subprotocol?: string;
  extensions?: string;
  openMs?: number;
  /** Start of a failed upgrade's response body. */
  body?: Uint8Array;
  bodyTruncated?: boolean;
}

export interface FrameDetail {
  kind: 'frame';
  frame: FrameDto;
  /** Raw header bytes as on the wire. */
  header: Uint8Array;
  /** 4 bytes when masked. */
  maskKey?: Uint8Array;
  /** The unmasked payload, at most MAX_DETAIL_BYTES. */
  payload: Uint8Array;
  truncated: boolean;
}

export interface MessageDetail {
  kind: 'message';
  message: MessageDto;
  /** Reassembled (inflated) data, at most MAX_DETAIL_BYTES. */
  data: Uint8Array;
  truncated: boolean;
}

export interface SimpleDetail {
  kind: 'simple';
  event: ErrorDto | ConnectionEventDto;
}

export type EventDetail = FrameDetail | MessageDetail | HandshakeDetail | SimpleDetail;

// ---------------------------------------------------------------------------------------------------------------
// Model rows (mirror `src/extension/model.ts`, which this folder may not import).

export type ConnectionState = 'connecting' | 'open' | 'closing' | 'closed' | 'reconnecting' | 'failed';

export interface ConnectionRow {
  /**
   * The capture connectionId: the same id the capture events carry. A proxied connection's row has the group id
   * (`proxy1-3`), whose two legs (`proxy1-3/program`, `proxy1-3/target`) are its `proxySide` rows.
   */
  id: string;
  /**
   * serverClient: a client of the embedded server. outgoing: a connection made from VS Code. proxy: a program's
   * connection through the inspecting proxy (both legs); proxySide: one leg of it. browser: a page's WebSocket seen
   * over the DevTools protocol. backplane: the Redis backplane's traffic.
   */
  kind: 'serverClient' | 'outgoing' | 'proxy' | 'proxySide' | 'browser' | 'backplane';
  serverId?: string;
  /** proxy rows: the proxy's id; proxySide rows: the proxied connection's id; browser rows: the inspection's id. */
  parentId?: string;
  /** proxySide rows: which leg. */
  side?: 'program' | 'target';
  /** The debug session this connection was captured in. */
  tag?: string;
  /** A short status line (the backplane's Redis state, a browser page's title…). */
  note?: string;
  label: string;
  state: ConnectionState;
  remote?: string;
  userAgent?: string;
  origin?: string;
  subprotocol?: string;
  connectedAt?: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** A closed connection kept for review: the newest event id at its close (a Clear past it hides the row). */
  closedAtId?: number;
  /** proxy rows, once the target answered 101: the compression mode in effect and each leg's parameters. */
  compression?: ProxyCompressionDto;
}

export interface ServerRow {
  id: string;
  url: string;
  host: string;
  port: number;
  relay: string;
  clientCount: number;
  /** The debug session that started this server. */
  tag?: string;
  /** The Redis backplane this server takes part in. */
  backplane?: { state: string; channel: string; detail?: string };
}

/** A running inspecting proxy, or a browser being inspected: a heading in the connections list. */
export interface SourceRow {
  id: string;
  kind: 'proxy' | 'browser';
  /** proxy: `ws://127.0.0.1:9000 → wss://api…`; browser: the DevTools endpoint. */
  label: string;
  tag?: string;
}

export interface ModelSnapshot {
  servers: ServerRow[];
  connections: ConnectionRow[];
  /** Absent from hosts without these features. */
  sources?: SourceRow[];
  breakpoints?: BreakpointsSnapshot;
}

/** Whole-capture counters (not filtered). */
export interface CaptureCounters {
  /** Frames seen since the panel's host side started counting (the store's content at that time included). */
  frames: number;
  /** Wire bytes of those frames (header + payload). */
  frameBytes: number;
  messages: number;
  /** Events held in the store now. */
  storedEvents: number;
  /** Events evicted by the store's caps since it was made. */
  evictedEvents: number;
  evictedBytes: number;
  /** Oldest id still held. */
  firstId: number;
  lastId: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Filters and sending.

export interface ViewFilter {
  /** Only this connection; absent for all. */
  connectionId?: string;
  direction?: Direction;
  opcodes?: 'data' | 'control';
  /** Search over payloads; a substring unless `regex`. */
  search?: string;
  regex?: boolean;
}

export type SendTarget =
  | { kind: 'allClients' }
  | { kind: 'client'; clientId: string }
  | { kind: 'connection'; connectionId: string };

export type SendPayload = { kind: 'text'; text: string } | { kind: 'binary'; data: Uint8Array };

export interface Page {
  /** Ascending by id. */
  events: EventDto[];
  /** More matching events may lie below `resumeId`. */
  hasMore: boolean;
  /** Pass as the next `beforeId` when paging back. */
  resumeId: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Requests and replies.

export interface Requests extends BreakpointRequests {
  /** Sets the live filter and returns its newest page; `update`s after the reply carry only matching events. */
  subscribe: { params: { filter: ViewFilter; floorId: number; limit: number }; result: Page & { lastId: number } };
  /** An older page under the same filter: ids in (floorId, beforeId). */
  getPage: { params: { filter: ViewFilter; beforeId: number; floorId: number; limit: number }; result: Page };
  /** Null when the event has been evicted. */
  getDetail: { params: { id: number }; result: EventDetail | null };
  /** The connection's handshake, or null when it is not (or no longer) in the store. */
  getHandshake: { params: { connectionId: string }; result: HandshakeDetail | null };
  /** Sends now, unless a breakpoint holds it (Send to all, a client connection's send): the result says which. */
  send: { params: { target: SendTarget; payload: SendPayload }; result: SendResult };
  disconnect: { params: { connectionId: string }; result: null };
}
export type RequestType = keyof Requests;
export type RequestOf<K extends RequestType> = { type: K; requestId: number } & Requests[K]['params'];
export type ResultOf<K extends RequestType> = Requests[K]['result'];

export type WebviewRequest = { [K in RequestType]: RequestOf<K> }[RequestType];

export type HostReply =
  | { [K in RequestType]: { type: 'reply'; request: K; inReplyTo: number; ok: true; result: ResultOf<K> } }[RequestType]
  | { type: 'reply'; request: RequestType; inReplyTo: number; ok: false; error: string };

// ---------------------------------------------------------------------------------------------------------------
// The two unions.

export type WebviewToHost = { type: 'ready' } | WebviewRequest;

export type HostToWebview =
  | {
      type: 'init';
      model: ModelSnapshot;
      counters: CaptureCounters;
    }
  | {
      /** At most one per ~50 ms. Each part is present only when it changed. */
      type: 'update';
      /** New events matching the current subscription, ascending. */
      events?: EventDto[];
      model?: ModelSnapshot;
      counters?: CaptureCounters;
      /** Oldest id the store still holds: rows below it are gone. */
      firstId?: number;
    }
  | { type: 'cleared'; counters: CaptureCounters }
  /** Show one connection (from the tree or a command): the webview picks it and opens its handshake. */
  | { type: 'focusConnection'; connectionId: string }
  | HostReply;

// ---------------------------------------------------------------------------------------------------------------
// Helpers.

const REQUEST_TYPES: ReadonlySet<string> = new Set<RequestType>(['subscribe', 'getPage', 'getDetail', 'getHandshake', 'send', 'disconnect', ...BREAKPOINT_REQUEST_TYPES]);

function isObj(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

function isFilter(x: unknown): x is ViewFilter {
  if (!isObj(x)) return false;
  if (x.connectionId !== undefined && typeof x.connectionId !== 'string') return false;
  if (x.direction !== undefined && x.direction !== 'c2s' && x.direction !== 's2c') return false;
  if (x.opcodes !== undefined && x.opcodes !== 'data' && x.opcodes !== 'control') return false;
  if (x.search !== undefined && typeof x.search !== 'string') return false;
  if (x.regex !== undefined && typeof x.regex !== 'boolean') return false;
  return true;
}

function isTarget(x: unknown): x is SendTarget {
  if (!isObj(x)) return false;
  switch (x.kind) {
    case 'allClients':
      return true;
    case 'client':
      return typeof x.clientId === 'string';
    case 'connection':
      return typeof x.connectionId === 'string';
    default:
      return false;
  }
}

function isPayload(x: unknown): x is SendPayload {
  if (!isObj(x)) return false;
  if (x.kind === 'text') return typeof x.text === 'string';
  if (x.kind === 'binary') return x.data instanceof Uint8Array;
  return false;
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/**
 * Checks a message from the webview before the host acts on it. The webview renders untrusted payloads, so the host
 * does not take its messages on faith.
 */
export function isWebviewToHost(x: unknown): x is WebviewToHost {
  if (!isObj(x) || typeof x.type !== 'string') return false;
  if (x.type === 'ready') return true;
  if (!REQUEST_TYPES.has(x.type) || !isNum(x.requestId)) return false;
  switch (x.type as RequestType) {
    case 'subscribe':
      return isFilter(x.filter) && isNum(x.floorId) && isNum(x.limit);
    case 'getPage':
      return isFilter(x.filter) && isNum(x.beforeId) && isNum(x.floorId) && isNum(x.limit);
    case 'getDetail':
      return isNum(x.id);
    case 'getHandshake':
    case 'disconnect':
      return typeof x.connectionId === 'string';
    case 'send':
      return isTarget(x.target) && isPayload(x.payload);
    default:
      return isBreakpointRequest(x);
  }
}

/** Opcode names as the RFC gives them; unknown opcodes show as their hex value. */
export function opcodeName(opcode: number): string {
  switch (opcode) {
    case 0:
      return 'continuation';
    case 1:
      return 'text';
    case 2:
      return 'binary';
    case 8:
      return 'close';
    case 9:
      return 'ping';
    case 10:
      return 'pong';
    default:
      return `0x${opcode.toString(16)}`;
  }
}
