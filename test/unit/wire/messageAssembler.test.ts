import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { PassiveInflater } from '../../../src/core/wire/deflate';
import { WireError } from '../../../src/core/wire/errors';
import { encodeClosePayload, encodeFrame } from '../../../src/core/wire/frameEncoder';
import { AssembledMessage, CloseInfo, MessageAssembler } from '../../../src/core/wire/messageAssembler';
import { decode } from './helpers';

function assemble(wire: Buffer[], o: { maxMessageSize?: number; inflater?: PassiveInflater; rsv1Allowed?: boolean } = {}) {
  const messages: AssembledMessage[] = [];
  const errors: WireError[] = [];
  const closes: CloseInfo[] = [];
  const a = new MessageAssembler({
    direction: 's2c',
    maxMessageSize: o.maxMessageSize,
    inflater: o.inflater,
    onMessage: (m) => messages.push(m),
    onError: (e) => errors.push(e),
  });
  const { frames, errors: frameErrors } = decode(Buffer.concat(wire), { chunk: 1, rsv1Allowed: o.rsv1Allowed });
  assert.equal(frameErrors.length, 0);
  for (const f of frames) {
    const c = a.push(f);
    if (c) closes.push(c);
  }
  return { messages, errors, closes, frames };
}

const text = (s: string, fin = true, opcode = 1) => encodeFrame({ opcode, fin, payload: Buffer.from(s) });
const close = (code?: number, reason?: string) => encodeFrame({ opcode: 8, payload: encodeClosePayload(code, reason) });

describe('MessageAssembler', () => {
  test('one frame, one message, payload not copied', () => {
    const { messages, frames } = assemble([text('Hello')]);
    assert.equal(messages.length, 1);
    assert.equal(messages[0].opcode, 1);
    assert.equal(messages[0].data.toString(), 'Hello');
    assert.equal(messages[0].wireLength, 5);
    assert.equal(messages[0].utf8Valid, true);
    assert.equal(messages[0].compressed, false);
    assert.equal(messages[0].data, frames[0].payload);
  });

  test('fragments with control frames between them', () => {
    const { messages, errors } = assemble([
      text('Hel', false),
      encodeFrame({ opcode: 9, payload: Buffer.from('ping') }),
      text('l', false, 0),
      encodeFrame({ opcode: 10, payload: Buffer.alloc(0) }),
      text('o', true, 0),
      encodeFrame({ opcode: 2, payload: Buffer.from([1, 2, 3]) }),
    ]);
    assert.equal(errors.length, 0);
    assert.equal(messages.length, 2);
    assert.equal(messages[0].data.toString(), 'Hello');
    assert.equal(messages[0].frames.length, 3);
    assert.equal(messages[0].wireLength, 5);
    assert.deepEqual([...messages[1].data], [1, 2, 3]);
    assert.equal(messages[1].opcode, 2);
    assert.equal(messages[1].utf8Valid, undefined);
  });

  test('a UTF-8 character split across fragments is valid', () => {
    const e = Buffer.from('é');
    const { messages, errors } = assemble([encodeFrame({ opcode: 1, fin: false, payload: e.subarray(0, 1) }), encodeFrame({ opcode: 0, payload: e.subarray(1) })]);
    assert.equal(errors.length, 0);
    assert.equal(messages[0].data.toString(), 'é');
  });

  test('continuation without a start → WS_ERR_INVALID_OPCODE 1002, later messages still assembled', () => {
    const { messages, errors } = assemble([text('x', true, 0), text('ok')]);
    assert.deepEqual(errors.map((e) => [e.code, e.closeCode]), [['WS_ERR_INVALID_OPCODE', 1002]]);
    assert.deepEqual(messages.map((m) => m.data.toString()), ['ok']);
  });

  test('new data frame while a message is open → WS_ERR_INVALID_OPCODE 1002', () => {
    const { messages, errors } = assemble([text('a', false), text('b')]);
    assert.deepEqual(errors.map((e) => [e.code, e.closeCode, e.direction]), [['WS_ERR_INVALID_OPCODE', 1002, 's2c']]);
    assert.deepEqual(messages.map((m) => m.data.toString()), ['b']);
  });

  test('message over maxMessageSize → WS_ERR_UNSUPPORTED_MESSAGE_LENGTH 1009, not emitted', () => {
    const { messages, errors } = assemble([text('aaaa', false), text('bbbb', false, 0), text('cccc', true, 0), text('ok')], { maxMessageSize: 10 });
    assert.deepEqual(errors.map((e) => [e.code, e.closeCode]), [['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009]]);
    assert.deepEqual(messages.map((m) => m.data.toString()), ['ok']);
    const single = assemble([text('x'.repeat(11))], { maxMessageSize: 10 });
    assert.equal(single.errors[0].code, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    assert.equal(single.messages.length, 0);
  });

  test('invalid UTF-8 in a text message: utf8Valid=false and WS_ERR_INVALID_UTF8 1007', () => {
    const { messages, errors } = assemble([encodeFrame({ opcode: 1, payload: Buffer.from([0x48, 0xc3, 0x28]) })]);
    assert.equal(messages.length, 1);
    assert.equal(messages[0].utf8Valid, false);
    assert.deepEqual(errors.map((e) => [e.code, e.closeCode]), [['WS_ERR_INVALID_UTF8', 1007]]);
  });

  test('UTF-8 validity is right for each payload, also when several assemblers see one broadcast frame', () => {
    const good = encodeFrame({ opcode: 1, payload: Buffer.from('ok é') });
    const bad = encodeFrame({ opcode: 1, payload: Buffer.from([0x6f, 0xc3]) });
    for (const wire of [good, good, bad, bad, good]) {
      const { messages } = assemble([wire]);
      assert.equal(messages[0].utf8Valid, wire === good);
    }
  });

  test('close frames: code and reason, empty, and each violation', () => {
    const r = assemble([close(1000, 'bye'), close(), close(4999, 'é')]);
    assert.equal(r.errors.length, 0);
    assert.deepEqual(r.closes, [{ code: 1000, reason: 'bye' }, {}, { code: 4999, reason: 'é' }]);

    const one = assemble([encodeFrame({ opcode: 8, payload: Buffer.from([3]) })]);
    assert.deepEqual(one.errors.map((e) => [e.code, e.closeCode]), [['WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002]]);

    for (const code of [0, 999, 1004, 1005, 1006, 1015, 2999, 5000]) {
      const bad = assemble([close(code)]);
      assert.deepEqual(bad.errors.map((e) => [e.code, e.closeCode]), [['WS_ERR_INVALID_CLOSE_CODE', 1002]], `code ${code}`);
      assert.equal(bad.closes[0].code, code);
    }
    for (const code of [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4000]) {
      assert.equal(assemble([close(code)]).errors.length, 0, `code ${code}`);
    }

    const badReason = assemble([encodeFrame({ opcode: 8, payload: Buffer.from([0x03, 0xe8, 0xff]) })]);
    assert.deepEqual(badReason.errors.map((e) => [e.code, e.closeCode]), [['WS_ERR_INVALID_UTF8', 1007]]);
    assert.equal(badReason.closes[0].code, 1000);
  });

  test('compressed messages are inflated; a failure keeps the compressed bytes', () => {
    const plain = Buffer.from('hello hello hello hello');
    const deflated = deflateRawSync(plain, { finishFlush: 2 /* Z_SYNC_FLUSH */ });
    assert.equal(deflated.subarray(-4).toString('hex'), '0000ffff');
    const payload = deflated.subarray(0, -4);
    const ok = assemble(
      [encodeFrame({ opcode: 1, rsv1: true, fin: false, payload: payload.subarray(0, 3) }), encodeFrame({ opcode: 0, payload: payload.subarray(3) })],
      { inflater: new PassiveInflater(), rsv1Allowed: true },
    );
    assert.equal(ok.errors.length, 0);
    assert.equal(ok.messages[0].compressed, true);
    assert.equal(ok.messages[0].data.toString(), plain.toString());
    assert.equal(ok.messages[0].inflatedLength, plain.length);
    assert.equal(ok.messages[0].wireLength, payload.length);

    const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff]);
    const bad = assemble([encodeFrame({ opcode: 2, rsv1: true, payload: garbage })], { inflater: new PassiveInflater(), rsv1Allowed: true });
    assert.equal(bad.messages[0].inflateError, 'WS_ERR_INFLATE_FAILED');
    assert.deepEqual(bad.messages[0].data, garbage);
    assert.deepEqual(bad.errors.map((e) => [e.code, e.closeCode]), [['WS_ERR_INFLATE_FAILED', 1007]]);

    const big = Buffer.alloc(5000, 0x61);
    const tooBig = assemble([encodeFrame({ opcode: 1, rsv1: true, payload: deflateRawSync(big, { finishFlush: 2 }).subarray(0, -4) })], {
      inflater: new PassiveInflater({ maxOutputLength: 4096 }),
      rsv1Allowed: true,
    });
    assert.equal(tooBig.messages[0].inflateError, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH');
    assert.equal(tooBig.errors[0].closeCode, 1009);
  });
});
