import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { EventStore } from '../../../src/core/capture/eventStore';
import { BroadcastServer } from '../../../src/core/server/broadcastServer';
import type { ConnectionEvent, FrameEvent, HandshakeEvent, MessageEvent } from '../../../src/core/capture/events';
import { waitFor } from '../../support/waitFor';
import { arraySink } from '../../support/arraySink';
import { encodeClosePayload, encodeFrame } from '../../../src/core/wire/frameEncoder';
import { rawUpgrade, runCleanups, startServer, textClient } from './helpers';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});


describe('BroadcastServer capture', () => {
  test('records the handshake, both directions of relayed frames, and the clean close', async () => {
    const sink = arraySink();
    const server = new BroadcastServer();
    const address = await server.start({ port: 0, heartbeatIntervalMs: 0, capture: sink });
    cleanups.push(() => server.stop());
    const ws = new WebSocket(address.url, { headers: { 'User-Agent': 'cap-test', Origin: 'http://localhost:3000' } });
    cleanups.push(() => ws.terminate());
    await once(ws, 'open');
    const [info] = server.clients();
    ws.send('hi');
    await once(ws, 'message');
    ws.close(1000, 'bye');
    await once(ws, 'close');
    await waitFor('the closed connection in the capture', () => sink.events.some((e) => e.kind === 'connection' && e.state === 'closed'));

    const mine = sink.events.filter((e) => e.connectionId === info.id);
    assert.equal(mine.length, sink.events.length, 'one connection, one id: the client id');
    const hs = mine.find((e): e is HandshakeEvent => e.kind === 'handshake')!;
    assert.equal(hs.status, 101);
    assert.equal(hs.ok, true);
    assert.match(hs.request.startLine, /^GET \/ HTTP\/1\.1$/);
    assert.deepEqual(hs.request.headers.find(([n]) => n.toLowerCase() === 'user-agent'), ['User-Agent', 'cap-test']);
    const open = mine.find((e): e is ConnectionEvent => e.kind === 'connection' && e.state === 'open')!;
    assert.equal(open.role, 'server');
    assert.deepEqual(open.meta, { remote: `127.0.0.1:${info.remotePort}`, userAgent: 'cap-test', origin: 'http://localhost:3000' });

    const frames = mine.filter((e): e is FrameEvent => e.kind === 'frame');
    assert.deepEqual(
      frames.map((f) => [f.direction, f.opcode, f.masked, f.payload.toString('latin1')]),
      [
        ['c2s', 1, true, 'hi'],
        ['s2c', 1, false, 'hi'], // the pre-framed raw write is seen by the tap
        ['c2s', 8, true, '\x03\xe8bye'],
        ['s2c', 8, false, '\x03\xe8bye'],
      ],
    );
    assert.equal(frames[1].header.toString('hex'), '8102');
    const messages = mine.filter((e): e is MessageEvent => e.kind === 'message');
    assert.deepEqual(messages.map((m) => [m.direction, m.data.toString()]), [['c2s', 'hi'], ['s2c', 'hi']]);
    const closed = mine.find((e): e is ConnectionEvent => e.kind === 'connection' && e.state === 'closed')!;
    assert.equal(closed.clean, true);
    assert.equal(closed.code, 1000);
  });

  test('an upgrade the server refuses is captured as a failed handshake with its body', async () => {
    const sink = arraySink();
    const server = new BroadcastServer();
    const address = await server.start({ port: 0, heartbeatIntervalMs: 0, capture: sink, path: '/ws' });
    cleanups.push(() => server.stop());
    const ws = new WebSocket(`ws://127.0.0.1:${address.port}/nope`);
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    await once(ws, 'unexpected-response');
    await waitFor('the closed connection in the capture', () => sink.events.some((e) => e.kind === 'connection' && e.state === 'closed'));
    const hs = sink.events.find((e): e is HandshakeEvent => e.kind === 'handshake')!;
    assert.equal(hs.status, 404);
    assert.equal(hs.ok, false);
    assert.equal(hs.body?.toString(), '404 Not Found: no WebSocket endpoint at /nope; try /ws\n');
    assert.equal(server.clients().length, 0);
  });

  test('a 401 for a wrong token is captured as a failed handshake naming the reason, under the rejected connection id', async () => {
    const sink = arraySink();
    const server = new BroadcastServer();
    const address = await server.start({ port: 0, heartbeatIntervalMs: 0, capture: sink, auth: { tokens: ['right'] } });
    cleanups.push(() => server.stop());
    const rejects: Array<{ connectionId: string; code: string }> = [];
    server.onDidReject((e) => rejects.push(e));
    const ws = new WebSocket(address.url, { headers: { Authorization: 'Bearer wrong' } });
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    await once(ws, 'unexpected-response');
    await waitFor('the closed connection in the capture', () => sink.events.some((e) => e.kind === 'connection' && e.state === 'closed'));
    const hs = sink.events.find((e): e is HandshakeEvent => e.kind === 'handshake')!;
    assert.equal(hs.status, 401);
    assert.equal(hs.ok, false);
    assert.equal(hs.body?.toString(), '401 Unauthorized: invalid token\n');
    assert.equal(rejects.length, 1);
    assert.equal(rejects[0].code, 'ERR_AUTH_INVALID');
    assert.equal(rejects[0].connectionId, hs.connectionId);
  });

  test('capture off records nothing and relays the same', async () => {
    const server = new BroadcastServer();
    const address = await server.start({ port: 0, heartbeatIntervalMs: 0 });
    cleanups.push(() => server.stop());
    const ws = new WebSocket(address.url);
    cleanups.push(() => ws.terminate());
    await once(ws, 'open');
    ws.send('x');
    const [data] = await once(ws, 'message');
    assert.equal(String(data), 'x');
  });
});

describe('BroadcastServer capture of a broadcast', () => {
  test('one message to three clients is one frame event listing all three; each client finds it, byte for byte', async () => {
    const store = new EventStore();
    const server = new BroadcastServer();
    const address = await server.start({ port: 0, heartbeatIntervalMs: 0, capture: store });
    cleanups.push(() => server.stop());
    const clients = await Promise.all(
      [1, 2, 3].map(async () => {
        const ws = new WebSocket(address.url);
        cleanups.push(() => ws.terminate());
        const received: Buffer[] = [];
        ws.on('message', (d: Buffer) => received.push(d));
        await once(ws, 'open');
        return { ws, received };
      }),
    );
    await waitFor('3 clients connected', () => server.clients().length === 3);
    clients[0].ws.send('fan out');
    await waitFor('a message at every client', () => clients.every((c) => c.received.length === 1));
    const s2c = store.query({ kinds: ['frame'], direction: 's2c' }).events as FrameEvent[];
    assert.equal(s2c.length, 1, 'recorded once');
    const ids = server.clients().map((c) => c.id);
    assert.deepEqual([s2c[0].connectionId, ...(s2c[0].alsoSentTo ?? [])].sort(), [...ids].sort());
    for (const id of ids) {
      const mine = store.query({ connectionId: id, kinds: ['frame', 'message'], direction: 's2c' }).events;
      assert.deepEqual(mine.map((e) => e.kind), ['frame', 'message'], `client ${id} sees the frame and the message`);
      const f = mine[0] as FrameEvent;
      assert.deepEqual(Buffer.concat([f.header, f.payload]), Buffer.from('8107' + Buffer.from('fan out').toString('hex'), 'hex'));
      assert.equal((mine[1] as MessageEvent).data.toString(), 'fan out');
    }
    for (const c of clients) assert.deepEqual(c.received, [Buffer.from('fan out')]);
  });

  // The fan-out skips per-recipient bookkeeping while its targets are the last broadcast's (fanOut's targetsKey):
  // each recorded frame must still name exactly the clients that received it.
  test('repeated broadcasts name exactly their receivers: a client closing, joining, leaving, and a second server between', async () => {
    type Client = { ws: WebSocket; received: string[] };
    async function start(): Promise<{ server: BroadcastServer; store: EventStore; url: string }> {
      const store = new EventStore();
      const server = new BroadcastServer();
      const address = await server.start({ port: 0, heartbeatIntervalMs: 0, capture: store });
      cleanups.push(() => server.stop());
      return { server, store, url: address.url };
    }
    async function join(url: string): Promise<Client> {
      const ws = new WebSocket(url);
      cleanups.push(() => ws.terminate());
      const received: string[] = [];
      ws.on('message', (d: Buffer) => received.push(d.toString()));
      await once(ws, 'open');
      return { ws, received };
    }
    /** The receivers each recorded s2c frame names, by payload. */
    const recordedTo = (store: EventStore) =>
      new Map(
        (store.query({ kinds: ['frame'], direction: 's2c', opcodes: 'data' }).events as FrameEvent[]).map((f) => [
          f.payload.toString(),
          [f.connectionId, ...(f.alsoSentTo ?? [])].sort(),
        ]),
      );
    const a = await start();
    const b = await start();
    const as = [await join(a.url), await join(a.url), await join(a.url), await join(a.url)];
    const bs = [await join(b.url), await join(b.url)];
    await waitFor('4 clients on server a and 2 on b', () => a.server.clients().length === 4 && b.server.clients().length === 2);
    const aIds = a.server.clients().map((c) => c.id);
    const bIds = b.server.clients().map((c) => c.id);
    const received = (clients: Client[], text: string) => waitFor(`"${text}" at every client`, () => clients.every((c) => c.received.includes(text)));

    as[0].ws.send('a1');
    await received(as, 'a1');
    bs[0].ws.send('b1');
    await received(bs, 'b1');
    as[1].ws.send('a2');
    await received(as, 'a2');
    as[2].ws.send('a3');
    await received(as, 'a3');
    // Closing but still registered: the broadcast skips the third client, in the middle of the order.
    a.server.disconnect(aIds[2], 1000, 'bye');
    assert.equal(a.server.sendToAll('a4'), 3);
    await received([as[0], as[1], as[3]], 'a4');
    await waitFor('3 clients on server a', () => a.server.clients().length === 3);
    as[0].ws.send('a5');
    await received([as[0], as[1], as[3]], 'a5');
    const late = await join(a.url);
    await waitFor('4 clients on server a', () => a.server.clients().length === 4);
    const lateId = a.server.clients()[3].id;
    as[3].ws.send('a6');
    await received([as[0], as[1], as[3], late], 'a6');
    as[1].ws.terminate();
    await waitFor('3 clients on server a', () => a.server.clients().length === 3);
    assert.equal(b.server.sendToAll('b2'), 2);
    await received(bs, 'b2');
    as[0].ws.send('a7');
    await received([as[0], as[3], late], 'a7');

    const all = [...aIds].sort();
    const closing = [aIds[0], aIds[1], aIds[3]].sort();
    assert.deepEqual(
      Object.fromEntries(recordedTo(a.store)),
      {
        a1: all,
        a2: all,
        a3: all,
        a4: closing,
        a5: closing,
        a6: [...closing, lateId].sort(),
        a7: [aIds[0], aIds[3], lateId].sort(),
      },
    );
    assert.deepEqual(Object.fromEntries(recordedTo(b.store)), { b1: [...bIds].sort(), b2: [...bIds].sort() });
    assert.equal(as[2].received.includes('a4'), false);
  });
});

describe('BroadcastServer capture of the fan-out’s shared writes', () => {
  /** A raw client: does the upgrade itself and keeps every byte the server sent after the response head. */
  async function rawClient(port: number): Promise<{ bytes: () => Buffer; send: (frame: Buffer) => void; close: () => void }> {
    const net = await import('node:net');
    const s = net.connect(port, '127.0.0.1');
    cleanups.push(() => s.destroy());
    let all = Buffer.alloc(0);
    s.on('data', (d: Buffer) => (all = Buffer.concat([all, d])));
    await once(s, 'connect');
    s.write('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    await waitFor('the response head', () => all.includes('\r\n\r\n'));
    return {
      bytes: () => all.subarray(all.indexOf('\r\n\r\n') + 4),
      send: (frame) => s.write(frame),
      close: () => s.end(),
    };
  }

  /** A masked client frame. */
  function masked(opcode: number, payload: Buffer): Buffer {
    const key = Buffer.from([9, 8, 7, 6]);
    const n = payload.length;
    const head = n < 126 ? Buffer.from([0x80 | opcode, 0x80 | n]) : Buffer.from([0x80 | opcode, 0x80 | 126, n >> 8, n & 0xff]);
    const body = Buffer.from(payload.map((b, i) => b ^ key[i & 3]));
    return Buffer.concat([head, key, body]);
  }

  test('each client’s s2c frames, replayed from the store, are exactly the bytes it received, and counted once', async () => {
    const store = new EventStore();
    const server = new BroadcastServer();
    const address = await server.start({ port: 0, heartbeatIntervalMs: 0, capture: store });
    cleanups.push(() => server.stop());
    const clients = [await rawClient(address.port), await rawClient(address.port), await rawClient(address.port)];
    await waitFor('3 clients connected', () => server.clients().length === 3);
    const ids = server.clients().map((c) => c.id);
    // Broadcasts (pre-framed shared writes), a large one written as header + payload, a ping answered by ws itself
    // (its own write through the tap) in between, and a message to one client.
    clients[0].send(masked(1, Buffer.from('one')));
    clients[1].send(masked(9, Buffer.from('ping')));
    clients[1].send(masked(2, Buffer.alloc(60_000, 0x5a)));
    clients[2].send(masked(1, Buffer.from('three')));
    // 'one' (2 + 3 bytes), the binary (4 + 60,000) and 'three' (2 + 5) to everyone.
    await waitFor('both messages at every client', () => clients.every((c) => c.bytes().length >= 5 + 60_004 + 7));
    server.sendTo(ids[1], 'just you');
    // Plus its pong (2 + 4) and 'just you' (2 + 8).
    await waitFor('the rest at the client that read late', () => clients[1].bytes().length === 5 + 60_004 + 7 + 6 + 10);
    for (const c of clients) c.close();
    const closedConnections = () => store.query({ kinds: ['connection'] }).events.filter((e) => (e as ConnectionEvent).state === 'closed');
    await waitFor('3 closed connections in the store', () => closedConnections().length === 3);

    for (let i = 0; i < 3; i++) {
      const frames = store.query({ connectionId: ids[i], kinds: ['frame'], direction: 's2c', limit: 100 }).events as FrameEvent[];
      const replay = Buffer.concat(frames.flatMap((f) => [f.header, f.payload]));
      const got = clients[i].bytes();
      assert.equal(replay.length, got.length, `client ${ids[i]}: recorded s2c bytes = received bytes`);
      assert.ok(replay.equals(got), `client ${ids[i]}: the same bytes in the same order`);
      const closed = store.query({ connectionId: ids[i], kinds: ['connection'] }).events.find((e) => (e as ConnectionEvent).state === 'closed') as ConnectionEvent;
      const head = 'HTTP/1.1 101'.length;
      assert.ok(closed.bytesOut! >= got.length + head, 'bytesOut covers the response head and every frame');
      assert.equal(closed.bytesOut! - got.length, store.query({ connectionId: ids[i], kinds: ['handshake'] }).events.map((h) => (h as HandshakeEvent).response!.length)[0], 'and nothing twice');
    }
    const pong = store.query({ connectionId: ids[1], kinds: ['frame'], direction: 's2c' }).events.find((e) => (e as FrameEvent).opcode === 10);
    assert.equal((pong as FrameEvent).payload.toString(), 'ping', 'ws’s own pong is recorded, in order');
  });
});

describe('BroadcastServer capture of the close frames each side sent', () => {
  afterEach(runCleanups);
  const mask = Buffer.from('01020304', 'hex');
  const closeFrame = (code: number, reason: string) => encodeFrame({ opcode: 8, payload: encodeClosePayload(code, reason), maskKey: mask });
  const closedEvent = async (sink: ReturnType<typeof arraySink>) => {
    await waitFor('the closed connection in the capture', () => sink.events.some((e) => e.kind === 'connection' && e.state === 'closed'));
    return sink.events.find((e): e is ConnectionEvent => e.kind === 'connection' && e.state === 'closed')!;
  };

  // The server's close from disconnect(), and the client answering with a different code.
  test('the server closes with 4000 x, the client answers 1000 bye: both are recorded, each as its own', async () => {
    const sink = arraySink();
    const { server, address } = await startServer({ capture: sink });
    const { socket, bytes } = await rawUpgrade(address.port);
    server.disconnect(server.clients()[0].id, 4000, 'x');
    await waitFor('the server’s close frame', () => bytes().length >= 5);
    assert.equal(bytes().subarray(0, 5).toString('hex'), '88030fa078', 'the server closes with 4000 x');
    socket.end(closeFrame(1000, 'bye'));
    const closed = await closedEvent(sink);
    assert.deepEqual(closed.closeFrames, { sent: { code: 4000, reason: 'x' }, received: { code: 1000, reason: 'bye' } });
    assert.equal(closed.code, 1000, 'code stays the peer’s');
    assert.equal(closed.reason, 'bye');
    assert.equal(closed.clean, true);
  });

  test('an RSV bit makes the server close with 1002, the client answers 1000: both codes are recorded, each with its reason', async () => {
    const sink = arraySink();
    const { address } = await startServer({ capture: sink });
    const { socket, bytes } = await rawUpgrade(address.port);
    // The answer goes out as the server's close arrives: ws ends the socket after its close, and a raw socket that
    // sees the end ends too, so an answer sent any later would never be written.
    socket.on('data', () => {
      if (bytes().length >= 4 && !socket.writableEnded) socket.end(closeFrame(1000, 'bye'));
    });
    socket.write(encodeFrame({ opcode: 1, rsv2: true, payload: Buffer.from('x'), maskKey: mask }));
    await waitFor('the server’s close frame', () => bytes().length >= 4);
    assert.equal(bytes().subarray(0, 4).toString('hex'), '880203ea', 'ws closes with 1002');
    const closed = await closedEvent(sink);
    assert.deepEqual(closed.closeFrames, { sent: { code: 1002, reason: '' }, received: { code: 1000, reason: 'bye' } });
    assert.equal(closed.clean, true, 'both close frames crossed');
    assert.equal(closed.code, 1000, 'the closed event’s code is the peer’s');
    assert.equal(closed.reason, 'bye');
  });

  test('a clean close records 1000 from both sides', async () => {
    const sink = arraySink();
    const { address } = await startServer({ capture: sink });
    const { ws } = await textClient(address.url);
    ws.close(1000, 'done');
    await once(ws, 'close');
    const closed = await closedEvent(sink);
    assert.deepEqual(closed.closeFrames, { sent: { code: 1000, reason: 'done' }, received: { code: 1000, reason: 'done' } });
    assert.equal(closed.clean, true);
  });

  test('an abrupt reset records no close frame from either side', async () => {
    const sink = arraySink();
    const { address } = await startServer({ capture: sink });
    const { socket } = await rawUpgrade(address.port);
    socket.resetAndDestroy();
    const closed = await closedEvent(sink);
    assert.deepEqual(closed.closeFrames, {});
    assert.equal(closed.code, undefined);
    assert.equal(closed.clean, false);
  });

  test('a refused upgrade has no close frames to tell', async () => {
    const sink = arraySink();
    const { address } = await startServer({ capture: sink, path: '/ws' });
    const ws = new WebSocket(`ws://127.0.0.1:${address.port}/nope`);
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    const closed = await closedEvent(sink);
    assert.equal(closed.closeFrames, undefined);
  });
});

describe('BroadcastServer capture: after a protocol violation the peer’s bytes are still recorded', () => {
  afterEach(runCleanups);
  const MASK = Buffer.from('37fa213d', 'hex');
  // The peer's close 1000 after its violation: on the wire, so in the capture.
  const close = encodeFrame({ opcode: 8, payload: encodeClosePayload(1000, 'bye'), maskKey: MASK });
  const cases: { name: string; wire: Buffer; code: string }[] = [
    { name: 'an RSV bit', wire: Buffer.from('a18037fa213d', 'hex'), code: 'WS_ERR_UNEXPECTED_RSV_2_3' },
    { name: 'a reserved opcode', wire: Buffer.from('838037fa213d', 'hex'), code: 'WS_ERR_INVALID_OPCODE' },
    { name: 'a missing mask', wire: encodeFrame({ opcode: 1, payload: Buffer.from('unmasked') }), code: 'WS_ERR_EXPECTED_MASK' },
    { name: 'a fragmented control frame', wire: Buffer.from('098037fa213d', 'hex'), code: 'WS_ERR_EXPECTED_FIN' },
    {
      name: 'an oversized control frame',
      wire: encodeFrame({ opcode: 9, payload: Buffer.alloc(126, 1), maskKey: MASK }),
      code: 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH',
    },
  ];
  for (const c of cases) {
    test(`${c.name}, then a close: the close is captured, marked after the violation; ws still closes with 1002`, async () => {
      const sink = arraySink();
      const { address } = await startServer({ capture: sink });
      const raw = await rawUpgrade(address.port);
      raw.socket.write(Buffer.concat([c.wire, close]));
      await once(raw.socket, 'close');
      // What ws sent back: FIN + close, 1002, no reason.
      assert.equal(raw.bytes().toString('hex'), '880203ea');
      await waitFor('the close frame in the capture', () => sink.of('frame').some((f) => f.direction === 'c2s' && f.opcode === 8));
      assert.deepEqual(
        sink.of('error').map((e) => `${e.direction} ${e.code}`),
        [`c2s ${c.code}`],
      );
      const c2s = sink.of('frame').filter((f) => f.direction === 'c2s');
      assert.deepEqual(
        c2s.map((f) => [f.opcode, f.afterViolation, f.closeCode, f.closeReason]),
        [
          [c.wire[0] & 0x0f, true, undefined, undefined],
          [8, true, 1000, 'bye'],
        ],
      );
      assert.equal(sink.of('message').filter((m) => m.direction === 'c2s').length, 0, 'frames after a violation are not assembled');
    });
  }

  test('an over-limit length, then a close: the rest is one opaque chunk of its length; ws still closes with 1009', async () => {
    const sink = arraySink();
    const { address } = await startServer({ capture: sink, maxPayload: 1024 });
    const raw = await rawUpgrade(address.port);
    // Masked binary, 16-bit length 2048 over 1024, then 10 bytes of it, then the close.
    const wire = Buffer.concat([Buffer.from('82fe080037fa213d', 'hex'), Buffer.alloc(10, 7), close]);
    raw.socket.write(wire);
    await once(raw.socket, 'close');
    assert.equal(raw.bytes().subarray(0, 4).toString('hex'), '880203f1');
    await waitFor('the opaque chunk', () => sink.of('error').some((e) => e.code === 'WS_ERR_UNFRAMED_BYTES'));
    assert.deepEqual(
      sink.of('error').map((e) => [e.direction, e.code, e.byteCount]),
      [
        ['c2s', 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', undefined],
        ['c2s', 'WS_ERR_UNFRAMED_BYTES', wire.length],
      ],
    );
    assert.equal(sink.of('frame').filter((f) => f.direction === 'c2s').length, 0);
  });
});
