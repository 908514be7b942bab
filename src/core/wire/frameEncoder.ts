// Pure frame encoder: exact wire bytes for tests, benchmarks and the composer (ws's `Sender.frame` is the model).

export interface EncodeFrameOptions {
  /** Default true. */
  fin?: boolean;
  /** Default false. */
  rsv1?: boolean;
  /** Default false. */
  rsv2?: boolean;
  /** Default false. */
  rsv3?: boolean;
  /** Only the low 4 bits are written, so reserved opcodes can be produced for tests. */
  opcode: number;
  payload: Buffer;
  /** 4 bytes; the frame is masked when given. */
  maskKey?: Buffer;
  /** Forces a (possibly non-minimal) length encoding. Default: the shortest that fits. */
  lengthForm?: 7 | 16 | 64;
}

/** Encodes one frame. Throws a RangeError when `lengthForm` can't hold the payload length. */
export function encodeFrame(o: EncodeFrameOptions): Buffer {
  const payload = o.payload;
  const n = payload.length;
  const hl = headerLength(o);
  const out = Buffer.allocUnsafe(hl + n);
  writeHeader(o, out);
  const mask = o.maskKey;
  if (mask) {
    for (let i = 0; i < n; i++) out[hl + i] = payload[i] ^ mask[i & 3];
  } else {
    payload.copy(out, hl);
  }
  return out;
}

/**
 * The header alone (mask key included) of the frame `encodeFrame(o)` would give: for frames known only by their
 * fields (the browser's DevTools events, the Redis backplane), whose header the inspector shows as it would be.
 */
export function encodeFrameHeader(o: EncodeFrameOptions): Buffer {
  const out = Buffer.allocUnsafe(headerLength(o));
  writeHeader(o, out);
  return out;
}

function lengthFormOf(o: EncodeFrameOptions): 7 | 16 | 64 {
  const n = o.payload.length;
  const form = o.lengthForm ?? (n <= 125 ? 7 : n <= 0xffff ? 16 : 64);
  if ((form === 7 && n > 125) || (form === 16 && n > 0xffff)) {
    throw new RangeError(`payload length ${n} does not fit a ${form}-bit length`);
  }
  if (o.maskKey !== undefined && o.maskKey.length !== 4) throw new RangeError('maskKey must be 4 bytes');
  return form;
}

function headerLength(o: EncodeFrameOptions): number {
  const form = lengthFormOf(o);
  return 2 + (form === 7 ? 0 : form === 16 ? 2 : 8) + (o.maskKey ? 4 : 0);
}

function writeHeader(o: EncodeFrameOptions, out: Buffer): void {
  const n = o.payload.length;
  const form = lengthFormOf(o);
  const mask = o.maskKey;
  out[0] =
    (o.fin === false ? 0 : 0x80) | (o.rsv1 ? 0x40 : 0) | (o.rsv2 ? 0x20 : 0) | (o.rsv3 ? 0x10 : 0) | (o.opcode & 0x0f);
  out[1] = (mask ? 0x80 : 0) | (form === 7 ? n : form === 16 ? 126 : 127);
  if (form === 16) {
    out.writeUInt16BE(n, 2);
  } else if (form === 64) {
    out.writeUInt32BE(Math.floor(n / 0x100000000), 2);
    out.writeUInt32BE(n >>> 0, 6);
  }
  if (mask) mask.copy(out, 2 + (form === 7 ? 0 : form === 16 ? 2 : 8));
}

/** The payload of a close frame: empty without a code, else the code (big-endian) and the UTF-8 reason. */
export function encodeClosePayload(code?: number, reason = ''): Buffer {
  if (code === undefined) return Buffer.alloc(0);
  const r = Buffer.from(reason, 'utf8');
  const out = Buffer.allocUnsafe(2 + r.length);
  out.writeUInt16BE(code, 0);
  r.copy(out, 2);
  return out;
}
