// One direction of a proxied WebSocket: reads frames off one socket and writes each frame's exact wire bytes to the
// other, in order, unless a breakpoint holds, edits or drops a message.
import { randomBytes } from 'node:crypto';
import type * as net from 'node:net';
import type { DeflateParams, Direction } from '../capture/events';
import { EMPTY_BUFFER, OPCODE_CLOSE, OPCODE_TEXT } from '../wire/constants';
import { PassiveInflater } from '../wire/deflate';
import { WireError } from '../wire/errors';
import { DecodedFrame, FrameDecoder } from '../wire/frameDecoder';
import { encodeClosePayload, encodeFrame } from '../wire/frameEncoder';
import { DisposableStore } from '../util/events';
import { textOf, type BreakpointController, type HeldOutcome } from './breakpoints';
import { ByteQueue } from './byteQueue';

export interface FramePipeOptions {
  direction: Direction;
  /** The proxy connection id, put on held frames. */
  connectionId: string;
  source: net.Socket;
  dest: net.Socket;
  /** Frames with a longer payload, and held messages longer than this, see `onDecodeError` / are not matched. */
  maxPayload: number;
  /** What the handshake negotiated; undefined = no permessage-deflate. */
  deflate?: DeflateParams;
  breakpoints?: BreakpointController;
  /**
   * The decoder could not delimit a frame (a reserved opcode, RSV2/3, a payload over maxPayload…). From there on this
   * direction is forwarded raw, byte for byte, without breakpoints: the endpoints, not the proxy, decide what is a
   * protocol error.
   */
  onDecodeError(err: WireError): void;
  /** The source has ended and everything queued was written, or the pipe was abandoned: time to end `dest`. */
  onFinished(): void;
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

/** A frame (or raw bytes) waiting to be written, in wire order. */
interface Item {
  /** What will be written: the frame as received, a replacement after an edit, or nothing after a drop. */
  bytes: Buffer;
  frame?: DecodedFrame;
  /** A data frame of a message that is matched whole. */
  message?: PendingMessage;
  /** A control frame still to be matched when it reaches the head of the queue. */
  check: boolean;
  /** The held frame's id while this control frame is held. */
  heldId?: number;
}

interface PendingMessage {
  opcode: number;
  items: Item[];
  /** Sum of the payload lengths so far. */
  size: number;
  complete: boolean;
  /** open: to be matched once complete and at the head; held: waiting for the user; pass: flows. */
  state: 'open' | 'held' | 'pass';
  heldId?: number;
  data?: Buffer;
  compressed: boolean;
  inflateError?: string;
}

/** The message being read, for inflation and matching. */
interface Assembly {
  compressed: boolean;
  parts: Buffer[];
  size: number;
  collect: boolean;
}

/** While a breakpoint blocks the queue, reading stops once this much is waiting behind it. */
const MAX_QUEUED_BYTES = 16 * 1024 * 1024;

export class FramePipe {
  private readonly o: FramePipeOptions;
  private readonly decoder: FrameDecoder;
  private readonly input = new ByteQueue();
  private readonly inflater: PassiveInflater | undefined;
  /** Compressed messages carry a sliding window over from earlier ones in this direction. */
  private readonly contextTakeover: boolean;
  private readonly store = new DisposableStore();

  private queue: Item[] = [];
  private head = 0;
  private queuedBytes = 0;
  /** The message being matched whole whose last fragment has not arrived. */
  private open: PendingMessage | undefined;
  private assembly: Assembly | undefined;
  /** A message over maxPayload was not kept, so the window of later compressed messages is unknown. */
  private windowLost = false;

  private raw = false;
  private sourceEnded = false;
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
    const d = o.deflate;
    this.contextTakeover = d !== undefined && !(o.direction === 'c2s' ? d.clientNoContextTakeover : d.serverNoContextTakeover);
    this.inflater = d ? PassiveInflater.forDirection(d, o.direction, o.maxPayload) : undefined;
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

  /** Bytes read from the source, in order. */
  push(chunk: Buffer): void {
    if (this.stopped || chunk.length === 0) return;
    this._counts.bytesRead += chunk.length;
    const dest = this.o.dest;
    dest.cork();
    try {
      if (this.raw) {
        this.enqueue({ bytes: chunk, check: false });
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
      // A frame cut short by the end goes on as it is: the receiver sees what the sender sent.
      if (!this.raw && this.input.length > 0) this.enqueue({ bytes: this.input.takeAll(), check: false });
      if (this.open !== undefined) this.passOpen();
      this.drain();
    }
    this.maybeFinish();
  }

  /**
   * The destination is going away (it ended or closed, or the proxy is stopping): a held frame resolves as
   * `connectionClosed`, the queue is dropped, nothing more is written, and onFinished follows. Reading goes on so that
   * the source's capture sees the rest.
   */
  abandon(): void {
    if (this.stopped) return;
    this.stopped = true;
    const ids: number[] = [];
    for (let i = this.head; i < this.queue.length; i++) {
      const it = this.queue[i];
      if (it.heldId !== undefined) ids.push(it.heldId);
      if (it.message?.heldId !== undefined && it.message.items[0] === it) ids.push(it.message.heldId);
    }
    this.queue = [];
    this.head = 0;
    this.queuedBytes = 0;
    this.open = undefined;
    this.pausedForHold = this.pausedForDrain = false;
    this.updateFlow();
    for (const id of ids) this.o.breakpoints?.release(id);
    this.maybeFinish();
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

  /** True after the decoder failed: the direction is forwarded raw. */
  get passThrough(): boolean {
    return this.raw;
  }

  dispose(): void {
    this.store.dispose();
  }

  private readonly onFrame = (f: DecodedFrame): void => {
    const bytes = this.input.take(f.headerLength + f.payloadLength);
    const op = f.opcode;
    const bp = this.o.breakpoints;
    if (op === 1 || op === 2) this._counts.messagesRead++;
    if (op >= 0x8) {
      this.enqueue({ bytes, frame: f, check: bp !== undefined && bp.wants(this.o.direction, op) });
      return;
    }
    let msg: PendingMessage | undefined;
    if (op !== 0) {
      // A new message while one is open is the receiver's protocol error; the open one can no longer be matched.
      if (this.open !== undefined) this.passOpen();
      if (bp !== undefined && bp.wants(this.o.direction, op)) {
        msg = { opcode: op, items: [], size: 0, complete: false, state: 'open', compressed: f.rsv1 };
        if (!f.fin) this.open = msg;
      }
    } else {
      msg = this.open;
    }
    const item: Item = { bytes, frame: f, message: msg, check: false };
    if (msg !== undefined) {
      msg.items.push(item);
      msg.size += f.payloadLength;
      if (msg.state === 'open' && msg.size > this.o.maxPayload) msg.state = 'pass';
    }
    this.assemble(f, msg);
    if (msg !== undefined && f.fin) {
      this.open = undefined;
      msg.complete = true;
    }
    this.enqueue(item);
  };

  /** Keeps what inflation and matching need of the current message; on its last frame, hands the data to `msg`. */
  private assemble(f: DecodedFrame, msg: PendingMessage | undefined): void {
    let a = this.assembly;
    if (f.opcode !== 0) {
      const compressed = f.rsv1;
      const collect = (msg !== undefined && msg.state === 'open') || (compressed && this.contextTakeover);
      a = this.assembly = { compressed, parts: [], size: 0, collect };
    } else if (a === undefined) {
      return;
    }
    if (a.collect) {
      a.size += f.payloadLength;
      if (a.size > this.o.maxPayload) {
        // Too big to keep: it is forwarded unmatched, and later compressed messages can't be inflated reliably.
        a.collect = false;
        a.parts = [];
        if (a.compressed && this.contextTakeover) this.windowLost = true;
      } else {
        a.parts.push(f.payload);
      }
    }
    if (!f.fin) return;
    this.assembly = undefined;
    if (!a.collect) return;
    let data = a.parts.length === 1 ? a.parts[0] : Buffer.concat(a.parts, a.size);
    let inflateError: string | undefined;
    if (a.compressed) {
      if (this.inflater === undefined) {
        inflateError = 'RSV1 is set but permessage-deflate was not negotiated';
      } else if (this.windowLost) {
        inflateError = 'an earlier compressed message was too large to follow, so this one cannot be inflated';
      } else {
        const r = this.inflater.inflate(data);
        if (r instanceof WireError) inflateError = r.message;
        else data = r;
      }
    }
    if (msg !== undefined) {
      msg.data = data;
      msg.inflateError = inflateError;
    }
  }

  private readonly onError = (err: WireError): void => {
    // The decoder stops at the frame it can't read: from its first byte on, everything goes on raw.
    this.raw = true;
    if (this.open !== undefined) this.passOpen();
    this.assembly = undefined;
    const rest = this.input.takeAll();
    if (rest.length > 0) this.enqueue({ bytes: rest, check: false });
    try {
      this.o.onDecodeError(err);
    } catch {
      // The owner's reporting must not break forwarding.
    }
  };

  private passOpen(): void {
    const m = this.open!;
    this.open = undefined;
    if (m.state === 'open') m.state = 'pass';
  }

  private enqueue(item: Item): void {
    if (this.head === this.queue.length && item.message === undefined && !item.check) {
      this.write(item.bytes, item.frame);
      return;
    }
    this.queue.push(item);
    this.queuedBytes += item.bytes.length;
  }

  /** Writes from the head of the queue until it is empty or blocked by a held or incomplete message. */
  private drain(): void {
    // A decision can arrive while the loop runs (an onDidHold listener resolving at once): the loop then goes on.
    if (this.draining) return;
    this.draining = true;
    try {
      this.drainQueue();
    } finally {
      this.draining = false;
    }
    this.updateFlow();
    this.maybeFinish();
  }

  private drainQueue(): void {
    let q = this.queue;
    while (this.head < q.length && !this.stopped) {
      const item = q[this.head];
      const m = item.message;
      if (item.heldId !== undefined) break;
      if (m !== undefined && m.state !== 'pass') {
        if (m.state === 'held' || !m.complete) break;
        if (this.holdMessage(m)) break;
        m.state = 'pass';
      } else if (item.check) {
        if (this.holdControl(item)) break;
        item.check = false;
      }
      q[this.head++] = undefined as unknown as Item;
      this.queuedBytes -= item.bytes.length;
      this.write(item.bytes, item.frame);
    }
    q = this.queue;
    if (this.head === q.length) {
      this.queue = [];
      this.head = 0;
      this.queuedBytes = 0;
    } else if (this.head > 1024 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.head = 0;
    }
  }

  private holdMessage(m: PendingMessage): boolean {
    const bp = this.o.breakpoints;
    if (bp === undefined || m.data === undefined) return false;
    const dir = this.o.direction;
    const isText = m.opcode === OPCODE_TEXT && m.inflateError === undefined;
    const ruleId = bp.match({ direction: dir, opcode: m.opcode, payload: m.data, isText });
    if (ruleId === undefined) return false;
    let notEditableReason: string | undefined;
    if (m.compressed && m.inflateError !== undefined) {
      notEditableReason = `the compressed message could not be inflated (${m.inflateError})`;
    } else if (m.compressed && this.contextTakeover) {
      notEditableReason =
        'the message is compressed with context takeover: changing or removing it would desynchronise the receiver’s inflater';
    }
    m.state = 'held';
    const frame = bp.hold(
      {
        connectionId: this.o.connectionId,
        direction: dir,
        opcode: m.opcode,
        payload: m.data,
        text: m.inflateError === undefined ? textOf(m.data, isText) : undefined,
        compressed: m.compressed,
        ruleId,
        editable: notEditableReason === undefined,
        notEditableReason,
      },
      (outcome, payload) => this.resolveMessage(m, outcome, payload),
    );
    // The callback may already have run (a listener of onDidHold resolving at once).
    if (m.state === 'held') m.heldId = frame.id;
    return m.state === 'held';
  }

  private resolveMessage(m: PendingMessage, outcome: HeldOutcome, payload: Buffer | undefined): void {
    m.heldId = undefined;
    m.state = 'pass';
    if (outcome === 'connectionClosed') return;
    if (outcome === 'edited' || outcome === 'dropped') {
      for (const it of m.items) this.replace(it, EMPTY_BUFFER);
      if (outcome === 'edited') this.replace(m.items[0], this.encode(m.opcode, payload ?? EMPTY_BUFFER));
    }
    this.drainLater();
  }

  private holdControl(item: Item): boolean {
    const bp = this.o.breakpoints;
    const f = item.frame!;
    if (bp === undefined) return false;
    const dir = this.o.direction;
    const ruleId = bp.match({ direction: dir, opcode: f.opcode, payload: f.payload, isText: false });
    if (ruleId === undefined) return false;
    item.heldId = -1;
    const frame = bp.hold(
      {
        connectionId: this.o.connectionId,
        direction: dir,
        opcode: f.opcode,
        payload: f.payload,
        text: textOf(f.payload, false),
        compressed: false,
        ruleId,
        editable: true,
      },
      (outcome, payload) => {
        item.heldId = undefined;
        item.check = false;
        if (outcome === 'connectionClosed') return;
        if (outcome === 'dropped') this.replace(item, EMPTY_BUFFER);
        else if (outcome === 'edited') this.replace(item, this.encode(f.opcode, payload ?? EMPTY_BUFFER));
        this.drainLater();
      },
    );
    if (item.heldId === -1) item.heldId = frame.id;
    return item.heldId !== undefined;
  }

  private replace(item: Item, bytes: Buffer): void {
    this.queuedBytes += bytes.length - item.bytes.length;
    item.bytes = bytes;
  }

  /** One final frame with the original opcode, RSV1 clear (sent uncompressed), masked with a fresh key c2s. */
  private encode(opcode: number, payload: Buffer): Buffer {
    return encodeFrame({ opcode, payload, maskKey: this.o.direction === 'c2s' ? randomBytes(4) : undefined });
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

  /** Writes an item's bytes: `frame` is the frame they came as, undefined for raw bytes. */
  private write(bytes: Buffer, frame: DecodedFrame | undefined): void {
    if (bytes.length === 0) return;
    const dest = this.o.dest;
    if (!dest.writable) return;
    if (frame === undefined) this.midFrame = true; // raw bytes may end inside a frame
    this._counts.bytesWritten += bytes.length;
    if (frame !== undefined && (frame.opcode === 1 || frame.opcode === 2)) this._counts.messagesWritten++;
    if (!dest.write(bytes)) this.pausedForDrain = true;
  }

  /** Reading stops while the destination is congested, or while a held frame has much queued behind it. */
  private updateFlow(): void {
    const blocked = this.head < this.queue.length && this.queuedBytes > MAX_QUEUED_BYTES;
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
    if (!this.stopped && !(this.sourceEnded && this.head === this.queue.length)) return;
    this.finished = true;
    this.o.onFinished();
  }
}
