// The WebSockets of browser pages, from the Network.webSocket* events DevTools sends to capture events
// (`meta.source = 'browser'`). Chromium reports whole messages, not wire frames, so each message becomes one final
// frame; it reports no control frames and no close codes. Payloads are as the page sent and received them: a
// permessage-deflate the handshake negotiated is already undone.

import type { Protocol } from 'devtools-protocol';
import type { CaptureSink, ErrorEvent, HttpHead } from '../capture/events';
import { recordSyntheticConnection, recordSyntheticFrame, recordSyntheticHandshake } from '../capture/syntheticCapture';
import { OPCODE_BINARY, OPCODE_CLOSE, OPCODE_TEXT } from '../wire/constants';
import { parseHttpHead, parseRequestLine } from '../wire/handshake';
import type { BrowserTargets } from './browserTargets';
import { stripUndefined } from '../util/objects';
import { errorText } from '../../shared/errorText';
import { isNum, now, objectOr } from './cdpValues';

export interface BrowserSocketInfo {
  /** The capture connectionId of its events, e.g. `browser1-2`. */
  id: string;
  /** The URL the page opened; '' when the socket was already open when the inspector attached. */
  url: string;
  /** `failed`: it ended without a 101 response. */
  state: 'connecting' | 'open' | 'closed' | 'failed';
  /** The page that owns it (for a socket of a frame or worker: the nearest page), as the browser names it now. */
  pageTitle?: string;
  pageUrl?: string;
  /** Epoch ms. */
  openedAt: number;
  /**
   * Text and binary messages the page sent (out) and received (in), and their payload bytes: DevTools reports
   * messages, not the frames on the wire, so headers and control frames are not in these counts.
   */
  messagesOut: number;
  messagesIn: number;
  bytesOut: number;
  bytesIn: number;
}

/** Capture error code of a `Network.webSocketFrameError` after the upgrade. */
export const ERR_BROWSER_FRAME = 'WS_ERR_BROWSER_FRAME';
/** Capture error code of a `Network.webSocketFrameError` before any 101 (refused connection, bad upgrade). */
export const ERR_BROWSER_HANDSHAKE = 'WS_ERR_BROWSER_HANDSHAKE';

export interface BrowserSocketsOptions {
  /** Where the capture events go. */
  sink: CaptureSink;
  /** Extra labels on the connection events. */
  meta?: Record<string, string>;
  /** Closed sockets kept in list(); the oldest go first. */
  maxClosedSockets: number;
  /** The capture connectionId of a new socket. */
  newId(): string;
  /** A socket appeared or changed state. */
  changed(): void;
  /** An event it could not use, for the log. */
  warn(text: string): void;
}

interface HeadParts {
  startLine: string;
  headers: HttpHead['headers'];
}

interface SocketRecord {
  id: string;
  requestId: string;
  /** The session whose events describe this socket; others that report it too are ignored. */
  session: string;
  url: string;
  state: BrowserSocketInfo['state'];
  openedAt: number;
  /** See BrowserSocketInfo. */
  messagesOut: number;
  messagesIn: number;
  bytesOut: number;
  bytesIn: number;
  /** Page as it was when the socket was first seen, for when its session is gone. */
  pageTitle?: string;
  pageUrl?: string;
  request?: HeadParts;
  /** Monotonic seconds of the handshake request. */
  requestTs?: number;
  handshakeRecorded: boolean;
  /** The 'open' connection event was appended. */
  opened: boolean;
  /** Anything was appended for it (so a 'closed' event makes sense). */
  recorded: boolean;
  ended: boolean;
  meta?: Record<string, string>;
  closeC2s?: { code?: number; reason?: string };
  closeS2c?: { code?: number; reason?: string };
}

/** Maps the browser's monotonic `timestamp` (seconds) to epoch ms, using the `wallTime` of handshake requests. */
class BrowserClock {
  private offset: number | undefined;

  calibrate(wallTimeSec: unknown, timestampSec: unknown): void {
    if (isNum(wallTimeSec) && isNum(timestampSec)) this.offset = wallTimeSec * 1000 - timestampSec * 1000;
  }

  toEpochMs(timestampSec: unknown): number {
    if (!isNum(timestampSec)) return now();
    // Until a handshake gives the wall time, the first event's arrival stands in for it.
    this.offset ??= now() - timestampSec * 1000;
    return timestampSec * 1000 + this.offset;
  }
}

type FrameEvent = Protocol.Network.WebSocketFrameSentEvent | Protocol.Network.WebSocketFrameReceivedEvent;

/** The sockets of one attachment, by the requestId DevTools gives them. */
export class BrowserSockets {
  private readonly records = new Map<string, SocketRecord>();
  private readonly closedOrder: string[] = [];
  private readonly clock = new BrowserClock();

  constructor(
    private readonly targets: BrowserTargets,
    private readonly o: BrowserSocketsOptions,
  ) {}

  /** The sockets seen; `live`: the attachment is current, so their pages are named as they are now. */
  list(live: boolean): BrowserSocketInfo[] {
    const out: BrowserSocketInfo[] = [];
    for (const r of this.records.values()) {
      const page = live ? this.targets.pageOf(r.session) : undefined;
      out.push(stripUndefined({
        id: r.id,
        url: r.url,
        state: r.state,
        pageTitle: page?.title || r.pageTitle,
        pageUrl: page?.url || r.pageUrl,
        openedAt: r.openedAt,
        messagesOut: r.messagesOut,
        messagesIn: r.messagesIn,
        bytesOut: r.bytesOut,
        bytesIn: r.bytesIn,
      }));
    }
    return out;
  }

  /** Some socket has not ended. */
  hasOpen(): boolean {
    for (const r of this.records.values()) if (!r.ended) return true;
    return false;
  }

  /** A Network.webSocket* event of `session`. */
  onEvent(session: string, method: string, params: object): void {
    const requestId = (params as { requestId?: unknown }).requestId;
    if (typeof requestId !== 'string' || requestId === '') {
      this.o.warn(`${method} without a requestId`);
      return;
    }
    const existing = this.records.get(requestId);
    // A socket can be reported by more than one attached target; the first one to report it describes it.
    if (existing !== undefined && existing.session !== session) return;
    if (existing?.ended === true && method !== 'Network.webSocketCreated') return;
    const at = { session, requestId, existing };
    switch (method) {
      case 'Network.webSocketCreated':
        return this.onCreated(at, params as Protocol.Network.WebSocketCreatedEvent);
      case 'Network.webSocketWillSendHandshakeRequest':
        return this.onHandshakeRequest(at, params as Protocol.Network.WebSocketWillSendHandshakeRequestEvent);
      case 'Network.webSocketHandshakeResponseReceived':
        return this.onHandshakeResponse(at, params as Protocol.Network.WebSocketHandshakeResponseReceivedEvent);
      case 'Network.webSocketFrameSent':
      case 'Network.webSocketFrameReceived':
        return this.onFrame(at, method, params as FrameEvent);
      case 'Network.webSocketFrameError':
        return this.onFrameError(at, params as Protocol.Network.WebSocketFrameErrorEvent);
      case 'Network.webSocketClosed':
        if (existing === undefined) return;
        this.finish(existing, this.clock.toEpochMs((params as Protocol.Network.WebSocketClosedEvent).timestamp));
        this.o.changed();
        return;
    }
  }

  /** The sockets of sessions that went away end, with `endReason`; returns whether there were any. */
  endSessions(gone: Set<string>, endReason: string): boolean {
    let changed = false;
    for (const r of this.records.values()) {
      if (!r.ended && gone.has(r.session)) {
        this.finish(r, now(), endReason);
        changed = true;
      }
    }
    return changed;
  }

  /** Every socket not ended yet gets its 'closed' event, with `endReason`. */
  endAll(endReason: string): void {
    let changed = false;
    for (const r of [...this.records.values()]) {
      if (r.ended) continue;
      try {
        this.finish(r, now(), endReason);
      } catch (e) {
        this.o.warn(`Could not record the end of ${r.id}: ${errorText(e)}`);
      }
      changed = true;
    }
    if (changed) this.o.changed();
  }

  // --- the events ---

  private onCreated(at: SocketRef, p: Protocol.Network.WebSocketCreatedEvent): void {
    if (at.existing !== undefined && !at.existing.ended) return;
    this.newRecord(at.session, at.requestId, typeof p.url === 'string' ? p.url : '', now());
    this.o.changed();
  }

  private onHandshakeRequest(at: SocketRef, p: Protocol.Network.WebSocketWillSendHandshakeRequestEvent): void {
    this.clock.calibrate(p.wallTime, p.timestamp);
    const r = this.recordOf(at, this.clock.toEpochMs(p.timestamp));
    const request = objectOr(p.request);
    r.requestTs = isNum(p.timestamp) ? p.timestamp : undefined;
    r.request = { startLine: `GET ${pathOf(r.url)} HTTP/1.1`, headers: headerPairs(request?.headers) };
    if (at.existing === undefined) this.o.changed();
  }

  private onHandshakeResponse(at: SocketRef, p: Protocol.Network.WebSocketHandshakeResponseReceivedEvent): void {
    const response = objectOr(p.response);
    if (response === undefined) {
      this.o.warn('Network.webSocketHandshakeResponseReceived without a response');
      return;
    }
    const time = this.clock.toEpochMs(p.timestamp);
    const r = this.recordOf(at, time);
    this.recordHandshake(r, response, time, p.timestamp);
    this.o.changed();
  }

  private onFrame(at: SocketRef, method: string, p: FrameEvent): void {
    const frame = objectOr(p.response);
    const opcode = frame?.opcode;
    if (frame === undefined || !isNum(opcode) || !Number.isInteger(opcode) || opcode < 0 || opcode > 15 || typeof frame.payloadData !== 'string') {
      this.o.warn(`${method} with a malformed frame`);
      return;
    }
    const time = this.clock.toEpochMs(p.timestamp);
    const r = this.recordOf(at, time);
    this.ensureOpen(r, time);
    // Chromium sends a text message as a string and everything else as base64.
    const payload = opcode === OPCODE_TEXT ? Buffer.from(frame.payloadData, 'utf8') : Buffer.from(frame.payloadData, 'base64');
    const direction = method === 'Network.webSocketFrameSent' ? 'c2s' : 's2c';
    recordSyntheticFrame(this.o.sink, { connectionId: r.id, direction, opcode, payload, time, masked: frame.mask === true });
    r.recorded = true;
    if (opcode === OPCODE_TEXT || opcode === OPCODE_BINARY) {
      if (direction === 'c2s') {
        r.messagesOut++;
        r.bytesOut += payload.length;
      } else {
        r.messagesIn++;
        r.bytesIn += payload.length;
      }
    }
    if (opcode === OPCODE_CLOSE) {
      const close = payload.length >= 2 ? { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') } : {};
      if (direction === 'c2s') r.closeC2s = close;
      else r.closeS2c = close;
    }
  }

  private onFrameError(at: SocketRef, p: Protocol.Network.WebSocketFrameErrorEvent): void {
    const time = this.clock.toEpochMs(p.timestamp);
    const r = this.recordOf(at, time);
    const text = typeof p.errorMessage === 'string' && p.errorMessage !== '' ? p.errorMessage : 'WebSocket error';
    const beforeOpen = !r.opened;
    if (beforeOpen && !r.handshakeRecorded && r.request !== undefined) {
      // A refused upgrade: Chromium reports no response head, only "Unexpected response code: 403".
      const status = /response code: (\d{3})\b/.exec(text);
      recordSyntheticHandshake(this.o.sink, { connectionId: r.id, request: r.request, status: status ? Number(status[1]) : 0, time });
      r.handshakeRecorded = true;
    }
    const ev: Omit<ErrorEvent, 'id'> = {
      kind: 'error',
      connectionId: r.id,
      time,
      direction: beforeOpen ? undefined : 's2c',
      code: beforeOpen ? ERR_BROWSER_HANDSHAKE : ERR_BROWSER_FRAME,
      closeCode: beforeOpen ? 1006 : closeCodeFor(text),
      message: `Browser: ${text}`,
    };
    this.o.sink.append(ev);
    r.recorded = true;
  }

  // --- the records ---

  /** The socket the event is about; one first seen after it opened gets its record now. */
  private recordOf(at: SocketRef, time: number): SocketRecord {
    return at.existing ?? this.newRecord(at.session, at.requestId, '', time);
  }

  private newRecord(session: string, requestId: string, url: string, openedAt: number): SocketRecord {
    const page = this.targets.pageOf(session);
    const r: SocketRecord = {
      id: this.o.newId(),
      requestId,
      session,
      url,
      state: 'connecting',
      openedAt,
      messagesOut: 0,
      messagesIn: 0,
      bytesOut: 0,
      bytesIn: 0,
      pageTitle: page?.title || undefined,
      pageUrl: page?.url || undefined,
      handshakeRecorded: false,
      opened: false,
      recorded: false,
      ended: false,
    };
    // A requestId seen again after its socket closed starts a new record.
    this.records.delete(requestId);
    this.records.set(requestId, r);
    this.targets.refreshPageInfo(session);
    return r;
  }

  private recordHandshake(r: SocketRecord, response: Protocol.Network.WebSocketResponse, time: number, timestamp: number): void {
    if (r.handshakeRecorded) return;
    // The response repeats the request as sent (requestHeadersText: start line and headers in wire order).
    const requestText = typeof response.requestHeadersText === 'string' ? parseHeadText(response.requestHeadersText) : undefined;
    if (requestText !== undefined) {
      const line = parseRequestLine(requestText.startLine);
      if (line !== undefined && /^wss?:\/\//i.test(line.target)) {
        if (r.url === '') r.url = line.target;
        // Chromium prints the absolute URL; on the wire the request line had the path.
        requestText.startLine = `${line.method} ${pathOf(line.target)} ${line.version}`;
      }
      r.request = requestText;
    } else if (r.request === undefined && response.requestHeaders !== undefined) {
      r.request = { startLine: `GET ${pathOf(r.url)} HTTP/1.1`, headers: headerPairs(response.requestHeaders) };
    }
    const status = isNum(response.status) ? response.status : 0;
    const statusText = typeof response.statusText === 'string' ? response.statusText : '';
    const head = (typeof response.headersText === 'string' ? parseHeadText(response.headersText) : undefined) ?? {
      startLine: `HTTP/1.1 ${status}${statusText === '' ? '' : ` ${statusText}`}`,
      headers: headerPairs(response.headers),
    };
    recordSyntheticHandshake(this.o.sink, {
      connectionId: r.id,
      request: r.request ?? { startLine: `GET ${pathOf(r.url)} HTTP/1.1`, headers: [] },
      response: head,
      status,
      time,
      openMs: r.requestTs !== undefined && isNum(timestamp) ? Math.max(0, (timestamp - r.requestTs) * 1000) : undefined,
    });
    r.handshakeRecorded = true;
    r.recorded = true;
    if (status === 101) this.ensureOpen(r, time);
  }

  private ensureOpen(r: SocketRecord, time: number): void {
    if (r.opened) return;
    r.opened = true;
    r.state = 'open';
    r.meta = this.metaFor(r);
    recordSyntheticConnection(this.o.sink, { connectionId: r.id, state: 'open', role: 'client', meta: r.meta, time });
    r.recorded = true;
    this.o.changed();
  }

  /** The socket is gone: a request that got no response is recorded as such, then the 'closed' event. */
  private finish(r: SocketRecord, time: number, endReason?: string): void {
    if (r.ended) return;
    r.ended = true;
    r.state = r.opened ? 'closed' : 'failed';
    // Its page as last known, for list() once the session is gone.
    const page = this.targets.pageOf(r.session);
    r.pageTitle = page?.title || r.pageTitle;
    r.pageUrl = page?.url || r.pageUrl;
    try {
      if (!r.handshakeRecorded && r.request !== undefined) {
        recordSyntheticHandshake(this.o.sink, { connectionId: r.id, request: r.request, status: 0, time });
        r.handshakeRecorded = true;
        r.recorded = true;
      }
      if (r.recorded) {
        // The browser is the client: the peer's close frame is the one it received.
        const close = r.closeS2c ?? r.closeC2s;
        const meta = r.meta ?? this.metaFor(r);
        recordSyntheticConnection(this.o.sink, {
          connectionId: r.id,
          state: 'closed',
          role: 'client',
          meta: endReason === undefined ? meta : { ...meta, endReason },
          code: close?.code,
          reason: close?.reason,
          clean: r.closeC2s !== undefined && r.closeS2c !== undefined,
          time,
        });
      }
    } finally {
      this.closedOrder.push(r.requestId);
      while (this.closedOrder.length > this.o.maxClosedSockets) {
        const old = this.closedOrder.shift()!;
        const rec = this.records.get(old);
        if (rec?.ended === true) this.records.delete(old);
      }
    }
  }

  private metaFor(r: SocketRecord): Record<string, string> {
    const page = this.targets.pageOf(r.session);
    const own = this.targets.session(r.session);
    const meta: Record<string, string> = { ...this.o.meta, source: 'browser', url: r.url };
    // The title is left out: Chromium does not report title changes, so a recorded one could be stale.
    const pageUrl = page?.url || r.pageUrl;
    if (pageUrl) meta.page = pageUrl;
    if (own !== undefined && own.type !== 'page' && own.type !== 'browser') meta.target = own.type;
    return meta;
  }
}

/** Which socket an event is about: its record, if it has one yet. */
interface SocketRef {
  session: string;
  requestId: string;
  existing: SocketRecord | undefined;
}

/** CDP `Headers` (an object; repeated headers joined by newlines) as name/value pairs. */
function headerPairs(x: Protocol.Network.Headers | undefined): Array<[string, string]> {
  const h = objectOr(x);
  if (h === undefined) return [];
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(h)) {
    if (typeof v !== 'string') continue;
    for (const one of v.split('\n')) out.push([k, one]);
  }
  return out;
}

/** A head Chromium printed (start line, CRLF-separated headers); undefined when it does not look like one. */
function parseHeadText(text: string): HeadParts | undefined {
  if (text === '') return undefined;
  const full = text.endsWith('\r\n\r\n') ? text : `${text.replace(/(\r\n)*$/, '')}\r\n\r\n`;
  // Chromium builds these strings from the header bytes one char per byte, so latin1 gives the bytes back.
  const head = parseHttpHead(Buffer.from(full, 'latin1'));
  if (head.startLine === '') return undefined;
  return { startLine: head.startLine, headers: head.headers };
}

function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.pathname || '/'}${u.search}`;
  } catch {
    return '/';
  }
}

/** The close status a browser frame error calls for, from Chromium's message. */
function closeCodeFor(message: string): number {
  if (/utf-?8/i.test(message)) return 1007;
  if (/too (big|large)|exceed/i.test(message)) return 1009;
  return 1002;
}
