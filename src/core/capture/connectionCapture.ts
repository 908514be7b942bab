// Turns one connection's raw bytes (both directions) into capture events: handshake, frames, messages, errors.
import type {
  CaptureSink,
  DeflateParams,
  Direction,
  ErrorEvent,
  FrameEvent,
  HandshakeEvent,
  HttpHead,
  MessageEvent,
} from './events';
import { DEFAULT_MAX_PAYLOAD, OPCODE_CLOSE } from '../wire/constants';
import { PassiveInflater, negotiatedDeflate } from '../wire/deflate';
import { WireError, createWireError } from '../wire/errors';
import { DecodedFrame, FrameDecoder } from '../wire/frameDecoder';
import { HttpHeadParser, getHeader, parseStatusLine, upgradeProblem } from '../wire/handshake';
import { AssembledMessage, MessageAssembler } from '../wire/messageAssembler';

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
 * The last chunk that decoded into exactly one whole message, for this tick only. The broadcast server frames a
 * message once and writes that same Buffer to every client: each later capture that sees the very same Buffer
 * while between messages adds itself to that frame and message (`alsoSentTo`) instead of decoding it again and
 * appending its own copies. Same bytes, same result; only the timestamps of the later writes are not kept.
 */
interface Burst {
  chunk: Buffer;
  direction: Direction;
  frame: FrameEvent;
  message: MessageEvent;
}
let burst: Burst | undefined;
let burstExpiryScheduled = false;

function expireBurst(): void {
  burst = undefined;
  burstExpiryScheduled = false;
}

function rememberBurst(b: Burst): void {
  burst = b;
  if (!burstExpiryScheduled) {
    burstExpiryScheduled = true;
    process.nextTick(expireBurst);
  }
}

/** One direction's decoder and assembler, and the frame events of its open message. */
class DirectionCapture {
  readonly decoder: FrameDecoder;
  readonly assembler: MessageAssembler;
  /** Events and ids of the open fragmented message's frames. */
  private pendingEvents: FrameEvent[] = [];
  private pendingIds: number[] = [];
  private lastEvent: FrameEvent | undefined;
  private lastId = 0;
  private lastMessage: MessageEvent | undefined;
  /** Counts of frames and messages appended, to tell when one chunk gave exactly one whole message. */
  private framesSeen = 0;
  private messagesSeen = 0;
  private errorsSeen = 0;
  /**
   * `between()` as of the end of the last push: only a push changes it. Kept as a field so that joining a burst
   * reads this one object, not the decoder and the assembler too (a fan-out joins once per recipient).
   */
  private atBoundary = true;
  /** The close frame this direction sent, if any: code 1005 when it had none. */
  close: { code: number; reason: string } | undefined;

  constructor(
    private readonly owner: ConnectionCapture,
    private readonly sink: CaptureSink,
    private readonly connectionId: string,
    private readonly direction: Direction,
    private readonly maxPayload: number,
    private readonly deflate: DeflateParams | undefined,
    /**
     * These are the bytes this process wrote. Only writes can be one broadcast to many connections; a chunk that
     * was read and then written on (the inspecting proxy forwards the very Buffer it read) is two records, one per
     * leg, each with its own time.
     */
    private readonly written: boolean,
  ) {
    this.decoder = new FrameDecoder({
      direction,
      maxPayload,
      rsv1Allowed: deflate !== undefined,
      onFrame: this.onFrame,
      onError: this.onError,
    });
    this.assembler = new MessageAssembler({
      direction,
      maxMessageSize: maxPayload,
      inflater: deflate ? PassiveInflater.forDirection(deflate, direction, maxPayload) : undefined,
      onMessage: this.onMessage,
      onError: this.onError,
    });
  }

  /** Decodes the next bytes of this direction, or joins the burst they are part of (see Burst). */
  push(chunk: Buffer): void {
    const b = burst;
    if (b !== undefined && b.chunk === chunk && this.atBoundary && this.written && b.direction === this.direction && b.frame.payloadLength <= this.maxPayload) {
      // One array serves the frame and its message: they went to the same connections.
      let others = b.frame.alsoSentTo;
      if (others === undefined) b.frame.alsoSentTo = b.message.alsoSentTo = others = [];
      // Nothing else changes here: lastEvent and friends are only read for what the next decode produces. (Keeping
      // the old capture free of pointers to this young record also spares the scavenger a remembered-set entry
      // per recipient.)
      others.push(this.connectionId);
      return;
    }
    const frames = this.framesSeen;
    const messages = this.messagesSeen;
    const errors = this.errorsSeen;
    this.decoder.push(chunk);
    this.atBoundary = this.between();
    // Deflate keeps per-connection context, so only uncompressed directions can share. A chunk that raised an
    // error is not shared, so that each connection records its own.
    if (
      this.framesSeen === frames + 1 &&
      this.messagesSeen === messages + 1 &&
      this.errorsSeen === errors &&
      this.written &&
      this.deflate === undefined &&
      this.atBoundary
    ) {
      rememberBurst({ chunk, direction: this.direction, frame: this.lastEvent!, message: this.lastMessage! });
    }
    // Only this push needed them. Held until the connection's next message (100 ms away for a client sending 10/s),
    // a thousand connections' last records would outlive a scavenge or two and die in the old generation, which is
    // what made full collections frequent under load.
    this.lastEvent = undefined;
    this.lastMessage = undefined;
  }

  /** Between messages: a chunk starting here starts a new frame and a new message. */
  private between(): boolean {
    return this.decoder.idle && this.assembler.idle && this.pendingIds.length === 0;
  }

  private readonly onFrame = (f: DecodedFrame): void => {
    this.framesSeen++;
    // Every field is present from the start (the store's `id` and the later closeCode/messageId included), so the
    // object keeps one shape: adding properties after creation costs a map transition on the hot path.
    const ev: FrameEvent = {
      id: 0,
      kind: 'frame',
      connectionId: this.connectionId,
      time: f.time,
      direction: this.direction,
      fin: f.fin,
      rsv1: f.rsv1,
      rsv2: f.rsv2,
      rsv3: f.rsv3,
      opcode: f.opcode,
      masked: f.masked,
      maskKey: f.maskKey,
      payloadLength: f.payloadLength,
      lengthForm: f.lengthForm,
      headerLength: f.headerLength,
      header: f.header,
      payload: f.payload,
      closeCode: undefined,
      closeReason: undefined,
      messageId: undefined,
      alsoSentTo: undefined,
    };
    const id = this.sink.append(ev);
    const op = f.opcode;
    if (op < 0x8) {
      this.lastEvent = ev;
      this.lastId = id;
      if (op !== 0) {
        if (this.pendingIds.length !== 0) this.clearPending();
        if (!f.fin) {
          this.pendingEvents.push(ev);
          this.pendingIds.push(id);
        }
      } else {
        this.pendingEvents.push(ev);
        this.pendingIds.push(id);
      }
    }
    const close = this.assembler.push(f);
    if (close !== undefined) {
      // Mutating after append is fine: the store keeps this object.
      ev.closeCode = close.code;
      ev.closeReason = close.reason;
      if (op === OPCODE_CLOSE && this.close === undefined) this.close = { code: close.code ?? 1005, reason: close.reason ?? '' };
    }
  };

  private readonly onMessage = (m: AssembledMessage): void => {
    let frameIds: number[];
    let events: FrameEvent[] | undefined;
    if (m.frames.length === 1) {
      frameIds = [this.lastId];
    } else {
      const k = m.frames.length;
      frameIds = this.pendingIds.slice(this.pendingIds.length - k);
      events = this.pendingEvents.slice(this.pendingEvents.length - k);
      this.clearPending();
    }
    const last = m.frames[m.frames.length - 1];
    const ev: MessageEvent = {
      id: 0,
      kind: 'message',
      connectionId: this.connectionId,
      time: last.time,
      direction: this.direction,
      opcode: m.opcode,
      data: m.data,
      wireLength: m.wireLength,
      compressed: m.compressed,
      inflatedLength: m.inflatedLength,
      inflateError: m.inflateError,
      utf8Valid: m.utf8Valid,
      frameIds,
      alsoSentTo: undefined,
    };
    this.messagesSeen++;
    this.lastMessage = ev;
    const messageId = this.sink.append(ev);
    if (events === undefined) {
      if (this.lastEvent !== undefined) this.lastEvent.messageId = messageId;
    } else {
      for (const e of events) e.messageId = messageId;
    }
  };

  private readonly onError = (err: WireError): void => {
    this.errorsSeen++;
    this.owner.recordError(err, this.direction);
  };

  private clearPending(): void {
    this.pendingEvents = [];
    this.pendingIds = [];
  }
}

/**
 * The capture of one connection. Feed it every byte the socket read (`inbound`) and wrote (`outbound`), each exactly
 * once and in order, then call `end()`. It never throws: an internal failure is recorded as `WS_ERR_CAPTURE_INTERNAL`
 * and capture stops.
 */
export class ConnectionCapture {
  private readonly connectionId: string;
  private readonly role: 'server' | 'client';
  private readonly sink: CaptureSink;
  private readonly meta: Record<string, string> | undefined;
  private readonly maxPayload: number;
  private readonly maxFailedBodyBytes: number;
  private readonly maxEarlyDataBytes: number;

  private _bytesIn = 0;
  private _bytesOut = 0;
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

  constructor(o: ConnectionCaptureOptions) {
    this.connectionId = o.connectionId;
    this.role = o.role;
    this.sink = o.sink;
    this.meta = o.meta;
    this.maxPayload = o.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.maxFailedBodyBytes = o.maxFailedBodyBytes ?? 4096;
    this.maxEarlyDataBytes = o.maxEarlyDataBytes ?? 1024 * 1024;
  }

  /** The handshake event once it was appended. */
  get handshake(): HandshakeEvent | undefined {
    return this._handshake;
  }

  get bytesIn(): number {
    return this._bytesIn;
  }

  get bytesOut(): number {
    return this._bytesOut;
  }

  /** Bytes the socket read. */
  inbound(chunk: Buffer): void {
    this._bytesIn += chunk.length;
    if (!this.stopped) this.feed(this.role === 'server' ? 'c2s' : 's2c', chunk);
  }

  /** Bytes the socket wrote. */
  outbound(chunk: Buffer): void {
    this._bytesOut += chunk.length;
    if (!this.stopped) this.feed(this.role === 'server' ? 's2c' : 'c2s', chunk);
  }

  /** The socket is gone: flushes a pending handshake and appends the 'connection' closed event. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    try {
      // A failed upgrade whose body never completed, or a request that got no response.
      if (!this.stopped && this.request !== undefined && this._handshake === undefined) this.emitHandshake(now());
      const peer = this.role === 'server' ? this.c2s : this.s2c;
      const local = this.role === 'server' ? this.s2c : this.c2s;
      const close = peer?.close ?? local?.close;
      this.sink.append({
        kind: 'connection',
        connectionId: this.connectionId,
        time: now(),
        state: 'closed',
        role: this.role,
        meta: this.meta,
        code: close?.code,
        reason: close?.reason,
        clean: this.c2s?.close !== undefined && this.s2c?.close !== undefined,
        bytesIn: this._bytesIn,
        bytesOut: this._bytesOut,
      });
    } catch (e) {
      this.internal(e);
    }
  }

  /** @internal Used by the direction captures. */
  recordError(err: WireError, direction: Direction | undefined): void {
    const ev: Omit<ErrorEvent, 'id'> = {
      kind: 'error',
      connectionId: this.connectionId,
      time: now(),
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
        if (this.firstRequestByteTime === 0) this.firstRequestByteTime = now();
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
        this.responseHeadTime = now();
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
    this.sink.append({
      kind: 'connection',
      connectionId: this.connectionId,
      time: this.responseHeadTime,
      state: 'open',
      role: this.role,
      meta: this.meta,
    });

    // The bytes after a 101 are frames, even if the upgrade was invalid: decode them so the inspector shows them.
    this.c2s = new DirectionCapture(this, this.sink, this.connectionId, 'c2s', this.maxPayload, deflate, this.role === 'client');
    this.s2c = new DirectionCapture(this, this.sink, this.connectionId, 's2c', this.maxPayload, deflate, this.role === 'server');
    this.s2cState = FRAMES;
    if (this.c2sState === WAIT) {
      this.c2sState = FRAMES;
      const early = this.early;
      this.early = [];
      for (const b of early) this.c2s.decoder.push(b);
    }
    if (rest.length > 0) this.s2c.decoder.push(rest);
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
      this.emitHandshake(now());
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
    try {
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      this.recordError(createWireError('WS_ERR_CAPTURE_INTERNAL', `capture stopped: ${msg}`, 1011), undefined);
    } catch {
      // The sink itself failed: nothing more can be recorded.
    }
  }
}
