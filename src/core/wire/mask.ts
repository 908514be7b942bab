// Unmasking a frame's payload (RFC 6455 §5.3): the decoder's hottest loop, kept apart from its state machine.
import { endianness } from 'node:os';

const LITTLE_ENDIAN = endianness() === 'LE';

/** XORs `buf` with the 4-byte mask (which applies from `buf`'s first byte). */
export function unmaskInPlace(buf: Buffer, mask: Buffer): void {
  unmask(buf, 0, buf.length, mask, 0);
}

/**
 * XORs the `n` bytes of `buf` from `start` with the 4-byte mask at `key[keyAt]` (which applies from `start`), outside
 * those bytes. Runs a 32-bit word at a time from the first 4-byte-aligned byte on, with the mask rotated to match, four
 * words per turn: a masked frame copied as it came off the wire has its payload at any offset, and the byte loop
 * alone is about four times slower.
 */
export function unmask(buf: Buffer, start: number, n: number, key: Buffer, keyAt: number): void {
  let i = 0;
  if (n >= 32) {
    // Bytes up to the first aligned one (0 to 3 of them); the words from there use the mask from that byte's place.
    const lead = (4 - ((buf.byteOffset + start) & 3)) & 3;
    for (; i < lead; i++) buf[start + i] ^= key[keyAt + i];
    const b0 = key[keyAt + (lead & 3)];
    const b1 = key[keyAt + ((lead + 1) & 3)];
    const b2 = key[keyAt + ((lead + 2) & 3)];
    const b3 = key[keyAt + ((lead + 3) & 3)];
    const m = LITTLE_ENDIAN ? b0 | (b1 << 8) | (b2 << 16) | (b3 << 24) : (b0 << 24) | (b1 << 16) | (b2 << 8) | b3;
    const words = (n - lead) >>> 2;
    const w32 = new Int32Array(buf.buffer, buf.byteOffset + start + lead, words);
    const four = words & ~3;
    let w = 0;
    for (; w < four; w += 4) {
      w32[w] ^= m;
      w32[w + 1] ^= m;
      w32[w + 2] ^= m;
      w32[w + 3] ^= m;
    }
    for (; w < words; w++) w32[w] ^= m;
    i = lead + (words << 2);
  }
  for (; i < n; i++) buf[start + i] ^= key[keyAt + (i & 3)];
}
