import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { EventStore, type AppendBatch } from '../../../src/core/capture/eventStore';
import { appendWholeFrameEvents, type FrameEvent, type NewCaptureEvent } from '../../../src/core/capture/events';
import { encodeFrame } from '../../../src/core/wire/frameEncoder';
import { conn, frame, ids, nextTime, range } from './helpers';

describe('EventStore', () => {
  test('ids start at 1, are consecutive, and get() finds them', () => {
    const s = new EventStore();
    try {
      assert.equal(s.append(conn('a')), 1);
      assert.equal(s.append(frame('x')), 2);
      assert.equal(s.get(2)?.kind, 'frame');
      assert.equal(s.get(2)?.id, 2);
      assert.equal(s.get(0), undefined);
      assert.equal(s.get(3), undefined);
      assert.equal(s.get(1.5), undefined);
      assert.deepEqual(s.stats(), { count: 2, bytes: 3, firstId: 1, lastId: 2, evictedEvents: 0, evictedBytes: 0, appended: 2 });
    } finally {
      s.dispose();
    }
  });

  test('gives a message’s frames its id, without changing the objects appended', () => {
    const s = new EventStore();
    try {
      const f = frame('hi');
      const fid = s.append(f);
      assert.equal((s.get(fid) as FrameEvent).messageId, undefined, 'no message yet');
      const mid = s.append({
        kind: 'message', connectionId: 'c1', time: nextTime(), direction: 'c2s', opcode: 1, data: Buffer.from('hi'),
        wireLength: 2, compressed: false, frameIds: [fid],
      });
      assert.equal((s.get(fid) as FrameEvent).messageId, mid);
      assert.equal((f as FrameEvent).messageId, undefined);
    } finally {
      s.dispose();
    }
  });

  test('count cap evicts the oldest, across wrap-around', () => {
    const s = new EventStore({ maxEvents: 3000 });
    try {
      for (let i = 1; i <= 10_000; i++) s.append(frame(String(i)));
      const st = s.stats();
      assert.equal(st.count, 3000);
      assert.equal(st.firstId, 7001);
      assert.equal(st.lastId, 10_000);
      assert.equal(st.evictedEvents, 7000);
      assert.equal(st.appended, 10_000);
      assert.equal(s.get(7000), undefined);
      for (const id of [7001, 8000, 9999, 10_000]) {
        assert.equal((s.get(id) as FrameEvent).payload.toString(), String(id));
      }
      // Payload bytes of 7000 evicted frames: 2-byte header + decimal length of 1..7000.
      let evicted = 0;
      for (let i = 1; i <= 7000; i++) evicted += 2 + String(i).length;
      assert.equal(st.evictedBytes, evicted);
    } finally {
      s.dispose();
    }
  });

  test('byte cap evicts oldest until it holds; an oversize event is kept alone', () => {
    const s = new EventStore({ maxBytes: 1000 });
    try {
      // Each frame: 2 header bytes + 98 payload = 100 bytes.
      for (let i = 0; i < 25; i++) s.append(frame(Buffer.alloc(98, i)));
      let st = s.stats();
      assert.equal(st.count, 10);
      assert.equal(st.bytes, 1000);
      assert.equal(st.firstId, 16);
      assert.equal(st.evictedEvents, 15);
      assert.equal(st.evictedBytes, 1500);

      const big = s.append(frame(Buffer.alloc(5000)));
      st = s.stats();
      assert.equal(st.count, 1);
      assert.equal(st.firstId, big);
      assert.equal(st.bytes, 5002);

      // The cap does not hold while the oversize event is there with another: it goes.
      const z = s.append(conn('z'));
      st = s.stats();
      assert.deepEqual([st.count, st.firstId, st.bytes, st.evictedBytes], [1, z, 0, 2500 + 5002]);
      s.append(frame('x'));
      st = s.stats();
      assert.deepEqual([st.count, st.firstId, st.bytes], [2, z, 3]);
    } finally {
      s.dispose();
    }
  });

  test('both caps: evicts until both hold', () => {
    const s = new EventStore({ maxEvents: 5, maxBytes: 250 });
    try {
      for (let i = 0; i < 5; i++) s.append(frame(Buffer.alloc(8))); // 10 bytes each
      assert.equal(s.stats().count, 5);
      s.append(frame(Buffer.alloc(198))); // 200 bytes: count cap takes one, then bytes 240 fit
      assert.deepEqual([s.stats().count, s.stats().bytes, s.stats().firstId], [5, 240, 2]);
      s.append(frame(Buffer.alloc(48))); // 50 bytes: count cap evicts id 2 -> 280 > 250, evict 3, 4, 5
      assert.deepEqual([s.stats().count, s.stats().bytes, s.stats().firstId], [2, 250, 6]);
      assert.equal(s.stats().evictedEvents, 5);
    } finally {
      s.dispose();
    }
  });

  test('ids stay monotonic across eviction and clear; clear is not eviction', () => {
    const s = new EventStore({ maxEvents: 2 });
    try {
      for (let i = 0; i < 5; i++) s.append(frame('a'));
      let cleared = 0;
      const sub = s.onDidClear(() => cleared++);
      s.clear();
      assert.equal(cleared, 1);
      const st = s.stats();
      assert.deepEqual(
        [st.count, st.bytes, st.firstId, st.lastId, st.evictedEvents, st.appended],
        [0, 0, 6, 5, 3, 5],
      );
      assert.equal(s.get(5), undefined);
      assert.equal(s.append(frame('b')), 6);
      assert.equal(s.get(6)?.id, 6);
      assert.deepEqual(ids(s.query({}).events), [6]);
      sub.dispose();
    } finally {
      s.dispose();
    }
  });

  test('pages forwards and backwards by id range', () => {
    const s = new EventStore({ maxEvents: 100 });
    try {
      for (let i = 0; i < 150; i++) s.append(frame(String(i)));
      // Held: 51..150.
      let r = s.query({ limit: 30 });
      assert.deepEqual(ids(r.events), range(51, 80));
      assert.equal(r.hasMore, true);
      r = s.query({ afterId: r.resumeId, limit: 30 });
      assert.deepEqual(ids(r.events), range(81, 110));
      r = s.query({ afterId: 140, limit: 30 });
      assert.deepEqual(ids(r.events), range(141, 150));
      assert.equal(r.hasMore, false);
      // Exactly `limit` left: no more.
      r = s.query({ afterId: 120, limit: 30 });
      assert.equal(r.events.length, 30);
      assert.equal(r.hasMore, false);

      // Backward from the live end, ascending within the page.
      r = s.query({ backward: true, limit: 20 });
      assert.deepEqual(ids(r.events), range(131, 150));
      assert.equal(r.hasMore, true);
      r = s.query({ backward: true, beforeId: r.resumeId, limit: 20 });
      assert.deepEqual(ids(r.events), range(111, 130));
      r = s.query({ backward: true, beforeId: 60, limit: 20 });
      assert.deepEqual(ids(r.events), range(51, 59));
      assert.equal(r.hasMore, false);

      // Both bounds.
      r = s.query({ afterId: 70, beforeId: 75 });
      assert.deepEqual(ids(r.events), [71, 72, 73, 74]);
      // Evicted ids and empty ranges.
      assert.deepEqual(ids(s.query({ beforeId: 51 }).events), []);
      assert.deepEqual(ids(s.query({ afterId: 150 }).events), []);
      // Limit clamps: default 500, max 10_000, min 1.
      assert.equal(s.query({ limit: 0 }).events.length, 1);
    } finally {
      s.dispose();
    }
  });

  test('limit defaults to 500 and is capped at 10_000', () => {
    const s = new EventStore({ maxEvents: 20_000 });
    try {
      for (let i = 0; i < 12_000; i++) s.append(conn('c'));
      assert.equal(s.query({}).events.length, 500);
      const r = s.query({ limit: 50_000 });
      assert.equal(r.events.length, 10_000);
      assert.equal(r.hasMore, true);
    } finally {
      s.dispose();
    }
  });

  test('a filtered query scans at most maxScan events and says where to resume', () => {
    const s = new EventStore({ maxScan: 1000, maxEvents: 5000 });
    try {
      for (let i = 1; i <= 5000; i++) s.append(frame(i === 2500 || i === 4999 ? 'needle' : 'hay'));
      let r = s.query({ text: 'needle' });
      assert.deepEqual(ids(r.events), []);
      assert.equal(r.hasMore, true);
      assert.equal(r.resumeId, 1000);
      const found: number[] = [];
      let calls = 1;
      while (r.hasMore) {
        r = s.query({ text: 'needle', afterId: r.resumeId });
        calls++;
        found.push(...ids(r.events));
      }
      assert.deepEqual(found, [2500, 4999]);
      assert.equal(calls, 5);

      // Backward scans 5000 down to 4001 and stops there.
      r = s.query({ regex: 'needle', backward: true });
      assert.deepEqual(ids(r.events), [4999]);
      assert.equal(r.resumeId, 4001);
      assert.equal(r.hasMore, true);
      r = s.query({ regex: 'needle', backward: true, beforeId: r.resumeId });
      assert.deepEqual(ids(r.events), []);
      assert.equal(r.resumeId, 3001);
    } finally {
      s.dispose();
    }
  });

  test('batches appends: several appends -> one notification within the interval', (t) => {
    // The store's timer and the clock are mocked: time moves 1 ms at a step, so each batch is stamped with its time.
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
    const advance = (ms: number) => {
      for (let i = 0; i < ms; i++) t.mock.timers.tick(1);
    };
    const s = new EventStore({ batchIntervalMs: 20, maxEvents: 4 });
    try {
      const batches: Array<AppendBatch & { at: number }> = [];
      const sub = s.onDidAppend((b) => batches.push({ ...b, at: Date.now() }));
      for (let i = 0; i < 3; i++) s.append(frame(String(i)));
      assert.equal(batches.length, 0, 'never synchronous');
      assert.equal(s.batchPending, true);
      advance(19);
      assert.equal(batches.length, 0, 'not before the window ends');
      advance(1);
      assert.equal(batches.length, 1);
      assert.deepEqual(ids(batches[0].events), [1, 2, 3]);
      assert.deepEqual(batches[0].evicted, { events: 0, bytes: 0 });
      assert.equal(batches[0].at, 20, 'one window after the first append');
      assert.equal(s.batchPending, false, 'no timer when nothing is new');
      advance(40);
      assert.equal(batches.length, 1, 'nothing new, no batch');

      // Eviction within a window: 6 appends into a 4-slot store; two of this batch are gone before delivery.
      for (let i = 0; i < 6; i++) s.append(frame('ab'));
      advance(20);
      assert.equal(batches.length, 2);
      assert.deepEqual(ids(batches[1].events), [6, 7, 8, 9]);
      assert.deepEqual(batches[1].evicted, { events: 5, bytes: 3 * 3 + 2 * 4 }, 'ids 1-3 (3 bytes), 4-5 (4 bytes)');
      assert.equal(batches[1].firstId, 6);

      // At most one batch per interval under a steady stream: an append every 2 ms for 100 ms.
      const before = batches.length;
      const start = Date.now();
      for (let i = 0; i < 50; i++) {
        s.append(conn('c'));
        advance(2);
      }
      advance(40);
      const steady = batches.slice(before);
      assert.deepEqual(steady.map((b) => b.at - start), [20, 40, 60, 80, 100], 'one batch per 20 ms window');
      const got = steady.flatMap((b) => ids(b.events));
      assert.ok(got.every((id, i) => i === 0 || id > got[i - 1]), 'each id at most once, in order');
      assert.equal(got.at(-1), s.stats().lastId);
      sub.dispose();

      s.append(conn('c'));
      assert.equal(s.batchPending, false, 'no timer when nobody listens');
    } finally {
      s.dispose();
    }
  });

  test('dispose stops the timer and silences listeners', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const s = new EventStore({ batchIntervalMs: 10 });
    let n = 0;
    s.onDidAppend(() => n++);
    s.append(conn('c'));
    assert.equal(s.batchPending, true);
    s.dispose();
    assert.equal(s.batchPending, false);
    t.mock.timers.runAll();
    assert.equal(n, 0);
    assert.equal(s.append(conn('c')), 0, 'append after dispose is ignored');
    assert.equal(s.stats().count, 0);
  });

  test('clear drops a pending batch', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const s = new EventStore({ batchIntervalMs: 10 });
    try {
      const got: number[][] = [];
      s.onDidAppend((b) => got.push(ids(b.events)));
      s.append(conn('c'));
      s.clear();
      assert.equal(s.batchPending, false);
      s.append(conn('c'));
      t.mock.timers.tick(10);
      assert.deepEqual(got, [[2]]);
    } finally {
      s.dispose();
    }
  });

  test('appendWholeFrame stores what appending the frame’s and the message’s events stores: ids, events, evictions, batches', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    // Each step on two stores with the same caps: `whole` through appendWholeFrame into the first, through its two
    // events (appendWholeFrameEvents, which appends them) into the second. Objects appended before a whole frame are
    // still objects in the store then (nothing seals them), and caps make both fall back or evict on the way.
    type Step = { whole: { opcode: 1 | 2; payload: Buffer; masked: boolean; alsoSentTo?: string[] } } | { event: () => NewCaptureEvent };
    const steps: Step[] = [];
    for (let i = 0; i < 40; i++) {
      const size = [0, 3, 10, 125, 126, 300][i % 6];
      const payload = Buffer.alloc(size, 0x61 + (i % 26));
      steps.push({ whole: { opcode: i % 3 === 0 ? 2 : 1, payload, masked: i % 2 === 0, alsoSentTo: i % 5 === 0 ? ['x', 'y'] : undefined } });
      if (i % 4 === 1) steps.push({ event: () => conn(`c${i}`) });
      if (i % 7 === 2) steps.push({ event: () => frame(`object ${i}`) });
    }
    const caps = [{}, { maxEvents: 7 }, { maxEvents: 2 }, { maxEvents: 1 }, { maxBytes: 700 }, { maxBytes: 400 }, { maxEvents: 5, maxBytes: 350 }];
    for (const cap of caps) {
      const direct = new EventStore({ ...cap, batchIntervalMs: 5 });
      const viaEvents = new EventStore({ ...cap, batchIntervalMs: 5 });
      const batches: [AppendBatch[], AppendBatch[]] = [[], []];
      direct.onDidAppend((b) => batches[0].push(b));
      viaEvents.onDidAppend((b) => batches[1].push(b));
      try {
        let time = 1_700_000_000_000.5;
        for (const step of steps) {
          if ('event' in step) {
            const e = step.event();
            direct.append({ ...e });
            viaEvents.append({ ...e });
            continue;
          }
          const w = step.whole;
          const wire = encodeFrame({ opcode: w.opcode, payload: w.payload, maskKey: w.masked ? Buffer.from([9, 8, 7, 6]) : undefined });
          const header = wire.subarray(0, wire.length - w.payload.length);
          time += 1;
          // Header then unmasked payload, at an offset in a larger buffer.
          const bytes = Buffer.concat([Buffer.from('pad'), header, w.payload]);
          const a = direct.appendWholeFrame('c1', time, w.masked ? 'c2s' : 's2c', w.opcode, bytes, 3, header.length, w.payload.length, w.alsoSentTo);
          const b = appendWholeFrameEvents(viaEvents, 'c1', time, w.masked ? 'c2s' : 's2c', w.opcode, Buffer.from(header), Buffer.from(w.payload), w.alsoSentTo);
          assert.equal(a, b, `${JSON.stringify(cap)}: the frame's id`);
          assert.deepEqual(direct.stats(), viaEvents.stats(), `${JSON.stringify(cap)}: counts, bytes and evictions after frame ${a}`);
        }
        // The objects appended before are compact in the first store already: read both stores with every event compact.
        viaEvents.seal();
        assert.deepEqual(direct.query({ limit: 10_000 }).events, viaEvents.query({ limit: 10_000 }).events, JSON.stringify(cap));
        t.mock.timers.runAll();
        assert.ok(batches[0].length > 0, 'batches were sent');
        assert.deepEqual(batches[0], batches[1], `${JSON.stringify(cap)}: batches`);
      } finally {
        direct.dispose();
        viaEvents.dispose();
      }
    }
  });

  test('rejects nonsense options', () => {
    assert.throws(() => new EventStore({ maxEvents: 0 }), TypeError);
    assert.throws(() => new EventStore({ maxBytes: NaN }), TypeError);
    assert.throws(() => new EventStore({ batchIntervalMs: -1 }), TypeError);
    new EventStore({ maxEvents: undefined }).dispose();
  });

  test('append is cheap: 1M frames into a 100k ring', () => {
    const s = new EventStore();
    try {
      const payload = Buffer.alloc(64);
      const header = Buffer.from([0x82, 64]);
      const start = performance.now();
      for (let i = 0; i < 1_000_000; i++) {
        s.append({
          kind: 'frame', connectionId: 'c', time: i, direction: 's2c', fin: true, rsv1: false, rsv2: false,
          rsv3: false, opcode: 2, masked: false, payloadLength: 64, lengthForm: 7, headerLength: 2, header, payload,
        });
      }
      const ms = performance.now() - start;
      const st = s.stats();
      assert.deepEqual([st.count, st.firstId, st.lastId, st.evictedEvents], [100_000, 900_001, 1_000_000, 900_000]);
      // Generous bound; on a 2-core box this takes ~100-200 ms. A shift()-based ring takes minutes.
      assert.ok(ms < 3000, `1M appends took ${ms.toFixed(0)} ms`);
      console.log(`# eventStore: 1M appends (100k ring) in ${ms.toFixed(0)} ms`);
    } finally {
      s.dispose();
    }
  });
});

describe('EventStore: a frame’s messageId comes from its message’s frameIds', () => {
  const message = (frameIds: number[], data = 'hello'): NewCaptureEvent => ({
    kind: 'message', connectionId: 'c1', time: nextTime(), direction: 'c2s', opcode: 1, data: Buffer.from(data),
    wireLength: data.length, compressed: false, frameIds,
  });
  /** Appends `e` and freezes it: in this strict-mode module, a change by the store afterwards throws. */
  const appendFrozen = (s: EventStore, e: NewCaptureEvent): number => {
    const id = s.append(e);
    if (e.kind === 'message') Object.freeze(e.frameIds);
    Object.freeze(e);
    return id;
  };

  test('frames still held as objects and frames already compact, read before and after the message', async () => {
    const s = new EventStore();
    try {
      const appended: NewCaptureEvent[] = [];
      const add = (e: NewCaptureEvent) => {
        appended.push(e);
        return appendFrozen(s, e);
      };
      const first = add(frame('he', { fin: false }));
      await new Promise((r) => setImmediate(r)); // compact now
      const ping = add(frame('', { opcode: 9 }));
      const middle = add(frame('l', { opcode: 0, fin: false }));
      assert.equal((s.get(middle) as FrameEvent).messageId, undefined, 'an object, before its message');
      const last = add(frame('lo', { opcode: 0 }));
      const mid = add(message([first, middle, last]));
      // No turn has passed: the objects appended in it are read straight away.
      for (const id of [first, middle, last]) assert.equal((s.get(id) as FrameEvent).messageId, mid, `frame ${id}`);
      assert.equal((s.get(ping) as FrameEvent).messageId, undefined, 'a control frame belongs to no message');
      assert.deepEqual(s.query({ kinds: ['frame'] }).events.map((e) => (e as FrameEvent).messageId), [mid, undefined, mid, mid]);
      // A one-frame message appended in the same turn as its frame.
      const single = add(frame('x'));
      const singleMid = add(message([single], 'x'));
      assert.equal((s.get(single) as FrameEvent).messageId, singleMid);
      await new Promise((r) => setImmediate(r));
      assert.equal((s.get(single) as FrameEvent).messageId, singleMid, 'and once compact');
      assert.equal((s.get(last) as FrameEvent).messageId, mid);
      for (const e of appended) if (e.kind === 'frame') assert.equal((e as FrameEvent).messageId, undefined, 'the objects appended are as they were');
    } finally {
      s.dispose();
    }
  });

  test('a batch given a frame before its message keeps what it got; the store answers the link after', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const s = new EventStore({ batchIntervalMs: 10 });
    const batches: AppendBatch[] = [];
    s.onDidAppend((b) => batches.push(b));
    try {
      const a = appendFrozen(s, frame('par', { fin: false }));
      t.mock.timers.tick(10);
      assert.equal(batches.length, 1);
      const early = batches[0].events[0] as FrameEvent;
      assert.equal(early.messageId, undefined);
      const b = appendFrozen(s, frame('tial', { opcode: 0 }));
      const mid = appendFrozen(s, message([a, b], 'partial'));
      t.mock.timers.tick(10);
      assert.deepEqual(batches[1].events.map((e) => e.id), [b, mid]);
      assert.equal((batches[1].events[0] as FrameEvent).messageId, mid);
      assert.deepEqual((batches[1].events[1] as { frameIds: number[] }).frameIds, [a, b], 'the view links the earlier frame from frameIds');
      assert.equal(early.messageId, undefined, 'what the listener got is not changed');
      assert.equal((s.get(a) as FrameEvent).messageId, mid);
    } finally {
      s.dispose();
    }
  });
});
