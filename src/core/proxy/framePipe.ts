// One direction of a proxied WebSocket: reads frames off one socket and writes each frame's exact wire bytes to the
// other, in order, unless a breakpoint holds, edits or drops a message, or the proxy terminates compression.
import { randomBytes } from 'node:crypto';
import type * as net from 'node:net';
import type { Direction } from '../wire/types';
import { OPCODE_CLOSE } from '../wire/constants';
import { WireError } from '../wire/errors';
import { DecodedFrame, FrameDecoder } from '../wire/frameDecoder';
import { encodeClosePayload, encodeFrame } from '../wire/frameEncoder';
import { DisposableStore } from '../util/events';
import type { BreakpointController, HeldCloser } from './breakpoints';
import { ByteQueue } from './byteQueue';
import { PipeCodec, type PipeCompression } from './pipeCodec';
import { holdControl, holdMessage, type HoldContext } from './pipeHolds';
import { PipeQueue, type ControlUnit, type FrameBytes, type MessageUnit, type QueueWriter } from './pipeQueue';

export type { PipeCompression } from './pipeCodec';

export interface FramePipeOptions {
  direction: Direction;
  /** The proxy connection id, put on held frames. */
  connectionId: string;
  source: net.Socket;
  dest: net.Socket;
  /** Frames with a longer payload, and held messages longer than this, see `onDecodeError` / are not matched. */
  maxPayload: number;
  /** How this direction handles permessage-deflate; undefined = none negotiated, passed through. */
  compression?: PipeCompression;
  breakpoints?: BreakpointController;
  /**
   * The decoder could not delimit a frame (a reserved opcode, RSV2/3, a payload over maxPayload…). From there on this
   * direction is forwarded raw, byte for byte, without breakpoints: the endpoints, not the proxy, decide what is a
   * protocol error.
   */
  onDecodeError(err: WireError): void;
  /** The source has ended and everything queued was written, or the pipe was abandoned: time to end `dest`. */
  onFinished(): void;
  /** The source's close frame was written on (the other direction's held frames can't be delivered any more). */
  onClose?(close: PipeClose): void;
}

/** A close frame's code (1005 when it had none) and reason. */
export interface PipeClose {
  code: number;
  reason: string;
}

/** How the connection of a held frame ended, for the held card. */
export interface PipeClosed extends PipeClose {
  by: HeldCloser;
}

/**
 * What one direction of a proxied connection carried. A message is counted at its first frame (opcode 1 or 2): when
 * it is read, and when it is written on (not when a breakpoint dropped it; once when an edit replaced it). Bytes
 * written after the decoder gave up (raw mode) count as bytes only.
 */
export interface PipeCounts {
  bytesRead: number;
  messagesRead: number;
  bytesWritten: number;
  messagesWritten: number;
}

/** While a breakpoint blocks the queue, reading stops once this much is waiting behind it. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

export class FramePipe implements QueueWriter {
  private readonly o: FramePipeOptions;
  private readonly decoder: FrameDecoder;
  private readonly input = new ByteQueue();
  private readonly codec: PipeCodec;
  private readonly queue = new PipeQueue();
  private readonly store = new DisposableStore();
  private readonly holdContext: HoldContext | undefined;
  /** The message whose continuation frames come next. */
  private current: MessageUnit | undefined;

  private raw = false;
  private sourceEnded = false;
  /** The source's close frame was written: whatever follows goes on as it is, unheld. */
  private sourceClosed = false;
  /** The destination sent its close frame: nothing more is held for it. */
  private destClosed = false;
  private finished = false;
  private stopped = false;
  private draining = false;
  private pausedForDrain = false;
  private pausedForHold = false;
  /** Bytes of a frame were written without the rest (raw mode): nothing may be inserted now. */
  private midFrame = false;
  private readonly _counts: PipeCounts = { bytesRead: 0, messagesRead: 0, bytesWritten: 0, messagesWritten: 0 };

  constructor(o: FramePipeOptions) {
    this.o = o;
    this.codec = new PipeCodec(o.compression, o.direction, o.maxPayload);
    const bp = o.breakpoints;
    const decided = () => this.drainLater();
    this.holdContext = bp && { breakpoints: bp, connectionId: o.connectionId, direction: o.direction, codec: this.codec, decided };
    // Permissive: masking and RSV1 are the endpoints' business (the captures record violations); only what makes
    // frames impossible to delimit stops the decoder.
    this.decoder = new FrameDecoder({
      direction: o.direction,
      maxPayload: o.maxPayload,
      enforceMasking: false,
      rsv1Allowed: true,
      onFrame: this.onFrame,
      onError: this.onError,
    });
    this.store.on(o.dest, 'drain', () => {
      if (!this.pausedForDrain) return;
      this.pausedForDrain = false;
      this.updateFlow();
    });
  }

  /** What this direction has read and written so far (a copy). */
  get counts(): PipeCounts {
    return { ...this._counts };
  }

  /** True after the decoder failed: the direction is forwarded raw. */
  get passThrough(): boolean {
    return this.raw;
  }

  /** Who sends on this direction, and who receives. */
  private get sourceName(): HeldCloser {
    return this.o.direction === 'c2s' ? 'program' : 'target';
  }

  /** Bytes read from the source, in order. */
  push(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    this._counts.bytesRead += chunk.length;
    const dest = this.o.dest;
    dest.cork();
    try {
      if (this.raw) {
        this.queue.push({ kind: 'raw', bytes: chunk, done: false });
      } else {
        this.input.push(chunk);
        this.decoder.push(chunk);
      }
      this.drain();
    } finally {
      dest.uncork();
    }
  }

  /** The source will send nothing more: whatever is queued is written, then onFinished. */
  end(): void {
    if (this.sourceEnded) return;
    this.sourceEnded = true;
    if (!this.stopped) {
      if (this.current !== undefined) this.passCurrent();
      // A frame cut short by the end goes on as it is: the receiver sees what the sender sent.
      if (!this.raw && this.input.length > 0) this.queue.push({ kind: 'raw', bytes: this.input.takeAll(), done: false });
      this.drain();
    }
    this.maybeFinish();
  }

  /**
   * The destination is going away (it ended or closed, or the proxy is stopping): a held frame records how (`closed`)
   * and resolves as `connectionClosed`, the queue is dropped, nothing more is written, and onFinished follows. Reading
   * goes on so that the source's capture sees the rest.
   */
  abandon(closed?: PipeClosed): void {
    if (this.stopped) return;
    this.stopped = true;
    const ids = this.heldIds();
    this.queue.clear();
    this.current = undefined;
    this.pausedForHold = this.pausedForDrain = false;
    this.updateFlow();
    this.releaseHeld(ids, closed ?? { code: 1006, reason: '', by: this.o.direction === 'c2s' ? 'target' : 'program' });
    this.maybeFinish();
  }

  /**
   * The destination sent a close frame (the other direction wrote it on): what is held for it can't be delivered any
   * more. Each held frame records the close at once and resolves `connectionClosed`; nothing more is held; the rest
   * goes on.
   */
  peerClosed(closed: PipeClosed): void {
    if (this.destClosed || this.stopped) return;
    this.destClosed = true;
    this.releaseHeld(this.heldIds(), closed);
    this.drainLater();
  }

  /**
   * Writes a close frame (masked c2s) unless the destination is in the middle of a raw frame. Returns whether it did.
   */
  sendClose(code: number, reason: string): boolean {
    const dest = this.o.dest;
    if (this.midFrame || !dest.writable) return false;
    const payload = encodeClosePayload(code, reason);
    const frame = encodeFrame({ opcode: OPCODE_CLOSE, payload, maskKey: this.o.direction === 'c2s' ? randomBytes(4) : undefined });
    this._counts.bytesWritten += frame.length;
    dest.write(frame);
    return true;
  }

  dispose(): void {
    this.store.dispose();
  }

  private get holding(): boolean {
    return this.o.breakpoints !== undefined && !this.sourceClosed && !this.destClosed && !this.stopped;
  }

  private readonly onFrame = (f: DecodedFrame): void => {
    const fb: FrameBytes = { bytes: this.input.take(f.headerLength + f.payloadLength), frame: f };
    const op = f.opcode;
    if (op === 1 || op === 2) this._counts.messagesRead++;
    if (op >= 0x8) return this.onControl(fb);
    let u = this.current;
    if (op !== 0) {
      // A new message while one is open is the receiver's protocol error; the open one can no longer be matched.
      if (u !== undefined) this.passCurrent();
      u = this.current = this.newMessage(op, f.rsv1);
      this.queue.push(u);
    } else if (u === undefined) {
      // A continuation without a message (the sender's error, or after its close): it goes on as it is.
      u = this.newMessage(0, false);
      u.complete = true;
      this.queue.push(u);
    }
    u.frameCount++;
    u.size += f.payloadLength;
    this.queue.addFrame(u, fb);
    if (u.keep) this.keepPayload(u, f.payload);
    if (f.fin && this.current === u) {
      this.current = undefined;
      u.complete = true;
      if (u.keep) this.assembled(u);
    }
    this.drain();
  };

  private newMessage(opcode: number, compressed: boolean): MessageUnit {
    const plain = this.sourceClosed || opcode === 0;
    const wanted = !plain && this.holding && this.o.breakpoints!.wants(this.o.direction, opcode);
    const collect = !plain && (wanted || this.codec.rewrites(compressed));
    const keep = !plain && (collect || this.codec.mustKeep(compressed));
    const u: MessageUnit = {
      kind: 'message',
      opcode,
      compressed,
      frames: [],
      frameCount: 0,
      size: 0,
      complete: false,
      collect,
      wanted,
      keep,
      state: collect ? 'open' : 'pass',
      outcome: 'forward',
      done: false,
    };
    if (keep) u.parts = [];
    return u;
  }

  private onControl(fb: FrameBytes): void {
    const f = fb.frame;
    const check = this.holding && this.o.breakpoints!.wants(this.o.direction, f.opcode);
    const u: ControlUnit = { kind: 'control', bytes: fb.bytes, frame: f, check, done: false };
    if (check || !this.queue.controlMayPass) {
      this.queue.push(u);
      this.drain();
      return;
    }
    // Everything queued is a data message that waits (held, or not complete): the control frame goes past it.
    u.done = true;
    this.write(u.bytes);
    if (f.opcode === OPCODE_CLOSE) this.closeWritten(u);
  }

  /** Keeps what inflation and matching need of the message; too big to keep, it goes on unmatched as it is. */
  private keepPayload(u: MessageUnit, payload: Buffer): void {
    if (u.size <= this.o.maxPayload) {
      u.parts!.push(payload);
      return;
    }
    u.keep = u.collect = false;
    u.parts = undefined;
    u.state = 'pass';
    // Later compressed messages refer to this one's window, which is now unknown.
    if (u.compressed) this.codec.lostWindow();
  }

  /** The message is complete: its payload reassembled and inflated. */
  private assembled(u: MessageUnit): void {
    const parts = u.parts!;
    u.parts = undefined;
    const data = parts.length === 1 ? parts[0] : Buffer.concat(parts, u.size);
    if (!u.compressed) {
      u.data = data;
      return;
    }
    const r = this.codec.inflate(data);
    if (typeof r === 'string') {
      u.inflateError = r;
      u.data = data;
    } else {
      u.data = r;
    }
  }

  private readonly onError = (err: WireError): void => {
    // The decoder stops at the frame it can't read: from its first byte on, everything goes on raw.
    this.raw = true;
    if (this.current !== undefined) this.passCurrent();
    const rest = this.input.takeAll();
    if (rest.length > 0) this.queue.push({ kind: 'raw', bytes: rest, done: false });
    try {
      this.o.onDecodeError(err);
    } catch {
      // The owner's reporting must not break forwarding.
    }
  };

  /** The message being read will not be completed (a new one began, the source ended): it goes on as it is. */
  private passCurrent(): void {
    const u = this.current!;
    this.current = undefined;
    u.collect = u.keep = false;
    u.parts = undefined;
    if (u.state === 'open') u.state = 'pass';
  }

  /** Writes from the head of the queue until it is empty or blocked by a held or incomplete message. */
  private drain(): void {
    // A decision can arrive while the loop runs (an onDidHold listener resolving at once): the loop then goes on.
    if (this.draining || this.stopped) return;
    this.draining = true;
    try {
      this.queue.drain(this);
    } finally {
      this.draining = false;
    }
    this.updateFlow();
    this.maybeFinish();
  }

  /** @internal QueueWriter: a complete kept message is first among the data; true when a rule holds it. */
  holdMessage(u: MessageUnit): boolean {
    return u.wanted && this.holding && holdMessage(this.holdContext!, u);
  }

  /** @internal QueueWriter: a control frame is next and a rule may want it; true when one holds it. */
  holdControl(u: ControlUnit): boolean {
    return this.holding && holdControl(this.holdContext!, u, this.queue);
  }

  /** @internal QueueWriter: the bytes of a complete kept message, as decided. */
  messageBytes(u: MessageUnit): Buffer {
    return this.codec.messageBytes(u);
  }

  /**
   * @internal QueueWriter: the source's close frame went on. No data may follow it: what is still queued is dropped
   * (held messages record the close and resolve `connectionClosed`), and the other direction learns of it.
   */
  closeWritten(u: ControlUnit): void {
    if (this.sourceClosed) return;
    this.sourceClosed = true;
    const close = closeOf(u.frame.payload);
    const ids = this.heldIds();
    const dead = [...this.queue.pending()].filter((p) => p.kind !== 'control');
    for (const p of dead) this.queue.discard(p);
    if (this.current !== undefined && this.current.done) this.current = undefined;
    this.releaseHeld(ids, { ...close, by: this.sourceName });
    try {
      this.o.onClose?.(close);
    } catch {
      // The owner's reaction must not break forwarding.
    }
  }

  private heldIds(): number[] {
    const ids: number[] = [];
    for (const p of this.queue.pending()) if (p.kind !== 'raw' && p.heldId !== undefined && p.heldId !== -1) ids.push(p.heldId);
    return ids;
  }

  private releaseHeld(ids: number[], closed: PipeClosed): void {
    const bp = this.o.breakpoints;
    if (bp === undefined) return;
    for (const id of ids) {
      bp.markClosed(id, closed);
      bp.release(id);
    }
  }

  /** A decision arrives from the user (or a timer): write what it unblocked, corked like a push. */
  private drainLater(): void {
    if (this.stopped) return;
    const dest = this.o.dest;
    dest.cork();
    try {
      this.drain();
    } finally {
      dest.uncork();
    }
  }

  /** @internal QueueWriter: writes bytes; `raw` bytes may end inside a frame. */
  write(bytes: Buffer, opcode?: number, raw = false): void {
    if (bytes.length === 0) return;
    const dest = this.o.dest;
    if (!dest.writable) return;
    if (raw) this.midFrame = true;
    this._counts.bytesWritten += bytes.length;
    if (opcode === 1 || opcode === 2) this._counts.messagesWritten++;
    if (!dest.write(bytes)) this.pausedForDrain = true;
  }

  /** Reading stops while the destination is congested, or while a held frame has much queued behind it. */
  private updateFlow(): void {
    const blocked = !this.queue.empty && this.queue.queuedBytes > MAX_QUEUED_BYTES;
    this.pausedForHold = blocked && !this.stopped;
    const src = this.o.source;
    if (this.pausedForDrain || this.pausedForHold) {
      if (!src.isPaused()) src.pause();
    } else if (src.isPaused() && !src.destroyed) {
      src.resume();
    }
  }

  private maybeFinish(): void {
    if (this.finished) return;
    if (!this.stopped && !(this.sourceEnded && this.queue.empty)) return;
    this.finished = true;
    this.o.onFinished();
  }
}

/** The code (1005 when absent) and reason of a close frame's payload. */
function closeOf(payload: Buffer): PipeClose {
  if (payload.length < 2) return { code: 1005, reason: '' };
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') };
}
