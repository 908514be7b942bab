// The load generator's wire helpers: the stamp a payload carries, a frame walker that reads only the stamps of the
// server's (unmasked) frames, and a latency histogram. Kept out of load.child.ts so they can be read on their own.

/** The payload's first bytes: send time (float64 LE, ms on the generator's clock), measured flag, step id. */
export const PAYLOAD_HEAD = 16;

export interface Stamp {
  sentAt: number;
  measured: boolean;
  stepId: number;
}

/** Writes the stamp into a masked frame's payload (starting at `payloadAt`), masking it with the frame's key. */
export function writeStamp(frame: Buffer, payloadAt: number, s: Stamp, mask: Buffer): void {
  const head = Buffer.alloc(PAYLOAD_HEAD);
  head.writeDoubleLE(s.sentAt, 0);
  head[8] = s.measured ? 1 : 0;
  head.writeUInt32LE(s.stepId, 12);
  for (let i = 0; i < PAYLOAD_HEAD; i++) frame[payloadAt + i] = head[i] ^ mask[i & 3];
}

/** True when the unmasked payload at `payloadAt` is a measured message of step `stepId`. */
export function isMeasured(buf: Buffer, payloadAt: number, stepId: number): boolean {
  return buf[payloadAt + 8] === 1 && buf.readUInt32LE(payloadAt + 12) === stepId;
}

/** The send time in the unmasked payload at `payloadAt`. */
export function sentAt(buf: Buffer, payloadAt: number): number {
  return buf.readDoubleLE(payloadAt);
}

/**
 * Walks the unmasked frames a server sends, in chunks of any size, and calls `onData(buf, payloadAt, arrival)` for
 * each data frame whose payload holds a stamp, once its first PAYLOAD_HEAD payload bytes are in. The rest of each
 * payload is skipped without copying; only a header split across chunks is copied (a few bytes).
 */
export class FrameWalker {
  /** Payload bytes of the current frame still to pass over. */
  private skip = 0;
  /** The start of a frame whose header (or stamp) did not fit in the last chunk. */
  private carry: Buffer | undefined;

  constructor(private readonly onData: (buf: Buffer, payloadAt: number, arrival: number) => void) {}

  feed(chunk: Buffer, arrival: number): void {
    let buf = chunk;
    let i = 0;
    if (this.skip > 0) {
      i = Math.min(this.skip, buf.length);
      this.skip -= i;
    } else if (this.carry) {
      buf = Buffer.concat([this.carry, chunk]);
      this.carry = undefined;
    }
    while (i < buf.length) {
      const avail = buf.length - i;
      if (avail < 2) break;
      const b1 = buf[i + 1];
      let len = b1 & 0x7f;
      let h = 2;
      if (len === 126) {
        if (avail < 4) break;
        len = buf.readUInt16BE(i + 2);
        h = 4;
      } else if (len === 127) {
        if (avail < 10) break;
        len = Number(buf.readBigUInt64BE(i + 2));
        h = 10;
      }
      if (b1 & 0x80) h += 4; // a server never masks; counted anyway so the walk stays in step
      if (avail < h + Math.min(len, PAYLOAD_HEAD)) break;
      const opcode = buf[i] & 0x0f;
      if ((opcode === 1 || opcode === 2) && len >= PAYLOAD_HEAD && !(b1 & 0x80)) this.onData(buf, i + h, arrival);
      if (avail >= h + len) {
        i += h + len;
      } else {
        this.skip = h + len - avail;
        i = buf.length;
      }
    }
    if (i < buf.length) this.carry = Buffer.from(buf.subarray(i));
  }
}

/** Latencies in 0.1 ms buckets up to 10 s; anything later lands in one overflow bucket. */
export class LatencyHistogram {
  private static readonly BUCKET_MS = 0.1;
  private readonly buckets = new Uint32Array(100_000);
  private overflow = 0;
  count = 0;
  max = 0;

  record(ms: number): void {
    const b = Math.floor(Math.max(0, ms) / LatencyHistogram.BUCKET_MS);
    if (b < this.buckets.length) this.buckets[b]++;
    else this.overflow++;
    this.count++;
    if (ms > this.max) this.max = ms;
  }

  /**
   * The latency below which `q` of the samples fall, counting `lost` more samples as infinitely late (a delivery
   * that never came is worse than any late one). Infinity when the quantile falls among the lost ones.
   */
  percentile(q: number, lost: number): number {
    const total = this.count + lost;
    if (total === 0) return 0;
    const rank = Math.ceil(q * total);
    let seen = 0;
    for (let b = 0; b < this.buckets.length; b++) {
      seen += this.buckets[b];
      if (seen >= rank) return (b + 1) * LatencyHistogram.BUCKET_MS;
    }
    return seen + this.overflow >= rank ? this.max : Infinity;
  }
}
