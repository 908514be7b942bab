import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import { ConnectionCapture } from '../../../src/core/capture/connectionCapture';
import { EventStore } from '../../../src/core/capture/eventStore';
import { appendWholeFrameEvents, type CaptureEvent, type FrameEvent, type MessageEvent, type NewCaptureEvent } from '../../../src/core/capture/events';
import { FanOutList, recordFanOut } from '../../../src/core/capture/fanOutRecord';
import { recordSyntheticFrame } from '../../../src/core/capture/syntheticCapture';
import { encodeClosePayload, encodeFrame } from '../../../src/core/wire/frameEncoder';
import { ArraySink, MASK, request, response101 } from './helpers';

/** Freezes an appended event (and its arrays): in these strict-mode modules, changing it afterwards throws. */
function freeze(e: NewCaptureEvent): void {
  if (e.kind === 'message') Object.freeze(e.frameIds);
  Object.freeze(e);
}

/** An ArraySink whose events are frozen once appended. */
class FrozenSink extends ArraySink {
  override append(e: NewCaptureEvent): number {
    const id = super.append(e);
    freeze(e);
    return id;
  }
}

/** The real store, with the events appended to it frozen once appended. */
class FrozenStore extends EventStore {
  override append(e: NewCaptureEvent): number {
    const id = super.append(e);
    freeze(e);
    return id;
  }
}

function split(b: Buffer, size: number): Buffer[] {
  if (size <= 0) return [b];
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(b.subarray(i, i + size));
  return out;
}

const m = { maskKey: MASK };
const text = (s: string, o: Partial<Parameters<typeof encodeFrame>[0]> = {}) => encodeFrame({ opcode: 1, payload: Buffer.from(s), ...o });
const close = (code: number | undefined, reason: string | undefined, o: Partial<Parameters<typeof encodeFrame>[0]> = {}) =>
  encodeFrame({ opcode: 8, payload: code === undefined ? Buffer.alloc(0) : encodeClosePayload(code, reason), ...o });

/** Client frames: one-frame messages, a fragmented message with a ping inside, invalid UTF-8, and a close frame. */
const c2sWire = Buffer.concat([
  text('one', m),
  encodeFrame({ opcode: 2, payload: Buffer.alloc(300, 7), ...m }),
  text('frag', { ...m, fin: false }),
  encodeFrame({ opcode: 9, payload: Buffer.from('ping'), ...m }),
  encodeFrame({ opcode: 0, payload: Buffer.from('men'), ...m, fin: false }),
  encodeFrame({ opcode: 0, payload: Buffer.from('ted'), ...m }),
  encodeFrame({ opcode: 1, payload: Buffer.from([0xc3, 0x28]), ...m }),
  close(4001, 'done', m),
]);
/** Server frames: a message, a close frame with a code no endpoint may send, then one with one byte of payload. */
const s2cWire = Buffer.concat([
  text('welcome'),
  encodeFrame({ opcode: 2, fin: false, payload: Buffer.from([1]) }),
  encodeFrame({ opcode: 0, payload: Buffer.from([2]) }),
  close(1005, 'reserved'),
  encodeFrame({ opcode: 8, payload: Buffer.from([3]) }),
]);

/** A server-role capture of the conversation above into `sink`, its bytes in chunks of `size` (0: one read each). */
function converse(sink: ArraySink | EventStore, size: number): void {
  const cap = new ConnectionCapture({ connectionId: 'a', role: 'server', sink });
  cap.inbound(request());
  cap.outbound(response101());
  for (const p of split(c2sWire, size)) cap.inbound(p);
  for (const p of split(s2cWire, size)) cap.outbound(p);
  cap.end();
}

/** Each frame's messageId as the message events' frameIds give it. */
function linksOf(events: readonly CaptureEvent[]): Map<number, number> {
  const links = new Map<number, number>();
  for (const e of events) if (e.kind === 'message') for (const fid of e.frameIds) links.set(fid, e.id);
  return links;
}

describe('DirectionCapture: an appended event is never changed', () => {
  for (const size of [0, 1, 5]) {
    test(`fragments, controls, close frames, one-frame messages, chunks of ${size || 'all'} bytes`, () => {
      const sink = new FrozenSink();
      converse(sink, size);
      // A change to a frozen event would have thrown inside the capture, which records that and stops.
      assert.deepEqual(
        sink.of('error').map((e) => [e.direction, e.code, e.closeCode]),
        [
          ['c2s', 'WS_ERR_INVALID_UTF8', 1007],
          ['s2c', 'WS_ERR_INVALID_CLOSE_CODE', 1002],
          ['s2c', 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002],
        ],
      );
      const closes = sink.of('frame').filter((f) => f.opcode === 8);
      assert.deepEqual(
        closes.map((f) => [f.direction, f.closeCode, f.closeReason]),
        [
          ['c2s', 4001, 'done'],
          ['s2c', 1005, 'reserved'],
          ['s2c', undefined, undefined],
        ],
      );
      // The errors about a close frame follow it, as before.
      const afterClose = sink.events[sink.events.findIndex((e) => e.kind === 'frame' && e.opcode === 8 && e.direction === 's2c') + 1];
      assert.equal(afterClose.kind === 'error' && afterClose.code, 'WS_ERR_INVALID_CLOSE_CODE');
      const messages = sink.of('message');
      assert.deepEqual(
        messages.map((x) => `${x.direction} ${x.data.toString('hex')} ${x.frameIds.length}`),
        ['c2s 6f6e65 1', `c2s ${'07'.repeat(300)} 1`, 'c2s 667261676d656e746564 3', 'c2s c328 1', 's2c 77656c636f6d65 1', 's2c 0102 2'],
      );
      // The sink linked every data frame to its message (from the message's frameIds), and no control frame.
      const links = linksOf(sink.events);
      for (const f of sink.of('frame')) assert.equal(f.messageId, links.get(f.id), `frame ${f.id} (opcode ${f.opcode})`);
      assert.equal(links.size, 9);
      const closed = sink.of('connection').find((e) => e.state === 'closed')!;
      assert.deepEqual([closed.code, closed.reason], [4001, 'done']);
    });
  }

  test('compressed messages (permessage-deflate)', () => {
    const sink = new FrozenSink();
    const cap = new ConnectionCapture({ connectionId: 'z', role: 'server', sink });
    const ext = 'permessage-deflate; client_no_context_takeover';
    cap.inbound(request(`Sec-WebSocket-Extensions: ${ext}\r\n`));
    cap.outbound(response101(`Sec-WebSocket-Extensions: ${ext}\r\n`));
    const payload = deflateRawSync(Buffer.from('squeeze squeeze squeeze'), { finishFlush: 2 }).subarray(0, -4);
    cap.inbound(encodeFrame({ opcode: 1, rsv1: true, payload, ...m }));
    const half = payload.length >> 1;
    cap.outbound(encodeFrame({ opcode: 1, rsv1: true, fin: false, payload: payload.subarray(0, half) }));
    cap.outbound(encodeFrame({ opcode: 0, payload: payload.subarray(half) }));
    cap.end();
    assert.equal(sink.of('error').length, 0);
    assert.deepEqual(
      sink.of('message').map((x) => [x.data.toString(), x.compressed, x.frameIds.length]),
      [
        ['squeeze squeeze squeeze', true, 1],
        ['squeeze squeeze squeeze', true, 2],
      ],
    );
    const links = linksOf(sink.events);
    for (const f of sink.of('frame')) assert.equal(f.messageId, links.get(f.id));
  });

  test('a fan-out recorded once for three connections: whole frames (in one write or two) and decoded ones', () => {
    const sink = new FrozenSink();
    const caps = ['a', 'b', 'c'].map((id) => {
      const cap = new ConnectionCapture({ connectionId: id, role: 'server', sink });
      cap.inbound(request());
      cap.outbound(response101());
      return cap;
    });
    const list = new FanOutList();
    const fan = (parts: Buffer[]) => {
      list.begin();
      for (const c of caps) {
        const s = c.fanOutSlot()!;
        list.add(s.slot, s.generation);
      }
      recordFanOut(list, parts);
    };
    const big = encodeFrame({ opcode: 2, payload: Buffer.alloc(70_000, 3) });
    fan([text('whole')]);
    fan([big.subarray(0, 10), big.subarray(10)]);
    // Control frames are not whole data frames: the first recipient decodes them, with the others listed.
    fan([encodeFrame({ opcode: 9, payload: Buffer.from('p') })]);
    fan([close(1000, 'bye')]);
    for (const c of caps) c.end();
    assert.deepEqual(sink.of('error').map((e) => e.message), []);
    const frames = sink.of('frame');
    assert.deepEqual(
      frames.map((f) => [f.connectionId, f.opcode, f.alsoSentTo]),
      [
        ['a', 1, ['b', 'c']],
        ['a', 2, ['b', 'c']],
        ['a', 9, ['b', 'c']],
        ['a', 8, ['b', 'c']],
      ],
    );
    assert.deepEqual([frames[3].closeCode, frames[3].closeReason], [1000, 'bye']);
    assert.deepEqual(
      sink.of('message').map((x) => [x.data.length, x.frameIds.length, x.alsoSentTo]),
      [
        [5, 1, ['b', 'c']],
        [70_000, 1, ['b', 'c']],
      ],
    );
    const links = linksOf(sink.events);
    for (const f of frames) assert.equal(f.messageId, links.get(f.id));
  });

  test('synthetic frames and appendWholeFrameEvents', () => {
    const sink = new FrozenSink();
    const t = recordSyntheticFrame(sink, { connectionId: 'b1', direction: 's2c', opcode: 1, payload: Buffer.from('hi') });
    const c = recordSyntheticFrame(sink, { connectionId: 'b1', direction: 'c2s', opcode: 8, payload: encodeClosePayload(4000, 'x') });
    const header = Buffer.from([0x82, 0x02]);
    const w = appendWholeFrameEvents(sink, 'b1', 1, 's2c', 2, header, Buffer.from([1, 2]), undefined);
    const byId = (id: number) => sink.events[id - 1] as FrameEvent;
    assert.equal(byId(t.frameId).messageId, t.messageId);
    assert.deepEqual([byId(c.frameId).closeCode, byId(c.frameId).closeReason, c.messageId], [4000, 'x', undefined]);
    assert.equal(byId(w).messageId, w + 1);
    assert.deepEqual((sink.events[w] as MessageEvent).frameIds, [w]);
  });
});

describe('DirectionCapture into an EventStore: events frozen once appended, frames linked by the store', () => {
  for (const size of [0, 1, 5]) {
    test(`the store gives the same events as a plain sink, chunks of ${size || 'all'} bytes`, () => {
      const store = new FrozenStore();
      const plain = new ArraySink();
      try {
        converse(store, size);
        converse(plain, size);
        const all = store.query({ limit: 10_000 }).events;
        assert.deepEqual(all.filter((e) => e.kind === 'error').map((e) => e.code), plain.of('error').map((e) => e.code));
        const timeless = (events: CaptureEvent[]) => events.map((e) => (e.kind === 'handshake' ? { ...e, time: 0, openMs: 0 } : { ...e, time: 0 }));
        assert.deepEqual(timeless(all), timeless(plain.events));
        const links = linksOf(all);
        for (const e of all) if (e.kind === 'frame') assert.equal(e.messageId, links.get(e.id));
      } finally {
        store.dispose();
      }
    });
  }
});

describe('DirectionCapture at the connection’s end: what the bytes stopped inside is recorded', () => {
  /** A server capture past its 101, fed `c2s` from the client, then ended. */
  function endAfter(c2s: Buffer[]): ArraySink {
    const sink = new ArraySink();
    const cap = new ConnectionCapture({ connectionId: 'c1', role: 'server', sink });
    cap.inbound(Buffer.from(request()));
    cap.outbound(Buffer.from(response101()));
    for (const b of c2s) cap.inbound(b);
    cap.end();
    return sink;
  }
  const whole = encodeFrame({ opcode: 1, payload: Buffer.from('hello world'), maskKey: MASK });
  const errors = (sink: ArraySink) => sink.of('error').map((e) => [e.direction, e.code, e.closeCode, e.message]);

  test('between messages: nothing', () => {
    assert.deepEqual(errors(endAfter([whole])), []);
  });

  test('inside a frame’s payload: the message is incomplete, with how far it got', () => {
    assert.deepEqual(errors(endAfter([whole.subarray(0, 10)])), [
      ['c2s', 'WS_ERR_INCOMPLETE_MESSAGE', 1006, `the connection ended inside a message (no frame of it complete, 10 of a frame's ${whole.length} bytes)`],
    ]);
  });

  test('inside a frame’s header', () => {
    assert.deepEqual(errors(endAfter([whole.subarray(0, 3)])), [
      ['c2s', 'WS_ERR_INCOMPLETE_MESSAGE', 1006, "the connection ended inside a message (no frame of it complete, 3 bytes into a frame's header)"],
    ]);
  });

  test('after the first fragment of a message', () => {
    const first = encodeFrame({ opcode: 1, fin: false, payload: Buffer.from('part'), maskKey: MASK });
    const sink = endAfter([first]);
    assert.deepEqual(errors(sink), [['c2s', 'WS_ERR_INCOMPLETE_MESSAGE', 1006, 'the connection ended inside a message (1 frame of it complete)']]);
    assert.equal(sink.of('message').length, 0);
  });

  test('inside a ping: the frame, not a message', () => {
    const ping = encodeFrame({ opcode: 9, payload: Buffer.from('are you there'), maskKey: MASK });
    assert.deepEqual(errors(endAfter([whole, ping.subarray(0, 8)])), [
      ['c2s', 'WS_ERR_INCOMPLETE_FRAME', 1006, `the connection ended inside a control frame (8 of a frame's ${ping.length} bytes)`],
    ]);
  });
});
