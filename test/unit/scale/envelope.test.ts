import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEnvelope, encodeEnvelope, type DecodeResult } from '../../../src/core/scale/envelope';

const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

function decodedOk(r: DecodeResult) {
  assert.ok(r.ok, r.ok ? '' : `${r.code}: ${r.message}`);
  return r.message;
}

describe('JSON envelope', () => {
  test('text is written with the keys in the documented order and the text as is', () => {
    const raw = encodeEnvelope('json', { server: 'srv-a', data: Buffer.from('héllo "x"'), isBinary: false });
    assert.equal(raw.toString(), '{"v":1,"server":"srv-a","type":"text","data":"héllo \\"x\\""}');
  });

  test('binary is written as padded standard base64', () => {
    const raw = encodeEnvelope('json', { server: 's', data: Buffer.from([0x00, 0x01, 0xff]), isBinary: true });
    assert.equal(raw.toString(), '{"v":1,"server":"s","type":"binary","data":"AAH/"}');
  });

  test('text and every byte value survive a round trip', () => {
    for (const [data, isBinary] of [
      [Buffer.from('plain'), false],
      [Buffer.from('emoji 😀, NUL \u0000, newline \n'), false],
      [Buffer.alloc(0), false],
      [allBytes, true],
      [Buffer.alloc(0), true],
      [Buffer.from('valid utf-8 but binary'), true],
    ] as const) {
      const m = decodedOk(decodeEnvelope('json', encodeEnvelope('json', { server: 'srv', data, isBinary })));
      assert.equal(m.server, 'srv');
      assert.equal(m.isBinary, isBinary);
      assert.deepEqual(m.data, data);
    }
  });

  test('unknown keys are ignored (forward compatible)', () => {
    const m = decodedOk(decodeEnvelope('json', Buffer.from('{"data":"x","type":"text","seq":7,"server":"b","v":1}')));
    assert.equal(m.data.toString(), 'x');
    assert.equal(m.server, 'b');
  });

  test('a json envelope needs a server id', () => {
    assert.throws(() => encodeEnvelope('json', { data: Buffer.from('x'), isBinary: false }), TypeError);
  });

  const malformed: Array<[string, Buffer | string, string]> = [
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 'ERR_ENVELOPE_NOT_UTF8'],
    ['not JSON', 'hello', 'ERR_ENVELOPE_JSON'],
    ['truncated JSON', '{"v":1,"server":"a"', 'ERR_ENVELOPE_JSON'],
    ['a JSON string', '"text"', 'ERR_ENVELOPE_SHAPE'],
    ['an array', '[1]', 'ERR_ENVELOPE_SHAPE'],
    ['null', 'null', 'ERR_ENVELOPE_SHAPE'],
    ['no version', '{"server":"a","type":"text","data":"x"}', 'ERR_ENVELOPE_VERSION'],
    ['version 2', '{"v":2,"server":"a","type":"text","data":"x"}', 'ERR_ENVELOPE_VERSION'],
    ['version "1"', '{"v":"1","server":"a","type":"text","data":"x"}', 'ERR_ENVELOPE_VERSION'],
    ['no server', '{"v":1,"type":"text","data":"x"}', 'ERR_ENVELOPE_SHAPE'],
    ['empty server', '{"v":1,"server":"","type":"text","data":"x"}', 'ERR_ENVELOPE_SHAPE'],
    ['unknown type', '{"v":1,"server":"a","type":"ping","data":"x"}', 'ERR_ENVELOPE_TYPE'],
    ['data not a string', '{"v":1,"server":"a","type":"text","data":5}', 'ERR_ENVELOPE_SHAPE'],
    ['no data', '{"v":1,"server":"a","type":"binary"}', 'ERR_ENVELOPE_SHAPE'],
    ['base64url', '{"v":1,"server":"a","type":"binary","data":"AAH_"}', 'ERR_ENVELOPE_BASE64'],
    ['unpadded base64', '{"v":1,"server":"a","type":"binary","data":"AAE"}', 'ERR_ENVELOPE_BASE64'],
    ['base64 with spaces', '{"v":1,"server":"a","type":"binary","data":"AA E="}', 'ERR_ENVELOPE_BASE64'],
  ];
  for (const [name, input, code] of malformed) {
    test(`${name} is refused with ${code} and a message`, () => {
      const r = decodeEnvelope('json', Buffer.from(input));
      assert.equal(r.ok, false);
      if (r.ok) return;
      assert.equal(r.code, code);
      assert.ok(r.message.length > 0);
    });
  }

  test('an error message quotes a long bad value only in part', () => {
    const r = decodeEnvelope('json', Buffer.from(JSON.stringify({ v: 1, server: 'a', type: 'x'.repeat(10_000), data: '' })));
    assert.equal(r.ok, false);
    if (!r.ok) assert.ok(r.message.length < 200, r.message);
  });
});

describe('bare envelope', () => {
  test('the payload is published as is', () => {
    assert.deepEqual(encodeEnvelope('bare', { data: allBytes, isBinary: true }), allBytes);
    assert.equal(encodeEnvelope('bare', { server: 'ignored', data: Buffer.from('hi'), isBinary: false }).toString(), 'hi');
  });

  test('valid UTF-8 is read as text, anything else as binary; nothing is refused', () => {
    const text = decodedOk(decodeEnvelope('bare', Buffer.from('hello ✓')));
    assert.equal(text.isBinary, false);
    assert.equal(text.data.toString(), 'hello ✓');
    assert.equal(text.server, undefined);
    const bin = decodedOk(decodeEnvelope('bare', allBytes));
    assert.equal(bin.isBinary, true);
    assert.deepEqual(bin.data, allBytes);
    assert.equal(decodedOk(decodeEnvelope('bare', Buffer.from('{"not":"an envelope"'))).isBinary, false);
  });
});
