import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { arraySink } from '../../support/arraySink';
import { waitFor } from '../../support/waitFor';
import { rawUpgrade, runCleanups, startServer } from '../server/helpers';
import { encodeFrame } from '../../../src/core/wire/frameEncoder';
import { chunks, decode, hex } from './helpers';

const MASK = hex('37fa213d');

describe('FrameDecoder: RFC 6455 §5.7 examples', () => {
  for (const size of [0, 1, 2, 3, 5]) {
    test(`unmasked text "Hello" (chunk ${size})`, () => {
      const { frames, errors } = decode(hex('810548656c6c6f'), { chunk: size });
      assert.equal(errors.length, 0);
      assert.equal(frames.length, 1);
      const f = frames[0];
      assert.equal(f.fin, true);
      assert.equal(f.opcode, 1);
      assert.equal(f.masked, false);
      assert.equal(f.maskKey, undefined);
      assert.equal(f.payloadLength, 5);
      assert.equal(f.lengthForm, 7);
      assert.equal(f.headerLength, 2);
      assert.equal(f.header.toString('hex'), '8105');
      assert.equal(f.payload.toString(), 'Hello');
    });

    test(`masked text "Hello" (chunk ${size})`, () => {
      const wire = hex('818537fa213d7f9f4d5158');
      const copy = Buffer.from(wire);
      const { frames, errors } = decode(wire, { direction: 'c2s', chunk: size });
      assert.equal(errors.length, 0);
      assert.equal(frames.length, 1);
      const f = frames[0];
      assert.equal(f.masked, true);
      assert.equal(f.maskKey?.toString('hex'), '37fa213d');
      assert.equal(f.headerLength, 6);
      assert.equal(f.header.toString('hex'), '818537fa213d');
      assert.equal(f.payload.toString(), 'Hello');
      assert.deepEqual(wire, copy, 'the caller\'s bytes are never modified');
    });
  }

  test('fragmented unmasked text: 010348656c + 80026c6f', () => {
    const { frames } = decode(hex('010348656c80026c6f'), { chunk: 1 });
    assert.equal(frames.length, 2);
    assert.deepEqual(
      frames.map((f) => [f.fin, f.opcode, f.payload.toString()]),
      [
        [false, 1, 'Hel'],
        [true, 0, 'lo'],
      ],
    );
  });

  test('unmasked ping and masked pong with "Hello"', () => {
    const ping = decode(hex('890548656c6c6f'));
    assert.equal(ping.frames[0].opcode, 9);
    assert.equal(ping.frames[0].payload.toString(), 'Hello');
    const pong = decode(hex('8a8537fa213d7f9f4d5158'), { direction: 'c2s', chunk: 1 });
    assert.equal(pong.frames[0].opcode, 10);
    assert.equal(pong.frames[0].payload.toString(), 'Hello');
  });

  test('256 bytes binary in one unmasked frame (827e0100)', () => {
    const payload = Buffer.alloc(256, 0xab);
    const wire = Buffer.concat([hex('827e0100'), payload]);
    const { frames } = decode(wire, { chunk: 7 });
    assert.equal(frames[0].lengthForm, 16);
    assert.equal(frames[0].headerLength, 4);
    assert.equal(frames[0].payloadLength, 256);
    assert.deepEqual(frames[0].payload, payload);
  });

  test('64 KiB binary in one unmasked frame (827f0000000000010000)', () => {
    const payload = Buffer.alloc(65536);
    for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
    const wire = Buffer.concat([hex('827f0000000000010000'), payload]);
    const { frames } = decode(wire, { chunk: 1000 });
    assert.equal(frames[0].lengthForm, 64);
    assert.equal(frames[0].headerLength, 10);
    assert.equal(frames[0].header.toString('hex'), '827f0000000000010000');
    assert.deepEqual(frames[0].payload, payload);
  });
});

describe('FrameDecoder: length boundaries in every length form', () => {
  const sizes = [0, 1, 125, 126, 127, 65535, 65536, 70001];
  for (const n of sizes) {
    for (const form of [7, 16, 64] as const) {
      if ((form === 7 && n > 125) || (form === 16 && n > 65535)) continue;
      for (const masked of [false, true]) {
        test(`${n} bytes, ${form}-bit length, ${masked ? 'masked' : 'unmasked'}`, () => {
          const payload = Buffer.alloc(n);
          for (let i = 0; i < n; i++) payload[i] = (i * 7 + 3) & 0xff;
          const wire = encodeFrame({ opcode: 2, payload, lengthForm: form, maskKey: masked ? MASK : undefined });
          const hl = 2 + (form === 16 ? 2 : form === 64 ? 8 : 0) + (masked ? 4 : 0);
          for (const size of n > 2000 ? [0, 4096, 1] : [0, 1, 3]) {
            const { frames, errors } = decode(wire, { direction: masked ? 'c2s' : 's2c', chunk: size });
            assert.equal(errors.length, 0);
            assert.equal(frames.length, 1);
            assert.equal(frames[0].payloadLength, n);
            assert.equal(frames[0].lengthForm, form);
            assert.equal(frames[0].headerLength, hl);
            assert.deepEqual(frames[0].header, wire.subarray(0, hl));
            assert.deepEqual(frames[0].payload, payload);
          }
        });
      }
    }
  }
});

describe('FrameDecoder: buffers', () => {
  test('an unmasked frame inside one chunk is a view of it, not a copy', () => {
    const wire = Buffer.concat([encodeFrame({ opcode: 2, payload: Buffer.alloc(1024, 1) }), encodeFrame({ opcode: 9, payload: Buffer.from('p') })]);
    const { frames } = decode(wire);
    assert.equal(frames.length, 2);
    assert.equal(frames[0].payload.buffer, wire.buffer);
    assert.equal(frames[0].payload.byteOffset, wire.byteOffset + 4);
  });

  test('whole frames are read in place from the chunk; one cut by its end goes on in the next chunk', () => {
    const frames = [300, 0, 70_000, 5].map((n, i) => encodeFrame({ opcode: 2, payload: Buffer.alloc(n, i + 1) }));
    const wire = Buffer.concat(frames);
    const cut = frames[0].length + frames[1].length + 100; // inside the third frame's payload
    const got = decode([wire.subarray(0, cut), wire.subarray(cut)]).frames;
    assert.deepEqual(
      got.map((f) => [f.payloadLength, f.payload.length, f.payload[0] ?? -1]),
      [
        [300, 300, 1],
        [0, 0, -1],
        [70_000, 70_000, 3],
        [5, 5, 4],
      ],
    );
    assert.equal(got[0].payload.buffer, wire.buffer, 'an unmasked payload in one chunk is a view of it');
    assert.deepEqual(Buffer.concat(got.flatMap((f) => [f.header, f.payload])), wire);
  });

  test('allocate: a whole masked message or control frame read in one piece is copied where it says; a fragment is not', () => {
    const room = Buffer.alloc(64 * 1024);
    let used = 0;
    const allocate = (n: number) => room.subarray(used, (used += n));
    const wire = [
      encodeFrame({ opcode: 2, payload: Buffer.alloc(300, 1), maskKey: MASK }),
      encodeFrame({ opcode: 9, payload: Buffer.from('ping'), maskKey: MASK }),
      encodeFrame({ opcode: 1, fin: false, payload: Buffer.from('frag'), maskKey: MASK }),
      encodeFrame({ opcode: 0, payload: Buffer.from('ment'), maskKey: MASK }),
      encodeFrame({ opcode: 1, payload: Buffer.alloc(0), maskKey: MASK }),
    ];
    const { frames } = decode(Buffer.concat(wire), { direction: 'c2s', allocate });
    assert.deepEqual(
      frames.map((f) => f.header.buffer === room.buffer),
      [true, true, false, false, true],
    );
    // Header then payload, as on the wire, one frame after the other; unmasked in place.
    assert.equal(used, wire[0].length + wire[1].length + wire[4].length);
    assert.equal(frames[0].header.byteOffset, room.byteOffset);
    assert.equal(frames[0].payload.byteOffset, frames[0].header.byteOffset + frames[0].headerLength);
    assert.deepEqual(frames[0].payload, Buffer.alloc(300, 1));
    assert.equal(frames[1].payload.toString(), 'ping');
    assert.deepEqual(frames[1].header, wire[1].subarray(0, 6));
    // No room given: a buffer of its own.
    const none = decode(wire[0], { direction: 'c2s', allocate: () => undefined }).frames[0];
    assert.notEqual(none.payload.buffer, room.buffer);
    assert.deepEqual(none.payload, Buffer.alloc(300, 1));
  });

  test('a masked payload is unmasked into a copy; the chunk is untouched', () => {
    const payload = Buffer.alloc(1000);
    for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
    const wire = encodeFrame({ opcode: 2, payload, maskKey: MASK });
    const before = Buffer.from(wire);
    for (const size of [0, 1, 333]) {
      const { frames } = decode(wire, { direction: 'c2s', chunk: size });
      assert.deepEqual(frames[0].payload, payload);
      const p = frames[0].payload;
      const disjoint = p.buffer !== wire.buffer || p.byteOffset >= wire.byteOffset + wire.length || p.byteOffset + p.length <= wire.byteOffset;
      assert.ok(disjoint, 'unmasked into its own memory');
    }
    assert.deepEqual(wire, before);
  });

  test('a masked frame keeps no view of the chunk it was read from (a capture would keep the whole read alive)', () => {
    const payload = Buffer.alloc(1000, 7);
    const one = encodeFrame({ opcode: 2, payload, maskKey: MASK });
    const empty = encodeFrame({ opcode: 9, payload: Buffer.alloc(0), maskKey: MASK });
    const zeroMask = encodeFrame({ opcode: 2, payload: Buffer.from('abc'), maskKey: Buffer.alloc(4) });
    for (const wire of [one, empty, Buffer.concat([one, empty])]) {
      for (const size of [0, 1, 5, 333]) {
        const { frames } = decode(wire, { direction: 'c2s', chunk: size });
        for (const f of frames) {
          for (const b of [f.header, f.maskKey!, f.payload]) {
            const outside = b.buffer !== wire.buffer || b.byteOffset >= wire.byteOffset + wire.length || b.byteOffset + b.length <= wire.byteOffset;
            assert.ok(outside || b.length === 0, `chunk ${size}: no view into the pushed bytes`);
          }
          assert.deepEqual(f.maskKey, MASK);
          assert.deepEqual(f.header.subarray(f.headerLength - 4), MASK);
        }
      }
    }
    // A zero mask leaves the payload as it is on the wire (a view), but the header is still its own.
    const z = decode(zeroMask, { direction: 'c2s' }).frames[0];
    assert.equal(z.payload.toString(), 'abc');
    const h = z.header;
    assert.ok(h.buffer !== zeroMask.buffer || h.byteOffset >= zeroMask.byteOffset + zeroMask.length || h.byteOffset + h.length <= zeroMask.byteOffset);
    assert.equal(z.header.toString('hex'), '828300000000');
  });

  test('misaligned masked payloads unmask correctly', () => {
    const payload = Buffer.alloc(301);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 13) & 0xff;
    const wire = encodeFrame({ opcode: 2, payload, maskKey: hex('01020304') });
    for (let pad = 0; pad < 4; pad++) {
      const big = Buffer.alloc(wire.length + pad);
      wire.copy(big, pad);
      const { frames } = decode([big.subarray(pad)], { direction: 'c2s' });
      assert.deepEqual(frames[0].payload, payload, `offset ${pad}`);
    }
  });

  test('many frames in one chunk and a frame split across many', () => {
    const parts = [];
    for (let i = 0; i < 50; i++) parts.push(encodeFrame({ opcode: 1, payload: Buffer.from(`m${i}`) }));
    const wire = Buffer.concat(parts);
    for (const size of [0, 1, 2, 5, 17]) {
      const { frames } = decode(wire, { chunk: size });
      assert.deepEqual(
        frames.map((f) => f.payload.toString()),
        Array.from({ length: 50 }, (_, i) => `m${i}`),
      );
    }
  });

  test('time is an epoch timestamp taken when the last byte arrives', () => {
    const before = performance.timeOrigin + performance.now();
    const { frames } = decode(hex('810548656c6c6f'), { chunk: 1 });
    const after = performance.timeOrigin + performance.now();
    assert.ok(frames[0].time >= before && frames[0].time <= after);
  });

  test('control frames between fragments are delivered in wire order', () => {
    const wire = Buffer.concat([
      encodeFrame({ opcode: 1, fin: false, payload: Buffer.from('a') }),
      encodeFrame({ opcode: 9, payload: Buffer.from('ping') }),
      encodeFrame({ opcode: 0, fin: false, payload: Buffer.from('b') }),
      encodeFrame({ opcode: 10, payload: Buffer.alloc(0) }),
      encodeFrame({ opcode: 0, payload: Buffer.from('c') }),
    ]);
    const { frames, errors } = decode(wire, { chunk: 1 });
    assert.equal(errors.length, 0);
    assert.deepEqual(
      frames.map((f) => `${f.opcode}:${f.fin ? 1 : 0}:${f.payload.toString()}`),
      ['1:0:a', '9:1:ping', '0:0:b', '10:1:', '0:1:c'],
    );
  });
});

describe('FrameDecoder: violations', () => {
  const cases: Array<{ name: string; wire: Buffer; code: string; close: number; direction?: 'c2s' | 's2c'; rsv1Allowed?: boolean; maxPayload?: number }> = [
    { name: 'RSV1 without deflate', wire: hex('c10548656c6c6f'), code: 'WS_ERR_UNEXPECTED_RSV_1', close: 1002 },
    { name: 'RSV1 on a continuation frame', wire: hex('400548656c6c6f'), code: 'WS_ERR_UNEXPECTED_RSV_1', close: 1002, rsv1Allowed: true },
    { name: 'RSV1 on a ping', wire: hex('c900'), code: 'WS_ERR_UNEXPECTED_RSV_1', close: 1002, rsv1Allowed: true },
    { name: 'RSV2', wire: hex('a100'), code: 'WS_ERR_UNEXPECTED_RSV_2_3', close: 1002 },
    { name: 'RSV3', wire: hex('9100'), code: 'WS_ERR_UNEXPECTED_RSV_2_3', close: 1002 },
    { name: 'reserved data opcode 3', wire: hex('8300'), code: 'WS_ERR_INVALID_OPCODE', close: 1002 },
    { name: 'reserved control opcode 0xb', wire: hex('8b00'), code: 'WS_ERR_INVALID_OPCODE', close: 1002 },
    { name: 'unmasked client frame', wire: hex('810548656c6c6f'), code: 'WS_ERR_EXPECTED_MASK', close: 1002, direction: 'c2s' },
    { name: 'masked server frame', wire: hex('818537fa213d7f9f4d5158'), code: 'WS_ERR_UNEXPECTED_MASK', close: 1002 },
    { name: 'ping with 126 bytes', wire: hex('897e007e'), code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', close: 1002 },
    { name: 'fragmented ping', wire: hex('0900'), code: 'WS_ERR_EXPECTED_FIN', close: 1002 },
    { name: 'fragmented close', wire: hex('0800'), code: 'WS_ERR_EXPECTED_FIN', close: 1002 },
    { name: '64-bit length with the MSB set', wire: hex('827f8000000000000001'), code: 'WS_ERR_INVALID_PAYLOAD_LENGTH_MSB', close: 1002 },
    { name: '64-bit length with only the MSB set', wire: hex('827f8000000000000000'), code: 'WS_ERR_INVALID_PAYLOAD_LENGTH_MSB', close: 1002 },
    { name: '64-bit length above 2^53 - 1', wire: hex('827f0020000000000000'), code: 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', close: 1009 },
    { name: 'payload over maxPayload', wire: hex('827e0400'), code: 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', close: 1009, maxPayload: 1023 },
  ];
  for (const c of cases) {
    test(`${c.name} → ${c.code} (${c.close})`, () => {
      const direction = c.direction ?? 's2c';
      for (const size of [0, 1]) {
        const { frames, errors, decoder } = decode(c.wire, { direction, chunk: size, rsv1Allowed: c.rsv1Allowed, maxPayload: c.maxPayload });
        assert.equal(frames.length, 0);
        assert.equal(errors.length, 1);
        assert.equal(errors[0].code, c.code);
        assert.equal(errors[0].closeCode, c.close);
        assert.equal(errors[0].direction, direction);
        assert.equal(decoder.failed, true);
        // After a framing error nothing more is decoded.
        decoder.push(hex('810548656c6c6f818537fa213d7f9f4d5158'));
        assert.equal(frames.length, 0);
        assert.equal(errors.length, 1);
      }
    });
  }

  test('frames before the violation are delivered', () => {
    const { frames, errors } = decode(Buffer.concat([hex('810548656c6c6f'), hex('8300'), hex('810548656c6c6f')]), { chunk: 1 });
    assert.equal(frames.length, 1);
    assert.equal(errors.length, 1);
  });

  test('maxPayload equal to the length is allowed', () => {
    const { frames, errors } = decode(encodeFrame({ opcode: 2, payload: Buffer.alloc(1024) }), { maxPayload: 1024 });
    assert.equal(errors.length, 0);
    assert.equal(frames.length, 1);
  });

  test('setRsv1Allowed turns RSV1 on data frames into a valid bit', () => {
    const wire = encodeFrame({ opcode: 1, rsv1: true, payload: Buffer.from('x') });
    const { frames, errors, decoder } = decode(wire, { rsv1Allowed: false });
    assert.equal(errors[0].code, 'WS_ERR_UNEXPECTED_RSV_1');
    assert.equal(decoder.failed, true);
    const ok = decode([], {});
    ok.decoder.setRsv1Allowed(true);
    ok.decoder.push(wire);
    assert.equal(ok.frames.length, 1);
    assert.equal(ok.frames[0].rsv1, true);
    assert.equal(frames.length, 0);
  });

  test('enforceMasking: false accepts either', () => {
    const { frames, errors } = decode(Buffer.concat([hex('810548656c6c6f'), hex('818537fa213d7f9f4d5158')]), { direction: 'c2s', enforceMasking: false });
    assert.equal(errors.length, 0);
    assert.deepEqual(frames.map((f) => f.payload.toString()), ['Hello', 'Hello']);
  });

  test('chunks() helper splits as asked', () => {
    assert.equal(chunks(Buffer.alloc(10), 3).length, 4);
  });
});

describe('FrameDecoder: readAfterViolation', () => {
  // A masked close 1000 from the client, as a peer sends after its violation.
  const close = encodeFrame({ opcode: 8, payload: hex('03e8'), maskKey: MASK });
  const c2sCases: { name: string; wire: Buffer; code: string }[] = [
    { name: 'RSV2', wire: hex('a18037fa213d'), code: 'WS_ERR_UNEXPECTED_RSV_2_3' },
    { name: 'RSV1 without deflate', wire: hex('c18037fa213d'), code: 'WS_ERR_UNEXPECTED_RSV_1' },
    { name: 'reserved opcode 3', wire: hex('838037fa213d'), code: 'WS_ERR_INVALID_OPCODE' },
    { name: 'missing mask', wire: hex('810548656c6c6f'), code: 'WS_ERR_EXPECTED_MASK' },
    { name: 'fragmented ping', wire: hex('098037fa213d'), code: 'WS_ERR_EXPECTED_FIN' },
    { name: 'oversized ping (126 bytes)', wire: encodeFrame({ opcode: 9, payload: Buffer.alloc(126, 1), maskKey: MASK }), code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH' },
  ];
  for (const c of c2sCases) {
    for (const size of [0, 1, 2, 3, 7]) {
      test(`${c.name}, then a close (chunk ${size}): both read, marked after the violation, reported once`, () => {
        const { frames, errors, decoder, opaque } = decode(Buffer.concat([hex('818537fa213d7f9f4d5158'), c.wire, close]), {
          direction: 'c2s',
          chunk: size,
          readAfterViolation: true,
        });
        assert.deepEqual(errors.map((e) => e.code), [c.code]);
        assert.deepEqual(
          frames.map((f) => [f.opcode, f.afterViolation]),
          [
            [1, false],
            [c.wire[0] & 0x0f, true],
            [8, true],
          ],
        );
        assert.equal(frames[1].header.length + frames[1].payloadLength, c.wire.length);
        assert.equal(frames[2].payload.toString('hex'), '03e8');
        assert.equal(decoder.failed, true);
        assert.equal(decoder.idle, false);
        assert.deepEqual(opaque, []);
      });
    }
  }

  for (const size of [0, 1, 2, 5]) {
    test(`a length over maxPayload (chunk ${size}): the header and all after it are opaque, counted`, () => {
      // 16-bit length 1024 over maxPayload 1023, 10 bytes of payload, then a close: 4 + 10 + 8 bytes.
      const wire = Buffer.concat([hex('827e0400'), Buffer.alloc(10, 7), close]);
      const { frames, errors, decoder, opaque } = decode(Buffer.concat([hex('810548656c6c6f'), wire]), {
        chunk: size,
        maxPayload: 1023,
        readAfterViolation: true,
      });
      assert.deepEqual(errors.map((e) => e.code), ['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH']);
      assert.deepEqual(frames.map((f) => [f.opcode, f.afterViolation]), [[1, false]]);
      assert.equal(opaque.reduce((a, b) => a + b, 0), wire.length);
      assert.equal(decoder.opaque, true);
      decoder.push(close);
      assert.equal(opaque.reduce((a, b) => a + b, 0), wire.length + close.length);
      assert.equal(frames.length, 1);
    });
  }
});

describe('FrameDecoder: a 64-bit length with its top bit set, on a real socket', () => {
  afterEach(runCleanups);

  test('the capture records 1002 (RFC 6455 §5.2); the server (ws) closes with 1009', async () => {
    const sink = arraySink();
    const { address } = await startServer({ capture: sink });
    const raw = await rawUpgrade(address.port);
    // FIN + binary, MASK + 127, length 0x8000000000000001, a mask key: no payload follows.
    raw.socket.write(hex('82ff800000000000000137fa213d'));
    await once(raw.socket, 'close');
    // What crossed the wire back: ws has no code of its own for this and sends FIN+close, status 1009.
    assert.equal(raw.bytes().toString('hex'), '880203f1');
    await waitFor('the capture error', () => sink.of('error').length > 0);
    assert.deepEqual(
      sink.of('error').map((e) => `${e.direction} ${e.code} ${e.closeCode}`),
      // The length can't be trusted: the header (its 14 bytes) is recorded as bytes that can't be framed.
      ['c2s WS_ERR_INVALID_PAYLOAD_LENGTH_MSB 1002', 'c2s WS_ERR_UNFRAMED_BYTES 1009'],
    );
  });
});

describe('a masked frame read in place', () => {
  test('a masked frame read in place has its header and payload as on the wire, unmasked, and the chunk unchanged', () => {
    const payload = Buffer.alloc(1000);
    for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
    // One byte of junk first moves the frame off the chunk's alignment, as a frame in the middle of a read is.
    const frame = encodeFrame({ opcode: 2, payload, maskKey: MASK });
    for (const lead of [0, 1, 2, 3]) {
      const pad = Buffer.alloc(lead);
      const wire = Buffer.concat([encodeFrame({ opcode: 2, payload: pad, maskKey: MASK }), frame]);
      const copy = Buffer.from(wire);
      const { frames, errors } = decode(wire, { direction: 'c2s' });
      assert.equal(errors.length, 0);
      assert.equal(frames.length, 2);
      assert.deepEqual(frames[1].payload, payload, `after ${lead} padding bytes`);
      assert.deepEqual(frames[1].header, frame.subarray(0, 8));
      assert.deepEqual(frames[1].maskKey, MASK);
      assert.deepEqual(wire, copy);
    }
  });
});
