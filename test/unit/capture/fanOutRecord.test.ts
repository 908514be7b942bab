import { beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionCapture } from '../../../src/core/capture/connectionCapture';
import type { CaptureEvent, CaptureSink, ErrorEvent, FrameEvent } from '../../../src/core/capture/events';
import { FanOutList, recordFanOut, type FanOutSlot } from '../../../src/core/capture/fanOutRecord';
import { encodeFrame } from '../../../src/core/wire/frameEncoder';
import { ArraySink, MASK, request, response101 } from './helpers';

describe('recordFanOut: a broadcast written to many connections is recorded once', () => {
  /** A server-role capture past its handshake, into `sink`. */
  function upgraded(sink: CaptureSink, connectionId: string, maxPayload?: number): ConnectionCapture {
    const cap = new ConnectionCapture({ connectionId, role: 'server', sink, maxPayload });
    cap.inbound(request());
    cap.outbound(response101());
    return cap;
  }
  /** The fan-out's handles on `caps`, as the broadcast server keeps them per client. */
  const slotsOf = (caps: ConnectionCapture[]) => caps.map((c) => c.fanOutSlot()!);
  /**
   * What the broadcast server's fan-out does after writing `parts` to the first `count` of `slots`, with its list kept
   * across fan-outs (one per test, as the server keeps one).
   */
  let list = new FanOutList();
  beforeEach(() => {
    list = new FanOutList();
  });
  const fan = (slots: FanOutSlot[], parts: Buffer[], count = slots.length) => {
    list.begin();
    for (const f of slots.slice(0, count)) list.add(f.slot, f.generation);
    recordFanOut(list, parts);
  };

  test('one frame to three connections: one frame and one message, the other two listed, every byte counted', () => {
    const sink = new ArraySink();
    const caps = ['a', 'b', 'c'].map((id) => upgraded(sink, id));
    const wire = encodeFrame({ opcode: 1, payload: Buffer.from('to everyone') });
    fan(slotsOf(caps), [wire]);
    const frames = sink.of('frame');
    const messages = sink.of('message');
    assert.equal(frames.length, 1);
    assert.equal(messages.length, 1);
    assert.equal(frames[0].connectionId, 'a');
    assert.deepEqual(frames[0].alsoSentTo, ['b', 'c']);
    assert.deepEqual(messages[0].alsoSentTo, ['b', 'c']);
    assert.equal(messages[0].data.toString(), 'to everyone');
    assert.equal(frames[0].messageId, messages[0].id);
    assert.deepEqual(Buffer.concat([frames[0].header, frames[0].payload]), wire);
    for (const c of caps) assert.equal(c.bytesOut, response101().length + wire.length);
  });

  test('a frame written as header and payload is one record; the next fan-out to the same clients shares the list', () => {
    const sink = new ArraySink();
    const caps = ['a', 'b', 'c', 'd'].map((id) => upgraded(sink, id));
    const slots = slotsOf(caps);
    const big = encodeFrame({ opcode: 2, payload: Buffer.alloc(70_000, 7) });
    fan(slots, [big.subarray(0, 10), big.subarray(10)]);
    const small = encodeFrame({ opcode: 1, payload: Buffer.from('next') });
    fan(slots, [small]);
    fan(slots, [small], 3); // d is not a recipient of this one
    const frames = sink.of('frame');
    assert.deepEqual(
      frames.map((f) => [f.connectionId, f.payloadLength, f.alsoSentTo]),
      [
        ['a', 70_000, ['b', 'c', 'd']],
        ['a', 4, ['b', 'c', 'd']],
        ['a', 4, ['b', 'c']],
      ],
    );
    assert.equal(frames[0].alsoSentTo, frames[1].alsoSentTo, 'the same clients: the same (frozen) list');
    assert.ok(Object.isFrozen(frames[0].alsoSentTo));
    assert.deepEqual(sink.of('message').map((m) => m.data.length), [70_000, 4, 4]);
    assert.equal(caps[3].bytesOut, response101().length + big.length + small.length);
    assert.equal(caps[0].bytesOut, response101().length + big.length + 2 * small.length);
  });

  test('a connection in the middle of a frame, over its size limit, or ended records on its own or not at all', () => {
    const sink = new ArraySink();
    const [a, b, c, d] = [upgraded(sink, 'a'), upgraded(sink, 'b'), upgraded(sink, 'c', 8), upgraded(sink, 'd')];
    const slots = slotsOf([a, b, c, d]);
    // b has half a frame of its own written: the shared bytes do not start a frame for it.
    const half = encodeFrame({ opcode: 2, payload: Buffer.alloc(300, 7) });
    b.outbound(half.subarray(0, 10));
    d.end();
    // e may get d's slot: d's old handle must not record for e.
    const e = upgraded(sink, 'e');
    const eSlot = e.fanOutSlot()!;
    const eventsBefore = sink.events.length;
    const wire = encodeFrame({ opcode: 2, payload: Buffer.alloc(20, 1) });
    fan(slots, [wire]);
    const after = sink.events.slice(eventsBefore);
    const frames = after.filter((e): e is FrameEvent => e.kind === 'frame');
    assert.deepEqual(
      frames.map((f) => [f.connectionId, f.alsoSentTo]),
      [['a', undefined]],
      'only a decodes it as a whole frame; b reads it as the rest of its own frame, c as a violation',
    );
    const errors = after.filter((e): e is ErrorEvent => e.kind === 'error');
    assert.deepEqual(
      errors.map((e) => [e.connectionId, e.code, e.closeCode]),
      // The rest of c's direction can't be framed: one opaque record of the read.
      [
        ['c', 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009],
        ['c', 'WS_ERR_UNFRAMED_BYTES', 1009],
      ],
    );
    assert.ok(!after.some((ev) => ev.connectionId === 'd' || ev.connectionId === 'e'), 'nothing after the closed event, nothing for e');
    assert.equal(e.bytesOut, response101().length);
    fan([eSlot, slots[0]], [wire]);
    assert.deepEqual(sink.of('frame').at(-1)?.alsoSentTo, ['a'], 'e’s own handle works');
  });

  test('repeated fan-outs to the same clients: one record each, every byte counted, also in the closed event', () => {
    const sink = new ArraySink();
    const caps = ['a', 'b', 'c'].map((id) => upgraded(sink, id));
    const slots = slotsOf(caps);
    const wires = [0, 1, 2, 3, 4].map((i) => encodeFrame({ opcode: 1, payload: Buffer.from(`message ${i}`) }));
    for (const w of wires.slice(0, 3)) fan(slots, [w]);
    const sent = (k: number) => response101().length + wires.slice(0, k).reduce((n, w) => n + w.length, 0);
    // Read between fan-outs, as the clients view does.
    assert.deepEqual(caps.map((c) => c.bytesOut), [sent(3), sent(3), sent(3)]);
    for (const w of wires.slice(3)) fan(slots, [w]);
    const frames = sink.of('frame');
    assert.deepEqual(frames.map((f) => [f.connectionId, f.payload.toString()]), wires.map((_, i) => ['a', `message ${i}`]));
    assert.ok(frames.every((f) => f.alsoSentTo === frames[0].alsoSentTo), 'one list for all');
    assert.deepEqual(frames[0].alsoSentTo, ['b', 'c']);
    caps[2].end();
    const closed = sink.of('connection').find((e) => e.state === 'closed' && e.connectionId === 'c')!;
    assert.equal(closed.bytesOut, sent(5));
    assert.equal(caps[1].bytesOut, sent(5));
  });

  test('a change between two fan-outs to the same clients is seen: an ended client, a half-written frame, a frame over a limit', () => {
    const sink = new ArraySink();
    const [a, b, c, d] = [upgraded(sink, 'a'), upgraded(sink, 'b'), upgraded(sink, 'c', 64), upgraded(sink, 'd')];
    const slots = slotsOf([a, b, c, d]);
    const small = encodeFrame({ opcode: 2, payload: Buffer.alloc(10, 1) });
    fan(slots, [small]);
    fan(slots, [small]);
    assert.deepEqual(sink.of('frame').map((f) => f.alsoSentTo), [['b', 'c', 'd'], ['b', 'c', 'd']]);

    d.end();
    fan(slots, [small]);
    assert.deepEqual(sink.of('frame').at(-1)!.alsoSentTo, ['b', 'c'], 'd has ended');
    assert.ok(!sink.events.some((e) => e.connectionId === 'd' && e.kind === 'frame'));

    // b starts a frame of its own: the next shared bytes are the rest of it, not a frame for the record.
    const half = encodeFrame({ opcode: 2, payload: Buffer.alloc(300, 7) });
    b.outbound(half.subarray(0, 10));
    const before = sink.events.length;
    fan(slots, [small]);
    const frames = sink.events.slice(before).filter((e): e is FrameEvent => e.kind === 'frame');
    assert.deepEqual(frames.map((f) => [f.connectionId, f.alsoSentTo]), [['a', ['c']]]);

    // A frame over c's limit (64) after fan-outs that c shared: c records it as a violation, not as shared.
    const c2 = upgraded(sink, 'c2', 64);
    const slots2 = slotsOf([a, c2]);
    fan(slots2, [small]);
    fan(slots2, [small]);
    const big = encodeFrame({ opcode: 2, payload: Buffer.alloc(100, 3) });
    const before2 = sink.events.length;
    fan(slots2, [big]);
    const after2 = sink.events.slice(before2);
    assert.deepEqual(
      after2.filter((e): e is FrameEvent => e.kind === 'frame').map((f) => [f.connectionId, f.payloadLength, f.alsoSentTo]),
      [['a', 100, undefined]],
    );
    assert.deepEqual(
      after2.filter((e): e is ErrorEvent => e.kind === 'error').map((e) => [e.connectionId, e.code]),
      [
        ['c2', 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'],
        ['c2', 'WS_ERR_UNFRAMED_BYTES'],
      ],
    );
    assert.equal(c2.bytesOut, response101().length + 2 * small.length + big.length);
  });

  test('the record a fan-out builds from the frame header equals what the decoder gives for the same bytes', () => {
    const frame = (o: Parameters<typeof encodeFrame>[0]) => encodeFrame(o);
    const big = frame({ opcode: 2, payload: Buffer.alloc(70_000, 9) });
    const whole: Buffer[][] = [
      [frame({ opcode: 2, payload: Buffer.from('0102', 'hex') })],
      [frame({ opcode: 1, payload: Buffer.from('héllo') })],
      [frame({ opcode: 1, payload: Buffer.alloc(0) })],
      [frame({ opcode: 2, payload: Buffer.alloc(300, 1) })],
      [frame({ opcode: 2, payload: Buffer.alloc(5, 2), lengthForm: 64 })],
      [big.subarray(0, 10), big.subarray(10)],
    ];
    // Not whole plain frames: decoded as before. A mask or RSV1 without deflate stops the decoding, so each ends a run.
    const others: Buffer[][] = [
      [frame({ opcode: 1, fin: false, payload: Buffer.from('frag') })],
      [frame({ opcode: 0, payload: Buffer.from('ment') })],
      [frame({ opcode: 1, payload: Buffer.from([0xc3, 0x28]) })],
      [frame({ opcode: 9, payload: Buffer.from('ping') })],
      [Buffer.concat([frame({ opcode: 2, payload: Buffer.from('one') }), frame({ opcode: 2, payload: Buffer.from('two') })])],
    ];
    const runs = [
      [...whole, ...others, [frame({ opcode: 2, payload: Buffer.from('masked'), maskKey: MASK })]],
      [...whole, [frame({ opcode: 2, rsv1: true, payload: Buffer.from('rsv') })]],
    ];
    // Ids, times, connection and recipients differ; links are compared relative to the event's own id.
    const comparable = (events: CaptureEvent[]) =>
      events.map((e) => {
        const r: Record<string, unknown> = { ...e, id: 0, time: 0, connectionId: '', alsoSentTo: undefined };
        if (e.kind === 'frame') r.messageId = e.messageId === undefined ? undefined : e.messageId - e.id;
        if (e.kind === 'message') r.frameIds = e.frameIds.map((f) => f - e.id);
        return r;
      });
    for (const writes of runs) {
      // Each write goes to a and b by fan-out, and to x alone (decoded like any write); a's events must equal x's.
      const fanSink = new ArraySink();
      const aloneSink = new ArraySink();
      const slots = slotsOf([upgraded(fanSink, 'a'), upgraded(fanSink, 'b')]);
      const x = upgraded(aloneSink, 'x');
      const fanFrom = fanSink.events.length;
      const aloneFrom = aloneSink.events.length;
      for (const parts of writes) {
        fan(slots, parts);
        for (const p of parts) x.outbound(p);
      }
      const fanned = fanSink.events.slice(fanFrom).filter((e) => e.connectionId === 'a');
      const alone = aloneSink.events.slice(aloneFrom);
      assert.deepEqual(comparable(fanned), comparable(alone));
      assert.equal(alone.filter((e) => e.kind === 'message').length, writes === runs[0] ? whole.length + 4 : whole.length);
      // The last write is a violation, recorded; what follows it in that write is recorded as after it.
      const v = alone.map((e) => e.kind === 'error' && e.code !== 'WS_ERR_UNFRAMED_BYTES').lastIndexOf(true);
      assert.ok(v >= 0, 'the last write is a violation, recorded');
      assert.ok(alone.slice(v + 1).every((e) => e.kind === 'error' || (e.kind === 'frame' && e.afterViolation === true)));
    }
  });

  test('a Buffer read on one connection and written on another (a proxy forwarding it) is recorded on each', () => {
    const sink = new ArraySink();
    const program = upgraded(sink, 'p/program');
    const target = new ConnectionCapture({ connectionId: 'p/target', role: 'client', sink });
    target.outbound(request());
    target.inbound(response101());
    const wire = encodeFrame({ opcode: 1, payload: Buffer.from('forwarded'), maskKey: Buffer.from([1, 2, 3, 4]) });
    program.inbound(wire); // read from the program, c2s
    target.outbound(wire); // the same Buffer written to the target, c2s
    const messages = sink.of('message');
    assert.deepEqual(
      messages.map((m) => [m.connectionId, m.direction, m.data.toString(), m.alsoSentTo]),
      [
        ['p/program', 'c2s', 'forwarded', undefined],
        ['p/target', 'c2s', 'forwarded', undefined],
      ],
    );
  });
});
