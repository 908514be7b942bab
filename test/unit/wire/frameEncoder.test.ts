import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeClosePayload, encodeFrame, encodeFrameHeader } from '../../../src/core/wire/frameEncoder';
import { hex } from './helpers';

describe('encodeFrame', () => {
  test('RFC 6455 §5.7 examples, byte for byte', () => {
    const hello = Buffer.from('Hello');
    assert.equal(encodeFrame({ opcode: 1, payload: hello }).toString('hex'), '810548656c6c6f');
    assert.equal(encodeFrame({ opcode: 1, payload: hello, maskKey: hex('37fa213d') }).toString('hex'), '818537fa213d7f9f4d5158');
    assert.equal(encodeFrame({ opcode: 1, fin: false, payload: Buffer.from('Hel') }).toString('hex'), '010348656c');
    assert.equal(encodeFrame({ opcode: 0, payload: Buffer.from('lo') }).toString('hex'), '80026c6f');
    assert.equal(encodeFrame({ opcode: 9, payload: hello }).toString('hex'), '890548656c6c6f');
    assert.equal(encodeFrame({ opcode: 10, payload: hello, maskKey: hex('37fa213d') }).toString('hex'), '8a8537fa213d7f9f4d5158');
    const f256 = encodeFrame({ opcode: 2, payload: Buffer.alloc(256) });
    assert.equal(f256.subarray(0, 4).toString('hex'), '827e0100');
    assert.equal(f256.length, 260);
    const f64k = encodeFrame({ opcode: 2, payload: Buffer.alloc(65536) });
    assert.equal(f64k.subarray(0, 10).toString('hex'), '827f0000000000010000');
  });

  test('forced non-minimal length forms and RSV bits', () => {
    assert.equal(encodeFrame({ opcode: 1, payload: Buffer.from('a'), lengthForm: 16 }).toString('hex'), '817e000161');
    assert.equal(encodeFrame({ opcode: 1, payload: Buffer.from('a'), lengthForm: 64 }).toString('hex'), '817f000000000000000161');
    assert.equal(encodeFrame({ opcode: 2, rsv1: true, rsv2: true, rsv3: true, payload: Buffer.alloc(0) }).toString('hex'), 'f200');
    assert.equal(encodeFrame({ opcode: 3, payload: Buffer.alloc(0) }).toString('hex'), '8300');
  });

  test('a length form too small for the payload is a RangeError', () => {
    assert.throws(() => encodeFrame({ opcode: 2, payload: Buffer.alloc(126), lengthForm: 7 }), RangeError);
    assert.throws(() => encodeFrame({ opcode: 2, payload: Buffer.alloc(65536), lengthForm: 16 }), RangeError);
    assert.throws(() => encodeFrame({ opcode: 2, payload: Buffer.alloc(1), maskKey: Buffer.alloc(3) }), RangeError);
  });

  test('encodeClosePayload', () => {
    assert.equal(encodeClosePayload(1000, 'bye').toString('hex'), '03e8627965');
    assert.equal(encodeClosePayload(4001).toString('hex'), '0fa1');
    assert.equal(encodeClosePayload().length, 0);
    assert.equal(encodeClosePayload(1000, 'é').toString('hex'), '03e8c3a9');
  });
});

describe('encodeFrameHeader', () => {
  test('is the header of encodeFrame for every length form, masked or not', () => {
    for (const n of [0, 5, 125, 126, 65535, 65536]) {
      for (const maskKey of [undefined, hex('37fa213d')]) {
        const o = { opcode: 2, payload: Buffer.alloc(n, 7), maskKey };
        const whole = encodeFrame(o);
        const header = encodeFrameHeader(o);
        assert.deepEqual(header, whole.subarray(0, whole.length - n), `n=${n} masked=${maskKey !== undefined}`);
      }
    }
  });
});
