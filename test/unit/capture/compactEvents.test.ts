import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { CompactEventColumns } from '../../../src/core/capture/compactEvents';
import { EventStore } from '../../../src/core/capture/eventStore';
import type { CaptureEvent, FrameEvent, MessageEvent } from '../../../src/core/capture/events';
import { encodeFrame } from '../../../src/core/wire/frameEncoder';

let t0 = 1_700_000_000_000.25;

/** A frame event in the exact shape ConnectionCapture builds (every optional field present). */
function frame(payload: Buffer | string, o: Partial<FrameEvent> = {}): FrameEvent {
  const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const opcode = o.opcode ?? 1;
  const masked = o.masked ?? false;
  const wire = encodeFrame({ opcode, payload: p, fin: o.fin ?? true, maskKey: masked ? Buffer.from([1, 2, 3, 4]) : undefined });
  const headerLength = wire.length - p.length;
  const header = wire.subarray(0, headerLength);
  return {
    id: 0,
    kind: 'frame',
    connectionId: 'c1',
    time: t0++,
    direction: masked ? 'c2s' : 's2c',
    fin: o.fin ?? true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode,
    masked,
    maskKey: masked ? header.subarray(headerLength - 4) : undefined,
    payloadLength: p.length,
    lengthForm: p.length <= 125 ? 7 : p.length <= 0xffff ? 16 : 64,
    headerLength,
    header,
    payload: p,
    closeCode: undefined,
    closeReason: undefined,
    messageId: undefined,
    alsoSentTo: undefined,
    afterViolation: false,
    ...o,
  };
}

function message(data: Buffer, frameIds: number[], o: Partial<MessageEvent> = {}): MessageEvent {
  return {
    id: 0,
    kind: 'message',
    connectionId: 'c1',
    time: t0++,
    direction: 's2c',
    opcode: 1,
    data,
    wireLength: data.length,
    compressed: false,
    inflatedLength: undefined,
    inflateError: undefined,
    utf8Valid: true,
    frameIds,
    alsoSentTo: undefined,
    ...o,
  };
}

/** A deep copy, taken before the store may move the event into compact form. */
function snapshot<T extends CaptureEvent>(e: T): T {
  const c = { ...e } as Record<string, unknown>;
  for (const [k, v] of Object.entries(c)) {
    if (Buffer.isBuffer(v)) c[k] = Buffer.from(v);
    else if (Array.isArray(v)) c[k] = v.slice();
  }
  return c as T;
}

describe('compact event history', () => {
  test('frames and messages read back equal, field for field and byte for byte, after they became compact', async () => {
    const s = new EventStore();
    try {
      const events: CaptureEvent[] = [
        frame('hello', { masked: true, connectionId: 'srv/1' }),
        frame(Buffer.alloc(300, 7), { opcode: 2 }),
        frame(Buffer.alloc(70_000, 9), { opcode: 2, connectionId: 'c2' }),
        frame(Buffer.from([0x0f, 0xa1, 0x62, 0x79, 0x65]), { opcode: 8, closeCode: 4001, closeReason: 'bye' }),
        frame(Buffer.alloc(0), { opcode: 9 }),
        message(Buffer.from('inflated text'), [2], { compressed: true, wireLength: 9, inflatedLength: 13, direction: 'c2s' }),
        message(Buffer.from([0xff, 0xfe]), [3, 4, 5], { opcode: 2, utf8Valid: undefined }),
        message(Buffer.from('bad'), [6], { compressed: true, inflateError: 'WS_ERR_INFLATE_FAILED', utf8Valid: false }),
      ];
      const ids = events.map((e) => s.append(e));
      const expected = events.map(snapshot);
      // The store gives a message's frames its id (from its frameIds).
      for (const m of expected) {
        if (m.kind !== 'message') continue;
        for (const fid of m.frameIds) {
          const f = expected[fid - 1];
          if (f.kind === 'frame') f.messageId = m.id;
        }
      }
      await turn();
      for (let i = 0; i < ids.length; i++) {
        const got = s.get(ids[i])!;
        assert.notEqual(got, events[i], `event ${ids[i]} is compact now`);
        assert.deepEqual(got, expected[i]);
      }
      assert.deepEqual(s.query({ limit: 100 }).events, expected);
    } finally {
      s.dispose();
    }
  });

  test('a one-frame message shares its frame’s bytes in the arena', async () => {
    const s = new EventStore();
    try {
      for (let i = 0; i < 1000; i++) {
        const payload = Buffer.alloc(1000, 1);
        payload.writeUInt32LE(i, 500); // each payload its own, so that only the message shares
        const f = frame(payload);
        const fid = s.append(f);
        s.append(message(f.payload, [fid]));
      }
      await turn();
      // 1000 × (2-byte header + 1000 bytes), without a second copy for the messages: one 4 MiB chunk.
      assert.equal(s.compactArenaBytes, 4 * 1024 * 1024);
      assert.deepEqual(s.get(2000)!.kind === 'message' && [...(s.get(2000) as MessageEvent).data.subarray(0, 3)], [1, 1, 1]);
    } finally {
      s.dispose();
    }
  });

  test('a broadcast’s recipients and its frame’s message are kept', async () => {
    const s = new EventStore();
    try {
      const recipients: string[] = [];
      for (let i = 2; i <= 500; i++) recipients.push(`c${i}`);
      const f = frame('broadcast', { alsoSentTo: recipients });
      const fid = s.append(f);
      const m = message(f.payload, [fid], { alsoSentTo: recipients });
      const mid = s.append(m);
      await turn();
      const got = s.get(fid) as FrameEvent;
      assert.equal(got.messageId, mid);
      assert.equal(got.alsoSentTo?.length, 499);
      assert.equal((s.get(mid) as MessageEvent).alsoSentTo?.[498], 'c500');
      assert.equal(s.query({ connectionId: 'c377' }).events.length, 2, 'a recipient finds the frame and its message');
    } finally {
      s.dispose();
    }
  });

  test('broadcasts to the same clients share one frozen recipient list; a changed client set gets its own', async () => {
    const s = new EventStore();
    try {
      const send = (recipients: string[]) => {
        const alsoSentTo = recipients.slice();
        const f = frame('tick', { alsoSentTo });
        const fid = s.append(f);
        s.append(message(f.payload, [fid], { alsoSentTo }));
        return fid;
      };
      const clients = Array.from({ length: 1000 }, (_, i) => `c${i + 2}`);
      const a = send(clients);
      const b = send(clients);
      const c = send(clients.slice(1));
      await turn();
      const list = (id: number) => (s.get(id) as FrameEvent).alsoSentTo!;
      assert.equal(list(a), list(b), 'one list for both broadcasts');
      assert.equal(list(a), (s.get(a + 1) as MessageEvent).alsoSentTo, 'and for each frame’s message');
      assert.ok(Object.isFrozen(list(a)));
      assert.deepEqual(list(a), clients);
      assert.deepEqual(list(c), clients.slice(1));
      assert.equal(s.query({ connectionId: 'c2' }).events.length, 4, 'c2 left before the third broadcast');
    } finally {
      s.dispose();
    }
  });

  test('a fragmented message completed after its first frames became compact links them', async () => {
    const s = new EventStore();
    try {
      const a = s.append(frame('he', { fin: false }));
      await turn();
      const ping = s.append(frame('', { opcode: 9 }));
      await turn();
      const last = frame('llo', { opcode: 0 });
      const b = s.append(last);
      // The last frame is still an object, the first compact: the store links both, and changes neither object.
      const mid = s.append(message(Buffer.from('hello'), [a, b]));
      assert.equal(last.messageId, undefined);
      await turn();
      assert.equal((s.get(a) as FrameEvent).messageId, mid);
      assert.equal((s.get(b) as FrameEvent).messageId, mid);
      assert.equal((s.get(ping) as FrameEvent).messageId, undefined);
      assert.deepEqual((s.get(mid) as MessageEvent).frameIds, [a, b]);
    } finally {
      s.dispose();
    }
  });

  test('filters see compact events like objects: direction, opcodes, text, regex, connection group', async () => {
    const s = new EventStore();
    try {
      s.append(frame('{"type":"join","room":"a"}', { masked: true, connectionId: 'p1/program' }));
      s.append(frame('{"type":"leave"}', { connectionId: 'p1/target' }));
      s.append(frame(Buffer.from([0x03, 0xe8]), { opcode: 8, closeCode: 1000, connectionId: 'other' }));
      await turn();
      const texts = (q: Parameters<EventStore['query']>[0]) => s.query(q).events.map((e) => (e as FrameEvent).payload.toString());
      assert.deepEqual(texts({ direction: 'c2s' }), ['{"type":"join","room":"a"}']);
      assert.deepEqual(texts({ text: 'LEAVE' }), ['{"type":"leave"}']);
      assert.deepEqual(texts({ regex: '/"room":"\\w"/' }), ['{"type":"join","room":"a"}']);
      assert.equal(s.query({ connectionId: 'p1' }).events.length, 2);
      assert.equal(s.query({ opcodes: 'control' }).events[0].id, 3);
    } finally {
      s.dispose();
    }
  });

  test('byte accounting and eviction are the same for compact events, and old arena chunks are freed', async () => {
    const s = new EventStore({ maxBytes: 10 * 1024 * 1024 });
    try {
      for (let round = 0; round < 5; round++) {
        for (let i = 0; i < 100; i++) {
          const big = Buffer.alloc(100_000, 5);
          big.writeUInt32LE(round * 100 + i, 50_000); // each payload its own: none shares another's bytes
          s.append(frame(big, { opcode: 2 }));
        }
        const before = s.stats();
        await turn();
        assert.deepEqual(s.stats(), before, 'compacting changes no count');
      }
      const st = s.stats();
      assert.ok(st.bytes <= 10 * 1024 * 1024);
      assert.equal(st.appended, 500);
      assert.equal(st.evictedEvents, 500 - st.count);
      assert.equal(st.evictedBytes, st.evictedEvents * (100_000 + 10), '10-byte header (64-bit length form) + payload');
      // What is held (~10 MB) plus at most the chunk being filled, the one before it and two freed ones kept for reuse.
      assert.ok(s.compactArenaBytes <= 10 * 1024 * 1024 + 4 * 4 * 1024 * 1024, `arena ${s.compactArenaBytes}`);
      assert.deepEqual([...(s.get(st.lastId) as FrameEvent).payload.subarray(99_998)], [5, 5]);
    } finally {
      s.dispose();
    }
  });

  test('messages sharing their frame’s bytes stay readable while the chunks around them are freed', async () => {
    // 1 MiB payloads: three frames fit in a 4 MiB chunk, the fourth starts the next one; each message shares its
    // frame's bytes. A small event cap evicts as it goes, freeing chunks under records that are still read.
    const s = new EventStore({ maxEvents: 5 });
    try {
      for (let i = 0; i < 20; i++) {
        const f = frame(Buffer.alloc(1024 * 1024, i), { opcode: 2 });
        const fid = s.append(f);
        s.append(message(f.payload, [fid], { opcode: 2, utf8Valid: undefined }));
        await turn();
        for (const e of s.query({ limit: 10 }).events) {
          const bytes = e.kind === 'frame' ? e.payload : (e as MessageEvent).data;
          const round = Math.floor((e.id - 1) / 2);
          assert.equal(bytes.length, 1024 * 1024);
          assert.ok(bytes[0] === round && bytes[bytes.length - 1] === round, `event ${e.id} holds round ${round}'s bytes`);
        }
      }
      assert.ok(s.compactArenaBytes <= 3 * 4 * 1024 * 1024, `arena ${s.compactArenaBytes}`);
    } finally {
      s.dispose();
    }
  });

  test('a relayed payload (the same bytes in a second record) is kept once; every record reads back its own bytes', async () => {
    const s = new EventStore({ maxEvents: 1_000 });
    try {
      const MiB = 1024 * 1024;
      const relay = (fill: number, size = MiB) => {
        // What a broadcast records: the client's masked frame and message, then the frame and message sent on.
        const received = frame(Buffer.alloc(size, fill), { opcode: 2, masked: true });
        const rid = s.append(received);
        s.append(message(received.payload, [rid], { opcode: 2, direction: 'c2s', utf8Valid: undefined }));
        const sent = frame(Buffer.alloc(size, fill), { opcode: 2 }); // equal bytes, another Buffer
        const sid = s.append(sent);
        s.append(message(sent.payload, [sid], { opcode: 2, utf8Valid: undefined }));
      };
      for (let i = 1; i <= 3; i++) relay(i);
      await turn();
      assert.equal(s.compactArenaBytes, 4 * MiB, 'three 1 MiB relays in one chunk: each payload kept once');
      for (let id = 1; id <= 12; id++) {
        const e = s.get(id)!;
        const bytes = e.kind === 'frame' ? (e as FrameEvent).payload : (e as MessageEvent).data;
        const fill = Math.ceil(id / 4);
        assert.ok(bytes.length === MiB && bytes[0] === fill && bytes[MiB - 1] === fill, `event ${id}`);
      }
      assert.equal((s.get(11) as FrameEvent).header.toString('hex'), encodeFrame({ opcode: 2, payload: Buffer.alloc(MiB) }).subarray(0, 10).toString('hex'));
    } finally {
      s.dispose();
    }
  });

  test('equal bytes are shared only within the newest chunk, and a sampled-hash match with other bytes is copied', async () => {
    const MiB = 1024 * 1024;
    const s = new EventStore({ maxEvents: 2 });
    try {
      const x = Buffer.alloc(3 * MiB, 7);
      s.append(frame(x, { opcode: 2 })); // chunk 1
      s.append(frame(Buffer.alloc(2 * MiB, 8), { opcode: 2 })); // does not fit: chunk 2
      await turn();
      const third = s.append(frame(Buffer.from(x), { opcode: 2 })); // equal to an older chunk's bytes: copied
      await turn();
      s.append(frame(Buffer.alloc(10, 9), { opcode: 2 })); // evicts the first two, whose chunks go
      await turn();
      const got = (s.get(third) as FrameEvent).payload;
      assert.ok(got.length === 3 * MiB && got[0] === 7 && got[3 * MiB - 1] === 7);

      // Same length and the same bytes where the hash samples them, different in between.
      const a = Buffer.alloc(1000, 1);
      const b = Buffer.alloc(1000, 1);
      b[100] = 2;
      const ia = s.append(frame(a, { opcode: 2 }));
      const ib = s.append(frame(b, { opcode: 2 }));
      await turn();
      assert.equal((s.get(ia) as FrameEvent).payload[100], 1);
      assert.equal((s.get(ib) as FrameEvent).payload[100], 2);
    } finally {
      s.dispose();
    }
  });

  test('a masked frame laid out as the decoder copies it (payload, then header) reads back the same', async () => {
    const s = new EventStore();
    try {
      const payload = Buffer.from('masked payload, copied by the decoder'.repeat(4));
      const wire = encodeFrame({ opcode: 1, payload, maskKey: Buffer.from([9, 8, 7, 6]) });
      const hl = wire.length - payload.length;
      const own = Buffer.alloc(payload.length + hl);
      payload.copy(own, 0);
      wire.copy(own, payload.length, 0, hl);
      const f = frame(payload, { masked: true });
      f.payload = own.subarray(0, payload.length);
      f.header = own.subarray(payload.length);
      f.maskKey = f.header.subarray(hl - 4);
      const before = snapshot(f);
      const id = s.append(f);
      await turn();
      own.fill(0); // compact now: the store must have copied what it keeps
      const got = s.get(id) as FrameEvent;
      assert.deepEqual(got.header, before.header);
      assert.deepEqual(got.payload, before.payload);
      assert.deepEqual(got.maskKey, Buffer.from([9, 8, 7, 6]));
    } finally {
      s.dispose();
    }
  });

  test('freed chunks are reused, and an event read before keeps its bytes', async () => {
    const MiB = 1024 * 1024;
    // 1 MiB payloads and room for 6 events: chunks fill and free as the store evicts, so freed ones come back.
    const s = new EventStore({ maxEvents: 6 });
    try {
      const kept: FrameEvent[] = [];
      for (let i = 0; i < 40; i++) {
        const id = s.append(frame(Buffer.alloc(MiB, i), { opcode: 2 }));
        await turn();
        kept.push(s.get(id) as FrameEvent);
      }
      for (let i = 0; i < kept.length; i++) {
        const p = kept[i].payload;
        assert.ok(p[0] === i && p[MiB - 1] === i, `event ${i + 1} read right after it was stored still holds its bytes`);
      }
      // 6 MiB held: at most the chunks under them, the one being filled and two spare, never one per 4 MiB stored.
      assert.ok(s.compactArenaBytes <= 5 * 4 * MiB, `arena ${s.compactArenaBytes}`);
    } finally {
      s.dispose();
    }
  });

  test('an event read back is a copy: changing it changes nothing in the store', async () => {
    const s = new EventStore();
    try {
      const id = s.append(frame('abc'));
      await turn();
      const a = s.get(id) as FrameEvent;
      a.connectionId = 'changed';
      a.messageId = 99;
      assert.equal(s.get(id)!.connectionId, 'c1');
      assert.equal((s.get(id) as FrameEvent).messageId, undefined);
    } finally {
      s.dispose();
    }
  });

  test('clear() and growth keep slots and records together', async () => {
    // A store starts with room for its cap up to 131,072 slots; past that it doubles.
    const s = new EventStore({ maxEvents: 200_000 });
    try {
      const n = 131_072 + 500;
      for (let i = 0; i < n; i++) {
        s.append(frame(`m${i}`, { connectionId: `c${i % 7}` }));
        if (i % 30_000 === 0 || i === 131_000) await turn();
      }
      await turn();
      // Growth from 131,072 to 262,144 slots happened with some events compact and some not.
      for (const id of [1, 2, 777, 131_000, 131_001, 131_072, 131_073, n]) {
        assert.equal((s.get(id) as FrameEvent).payload.toString(), `m${id - 1}`);
      }
      assert.equal(s.get(131_073)!.connectionId, `c${131_072 % 7}`);
      s.clear();
      const id = s.append(frame('after'));
      await turn();
      assert.equal(id, n + 1);
      assert.equal((s.get(id) as FrameEvent).payload.toString(), 'after');
      assert.equal(s.stats().count, 1);
    } finally {
      s.dispose();
    }
  });

  test('the ring grows with its oldest event anywhere in it (after evictions), and every event reads back', async () => {
    const s = new EventStore({ maxEvents: 300_000, maxBytes: 100_000 });
    try {
      // 1 KB frames over the byte cap move the ring's start; then events without payload fill it past 131,072 slots.
      for (let i = 0; i < 300; i++) s.append(frame(Buffer.alloc(1000, i)));
      await turn();
      const first = s.stats().firstId;
      assert.ok(first > 200, 'the byte cap evicted the oldest frames');
      for (let i = 0; i < 140_000; i++) s.append({ kind: 'connection', connectionId: `k${i % 5}`, time: i, state: 'open', role: 'server' });
      await turn();
      const st = s.stats();
      assert.equal(st.firstId, first);
      assert.equal(st.count, 300 - first + 1 + 140_000);
      for (let id = first; id <= 300; id++) assert.deepEqual((s.get(id) as FrameEvent).payload, Buffer.alloc(1000, id - 1));
      assert.equal(s.get(301)!.connectionId, 'k0');
      assert.equal(s.get(300 + 140_000)!.connectionId, `k${139_999 % 5}`);
    } finally {
      s.dispose();
    }
  });

  test('connection names are released with their last record', () => {
    const c = new CompactEventColumns(8);
    for (let i = 0; i < 8; i++) c.put(i, { ...frame('x', { connectionId: `conn${i % 2}` }), id: i + 1 });
    for (let i = 0; i < 8; i++) c.release(i, i + 1);
    for (let i = 0; i < 8; i++) c.put(i, { ...frame('y', { connectionId: `new${i}` }), id: 100 + i });
    for (let i = 0; i < 8; i++) assert.equal(c.read(i, 100 + i).connectionId, `new${i}`);
  });
});
