import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EventStore } from '../../../src/core/capture/eventStore';
import type { CaptureEvent } from '../../../src/core/capture/events';
import { type PcapReadResult, readPcap } from '../../../src/core/sessions/pcapReader';
import { readSessionFile } from '../../../src/core/sessions/readSession';
import { ArraySink } from '../../support/arraySink';
import { type Packet, type PcapFile, type TcpView, pcapToPcapng, readPcapFile, relink, slicePacket, tcpOf, writePcap } from './captureFiles';
import { BIG, ofConnection, wireView } from './liveTraffic';
import { type Recorded, pcapId, recordTraffic } from './pcapTraffic';

async function open(file: string, o: Parameters<typeof readSessionFile>[2] = {}): Promise<{ r: PcapReadResult; events: CaptureEvent[] }> {
  const sink = new ArraySink();
  const r = (await readSessionFile(file, sink, o)) as PcapReadResult;
  return { r, events: sink.events };
}

/** Every WebSocket connection of the run reads back from `events` as the live capture recorded it. */
function assertSameAsLive(rec: Recorded, events: CaptureEvent[]): void {
  const pairs = [
    [rec.deflate, rec.servers.a],
    [rec.big, rec.servers.a],
    [rec.serverCloses, rec.servers.b],
    [rec.refused, rec.servers.b],
  ];
  for (const [client, server] of pairs) {
    const live = wireView(ofConnection(rec.live, client));
    const file = wireView(ofConnection(events, pcapId(client, server)));
    assert.ok(live.c2s.length > 0 || live.handshake !== undefined, `the live capture recorded ${client}`);
    assert.deepEqual(file, live, `connection ${client} -> ${server}`);
  }
}

describe('readPcap: tcpdump captures of real loopback traffic (IPv4)', () => {
  let rec: Recorded;
  before(async () => {
    rec = await recordTraffic('127.0.0.1', [
      { name: 'lo.pcap', iface: 'lo' },
      { name: 'sll.pcap', iface: 'any', linkType: 'LINUX_SLL', nano: true },
      { name: 'sll2.pcap', iface: 'any', linkType: 'LINUX_SLL2' },
    ]);
  });
  after(() => rec?.dispose());

  test('Ethernet on lo: every connection on both ports gives the live capture\'s frames, messages, handshake and close', async () => {
    const { r, events } = await open(rec.files['lo.pcap']);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.format, 'pcap');
    assert.deepEqual(r.linkTypes, [1]);
    assertSameAsLive(rec, events);
    const kinds = Object.fromEntries(r.streams.map((s) => [s.client ?? s.endpoints[0], s.kind]));
    assert.equal(kinds[rec.deflate], 'websocket');
    assert.equal(kinds[rec.refused], 'websocket');
    const plain = r.streams.filter((s) => s.kind === 'not-websocket');
    assert.equal(plain.length, 1);
    assert.equal(plain[0].why, 'an HTTP request without Upgrade: websocket');
    assert.equal(r.streams.filter((s) => s.gaps > 0).length, 0);
  });

  test('deflate: compressed messages with context takeover and fragmented compressed messages are inflated as live', async () => {
    const { events } = await open(rec.files['lo.pcap']);
    const mine = ofConnection(events, pcapId(rec.deflate, rec.servers.a));
    const messages = mine.filter((e) => e.kind === 'message');
    const compressed = messages.filter((m) => m.compressed);
    assert.ok(compressed.length >= 6, `compressed messages: ${compressed.length}`);
    assert.ok(compressed.every((m) => m.inflateError === undefined));
    const fragmented = compressed.filter((m) => m.frameIds.length === 3);
    assert.deepEqual(fragmented.map((m) => m.data.toString()).sort(), ['client-part-1 client-part-2 client-part-3', 'frag-one frag-two frag-three']);
    // Context takeover: the second identical message is smaller on the wire than the first.
    const hello = compressed.filter((m) => m.data.toString().startsWith('server says'));
    assert.equal(hello.length, 2);
    assert.ok(hello[1].wireLength < hello[0].wireLength, `${hello[1].wireLength} < ${hello[0].wireLength}`);
  });

  test("events take their packets' times", async () => {
    const { events } = await open(rec.files['lo.pcap']);
    const mine = events.filter((e) => e.connectionId === pcapId(rec.big, rec.servers.a));
    for (const e of mine) assert.ok(e.time >= rec.started - 50 && e.time <= rec.finished + 50, `${e.kind} at ${e.time}`);
    const frames = mine.filter((e) => e.kind === 'frame' && e.direction === 's2c');
    for (let i = 1; i < frames.length; i++) assert.ok(frames[i].time >= frames[i - 1].time);
    // The big message spans many packets: its frame has the time of the last one, after the frame before it.
    const big = mine.find((e) => e.kind === 'frame' && e.payloadLength === BIG.length)!;
    assert.ok(big.time > frames[frames.indexOf(big) - 1].time);
  });

  test('Linux cooked captures (tcpdump -i any): SLL with nanosecond timestamps, and SLL2', async () => {
    for (const [name, link] of [['sll.pcap', 113], ['sll2.pcap', 276]] as const) {
      const { r, events } = await open(rec.files[name]);
      assert.equal(r.error, undefined, `${name}: ${JSON.stringify(r.error)}`);
      assert.deepEqual(r.linkTypes, [link]);
      assertSameAsLive(rec, events);
    }
  });

  test('pcapng (written from the tcpdump capture: tcpdump 4.99 writes pcap only), BSD loopback, raw IP and a big-endian pcap', async () => {
    const f = readPcapFile(rec.files['lo.pcap']);
    const variants: Array<[string, Buffer, string, number]> = [
      ['x.pcapng', pcapToPcapng(f), 'pcapng', 1],
      ['null.pcap', writePcap(relink(f, 0)), 'pcap', 0],
      ['raw.pcap', writePcap(relink(f, 101)), 'pcap', 101],
      ['be.pcap', writePcap({ ...f, littleEndian: false }), 'pcap', 1],
    ];
    for (const [name, bytes, format, link] of variants) {
      const file = join(rec.dir, name);
      writeFileSync(file, bytes);
      const { r, events } = await open(file);
      assert.equal(r.error, undefined, `${name}: ${JSON.stringify(r.error)}`);
      assert.equal(r.format, format);
      assert.deepEqual(r.linkTypes, [link]);
      assertSameAsLive(rec, events);
    }
  });

  test('an EventStore as the sink (its fast paths) reads back the same events as a plain sink', async () => {
    const store = new EventStore({ maxEvents: 100_000 });
    const r = await readSessionFile(rec.files['lo.pcap'], store);
    assert.equal(r.error, undefined);
    const { events } = await open(rec.files['lo.pcap']);
    const stored = store.query({ limit: 100_000 }).events;
    assert.equal(stored.length, events.length);
    assertSameAsLive(rec, stored);
    store.dispose();
  });

  test('the file read in chunks of 1 to 17 bytes gives the same events', async () => {
    const bytes = readFileSync(rec.files['lo.pcap']);
    async function* small() {
      for (let i = 0, n = 1; i < bytes.length; i += n, n = (n % 17) + 1) yield bytes.subarray(i, i + n);
    }
    const sink = new ArraySink();
    const r = await readPcap(small(), sink);
    assert.equal(r.error, undefined);
    assertSameAsLive(rec, sink.events);
  });

  /** The packets of the connection from `client`, and those carrying data from its server, with their TCP fields. */
  function streamOf(f: PcapFile, client: string): { all: TcpView[]; fromServer: TcpView[] } {
    const port = portOf(client);
    const all = f.packets.map((p, i) => tcpOf(p, i)).filter((t): t is TcpView => t !== undefined && (t.srcPort === port || t.dstPort === port));
    return { all, fromServer: all.filter((t) => t.dstPort === port && t.payloadLength > 0) };
  }

  async function openPackets(name: string, f: PcapFile, packets: Packet[], o = {}): Promise<{ r: PcapReadResult; events: CaptureEvent[] }> {
    const file = join(rec.dir, name);
    writeFileSync(file, writePcap({ ...f, packets }));
    return open(file, o);
  }

  test('segments reordered, repeated and overlapping in the capture give the same frames', async () => {
    const f = readPcapFile(rec.files['lo.pcap']);
    const { fromServer } = streamOf(f, rec.big);
    // Two data segments of the big message back to back (no packet between them), and three after them.
    const k = fromServer.findIndex((t, i) => i + 4 < fromServer.length && fromServer[i + 1].index === t.index + 1 && t.payloadLength > 1000);
    assert.ok(k >= 0, 'two back-to-back data segments');
    const [d0, d1, d2, d3] = fromServer.slice(k, k + 4);
    const packets: Packet[] = [];
    f.packets.forEach((p, i) => {
      if (i === d0.index) packets.push(f.packets[d1.index], p);
      else if (i === d1.index) return;
      else if (i === d3.index) {
        // Overlapping halves, then the whole of an earlier one again.
        const n = d3.payloadLength;
        packets.push(slicePacket(p, d3, 0, Math.ceil(n * 0.6)), slicePacket(p, d3, Math.floor(n * 0.4), n), f.packets[d2.index]);
      } else packets.push(p);
    });
    const { r, events } = await openPackets('shuffled.pcap', f, packets);
    assert.equal(r.error, undefined);
    assertSameAsLive(rec, events);
    const s = r.streams.find((x) => x.client === rec.big)!;
    assert.equal(s.gaps, 0);
    assert.ok(s.duplicateBytes >= d2.payloadLength + Math.floor(d3.payloadLength * 0.2), `duplicate bytes ${s.duplicateBytes}`);
  });

  test('a segment missing from the capture is a gap: WS_ERR_CAPTURE_GAP in that direction, nothing made up after it', async () => {
    const f = readPcapFile(rec.files['lo.pcap']);
    const { fromServer } = streamOf(f, rec.big);
    const bigs = fromServer.filter((t) => t.payloadLength > 1000);
    const dropped = bigs[Math.floor(bigs.length / 2)];
    const { r, events } = await openPackets('dropped.pcap', f, f.packets.filter((_, i) => i !== dropped.index));
    assert.equal(r.error, undefined);
    const live = wireView(ofConnection(rec.live, rec.big));
    const file = wireView(ofConnection(events, pcapId(rec.big, rec.servers.a)));
    assert.deepEqual(file.c2s, live.c2s, 'the other direction is whole');
    const bigAt = live.s2c.findIndex((x) => x.includes(`len=${BIG.length} `));
    assert.ok(bigAt > 0);
    assert.deepEqual(file.s2c, [...live.s2c.slice(0, bigAt), 'error WS_ERR_CAPTURE_GAP 1006', 'error WS_ERR_INCOMPLETE_MESSAGE 1006']);
    const gap = events.find((e) => e.kind === 'error' && e.code === 'WS_ERR_CAPTURE_GAP')!;
    assert.match(gap.kind === 'error' ? gap.message : '', new RegExp(`^${dropped.payloadLength} bytes of s2c `));
    assert.equal(r.streams.find((x) => x.client === rec.big)!.gapBytes, dropped.payloadLength);
    // The other connections are untouched.
    const other = wireView(ofConnection(events, pcapId(rec.deflate, rec.servers.a)));
    assert.deepEqual(other, wireView(ofConnection(rec.live, rec.deflate)));
  });

  test('a capture cut in the middle of a frame: SESSION_ERR_TRUNCATED, the frames before it as live, the cut message marked', async () => {
    const bytes = readFileSync(rec.files['lo.pcap']);
    const at = bytes.indexOf(BIG.subarray(150_000, 150_064));
    assert.ok(at > 0, "the big message's bytes are in the file");
    const file = join(rec.dir, 'cut.pcap');
    writeFileSync(file, bytes.subarray(0, at + 16));
    const { r, events } = await open(file);
    assert.equal(r.error?.code, 'SESSION_ERR_TRUNCATED', JSON.stringify(r.error));
    const live = wireView(ofConnection(rec.live, rec.big));
    const got = wireView(ofConnection(events, pcapId(rec.big, rec.servers.a)));
    const bigAt = live.s2c.findIndex((x) => x.includes(`len=${BIG.length} `));
    assert.deepEqual(got.s2c, [...live.s2c.slice(0, bigAt), 'error WS_ERR_INCOMPLETE_MESSAGE 1006']);
    assert.deepEqual(got.c2s, live.c2s.slice(0, got.c2s.length));
    assert.ok(got.c2s.some((x) => x.includes(Buffer.from('big').toString('hex'))), "the client's request for it was read");
    assert.deepEqual(got.other, ['open', 'error WS_ERR_CAPTURE_ENDED 1006']);
    assert.equal(r.streams.find((x) => x.client === rec.big)!.open, true);
    // Every connection's frames are the live ones, up to where the file stops.
    for (const id of [rec.deflate, rec.serverCloses]) {
      const server = id === rec.deflate ? rec.servers.a : rec.servers.b;
      const a = wireView(ofConnection(events, pcapId(id, server)));
      const b = wireView(ofConnection(rec.live, id));
      for (const d of ['c2s', 's2c'] as const) {
        const frames = a[d].filter((x) => !x.startsWith('error'));
        assert.deepEqual(frames, b[d].slice(0, frames.length));
      }
    }
  });

  test('a capture that starts after the handshake: listed, and decoded as frames when the stream is named', async () => {
    const f = readPcapFile(rec.files['lo.pcap']);
    const drop = new Set<number>();
    for (const client of [rec.deflate, rec.serverCloses]) {
      const { all, fromServer } = streamOf(f, client);
      // Everything up to the 101 response, the SYNs included.
      for (const t of all) if (t.index <= fromServer[0].index) drop.add(t.index);
    }
    const packets = f.packets.filter((_, i) => !drop.has(i));
    const unnamed = await openPackets('late.pcap', f, packets);
    const ids = [pcapId(rec.deflate, rec.servers.a), pcapId(rec.serverCloses, rec.servers.b)];
    for (const id of ids) {
      assert.equal(ofConnection(unnamed.events, id).length, 0);
      const s = unnamed.r.streams.find((x) => x.endpoints.includes(id.split('-')[0]))!;
      assert.equal(s.kind, 'not-websocket');
      assert.equal(s.why, 'not an HTTP request');
    }
    const streamIds = unnamed.r.streams.filter((x) => x.kind === 'not-websocket' && x.why === 'not an HTTP request').map((x) => x.id);
    assert.equal(streamIds.length, 2);
    // The deflate one with its server named; the other found by its masked client frames.
    const named = await openPackets('late.pcap', f, packets, {
      decodeWithoutHandshake: streamIds.map((stream) => (stream.includes(rec.servers.a) ? { stream, server: rec.servers.a } : { stream })),
    });
    assert.equal(named.r.error, undefined);
    for (const [client, id] of [[rec.deflate, ids[0]], [rec.serverCloses, ids[1]]]) {
      const live = wireView(ofConnection(rec.live, client));
      const got = wireView(ofConnection(named.events, id));
      assert.equal(got.handshake, undefined);
      assert.deepEqual(got.c2s, live.c2s, `${client} c2s`);
      assert.deepEqual(got.s2c, live.s2c, `${client} s2c`);
      const open = named.events.find((e) => e.connectionId === id && e.kind === 'connection');
      assert.equal(open?.kind === 'connection' && open.meta?.compression, 'unknown (permessage-deflate assumed)');
    }
  });

  test('progress reaches the file size; an abort stops the reading with SESSION_ERR_ABORTED', async () => {
    const file = rec.files['lo.pcap'];
    const size = readFileSync(file).length;
    const seen: Array<[number, number | undefined]> = [];
    const r = await readSessionFile(file, new ArraySink(), { chunkBytes: 4096, onProgress: (n, total) => seen.push([n, total]) });
    assert.equal(r.error, undefined);
    assert.deepEqual(seen[seen.length - 1], [size, size]);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i][0] > seen[i - 1][0]);
    const ac = new AbortController();
    const aborted = await readSessionFile(file, new ArraySink(), { chunkBytes: 4096, signal: ac.signal, onProgress: (n) => n >= 8192 && ac.abort() });
    assert.equal(aborted.error?.code, 'SESSION_ERR_ABORTED');
    assert.equal(aborted.bytesRead, 8192);
  });

  test('no WebSocket in the capture: SESSION_ERR_NO_WEBSOCKETS, with the streams there were', async () => {
    const f = readPcapFile(rec.files['lo.pcap']);
    const plain = streamOf(f, (await open(rec.files['lo.pcap'])).r.streams.find((s) => s.kind === 'not-websocket')!.endpoints[0]);
    const { r, events } = await openPackets('plain.pcap', f, plain.all.map((t) => f.packets[t.index]));
    assert.equal(r.error?.code, 'SESSION_ERR_NO_WEBSOCKETS');
    assert.equal(events.length, 0);
    assert.equal(r.streams.length, 1);
    assert.equal(r.streams[0].why, 'an HTTP request without Upgrade: websocket');
  });
});

const portOf = (ep: string): number => Number(ep.slice(ep.lastIndexOf(':') + 1));

describe('readPcap: a tcpdump capture over IPv6 (::1)', () => {
  let rec: Recorded;
  before(async () => {
    rec = await recordTraffic('::1', [{ name: 'lo6.pcap', iface: 'lo' }]);
  });
  after(() => rec?.dispose());

  test('every connection gives the live capture\'s events', async () => {
    const { r, events } = await open(rec.files['lo6.pcap']);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.ok(rec.deflate.startsWith('[::1]:'));
    assertSameAsLive(rec, events);
  });
});

describe('readPcap: files that are no capture', () => {
  test('not a pcap, an empty file, a header alone, a link type it does not read', async () => {
    const read = async (b: Buffer) => readPcap([b], new ArraySink());
    assert.equal((await read(Buffer.from('{"kind":"frame"}\n'))).error?.code, 'SESSION_ERR_FORMAT');
    assert.equal((await read(Buffer.alloc(0))).error?.code, 'SESSION_ERR_FORMAT');
    const header = writePcap({ littleEndian: true, nanos: false, linkType: 1, snapLen: 65535, packets: [] });
    assert.equal((await read(header)).error?.code, 'SESSION_ERR_NO_WEBSOCKETS');
    assert.equal((await read(header.subarray(0, 10))).error?.code, 'SESSION_ERR_TRUNCATED');
    const usb = writePcap({ littleEndian: true, nanos: false, linkType: 189, snapLen: 65535, packets: [{ sec: 1, frac: 0, data: Buffer.alloc(40), origLen: 40 }] });
    const r = await read(usb);
    assert.equal(r.error?.code, 'SESSION_ERR_NO_WEBSOCKETS');
    assert.equal(r.warnings[0].code, 'SESSION_ERR_UNSUPPORTED');
    assert.match(r.warnings[0].message, /link type 189 is not read/);
  });
});
