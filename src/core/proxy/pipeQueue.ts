// What one direction of the proxy has read and not yet written, in wire order, and the order it may be written in:
// data messages strictly in order; control frames past a data message that is held or not complete (RFC 6455 allows
// them between fragments), so that keepalives and closes never wait behind a breakpoint.
import type { DecodedFrame } from '../wire/frameDecoder';

/** One frame's exact bytes as read. */
export interface FrameBytes {
  bytes: Buffer;
  frame: DecodedFrame;
}

export interface ControlUnit {
  kind: 'control';
  /** What will be written: the frame as read, or its replacement after an edit (empty after a drop). */
  bytes: Buffer;
  frame: DecodedFrame;
  /** Still to be matched against the rules. */
  check: boolean;
  /** The held frame's id while a rule holds it. */
  heldId?: number;
  done: boolean;
}

export interface MessageUnit {
  kind: 'message';
  opcode: number;
  /** RSV1 on its first frame. */
  compressed: boolean;
  /** Frames read and not written yet. */
  frames: FrameBytes[];
  /** How many frames the message has had so far. */
  frameCount: number;
  /** Sum of the payload lengths so far. */
  size: number;
  complete: boolean;
  /** Kept whole until complete (to be matched or written again); otherwise each frame goes on as it comes. */
  collect: boolean;
  /** A rule could match it (its opcode and direction are wanted). */
  wanted: boolean;
  /** Its payloads are kept, to be inflated (following the window) or matched; `parts` until it is complete. */
  keep: boolean;
  parts?: Buffer[];
  /** open: to be matched once complete and first in line; held: waiting for the user; pass: to be written. */
  state: 'open' | 'held' | 'pass';
  heldId?: number;
  /** The payload as the receiver will see it (unmasked, reassembled, inflated), once complete and kept. */
  data?: Buffer;
  inflateError?: string;
  /** What the decision was: written as read (or deflated again), replaced, or not written. */
  outcome: 'forward' | 'edit' | 'drop';
  replacement?: Buffer;
  done: boolean;
}

/** Bytes after the decoder gave up, forwarded as they are. */
export interface RawUnit {
  kind: 'raw';
  bytes: Buffer;
  done: boolean;
}

export type Unit = ControlUnit | MessageUnit | RawUnit;

/** What the queue needs from its pipe to write units out. */
export interface QueueWriter {
  /** A control frame is next: matched against the rules when `unit.check`. True when it is held. */
  holdControl(unit: ControlUnit): boolean;
  /** A complete kept message is first among the data: matched. True when it is held. */
  holdMessage(unit: MessageUnit): boolean;
  /** Writes bytes; `opcode` is the first frame's when they start a data message (for the counts); `raw`: not whole frames. */
  write(bytes: Buffer, opcode?: number, raw?: boolean): void;
  /** The bytes of a complete kept message whose decision is made. */
  messageBytes(unit: MessageUnit): Buffer;
  /** A close frame from the source was written. */
  closeWritten(unit: ControlUnit): void;
}

export class PipeQueue {
  private units: Unit[] = [];
  private head = 0;
  /** Control units queued and not written. */
  private pendingControls = 0;
  /** Bytes read and not yet written or discarded. */
  queuedBytes = 0;

  get empty(): boolean {
    return this.head === this.units.length;
  }

  push(u: Unit): void {
    this.units.push(u);
    if (u.kind === 'control') this.pendingControls++;
    this.queuedBytes += u.kind === 'message' ? u.frames.reduce((n, f) => n + f.bytes.length, 0) : u.bytes.length;
  }

  /** A frame of a message already queued. */
  addFrame(u: MessageUnit, f: FrameBytes): void {
    u.frames.push(f);
    this.queuedBytes += f.bytes.length;
  }

  /** A control frame may go now rather than wait in the queue: nothing queued is a control frame waiting its turn. */
  get controlMayPass(): boolean {
    return this.pendingControls === 0;
  }

  /** The units not yet written, oldest first. */
  *pending(): Generator<Unit> {
    for (let i = this.head; i < this.units.length; i++) if (!this.units[i].done) yield this.units[i];
  }

  /** A control frame's bytes change (an edit, or a drop: empty). */
  replaceBytes(u: ControlUnit, bytes: Buffer): void {
    if (!u.done) this.queuedBytes += bytes.length - u.bytes.length;
    u.bytes = bytes;
  }

  /** Drops a unit unwritten (the connection closed past it). */
  discard(u: Unit): void {
    if (u.done) return;
    this.finish(u);
    if (u.kind === 'message') u.frames = [];
  }

  clear(): void {
    this.units = [];
    this.head = 0;
    this.pendingControls = 0;
    this.queuedBytes = 0;
  }

  /** Writes what may be written now, in order; returns when the rest waits for a decision or more frames. */
  drain(w: QueueWriter): void {
    let dataBlocked = false;
    for (let i = this.head; i < this.units.length; i++) {
      const u = this.units[i];
      if (u.done) continue;
      if (dataBlocked && this.pendingControls === 0) break;
      if (u.kind === 'control') {
        if (u.heldId !== undefined || (u.check && w.holdControl(u))) break; // a held control frame stops everything behind it
        u.check = false;
        this.finish(u);
        w.write(u.bytes);
        if (u.frame.opcode === 0x8) w.closeWritten(u);
        continue;
      }
      if (dataBlocked) continue;
      if (u.kind === 'raw') {
        this.finish(u);
        w.write(u.bytes, undefined, true);
      } else if (!this.advance(u, w)) {
        dataBlocked = true;
      }
    }
    this.compact();
  }

  /** Writes what it can of a message; true once it is all written (or dropped). */
  private advance(u: MessageUnit, w: QueueWriter): boolean {
    if (!u.collect) {
      for (const f of u.frames) {
        this.queuedBytes -= f.bytes.length;
        w.write(f.bytes, f.frame.opcode !== 0 ? f.frame.opcode : undefined);
      }
      u.frames = [];
      if (u.complete) u.done = true;
      return u.complete;
    }
    if (!u.complete) return false;
    if (u.state === 'open') {
      if (w.holdMessage(u)) return false;
      u.state = 'pass';
    }
    if (u.state === 'held') return false;
    const bytes = w.messageBytes(u);
    this.finish(u);
    u.frames = [];
    if (bytes.length > 0) w.write(bytes, u.outcome === 'drop' ? undefined : u.opcode);
    return true;
  }

  private finish(u: Unit): void {
    u.done = true;
    if (u.kind === 'control') this.pendingControls--;
    this.queuedBytes -= u.kind === 'message' ? u.frames.reduce((n, f) => n + f.bytes.length, 0) : u.bytes.length;
  }

  private compact(): void {
    const q = this.units;
    let h = this.head;
    while (h < q.length && q[h].done) q[h++] = undefined as unknown as Unit;
    if (h === q.length) {
      this.units = [];
      this.head = 0;
    } else if (h > 1024 && h * 2 > q.length) {
      this.units = q.slice(h);
      this.head = 0;
    } else {
      this.head = h;
    }
  }
}
