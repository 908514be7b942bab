// One direction of a TCP connection as a byte stream, from segments in capture order: in sequence order, each byte
// once (retransmissions and overlaps dropped), and what the capture does not hold reported as a gap, never filled in.

export interface ReassemblyOutput {
  /** The next bytes of the stream, in order. */
  data(chunk: Buffer): void;
  /** `bytes` of the stream the capture does not have, from stream offset `at`; the data after them follows. */
  gap(bytes: number, at: number): void;
}

interface Held {
  at: number;
  payload: Buffer;
  /** Bytes after the payload that the capture cut off. */
  missing: number;
}

const U32 = 4294967296;
/** Packets of the connection after which bytes the peer acknowledged and the capture lacks are a gap. */
export const ACK_WINDOW = 32;

/**
 * Sequence numbers become offsets from the first byte (the one after the SYN, or the first byte seen when the capture
 * started later), unwrapped past 2^32. A segment beyond the next byte waits; a gap is declared when bytes the peer
 * acknowledged are still missing `ACK_WINDOW` packets of the connection later (a capture can record a segment after
 * the ACK of it, from another CPU or interface), when more than `maxHeldBytes` wait, when a segment's end was cut by
 * the snap length, and at the end of the stream.
 */
export class TcpDirection {
  started = false;
  /** Offset of the next byte to deliver: bytes delivered plus gaps. */
  next = 0;
  /** Offset of the FIN, once seen. */
  finAt = -1;
  /** Bytes seen again (retransmitted or overlapping). */
  duplicateBytes = 0;
  gaps = 0;
  gapBytes = 0;
  private base = 0;
  private held: Held[] = [];
  private heldBytes = 0;
  /** The highest offset the peer acknowledged beyond `next`, and the packets seen since it was. */
  private ackedTo = -1;
  private ackedAge = 0;

  constructor(
    private readonly out: ReassemblyOutput,
    private readonly maxHeldBytes: number,
  ) {}

  /** Every byte up to the FIN was delivered (or declared missing). */
  get finished(): boolean {
    return this.finAt >= 0 && this.next >= this.finAt;
  }

  syn(seq: number): void {
    if (this.started) return;
    this.started = true;
    this.base = (seq + 1) >>> 0;
  }

  segment(seq: number, payload: Buffer, missing: number, fin: boolean): void {
    const len = payload.length + missing;
    if (!this.started) {
      if (len === 0) return;
      this.started = true;
      this.base = seq >>> 0;
    }
    const at = this.offsetOf(seq);
    if (fin && this.finAt < 0) this.finAt = at + len;
    if (len === 0) return;
    if (at + len <= this.next) {
      this.duplicateBytes += len;
      return;
    }
    if (at <= this.next) {
      this.deliver({ at, payload, missing });
      this.drain();
      return;
    }
    this.hold({ at, payload, missing });
    while (this.heldBytes > this.maxHeldBytes && this.held.length > 0) this.gapTo(this.held[0].at);
  }

  /** The peer acknowledged up to `ack`: what it got and the capture still lacks ACK_WINDOW packets later is a gap. */
  acked(ack: number): void {
    if (!this.started) return;
    let a = this.offsetOf(ack);
    // A FIN takes one sequence number.
    if (this.finAt >= 0 && a > this.finAt) a = this.finAt;
    if (a > this.next && a > this.ackedTo) {
      if (this.ackedTo <= this.next) this.ackedAge = 0;
      this.ackedTo = a;
    }
  }

  /** One more packet of the connection (either way): acknowledged bytes missing for ACK_WINDOW packets are a gap. */
  tick(): void {
    if (this.ackedTo <= this.next) return;
    if (++this.ackedAge < ACK_WINDOW) return;
    const a = this.ackedTo;
    while (this.next < a) {
      const h = this.held[0];
      this.gapTo(h !== undefined && h.at < a ? Math.max(h.at, this.next) : a);
    }
  }

  /** The stream is over: bytes still waiting come after gaps, and bytes before a FIN that never came are a gap. */
  flush(): void {
    while (this.held.length > 0) this.gapTo(Math.max(this.held[0].at, this.next));
    if (this.finAt > this.next) this.gapTo(this.finAt);
  }

  private offsetOf(seq: number): number {
    const rel = (seq - this.base) >>> 0;
    return this.next + (((rel - (this.next % U32)) | 0));
  }

  private deliver(s: Held): void {
    const end = s.at + s.payload.length;
    if (end > this.next) {
      const from = this.next - s.at;
      if (from > 0) this.duplicateBytes += from;
      this.out.data(from === 0 ? s.payload : s.payload.subarray(from));
      this.next = end;
    } else {
      this.duplicateBytes += s.payload.length;
    }
    const endAll = end + s.missing;
    if (endAll > this.next) this.gapTo(endAll);
  }

  private drain(): void {
    while (this.held.length > 0 && this.held[0].at <= this.next) {
      const s = this.held.shift()!;
      this.heldBytes -= s.payload.length;
      if (s.at + s.payload.length + s.missing > this.next) this.deliver(s);
      else this.duplicateBytes += s.payload.length;
    }
  }

  /** Declares the bytes up to `to` missing, and delivers what waited behind them. */
  private gapTo(to: number): void {
    if (to > this.next) {
      this.gaps++;
      this.gapBytes += to - this.next;
      const at = this.next;
      this.next = to;
      this.out.gap(to - at, at);
    }
    this.drain();
  }

  private hold(s: Held): void {
    let i = this.held.length;
    while (i > 0 && this.held[i - 1].at > s.at) i--;
    this.held.splice(i, 0, s);
    this.heldBytes += s.payload.length;
  }
}
