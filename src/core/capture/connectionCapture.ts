// Turns one connection's raw bytes (both directions) into capture events: handshake, frames, messages, errors.
import { DirectionCapture } from './directionCapture';
import type { CaptureSink, DeflateParams, Direction, ErrorEvent, HandshakeEvent, HttpHead, NewCaptureEvent, UnsentRecord } from './events';
import {
  type FanOutRecipient,
  type FanOutSlot,
  fanOutGeneration,
  fanOutSharedBytes,
  releaseFanOutSlot,
  setFanOutShareLimit,
  takeFanOutSlot,
} from './fanOutRecord';
import { stripUndefined } from '../util/objects';
import { DEFAULT_MAX_PAYLOAD } from '../wire/constants';
import { negotiatedDeflate } from '../wire/deflate';
import { WireError, createWireError } from '../wire/errors';
import { HttpHeadParser, getHeader, parseStatusLine, upgradeProblem } from '../wire/handshake';

export interface ConnectionCaptureOptions {
  connectionId: string;
  /** Which end this process is: inbound bytes are c2s for 'server', s2c for 'client'. */
  role: 'server' | 'client';
  sink: CaptureSink;
  /** Labels put on the connection events. */
  meta?: Record<string, string>;
  /** Frame and message size limit; larger ones are recorded as 1009 violations. Default 100 MiB. */
  maxPayload?: number;
  /** How much of a failed upgrade's response body is kept. Default 4096. */
  maxFailedBodyBytes?: number;
  /** Bytes a client may send after its request head before the response arrives. Default 1 MiB. */
  maxEarlyDataBytes?: number;
  /**
   * The time of what is fed now, in epoch ms. Default the process's clock (performance.timeOrigin + performance.now());
   * a reader of a recorded capture gives each packet's time.
   */
  clock?: () => number;
}

const HEAD = 0;
/** c2s: request head seen, holding any further bytes until the response says what they are. */
const WAIT = 1;
const FRAMES = 2;
/** s2c: the body of a failed upgrade. */
const BODY = 3;
const IGNORE = 4;

const timeOrigin = performance.timeOrigin;
const now = (): number => timeOrigin + performance.now();

/**
 * The capture of one connection. Feed it every byte the socket read (`inbound`) and wrote (`outbound`), each exactly
 * once and in order, then call `end()`. It never throws: an internal failure is recorded as `WS_ERR_CAPTURE_INTERNAL`
 * and capture stops.
 */
export class ConnectionCapture implements FanOutRecipient {
  readonly connectionId: string;
  /** Frame and message size limit (see ConnectionCaptureOptions). */
  readonly maxPayload: number;
  /**
   * True when a whole frame this process writes next may be recorded by another capture's record of the same write
   * (see recordFanOut): capture running, and the direction this process writes is between messages and without
   * deflate (whose context is per connection). Kept up to date by every write (in the fan-out's slot, too).
   */
  private shareable = false;
  /** This capture's slot in the fan-out's arrays, once a fan-out asked for it; -1 before and after. */
  private slot = -1;
  private _bytesOut = 0;
  private readonly role: 'server' | 'client';
  private readonly sink: CaptureSink;
  private readonly meta: Record<string, string> | undefined;
  private readonly maxFailedBodyBytes: number;
  private readonly maxEarlyDataBytes: number;
  private readonly clock: (() => number) | undefined;
  private readonly now: () => number;

  private _bytesIn = 0;
  private stopped = false;
  private ended = false;

  private c2sState = HEAD;
  private s2cState = HEAD;
  private readonly requestParser = new HttpHeadParser();
  private readonly responseParser = new HttpHeadParser();
  private request: HttpHead | undefined;
  private response: HttpHead | undefined;
  private firstRequestByteTime = 0;
  private responseHeadTime = 0;
  private early: Buffer[] = [];
  private earlyBytes = 0;

  private _handshake: HandshakeEvent | undefined;
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private contentLength: number | undefined;

  private c2s: DirectionCapture | undefined;
  private s2c: DirectionCapture | undefined;
  /** The id of the 'open' event: the frames of this connection come after it. */
  private openId = 0;
  /** bytesOut once this end's close frame was written (its last byte), or -1 before. */
  private closeWrittenAt = -1;

  constructor(o: ConnectionCaptureOptions) {
    this.connectionId = o.connectionId;
    this.role = o.role;
    this.sink = o.sink;
    this.meta = o.meta;
    this.maxPayload = o.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.maxFailedBodyBytes = o.maxFailedBodyBytes ?? 4096;
    this.maxEarlyDataBytes = o.maxEarlyDataBytes ?? 1024 * 1024;
    this.clock = o.clock;
    this.now = o.clock ?? now;
  }

  /** The handshake event once it was appended. */
  get handshake(): HandshakeEvent | undefined {
    return this._handshake;
  }

  get bytesIn(): number {
    return this._bytesIn;
  }

  get bytesOut(): number {
    if (this.slot < 0) return this._bytesOut;
    return this._bytesOut + fanOutSharedBytes(this.slot);
  }

  /**
   * Where recordFanOut finds this capture. Only a writer that sends this connection's bytes past its socket tap and
   * records them with recordFanOut asks for it (the broadcast server, once per client). Undefined once ended.
   */
  fanOutSlot(): FanOutSlot | undefined {
    if (this.ended) return undefined;
    if (this.slot < 0) this.slot = takeFanOutSlot(this, this.shareable ? this.maxPayload : -1);
    return { slot: this.slot, generation: fanOutGeneration(this.slot) };
  }

  /** Bytes the socket read. */
  inbound(chunk: Buffer): void {
    this._bytesIn += chunk.length;
    if (!this.stopped) this.feed(this.role === 'server' ? 'c2s' : 's2c', chunk);
  }

  /** Bytes the socket wrote. */
  outbound(chunk: Buffer): void {
    // After end() nothing is recorded: the connection's 'closed' event was the last (a fan-out may still write).
    if (this.ended) return;
    this._bytesOut += chunk.length;
    if (this.stopped) return;
    this.feed(this.role === 'server' ? 's2c' : 'c2s', chunk);
    if (this.closeWrittenAt < 0 && (this.role === 'server' ? this.s2c : this.c2s)?.close !== undefined) this.closeWrittenAt = this.bytesOut;
    this.updateShareable();
  }

  /** Records `parts`, written to this connection and to those of `alsoSentTo` (see recordFanOut). */
  recordShared(parts: readonly Buffer[], alsoSentTo: readonly string[] | undefined): void {
    if (!this.shareable) {
      for (const p of parts) this.outbound(p);
      return;
    }
    const d = (this.role === 'server' ? this.s2c : this.c2s)!;
    for (const p of parts) this._bytesOut += p.length;
    try {
      if (!d.recordWholeFrame(parts, alsoSentTo)) for (const p of parts) d.pushShared(p, alsoSentTo);
    } catch (e) {
      this.internal(e);
      return;
    }
    this.updateShareable();
  }

  private updateShareable(): void {
    const d = this.role === 'server' ? this.s2c : this.c2s;
    this.setShareable(!this.stopped && !this.ended && d !== undefined && d.between() && d.deflate === undefined);
  }

  private setShareable(v: boolean): void {
    this.shareable = v;
    if (this.slot >= 0) setFanOutShareLimit(this.slot, v ? this.maxPayload : -1);
  }

  /**
   * The socket is gone: flushes a pending handshake, records what its bytes stopped inside, and appends the
   * 'connection' closed event. `flushedOut` is how many of the bytes written the kernel took (see SocketTap.flushedOut),
   * when the socket has closed: the rest were never sent. Idempotent.
   */
  end(flushedOut?: number): void {
    if (this.ended) return;
    this.ended = true;
    this.setShareable(false);
    if (this.slot >= 0) {
      this._bytesOut += releaseFanOutSlot(this.slot);
      this.slot = -1;
    }
    try {
      // A failed upgrade whose body never completed, or a request that got no response.
      if (!this.stopped && this.request !== undefined && this._handshake === undefined) this.emitHandshake(this.now());
      if (!this.stopped) {
        this.c2s?.finish();
        this.s2c?.finish();
      }
      this.sink.append(this.closedEvent(flushedOut));
    } catch (e) {
      this.internal(e);
    }
  }

  private closedEvent(flushedOut: number | undefined): NewCaptureEvent {
    const peer = this.role === 'server' ? this.c2s : this.s2c;
    const local = this.role === 'server' ? this.s2c : this.c2s;
    const unsentBytes = flushedOut === undefined ? 0 : Math.max(0, this._bytesOut - flushedOut);
    const sentClose = local?.close && { ...local.close };
    if (sentClose !== undefined && unsentBytes > 0 && this.closeWrittenAt > this._bytesOut - unsentBytes) sentClose.unsent = true;
    const receivedClose = peer?.close && { ...peer.close };
    const sentCrossed = sentClose !== undefined && sentClose.unsent !== true;
    const clean = sentCrossed && receivedClose !== undefined;
    // Only what the capture saw: none before frames (a failed upgrade) or once it stopped. Copies, plain data.
    const framed = local !== undefined && peer !== undefined && !this.stopped;
    const close = receivedClose ?? (sentCrossed ? sentClose : undefined);
    return stripUndefined({
      kind: 'connection' as const,
      connectionId: this.connectionId,
      time: this.now(),
      state: 'closed' as const,
      role: this.role,
      meta: this.meta,
      code: close?.code,
      reason: close?.reason,
      clean,
      closeFrames: framed ? stripUndefined({ sent: sentClose, received: receivedClose }) : undefined,
      missingClose: framed && !clean ? (!sentCrossed && receivedClose === undefined ? 'both' : sentCrossed ? 'received' : 'sent') : undefined,
      unsent: unsentBytes > 0 ? this.unsentRecord(unsentBytes) : undefined,
      bytesIn: this._bytesIn,
      bytesOut: this._bytesOut - unsentBytes,
    });
  }

  /** The frames of the last `bytes` this end wrote: they never left. */
  private unsentRecord(bytes: number): UnsentRecord {
    const found = this.sink.framesInLastBytes?.(this.connectionId, this.role === 'server' ? 's2c' : 'c2s', bytes, this.openId);
    return { bytes, frameIds: found?.frameIds ?? [], messageIds: found?.messageIds ?? [] };
  }

  /** @internal Used by the direction captures. */
  recordError(err: WireError, direction: Direction | undefined): void {
    const ev: Omit<ErrorEvent, 'id'> = {
      kind: 'error',
      connectionId: this.connectionId,
      time: this.now(),
      direction: err.direction ?? direction,
      code: err.code,
      closeCode: err.closeCode,
      message: err.message,
    };
    this.sink.append(ev);
  }

  private feed(dir: Direction, chunk: Buffer): void {
    try {
      if (dir === 'c2s') this.feedC2s(chunk);
      else this.feedS2c(chunk);
    } catch (e) {
      this.internal(e);
    }
  }

  private feedC2s(chunk: Buffer): void {
    switch (this.c2sState) {
      case FRAMES:
        this.c2s!.push(chunk);
        return;
      case HEAD: {
        if (this.firstRequestByteTime === 0) this.firstRequestByteTime = this.now();
        const r = this.parseHead(this.requestParser, chunk, 'c2s');
        if (r === undefined) return;
        this.request = r.head;
        this.c2sState = WAIT;
        if (r.rest.length > 0) this.feedC2s(r.rest);
        return;
      }
      case WAIT:
        this.earlyBytes += chunk.length;
        if (this.earlyBytes > this.maxEarlyDataBytes) {
          this.c2sState = IGNORE;
          this.early = [];
          this.recordError(
            createWireError('WS_ERR_EARLY_DATA_TOO_LARGE', `over ${this.maxEarlyDataBytes} bytes sent before the handshake response`, 1009),
            'c2s',
          );
          return;
        }
        this.early.push(chunk);
        return;
      default:
        return;
    }
  }

  private feedS2c(chunk: Buffer): void {
    switch (this.s2cState) {
      case FRAMES:
        this.s2c!.push(chunk);
        return;
      case HEAD: {
        const r = this.parseHead(this.responseParser, chunk, 's2c');
        if (r === undefined) return;
        this.response = r.head;
        this.responseHeadTime = this.now();
        this.onResponseHead(r.rest);
        return;
      }
      case BODY:
        this.collectBody(chunk);
        return;
      default:
        return;
    }
  }

  private parseHead(parser: HttpHeadParser, chunk: Buffer, dir: Direction): ReturnType<HttpHeadParser['push']> {
    try {
      return parser.push(chunk);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      if (dir === 'c2s') this.c2sState = IGNORE;
      else this.s2cState = IGNORE;
      this.recordError(e, dir);
      return undefined;
    }
  }

  private onResponseHead(rest: Buffer): void {
    const response = this.response!;
    const status = parseStatusLine(response.startLine)?.status ?? 0;
    if (status !== 101) {
      this.c2sState = IGNORE;
      this.early = [];
      this.s2cState = BODY;
      const cl = getHeader(response, 'content-length');
      this.contentLength = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : undefined;
      if (this.contentLength === 0 || this.isBodyless(status)) this.emitHandshake(this.responseHeadTime);
      else if (rest.length > 0) this.collectBody(rest);
      return;
    }

    let deflate: DeflateParams | undefined;
    try {
      deflate = negotiatedDeflate(getHeader(response, 'sec-websocket-extensions'));
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.recordError(e, 's2c');
    }
    this.emitHandshake(this.responseHeadTime, deflate);
    this.openId = this.sink.append({
      kind: 'connection',
      connectionId: this.connectionId,
      time: this.responseHeadTime,
      state: 'open',
      role: this.role,
      meta: this.meta,
    });

    // The bytes after a 101 are frames, even if the upgrade was invalid: decode them so the inspector shows them.
    this.c2s = new DirectionCapture(this, this.sink, this.connectionId, 'c2s', this.maxPayload, deflate, this.clock);
    this.s2c = new DirectionCapture(this, this.sink, this.connectionId, 's2c', this.maxPayload, deflate, this.clock);
    this.s2cState = FRAMES;
    if (this.c2sState === WAIT) {
      this.c2sState = FRAMES;
      const early = this.early;
      this.early = [];
      for (const b of early) this.c2s.push(b);
    }
    if (rest.length > 0) this.s2c.push(rest);
  }

  private isBodyless(status: number): boolean {
    return (status >= 100 && status < 200) || status === 204 || status === 304;
  }

  private collectBody(chunk: Buffer): void {
    const room = this.maxFailedBodyBytes - this.bodyBytes;
    const total = this.bodyBytes + chunk.length;
    if (room > 0) this.body.push(chunk.length <= room ? chunk : chunk.subarray(0, room));
    this.bodyBytes = total;
    const cl = this.contentLength;
    if (total > this.maxFailedBodyBytes || (cl !== undefined && total >= cl)) {
      this.emitHandshake(this.now());
      this.s2cState = IGNORE;
    }
  }

  private emitHandshake(time: number, deflate?: DeflateParams): void {
    const request = this.request;
    if (request === undefined || this._handshake !== undefined) return;
    const response = this.response;
    const status = response ? parseStatusLine(response.startLine)?.status ?? 0 : 0;
    const problem = response !== undefined && status === 101 ? upgradeProblem(request, response) : 'no 101';
    const ok = problem === undefined;
    const ev: Omit<HandshakeEvent, 'id'> = { kind: 'handshake', connectionId: this.connectionId, time, request, status, ok };
    if (response !== undefined) {
      ev.response = response;
      if (this.firstRequestByteTime !== 0) ev.openMs = this.responseHeadTime - this.firstRequestByteTime;
      if (status === 101) {
        const sub = getHeader(response, 'sec-websocket-protocol');
        if (sub !== undefined) ev.subprotocol = sub;
        const ext = getHeader(response, 'sec-websocket-extensions');
        if (ext !== undefined) ev.extensions = ext;
        if (deflate !== undefined) ev.deflate = deflate;
      } else {
        const cl = this.contentLength;
        const kept = Math.min(this.bodyBytes, this.maxFailedBodyBytes);
        if (kept > 0) ev.body = Buffer.concat(this.body, kept);
        this.body = [];
        if (this.bodyBytes > kept || (cl !== undefined && cl > kept)) ev.bodyTruncated = true;
      }
    }
    this._handshake = ev as HandshakeEvent;
    this.sink.append(ev);
    if (status === 101 && !ok) this.recordError(createWireError('WS_ERR_INVALID_HANDSHAKE', `invalid upgrade: ${problem}`, 1002), 's2c');
  }

  private internal(e: unknown): void {
    this.stopped = true;
    this.setShareable(false);
    try {
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      this.recordError(createWireError('WS_ERR_CAPTURE_INTERNAL', `capture stopped: ${msg}`, 1011), undefined);
    } catch {
      // The sink itself failed: nothing more can be recorded.
    }
  }
}
