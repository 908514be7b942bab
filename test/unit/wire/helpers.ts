// Shared by the wire tests: feed bytes with a given chunking and collect what comes out.
import type { Direction } from '../../../src/core/wire/types';
import { DecodedFrame, FrameDecoder, WireError } from '../../../src/core/wire/frameDecoder';

export const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** Splits `bytes` into chunks of `size` (1 = byte by byte); 0 = one chunk. */
export function chunks(bytes: Buffer, size: number): Buffer[] {
  if (size <= 0) return [bytes];
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

export interface Decoded {
  frames: DecodedFrame[];
  errors: WireError[];
  decoder: FrameDecoder;
  /** onOpaque's byte counts, one per push (readAfterViolation). */
  opaque: number[];
}

export function decode(
  bytes: Buffer | Buffer[],
  o: {
    direction?: Direction;
    chunk?: number;
    rsv1Allowed?: boolean;
    maxPayload?: number;
    enforceMasking?: boolean;
    allocate?: (n: number) => Buffer | undefined;
    readAfterViolation?: boolean;
  } = {},
): Decoded {
  const frames: DecodedFrame[] = [];
  const errors: WireError[] = [];
  const opaque: number[] = [];
  const decoder = new FrameDecoder({
    direction: o.direction ?? 's2c',
    rsv1Allowed: o.rsv1Allowed,
    maxPayload: o.maxPayload,
    enforceMasking: o.enforceMasking,
    allocate: o.allocate,
    readAfterViolation: o.readAfterViolation,
    onFrame: (f) => frames.push(f),
    onError: (e) => errors.push(e),
    onOpaque: (n) => opaque.push(n),
  });
  const list = Array.isArray(bytes) ? bytes : chunks(bytes, o.chunk ?? 0);
  for (const c of list) decoder.push(c);
  return { frames, errors, decoder, opaque };
}

/** mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
