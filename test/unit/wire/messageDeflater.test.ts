// The sending side of permessage-deflate (src/core/wire/messageDeflater.ts): what it writes, ws's own inflater reads,
// message after message, with and without context takeover, in every window size.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MessageDeflater } from '../../../src/core/wire/messageDeflater';
import { PassiveInflater } from '../../../src/core/wire/deflate';
import { wsPmd, type WsPmd } from './wsPmd';

/** ws's PerMessageDeflate as the receiver; decompress is async there. */
function wsInflate(pmd: WsPmd, data: Buffer): Promise<Buffer> {
  const p = pmd as WsPmd & { decompress(d: Buffer, fin: boolean, cb: (err: Error | null, out: Buffer) => void): void };
  return new Promise((resolve, reject) => p.decompress(data, true, (err, out) => (err ? reject(err) : resolve(out))));
}

/** Messages that refer back to each other (repeated JSON with a counter) and some that do not (random bytes). */
function messages(n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 7 === 3) out.push(randomBytes(300 + i));
    else if (i % 11 === 5) out.push(Buffer.alloc(0));
    else out.push(Buffer.from(JSON.stringify({ type: 'order', i, items: Array.from({ length: i % 13 }, (_, k) => ({ sku: `sku-${k}`, qty: k })) })));
  }
  return out;
}

describe('MessageDeflater', () => {
  test('ws inflates 300 messages in a row, with context takeover, in windows 8 to 15 (as client and as server)', async () => {
    for (const bits of [8, 9, 10, 12, 15]) {
      for (const side of ['c2s', 's2c'] as const) {
        const response = `permessage-deflate; server_max_window_bits=${bits}; client_max_window_bits=${bits}`;
        const deflater = MessageDeflater.forDirection(
          { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: bits, clientMaxWindowBits: bits },
          side,
        );
        // The receiver is the other end: the server reads c2s.
        const receiver = wsPmd(side === 'c2s', side === 'c2s' ? `permessage-deflate; client_max_window_bits=${bits}; server_max_window_bits=${bits}` : response);
        const passive = new PassiveInflater();
        for (const m of messages(300)) {
          const z = deflater.deflate(m);
          assert.deepEqual(await wsInflate(receiver, z), m, `window ${bits}, ${side}`);
          assert.deepEqual(passive.inflate(z), m);
        }
        receiver.cleanup();
      }
    }
  });

  test('context takeover compresses a repeated message to a few bytes; without it each message stands alone', () => {
    const m = Buffer.from(JSON.stringify({ type: 'tick', payload: 'x'.repeat(40), more: 'the same text every time' }));
    const carried = new MessageDeflater();
    const alone = new MessageDeflater({ noContextTakeover: true });
    const first = carried.deflate(m).length;
    const second = carried.deflate(m).length;
    assert.ok(second < first / 4, `${second} bytes the second time, ${first} the first`);
    assert.equal(alone.deflate(m).length, alone.deflate(m).length);
    // Each stands alone: a fresh inflater without any window reads the second one.
    assert.deepEqual(new PassiveInflater({ noContextTakeover: true }).inflate(alone.deflate(m)), m);
  });

  test('an empty message is the single byte 00; the 00 00 ff ff tail is never sent', () => {
    const d = new MessageDeflater();
    assert.deepEqual(d.deflate(Buffer.alloc(0)), Buffer.from([0x00]));
    const z = d.deflate(Buffer.from('hello'));
    assert.notDeepEqual(z.subarray(-4), Buffer.from('0000ffff', 'hex'));
    assert.throws(() => new MessageDeflater({ windowBits: 7 }), RangeError);
  });
});
