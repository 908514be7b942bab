// Incremental RFC 6455 frame decoder: any chunking of the input gives the same frames, down to one byte at a time.
import type { Direction } from './types';
import { DEFAULT_MAX_PAYLOAD, EMPTY_BUFFER, MAX_CONTROL_PAYLOAD } from './constants';
import { WireError, createWireError } from './errors';
import { unmask, unmaskInPlace } from './mask';

export { WireError, createWireError };

export interface DecodedFrame {
  fin: boolean;
  rsv1: boolean;
  rsv2: boolean;
  rsv3: boolean;
  opcode: number;
  masked: boolean;
  /** 4 bytes when masked (a view of `header`). */
  maskKey?: Buffer;
  payloadLength: number;
  lengthForm: 7 | 16 | 64;
  headerLength: number;
  /** The raw header bytes, mask key included. */
  header: Buffer;
  /** Unmasked. A view of the pushed chunk when the frame was unmasked and inside one chunk, else a copy. */
  payload: Buffer;
  /** performance.timeOrigin + performance.now() when the chunk holding the frame's last byte was pushed. */
  time: number;
  /** Read after this direction's first header violation (that frame included): framed as the bytes say, unchecked. */
  afterViolation: boolean;
}

export interface FrameDecoderOptions {
  direction: Direction;
  /** Frames whose payload is longer are a violation (1009). Default 100 MiB. */
  maxPayload?: number;
  /** 'c2s' frames must be masked, 's2c' frames must not (RFC 6455 §5.1). Default true. */
  enforceMasking?: boolean;
  /** RSV1 is allowed on text/binary frames (permessage-deflate negotiated). Default false. */
  rsv1Allowed?: boolean;
  /**
   * Where the copy of a masked frame that is a whole message (FIN and not a continuation) or a control frame goes,
   * header then payload as on the wire, when its bytes arrived in one read; undefined for a buffer of its own. A
   * capture passes its store's `reserveBytes`, so that the store keeps the bytes where they are instead of copying them
   * again. Not for a fragment: the message's other frames come in later reads, and hold their fragments until then.
   */
  allocate?(n: number): Buffer | undefined;
  /**
   * Offered first each whole text or binary frame with FIN set and RSV1 clear that arrived in one read: its header
   * (mask key included) is the `headerLength` bytes of `bytes` from `at`, and its payload, unmasked, the
   * `payloadLength` bytes after them (in room from `allocate` when masked, else in the pushed chunk). Return true when
   * it was taken: onFrame then does not get it. A capture records such a frame without the frame object and the
   * views of it that onFrame needs.
   */
  onWholeData?(bytes: Buffer, at: number, headerLength: number, payloadLength: number, time: number): boolean;
  onFrame(frame: DecodedFrame): void;
  onError(err: WireError): void;
  /**
   * After a header violation, go on reading frames (marked afterViolation, unchecked) as far as the bytes can be
   * framed, as a capture does; else (a proxy, which then forwards raw) the decoder stops there. Default false.
   */
  readAfterViolation?: boolean;
  /**
   * With readAfterViolation, bytes that can't be framed: all of a direction's bytes from a header whose length can't be trusted (over
   * maxPayload or 2^53 - 1) on. Called once per push with how many of its bytes those are.
   */
  onOpaque?(byteCount: number): void;
}

const GET_INFO = 0;
const GET_HEADER = 1;
const GET_DATA = 2;
/** Stopped at a violation (without readAfterViolation): input is ignored. */
const FAILED = 3;
/** After a length that can't be trusted (with readAfterViolation): the rest is counted, not framed. */
const OPAQUE = 4;

const timeOrigin = performance.timeOrigin;

/**
 * The payload length in a frame header that starts at `at` and is complete (see headerLengthOf), in its 7, 16 or
 * 64-bit form; -1 above 2^53 - 1, which a number can't hold exactly (this also rejects the MSB that RFC 6455 §5.2
 * forbids).
 */
export function payloadLengthIn(header: Buffer, at: number, b1: number): number {
  const len7 = b1 & 0x7f;
  if (len7 === 126) return header.readUInt16BE(at + 2);
  if (len7 !== 127) return len7;
  const hi = header.readUInt32BE(at + 2);
  return hi > 0x1fffff ? -1 : hi * 0x100000000 + header.readUInt32BE(at + 6);
}

/** A frame's header length, mask key included, from its second byte. */
export const headerLengthOf = (b1: number): number => 2 + ((b1 & 0x7f) === 126 ? 2 : (b1 & 0x7f) === 127 ? 8 : 0) + ((b1 & 0x80) !== 0 ? 4 : 0);

export class FrameDecoder {
  private readonly direction: Direction;
  private readonly maxPayload: number;
  private readonly enforceMasking: boolean;
  private rsv1Allowed: boolean;
  private readonly onFrame: (frame: DecodedFrame) => void;
  private readonly onError: (err: WireError) => void;
  private readonly allocate: ((n: number) => Buffer | undefined) | undefined;
  /** Dropped at the first violation: the frames after it are not messages. */
  private onWholeData: FrameDecoderOptions['onWholeData'];
  private readonly onOpaque: ((byteCount: number) => void) | undefined;
  private readonly readAfterViolation: boolean;
  /** Set at the first header violation: later frames are read without the checks, and the violation is not reported again. */
  private afterViolation = false;

  private buffers: Buffer[] = [];
  private buffered = 0;
  private state = GET_INFO;
  /** Set by consume(): the last value it returned is a fresh copy we own. */
  private copied = false;
  /** The current frame's header is such a copy (it spanned chunks). */
  private headerCopied = false;
  /** Time of the current push, taken lazily by the first frame it completes. */
  private pushTime = 0;

  // The frame being read.
  private b0 = 0;
  private b1 = 0;
  private headerLength = 0;
  private payloadLength = 0;
  private header: Buffer = EMPTY_BUFFER;
  private maskKey: Buffer | undefined = undefined;

  constructor(o: FrameDecoderOptions) {
    this.direction = o.direction;
    this.maxPayload = o.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.enforceMasking = o.enforceMasking ?? true;
    this.rsv1Allowed = o.rsv1Allowed ?? false;
    this.onFrame = o.onFrame;
    this.onError = o.onError;
    this.allocate = o.allocate?.bind(o);
    this.onWholeData = o.onWholeData?.bind(o);
    this.onOpaque = o.onOpaque?.bind(o);
    this.readAfterViolation = o.readAfterViolation ?? false;
  }

  /** True after a violation (see readAfterViolation for what follows). */
  get failed(): boolean {
    return this.afterViolation;
  }

  /** True after a length that can't be trusted: the bytes that follow can't be delimited, and are only counted. */
  get opaque(): boolean {
    return this.state === OPAQUE;
  }

  /** True between frames: nothing buffered, no frame half read, no violation. */
  get idle(): boolean {
    return this.state === GET_INFO && this.buffered === 0 && !this.afterViolation;
  }

  /**
   * The frame the bytes stopped in, when they stop: how many of its bytes arrived, its size once its header did, and
   * its opcode once its first byte did. Undefined between frames, and once the bytes are opaque or decoding stopped.
   */
  get incomplete(): { received: number; size?: number; opcode?: number } | undefined {
    if (this.state === GET_DATA) {
      return { received: this.headerLength + this.buffered, size: this.headerLength + this.payloadLength, opcode: this.b0 & 0x0f };
    }
    if ((this.state === GET_INFO || this.state === GET_HEADER) && this.buffered > 0) {
      return { received: this.buffered, opcode: this.buffers[0][0] & 0x0f };
    }
    return undefined;
  }

  /** Turned on once permessage-deflate is known to be negotiated. */
  setRsv1Allowed(v: boolean): void {
    this.rsv1Allowed = v;
  }

  /** Feeds bytes in wire order. Frames and errors are reported synchronously. The chunk is never modified. */
  push(chunk: Buffer): void {
    if (this.state === FAILED || chunk.length === 0) return;
    if (this.state === OPAQUE) {
      this.onOpaque?.(chunk.length);
      return;
    }
    this.pushTime = 0;
    if (this.state === GET_INFO && this.buffered === 0) {
      // Nothing held from earlier chunks: the whole frames at the chunk's start are read in place.
      const off = this.wholeFrames(chunk);
      if (off === chunk.length || (this.state as number) === FAILED) return;
      if ((this.state as number) === OPAQUE) {
        this.onOpaque?.(chunk.length - off);
        return;
      }
      if (off > 0) chunk = chunk.subarray(off);
    }
    this.buffers.push(chunk);
    this.buffered += chunk.length;
    for (;;) {
      if (this.state === GET_INFO) {
        if (this.buffered < 2 || !this.getInfo()) return;
      } else if (this.state === GET_HEADER) {
        if (this.buffered < this.headerLength) return;
        if (!this.getHeader()) {
          if ((this.state as number) === FAILED) return;
          // The length can't be trusted: the header and everything held after it are opaque.
          const n = this.buffered + this.headerLength;
          this.buffers = [];
          this.buffered = 0;
          this.onOpaque?.(n);
          return;
        }
      } else if (this.state === GET_DATA) {
        if (this.buffered < this.payloadLength) return;
        this.getData();
      } else {
        return;
      }
    }
  }

  /** Takes `n` bytes from the buffered chunks: a view when they lie in one chunk, else a copy. */
  private consume(n: number): Buffer {
    this.buffered -= n;
    const first = this.buffers[0];
    if (n === first.length) {
      this.copied = false;
      this.buffers.shift();
      return first;
    }
    if (n < first.length) {
      this.copied = false;
      this.buffers[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const dst = Buffer.allocUnsafe(n);
    const list = this.buffers;
    let off = 0;
    let i = 0;
    // One splice at the end: shift() per chunk is quadratic when a payload arrives byte by byte.
    while (off < n) {
      const buf = list[i];
      const want = n - off;
      if (want >= buf.length) {
        dst.set(buf, off);
        off += buf.length;
        i++;
      } else {
        dst.set(buf.subarray(0, want), off);
        list[i] = buf.subarray(want);
        off = n;
      }
    }
    if (i === list.length) this.buffers = [];
    else list.splice(0, i);
    this.copied = true;
    return dst;
  }

  private peek(i: number): number {
    for (const b of this.buffers) {
      if (i < b.length) return b[i];
      i -= b.length;
    }
    return 0;
  }

  /** Reads the first two bytes without consuming them and checks everything they decide. */
  private getInfo(): boolean {
    const first = this.buffers[0];
    const b0 = first[0];
    const b1 = first.length > 1 ? first[1] : this.peek(1);
    if (!this.checkInfo(b0, b1)) return false;
    this.b0 = b0;
    this.b1 = b1;
    this.headerLength = headerLengthOf(b1);
    this.state = GET_HEADER;
    return true;
  }

  /**
   * Everything the first two bytes of a frame decide. A broken rule is reported (the first only); false when the
   * decoder then stops, true when it reads on (readAfterViolation).
   */
  private checkInfo(b0: number, b1: number): boolean {
    const opcode = b0 & 0x0f;
    const len7 = b1 & 0x7f;
    const masked = (b1 & 0x80) !== 0;

    if ((b0 & 0x30) !== 0) {
      const which = (b0 & 0x20) !== 0 ? ((b0 & 0x10) !== 0 ? 'RSV2 and RSV3' : 'RSV2') : 'RSV3';
      return this.fail('WS_ERR_UNEXPECTED_RSV_2_3', `${which} must be clear`, 1002);
    }
    if (opcode > 0x2 && (opcode < 0x8 || opcode > 0xa)) {
      return this.fail('WS_ERR_INVALID_OPCODE', `invalid opcode ${opcode}`, 1002);
    }
    if ((b0 & 0x40) !== 0 && (!this.rsv1Allowed || (opcode !== 0x1 && opcode !== 0x2))) {
      return this.fail('WS_ERR_UNEXPECTED_RSV_1', 'RSV1 must be clear', 1002);
    }
    if (opcode >= 0x8) {
      if ((b0 & 0x80) === 0) return this.fail('WS_ERR_EXPECTED_FIN', 'FIN must be set on a control frame', 1002);
      if (len7 > MAX_CONTROL_PAYLOAD) {
        return this.fail('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', `invalid control payload length ${len7}`, 1002);
      }
    }
    if (this.enforceMasking) {
      if (this.direction === 'c2s') {
        if (!masked) return this.fail('WS_ERR_EXPECTED_MASK', 'MASK must be set', 1002);
      } else if (masked) {
        return this.fail('WS_ERR_UNEXPECTED_MASK', 'MASK must be clear', 1002);
      }
    }
    return true;
  }

  /**
   * The payload length a complete header gives (`header` from `at`), or -1 when it can't be trusted (too large for a
   * number or over maxPayload, reported if first): the decoder has then stopped, or is opaque (readAfterViolation).
   */
  private payloadLengthOf(header: Buffer, at: number, b1: number): number {
    const len = payloadLengthIn(header, at, b1);
    if (len < 0) {
      // RFC 6455 §5.2: the most significant bit of a 64-bit length MUST be 0, so that is a protocol error (1002);
      // a valid length over 2^53 - 1 is one we cannot hold, as ws says (1009).
      if ((header[at + 2] & 0x80) !== 0) this.fail('WS_ERR_INVALID_PAYLOAD_LENGTH_MSB', 'The most significant bit of a 64-bit payload length must be 0', 1002);
      else this.fail('WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 'Unsupported WebSocket frame: payload length > 2^53 - 1', 1009);
      this.state = this.readAfterViolation ? OPAQUE : FAILED;
      return -1;
    }
    if (len > this.maxPayload) {
      this.fail('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', `Max payload size exceeded (${len} > ${this.maxPayload})`, 1009);
      this.state = this.readAfterViolation ? OPAQUE : FAILED;
      return -1;
    }
    return len;
  }

  /**
   * Decodes the whole frames at the start of `chunk` straight from it, without the buffer list: what a socket read
   * nearly always is. Returns where the first incomplete frame starts (chunk.length when none), for the buffered path.
   * The same frames, byte for byte, as the buffered path gives.
   */
  private wholeFrames(chunk: Buffer): number {
    const end = chunk.length;
    let off = 0;
    while (end - off >= 2) {
      const b0 = chunk[off];
      const b1 = chunk[off + 1];
      const hl = headerLengthOf(b1);
      if (end - off < hl) break;
      if (!this.checkInfo(b0, b1)) return off;
      const n = this.payloadLengthOf(chunk, off, b1);
      if (n < 0) return off;
      const frameEnd = off + hl + n;
      if (frameEnd > end) break;
      // FIN, RSV1 clear, text or binary (RSV2 and RSV3 were checked): a whole message, offered to onWholeData.
      const wholeData = this.onWholeData !== undefined && (b0 & 0xc0) === 0x80 && ((b0 & 0x0f) === 1 || (b0 & 0x0f) === 2);
      let header: Buffer;
      let payload: Buffer;
      let mask: Buffer | undefined;
      if ((b1 & 0x80) === 0) {
        if (wholeData && this.onWholeData!(chunk, off, hl, n, this.frameTime())) {
          off = frameEnd;
          continue;
        }
        header = chunk.subarray(off, off + hl);
        payload = n === 0 ? EMPTY_BUFFER : chunk.subarray(off + hl, frameEnd);
      } else {
        // Copied as on the wire (header, then payload: one copy) and unmasked in the copy: the chunk is never modified.
        // FIN and not a continuation: a whole message or a control frame (see `allocate`).
        const whole = (b0 & 0x80) !== 0 && (b0 & 0x0f) !== 0;
        const own = (whole ? this.allocate?.(hl + n) : undefined) ?? Buffer.allocUnsafe(hl + n);
        own.set(new Uint8Array(chunk.buffer, chunk.byteOffset + off, hl + n), 0);
        if (n > 0 && (own[hl - 4] | own[hl - 3] | own[hl - 2] | own[hl - 1]) !== 0) unmask(own, hl, n, own, hl - 4);
        if (wholeData && this.onWholeData!(own, 0, hl, n, this.frameTime())) {
          off = frameEnd;
          continue;
        }
        header = own.subarray(0, hl);
        payload = n === 0 ? EMPTY_BUFFER : own.subarray(hl);
        mask = header.subarray(hl - 4, hl);
      }
      this.emit(b0, b1, hl, n, header, payload, mask);
      off = frameEnd;
    }
    return off;
  }

  private getHeader(): boolean {
    const hl = this.headerLength;
    const header = this.consume(hl);
    const len = this.payloadLengthOf(header, 0, this.b1);
    if (len < 0) return false;
    this.header = header;
    this.headerCopied = this.copied;
    this.payloadLength = len;
    this.maskKey = (this.b1 & 0x80) !== 0 ? header.subarray(hl - 4, hl) : undefined;
    this.state = GET_DATA;
    return true;
  }

  private getData(): void {
    const n = this.payloadLength;
    let mask = this.maskKey;
    let header = this.header;
    let payload = EMPTY_BUFFER;
    if (n > 0) payload = this.consume(n);
    if (mask !== undefined) {
      // A masked frame's header is copied too (into the payload's copy when there is one): a capture keeps frames
      // long after their read, and a view would keep the socket's whole read chunk alive for that long (for a
      // server under load, one more buffer of the heap to scan per frame held).
      const hl = this.headerLength;
      const unmask = n > 0 && (mask[0] | mask[1] | mask[2] | mask[3]) !== 0;
      if (unmask && !this.copied) {
        // Payload first: the buffered payload may span chunks, and the header is then copied after it.
        const own = Buffer.allocUnsafe(n + hl);
        own.set(payload, 0);
        own.set(header, n);
        payload = own.subarray(0, n);
        header = own.subarray(n, n + hl);
      } else if (!this.headerCopied) {
        header = Buffer.from(header);
      }
      mask = header.subarray(hl - 4, hl);
      if (unmask) unmaskInPlace(payload, mask);
    }
    this.state = GET_INFO;
    this.header = EMPTY_BUFFER;
    this.maskKey = undefined;
    this.emit(this.b0, this.b1, this.headerLength, n, header, payload, mask);
  }

  private emit(b0: number, b1: number, hl: number, n: number, header: Buffer, payload: Buffer, mask: Buffer | undefined): void {
    const len7 = b1 & 0x7f;
    const frame: DecodedFrame = {
      fin: (b0 & 0x80) !== 0,
      rsv1: (b0 & 0x40) !== 0,
      rsv2: (b0 & 0x20) !== 0,
      rsv3: (b0 & 0x10) !== 0,
      opcode: b0 & 0x0f,
      masked: mask !== undefined,
      maskKey: mask,
      payloadLength: n,
      lengthForm: len7 === 126 ? 16 : len7 === 127 ? 64 : 7,
      headerLength: hl,
      header,
      payload,
      time: this.frameTime(),
      afterViolation: this.afterViolation,
    };
    this.onFrame(frame);
  }

  /** The time of the current push, taken by the first frame it completes. */
  private frameTime(): number {
    return this.pushTime || (this.pushTime = timeOrigin + performance.now());
  }

  /**
   * Reports the first violation. Returns whether to read on: with readAfterViolation, frames from here are marked
   * afterViolation and not offered to onWholeData; else the decoder stops.
   */
  private fail(code: string, message: string, closeCode: number): boolean {
    if (this.afterViolation) return true;
    this.afterViolation = true;
    this.onWholeData = undefined;
    if (!this.readAfterViolation) {
      this.state = FAILED;
      this.buffers = [];
      this.buffered = 0;
    }
    const err = createWireError(code, message, closeCode);
    err.direction = this.direction;
    this.onError(err);
    return this.readAfterViolation;
  }
}
