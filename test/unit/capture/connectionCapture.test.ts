import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { deflateRawSync } from 'node:zlib';
import { WebSocket, WebSocketServer } from 'ws';
import { ConnectionCapture } from '../../../src/core/capture/connectionCapture';
import { EventStore } from '../../../src/core/capture/eventStore';
import type {
  CaptureEvent,
  CaptureSink,
  ConnectionEvent,
  ErrorEvent,
  FrameEvent,
  HandshakeEvent,
  MessageEvent,
  NewCaptureEvent,
} from '../../../src/core/capture/events';
import { FanOutList, recordFanOut } from '../../../src/core/capture/fanOutRecord';
import { encodeClosePayload, encodeFrame } from '../../../src/core/wire/frameEncoder';
import { ArraySink, MASK, request, response101 } from './helpers';
import { waitFor } from '../../support/waitFor';

function split(b: Buffer, size: number): Buffer[] {
  if (size <= 0) return [b];
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

/** A full conversation as the server sees it: request in, response + frames out, frames in. */
function conversation() {
  const c2s = Buffer.concat([
    encodeFrame({ opcode: 1, payload: Buffer.from('Hello'), maskKey: MASK }),
    encodeFrame({ opcode: 1, fin: false, payload: Buffer.from('Hel'), maskKey: MASK }),
    encodeFrame({ opcode: 9, payload: Buffer.from('p'), maskKey: MASK }),
    encodeFrame({ opcode: 0, payload: Buffer.from('lo!'), maskKey: MASK }),
    encodeFrame({ opcode: 8, payload: encodeClosePayload(4001, 'done'), maskKey: MASK }),
  ]);
  const s2c = Buffer.concat([
    encodeFrame({ opcode: 2, payload: Buffer.from([1, 2, 3]) }),
    encodeFrame({ opcode: 10, payload: Buffer.from('p') }),
    encodeFrame({ opcode: 8, payload: encodeClosePayload(4001, 'done') }),
  ]);
  return { c2s, s2c };
}

describe('ConnectionCapture: a recorded conversation', () => {
  for (const size of [0, 1, 7]) {
    test(`server role, chunks of ${size || 'whole'}`, () => {
      const sink = new ArraySink();
      const cap = new ConnectionCapture({ connectionId: 'c1', role: 'server', sink, meta: { remote: '127.0.0.1' } });
      const { c2s, s2c } = conversation();
      for (const b of split(request(), size)) cap.inbound(b);
      for (const b of split(response101(), size)) cap.outbound(b);
      for (const b of split(c2s.subarray(0, 11), size)) cap.inbound(b); // the first frame
      for (const b of split(s2c, size)) cap.outbound(b);
      for (const b of split(c2s.subarray(11), size)) cap.inbound(b);
      cap.end();
      cap.end(); // idempotent

      const hs = sink.of('handshake');
      assert.equal(hs.length, 1);
      assert.equal(hs[0].ok, true);
      assert.equal(hs[0].status, 101);
      assert.equal(hs[0].subprotocol, 'chat');
      assert.equal(hs[0].request.startLine, 'GET /chat HTTP/1.1');
      assert.equal(hs[0].request.length, request().length);
      assert.equal(hs[0].response?.startLine, 'HTTP/1.1 101 Switching Protocols');
      assert.ok(typeof hs[0].openMs === 'number' && hs[0].openMs >= 0);
      assert.equal(cap.handshake, hs[0]);
      assert.equal(sink.kinds()[0], 'handshake');
      assert.equal(sink.kinds()[1], 'connection:open');
      assert.equal(sink.kinds()[sink.events.length - 1], 'connection:closed');

      const frames = sink.of('frame');
      assert.deepEqual(
        frames.map((f) => `${f.direction} ${f.opcode} ${f.fin ? 1 : 0} ${f.masked ? 'm' : '-'} ${f.payload.toString('hex')}`),
        [
          'c2s 1 1 m 48656c6c6f',
          's2c 2 1 - 010203',
          's2c 10 1 - 70',
          's2c 8 1 - 0fa1646f6e65',
          'c2s 1 0 m 48656c',
          'c2s 9 1 m 70',
          'c2s 0 1 m 6c6f21',
          'c2s 8 1 m 0fa1646f6e65',
        ],
      );
      assert.equal(frames[0].maskKey?.toString('hex'), '37fa213d');
      assert.equal(frames[0].header.toString('hex'), '818537fa213d');
      assert.equal(frames[0].headerLength, 6);
      assert.equal(frames[0].lengthForm, 7);
      assert.equal(frames[3].closeCode, 4001);
      assert.equal(frames[3].closeReason, 'done');

      const messages = sink.of('message');
      assert.deepEqual(
        messages.map((m) => `${m.direction} ${m.opcode} ${m.data.toString('hex')} ${m.wireLength} ${m.frameIds.join(',')}`),
        [`c2s 1 48656c6c6f 5 ${frames[0].id}`, `s2c 2 010203 3 ${frames[1].id}`, `c2s 1 48656c6c6f21 6 ${frames[4].id},${frames[6].id}`],
      );
      assert.equal(messages[0].utf8Valid, true);
      assert.equal(frames[0].messageId, messages[0].id);
      assert.equal(frames[1].messageId, messages[1].id);
      assert.equal(frames[4].messageId, messages[2].id);
      assert.equal(frames[6].messageId, messages[2].id);
      assert.equal(frames[5].messageId, undefined, 'a control frame belongs to no message');
      // A message comes right after its last frame.
      assert.equal(sink.events.indexOf(messages[2]), sink.events.indexOf(frames[6]) + 1);

      const closed = sink.of('connection').filter((e) => e.state === 'closed');
      assert.equal(closed.length, 1);
      assert.equal(closed[0].code, 4001);
      assert.equal(closed[0].reason, 'done');
      assert.equal(closed[0].clean, true);
      assert.deepEqual(closed[0].closeFrames, { sent: { code: 4001, reason: 'done' }, received: { code: 4001, reason: 'done' } });
      assert.deepEqual(closed[0].meta, { remote: '127.0.0.1' });
      assert.equal(closed[0].bytesIn, request().length + c2s.length);
      assert.equal(closed[0].bytesOut, response101().length + s2c.length);
      assert.equal(cap.bytesIn, closed[0].bytesIn);
      assert.equal(sink.of('error').length, 0);
    });
  }

  test('bytes after a head in the same chunk are frames: not lost, not counted twice', () => {
    const sink = new ArraySink();
    const cap = new ConnectionCapture({ connectionId: 'c2', role: 'client', sink });
    const early = encodeFrame({ opcode: 1, payload: Buffer.from('early'), maskKey: MASK });
    const first = encodeFrame({ opcode: 1, payload: Buffer.from('first') });
    // The client sends a frame before the response arrives; the response arrives with a frame behind it.
    cap.outbound(Buffer.concat([request(), early]));
    cap.inbound(Buffer.concat([response101(), first]));
    cap.end();
    const frames = sink.of('frame');
    assert.deepEqual(
      frames.map((f) => `${f.direction} ${f.payload.toString()}`),
      ['c2s early', 's2c first'],
    );
    assert.equal(sink.of('message').length, 2);
    const closed = sink.of('connection').find((e) => e.state === 'closed')!;
    assert.equal(closed.bytesOut, request().length + early.length);
    assert.equal(closed.bytesIn, response101().length + first.length);
    assert.equal(closed.clean, false);
    assert.equal(closed.code, undefined);
    assert.deepEqual(closed.closeFrames, {}, 'frames went by, and no close frame');
  });

  test('the closed event keeps each side’s close frame apart, from this end’s view: a client’s sent and received', () => {
    const sink = new ArraySink();
    const cap = new ConnectionCapture({ connectionId: 'c4', role: 'client', sink });
    cap.outbound(request());
    cap.inbound(Buffer.concat([response101(), encodeFrame({ opcode: 8, payload: Buffer.alloc(0) })]));
    cap.outbound(encodeFrame({ opcode: 8, payload: encodeClosePayload(1000, 'bye'), maskKey: MASK }));
    // A second close frame from the same side is not the one that closed.
    cap.outbound(encodeFrame({ opcode: 8, payload: encodeClosePayload(1001), maskKey: MASK }));
    cap.end();
    const closed = sink.of('connection').find((e) => e.state === 'closed')!;
    assert.deepEqual(closed.closeFrames, { sent: { code: 1000, reason: 'bye' }, received: { code: 1005, reason: '' } });
    assert.equal(closed.code, 1005, 'code stays the peer’s');
    assert.equal(closed.clean, true);
  });

  test('a protocol violation is recorded; the other direction keeps being decoded', () => {
    const sink = new ArraySink();
    const cap = new ConnectionCapture({ connectionId: 'c3', role: 'server', sink });
    cap.inbound(request());
    cap.outbound(response101());
    cap.inbound(encodeFrame({ opcode: 1, payload: Buffer.from('unmasked') })); // clients must mask
    cap.inbound(encodeFrame({ opcode: 1, payload: Buffer.from('ignored'), maskKey: MASK }));
    cap.outbound(encodeFrame({ opcode: 1, payload: Buffer.from([0xc3, 0x28]) })); // invalid UTF-8
    cap.outbound(encodeFrame({ opcode: 1, payload: Buffer.from('still') }));
    cap.end();
    const errors = sink.of('error');
    assert.deepEqual(
      errors.map((e) => `${e.direction} ${e.code} ${e.closeCode}`),
      ['c2s WS_ERR_EXPECTED_MASK 1002', 's2c WS_ERR_INVALID_UTF8 1007'],
    );
    const messages = sink.of('message');
    assert.deepEqual(
      messages.map((m) => `${m.direction} ${m.utf8Valid}`),
      ['s2c false', 's2c true'],
    );
    // After the violation the client's frames (the violating one included) are recorded as framed, marked, and not
    // assembled into messages.
    assert.deepEqual(
      sink.of('frame').filter((f) => f.direction === 'c2s').map((f) => `${f.payload} ${f.masked} ${f.afterViolation}`),
      ['unmasked false true', 'ignored true true'],
    );
  });

  test('permessage-deflate: compressed frames are inflated per direction with context takeover', () => {
    const sink = new ArraySink();
    const cap = new ConnectionCapture({ connectionId: 'c4', role: 'server', sink });
    const ext = 'permessage-deflate; client_no_context_takeover';
    cap.inbound(request(`Sec-WebSocket-Extensions: ${ext}\r\n`));
    cap.outbound(response101(`Sec-WebSocket-Extensions: ${ext}\r\n`));
    const text = 'compress me compress me compress me';
    const payload = deflateRawSync(Buffer.from(text), { finishFlush: 2 }).subarray(0, -4);
    cap.inbound(encodeFrame({ opcode: 1, rsv1: true, payload, maskKey: MASK }));
    cap.outbound(encodeFrame({ opcode: 1, rsv1: true, payload }));
    cap.end();
    const hs = sink.of('handshake')[0];
    assert.equal(hs.extensions, ext);
    assert.deepEqual(hs.deflate, { serverNoContextTakeover: false, clientNoContextTakeover: true, serverMaxWindowBits: 15, clientMaxWindowBits: 15 });
    const messages = sink.of('message');
    assert.equal(messages.length, 2);
    for (const m of messages) {
      assert.equal(m.compressed, true);
      assert.equal(m.data.toString(), text);
      assert.equal(m.inflatedLength, text.length);
      assert.equal(m.wireLength, payload.length);
    }
    assert.equal(sink.of('frame')[0].rsv1, true);
    assert.equal(sink.of('error').length, 0);
  });
});

describe('ConnectionCapture: failed upgrades', () => {
  test('401 with a body: ok=false, status, body (Content-Length satisfied), no open event', () => {
    const sink = new ArraySink();
    const cap = new ConnectionCapture({ connectionId: 'f1', role: 'client', sink });
    cap.outbound(request());
    const body = 'Unauthorized: token required';
    const res = Buffer.from(`HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    for (const b of split(res, 5)) cap.inbound(b);
    // Emitted as soon as the body is complete, before end().
    const hs = sink.of('handshake');
    assert.equal(hs.length, 1);
    assert.equal(hs[0].ok, false);
    assert.equal(hs[0].status, 401);
    assert.equal(hs[0].body?.toString(), body);
    assert.equal(hs[0].bodyTruncated, undefined);
    assert.equal(hs[0].response?.headers[0][0], 'Content-Type');
    cap.end();
    assert.deepEqual(sink.kinds(), ['handshake', 'connection:closed']);
    assert.equal(sink.of('connection')[0].bytesIn, res.length);
  });

  test('a body over maxFailedBodyBytes is cut and marked truncated', () => {
    const sink = new ArraySink();
    const cap = new ConnectionCapture({ connectionId: 'f2', role: 'server', sink, maxFailedBodyBytes: 10 });
    cap.inbound(request());
    cap.outbound(Buffer.from('HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\n0123456789abcdef'));
    const hs = sink.of('handshake')[0] as HandshakeEvent;
    assert.equal(hs.body?.toString(), '0123456789');
    assert.equal(hs.bodyTruncated, true);
    cap.outbound(Buffer.from('more body that is ignored'));
    cap.end();
    assert.equal(sink.of('handshake').length, 1);
  });

  test('no Content-Length: the body is emitted at end(); no response at all gives status 0', () => {
    const sink = new ArraySink();
    const cap = new ConnectionCapture({ connectionId: 'f3', role: 'server', sink });
    cap.inbound(request());
    cap.outbound(Buffer.from('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\nbad'));
    assert.equal(sink.of('handshake').length, 0);
    cap.outbound(Buffer.from(' request'));
    cap.end();
    assert.equal(sink.of('handshake')[0].body?.toString(), 'bad request');
    assert.equal(sink.of('handshake')[0].status, 400);

    const sink2 = new ArraySink();
    const cap2 = new ConnectionCapture({ connectionId: 'f4', role: 'server', sink: sink2 });
    cap2.inbound(request());
    cap2.end();
    const hs = sink2.of('handshake')[0];
    assert.equal(hs.status, 0);
    assert.equal(hs.ok, false);
    assert.equal(hs.response, undefined);
  });

  test('a 101 with a wrong Sec-WebSocket-Accept: ok=false and WS_ERR_INVALID_HANDSHAKE, frames still shown', () => {
    const sink = new ArraySink();
    const cap = new ConnectionCapture({ connectionId: 'f5', role: 'client', sink });
    cap.outbound(request());
    cap.inbound(Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n'));
    cap.inbound(encodeFrame({ opcode: 1, payload: Buffer.from('hi') }));
    cap.end();
    assert.equal(sink.of('handshake')[0].ok, false);
    assert.deepEqual(sink.of('error').map((e) => e.code), ['WS_ERR_INVALID_HANDSHAKE']);
    assert.equal(sink.of('frame').length, 1);
  });

  test('a head over 16 KiB is WS_ERR_HANDSHAKE_TOO_LARGE', () => {
    const sink = new ArraySink();
    const cap = new ConnectionCapture({ connectionId: 'f6', role: 'server', sink });
    cap.inbound(Buffer.from(`GET / HTTP/1.1\r\nX: ${'a'.repeat(17000)}\r\n\r\n`));
    cap.end();
    assert.deepEqual(sink.of('error').map((e) => `${e.code} ${e.closeCode}`), ['WS_ERR_HANDSHAKE_TOO_LARGE 1009']);
  });
});

describe('ConnectionCapture into an EventStore: masked frames are decoded straight into its arena', () => {
  /** The real store, counting the room it gives. */
  class CountingStore extends EventStore {
    reserved = 0;
    override reserveBytes(n: number): Buffer | undefined {
      const b = super.reserveBytes(n);
      if (b !== undefined) this.reserved += n;
      return b;
    }
  }
  function serverCapture(store: EventStore): ConnectionCapture {
    const cap = new ConnectionCapture({ connectionId: 'c', role: 'server', sink: store });
    cap.inbound(request());
    cap.outbound(response101());
    return cap;
  }
  const c2s = (store: EventStore, kind: 'frame' | 'message') => store.query({ kinds: [kind], direction: 'c2s', limit: 10_000 }).events;

  test('a whole frame is copied once, into the arena, and its frame and message read back equal', () => {
    const store = new CountingStore();
    try {
      const cap = serverCapture(store);
      const payloads = Array.from({ length: 20 }, (_, i) => Buffer.alloc(1000, i));
      const whole = [...payloads.map((payload) => encodeFrame({ opcode: 2, payload, maskKey: MASK })), encodeFrame({ opcode: 9, payload: Buffer.from('ping'), maskKey: MASK })];
      const fragments = [
        encodeFrame({ opcode: 1, fin: false, payload: Buffer.from('frag'), maskKey: MASK }),
        encodeFrame({ opcode: 0, payload: Buffer.from('ment'), maskKey: MASK }),
      ];
      const before = store.compactArenaUsedBytes;
      cap.inbound(Buffer.concat([...whole, ...fragments]));
      assert.equal(store.reserved, whole.reduce((n, f) => n + f.length, 0), 'every whole frame went into reserved room');
      // Each whole frame once (its message shares the bytes); fragments are copied, and their message's data too.
      assert.equal(store.compactArenaUsedBytes - before, store.reserved + fragments[0].length + fragments[1].length + 'fragment'.length);
      const frames = c2s(store, 'frame') as FrameEvent[];
      assert.deepEqual(
        frames.slice(0, 20).map((f) => f.payload),
        payloads,
      );
      const wires = [...whole, ...fragments];
      assert.deepEqual(
        frames.map((f) => f.header),
        wires.map((w, i) => w.subarray(0, frames[i].headerLength)),
        'each header as on the wire, mask key included',
      );
      assert.equal(frames[20].payload.toString(), 'ping');
      const messages = c2s(store, 'message') as MessageEvent[];
      assert.deepEqual(
        messages.map((m) => m.data.toString('latin1')),
        [...payloads.map((p) => p.toString('latin1')), 'fragment'],
      );
    } finally {
      store.dispose();
    }
  });

  test('a read larger than an arena chunk: frames reserved across two or three chunks read back equal', () => {
    // Frames of 250,000 bytes (16 fit in a 4 MiB chunk) in one read: 24 of them span two chunks, 40 span three.
    for (const count of [24, 40]) {
      const store = new CountingStore();
      try {
        const cap = serverCapture(store);
        const payloads = Array.from({ length: count }, (_, i) => Buffer.alloc(250_000, i + 1));
        cap.inbound(Buffer.concat(payloads.map((payload) => encodeFrame({ opcode: 2, payload, maskKey: MASK }))));
        assert.equal(store.reserved, count * 250_014, 'each frame (a 14-byte header) went into reserved room');
        const frames = c2s(store, 'frame') as FrameEvent[];
        const messages = c2s(store, 'message') as MessageEvent[];
        assert.equal(frames.length, count);
        for (let i = 0; i < count; i++) {
          assert.ok(frames[i].payload.equals(payloads[i]), `${count} frames: frame ${i}`);
          assert.ok(messages[i].data.equals(payloads[i]), `${count} frames: message ${i}`);
        }
      } finally {
        store.dispose();
      }
    }
  });
});

describe('ConnectionCapture into an EventStore: whole frames go in without their events', () => {
  /** The real store, counting the frames appended whole (see CaptureSink.appendWholeFrame). */
  class CountingStore extends EventStore {
    whole = 0;
    override appendWholeFrame(...args: Parameters<EventStore['appendWholeFrame']>): number {
      this.whole++;
      return super.appendWholeFrame(...args);
    }
  }
  const text = (s: string | Buffer, o: Partial<Parameters<typeof encodeFrame>[0]> = {}) =>
    encodeFrame({ opcode: 1, payload: Buffer.isBuffer(s) ? s : Buffer.from(s), ...o });
  const binary = (b: Buffer, o: Partial<Parameters<typeof encodeFrame>[0]> = {}) => encodeFrame({ opcode: 2, payload: b, ...o });

  test('the store reads back exactly the events a plain sink gets, for any chunking, both directions and a fan-out', () => {
    const m = { maskKey: MASK };
    // Whole frames of every length form, and what must take the events' path: invalid UTF-8, a fragmented message with
    // a ping between its frames, control frames, and a frame over the size limit.
    const c2sFrames = [
      text('héllo', m),
      binary(Buffer.from('0102', 'hex'), m),
      text('', m),
      binary(Buffer.alloc(300, 7), m),
      binary(Buffer.alloc(5, 3), { ...m, lengthForm: 64 }),
      text(Buffer.from([0xc3, 0x28]), m),
      text('frag', { ...m, fin: false }),
      encodeFrame({ opcode: 9, payload: Buffer.from('ping'), ...m }),
      encodeFrame({ opcode: 0, payload: Buffer.from('ment'), ...m }),
      // A whole frame while a fragmented message is open: a violation, which the events' path records.
      text('open', { ...m, fin: false }),
      text('interloper', m),
      text('after the fragments', m),
      binary(Buffer.alloc(2000, 5), m),
      text('still decoded', m),
      // Decoded into reserved room and recorded as an event; the server's first frame after it must not be taken
      // for that room.
      encodeFrame({ opcode: 9, payload: Buffer.from('last ping'), ...m }),
      // Over the size limit: decoding stops here.
      binary(Buffer.alloc(70_000, 4), m),
    ];
    const s2cFrames = [text('welcome'), binary(Buffer.alloc(200, 1)), text(Buffer.from([0xff])), encodeFrame({ opcode: 10, payload: Buffer.from('pong') }), text('bye')];
    const fanned = [text('to both'), binary(Buffer.alloc(130, 2))];
    for (const chunkSize of [0, 1, 7, 1000]) {
      const store = new CountingStore();
      const plain = new ArraySink();
      try {
        const record = (sink: CaptureSink) => {
          const caps = ['a', 'b'].map((id) => {
            const cap = new ConnectionCapture({ connectionId: id, role: 'server', sink, maxPayload: 60_000 });
            cap.inbound(request());
            cap.outbound(response101());
            return cap;
          });
          for (const p of split(Buffer.concat(c2sFrames), chunkSize)) caps[0].inbound(p);
          for (const f of s2cFrames) for (const p of split(f, chunkSize)) caps[0].outbound(p);
          const list = new FanOutList();
          for (const f of fanned) {
            list.begin();
            for (const c of caps) {
              const slot = c.fanOutSlot()!;
              list.add(slot.slot, slot.generation);
            }
            recordFanOut(list, [f]);
          }
          for (const c of caps) c.end();
        };
        record(store);
        record(plain);
        const all = store.query({ limit: 10_000 }).events;
        // Recorded one after the other: only the times differ.
        const timeless = (events: CaptureEvent[]) => events.map((e) => (e.kind === 'handshake' ? { ...e, time: 0, openMs: 0 } : { ...e, time: 0 }));
        assert.deepEqual(timeless(all), timeless(plain.events), `chunks of ${chunkSize || 'all'} bytes`);
        // Frames appended whole: in one read, 8 of the client's (not the invalid UTF-8, the fragments, the ping or the
        // one over the limit) and 3 of the server's (not the invalid UTF-8 or the pong); a byte at a time, none (a frame
        // held across reads takes the events' path). And one record per fan-out.
        if (chunkSize === 0) assert.equal(store.whole, 8 + 3 + fanned.length, 'in one read: frames appended whole');
        if (chunkSize === 1) assert.equal(store.whole, fanned.length, 'a byte at a time: frames appended whole');
        assert.deepEqual(
          all.filter((e) => e.kind === 'error').map((e) => e.code),
          ['WS_ERR_INVALID_UTF8', 'WS_ERR_INVALID_OPCODE', 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'WS_ERR_UNFRAMED_BYTES', 'WS_ERR_INVALID_UTF8'],
          'invalid UTF-8 both ways, the frame in the middle of a message, the frame over the limit',
        );
      } finally {
        store.dispose();
      }
    }
  });
});

describe('ConnectionCapture: never throws', () => {
  test('a failing sink is caught: WS_ERR_CAPTURE_INTERNAL, then capture stops', () => {
    const events: NewCaptureEvent[] = [];
    let fail = false;
    const sink: CaptureSink = {
      append(e) {
        if (fail && e.kind === 'frame') throw new Error('boom');
        events.push(e);
        return events.length;
      },
    };
    const cap = new ConnectionCapture({ connectionId: 'x', role: 'server', sink });
    cap.inbound(request());
    cap.outbound(response101());
    fail = true;
    assert.doesNotThrow(() => cap.inbound(encodeFrame({ opcode: 1, payload: Buffer.from('a'), maskKey: MASK })));
    assert.doesNotThrow(() => cap.inbound(encodeFrame({ opcode: 1, payload: Buffer.from('b'), maskKey: MASK })));
    cap.end();
    const errors = events.filter((e) => e.kind === 'error') as ErrorEvent[];
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, 'WS_ERR_CAPTURE_INTERNAL');
    assert.equal(errors[0].closeCode, 1011);
    assert.match(errors[0].message, /boom/);
    const closed = events.find((e) => e.kind === 'connection' && e.state === 'closed') as ConnectionEvent;
    assert.equal(closed.bytesIn, cap.bytesIn);
  });
});

describe('ConnectionCapture: real ws over loopback', () => {
  const servers: WebSocketServer[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  test('client role: every byte of a real ws client (deflate on) is captured and decoded', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: { threshold: 0 } });
    servers.push(wss);
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
    const port = (wss.address() as net.AddressInfo).port;
    const sink = new ArraySink();
    const cap = new ConnectionCapture({ connectionId: 'real', role: 'client', sink });
    const ws = new WebSocket(`ws://127.0.0.1:${port}/x`, {
      perMessageDeflate: { threshold: 0 },
      createConnection: (opts: object) => {
        const socket = net.connect(opts as net.NetConnectOpts);
        socket.on('data', (chunk: Buffer) => cap.inbound(chunk));
        const write = socket.write;
        socket.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
          const enc = typeof rest[0] === 'string' ? (rest[0] as BufferEncoding) : 'utf8';
          cap.outbound(typeof chunk === 'string' ? Buffer.from(chunk, enc) : Buffer.from(chunk as Uint8Array));
          return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
        } as typeof socket.write;
        socket.on('close', () => cap.end());
        return socket;
      },
    });
    ws.on('error', () => {});
    const echoes: string[] = [];
    await new Promise<void>((resolve) => ws.once('open', () => resolve()));
    const texts = ['hello', 'hello hello hello', 'x'.repeat(5000)];
    await new Promise<void>((resolve) => {
      ws.on('message', (d) => {
        echoes.push(d.toString());
        if (echoes.length === texts.length) resolve();
      });
      for (const t of texts) ws.send(t);
    });
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      ws.close(1000, 'bye');
    });
    await waitFor('the closed connection in the capture', () => sink.of('connection').some((e) => e.state === 'closed'));

    const hs = sink.of('handshake')[0];
    assert.equal(hs.ok, true);
    assert.ok(hs.deflate);
    const messages = sink.of('message') as MessageEvent[];
    assert.deepEqual(messages.filter((m) => m.direction === 'c2s').map((m) => m.data.toString()), texts);
    assert.deepEqual(messages.filter((m) => m.direction === 's2c').map((m) => m.data.toString()), texts);
    assert.ok(messages.every((m) => m.compressed && m.inflatedLength === m.data.length));
    const frames = sink.of('frame') as FrameEvent[];
    assert.ok(frames.filter((f) => f.direction === 'c2s').every((f) => f.masked));
    assert.equal(sink.of('error').length, 0);
    const closed = sink.of('connection').find((e) => e.state === 'closed')!;
    assert.equal(closed.code, 1000);
    assert.equal(closed.reason, 'bye');
    assert.equal(closed.clean, true);
    assert.ok(closed.bytesIn! > 0 && closed.bytesOut! > 0);
  });
});
