// The word-at-a-time unmasking against the byte-by-byte XOR of RFC 6455 §5.3.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { unmaskInPlace } from '../../../src/core/wire/mask';
import { hex } from './helpers';

describe('unmaskInPlace', () => {
  // The word loop starts at the first 4-byte-aligned byte with the mask rotated to match; a wrong rotation or a
  // dropped lead or tail byte shows as a byte that differs from the byte-by-byte XOR.
  test('equals the byte-by-byte XOR at every alignment and around the word loop sizes', () => {
    const mask = hex('37fa213d');
    const backing = Buffer.alloc(4096 + 16);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 131 + 7) & 0xff;
    for (const offset of [0, 1, 2, 3, 4, 5, 6, 7]) {
      for (const n of [0, 1, 3, 4, 15, 31, 32, 33, 34, 35, 36, 47, 48, 49, 63, 64, 65, 1024, 1027, 4096]) {
        const buf = backing.subarray(offset, offset + n);
        const expected = Buffer.from(buf);
        for (let i = 0; i < n; i++) expected[i] ^= mask[i & 3];
        const before = Buffer.from(backing);
        unmaskInPlace(buf, mask);
        assert.deepEqual(buf, expected, `offset ${offset}, length ${n}`);
        // Nothing outside the view changed.
        assert.deepEqual(backing.subarray(0, offset), before.subarray(0, offset));
        assert.deepEqual(backing.subarray(offset + n), before.subarray(offset + n));
        buf.set(before.subarray(offset, offset + n));
      }
    }
  });
});
