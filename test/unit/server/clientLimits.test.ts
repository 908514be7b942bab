// The limits the broadcast server keeps on each client (src/core/server/clientLimits.ts): its message rate, its share
// of a turn of the event loop, its send buffer, idleness, and the heartbeat.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import type { BroadcastServer, DisconnectEvent } from '../../../src/core/server/broadcastServer';
import type { CaptureAttacher } from '../../../src/core/capture/attachCapture';
import { sleep, waitFor } from '../../support/waitFor';
import { cleanups, rawUpgrade, runCleanups, startServer, textClient } from './helpers';

afterEach(runCleanups);

/** A raw TCP client that upgrades and then never reads: the kernel buffers fill, then the server's. */
async function stalledClient(port: number): Promise<{ socket: net.Socket; readAll: () => Promise<Buffer> }> {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(
    'GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  // Read only the 101 response head, then stop reading.
  let head = Buffer.alloc(0);
  const rest: Buffer[] = [];
  await new Promise<void>((resolve) => {
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      socket.pause();
      socket.removeListener('data', onData);
      rest.push(head.subarray(end + 4));
      assert.match(head.subarray(0, end).toString(), /^HTTP\/1\.1 101 /);
      resolve();
    };
    socket.on('data', onData);
  });
  return {
    socket,
    /** Resumes reading and resolves with everything received after the head once the server ends the stream. */
    readAll: async () => {
      socket.on('data', (d: Buffer) => rest.push(d));
      socket.resume();
      await once(socket, 'end');
      return Buffer.concat(rest);
    },
  };
}

describe('rate limit', () => {
  test("'drop': messages over the bucket are not relayed, counted, and reported at most once a second", async (t) => {
    const { server, address, breaches } = await startServer({
      relay: 'broadcastOthers',
      rateLimit: { messagesPerSecond: 1, burst: 5, action: 'drop' },
    });
    const a = await textClient(address.url);
    const b = await textClient(address.url);
    await waitFor('2 clients connected', () => server.clients().length === 2);
    for (let i = 0; i < 20; i++) a.ws.send(`m${i}`);
    // What the server read past the burst is dropped; what it had not read yet waits while the client is paused (see
    // 'reading a client over its rate'), then is relayed as the bucket refills or dropped in turn.
    await waitFor('the server to read all 20', () => server.clients()[0].messagesIn + server.clients()[0].droppedIn === 20, 10_000);
    const [ia] = server.clients();
    await waitFor('b to receive all that was relayed', () => b.received.length === ia.messagesIn);
    assert.deepEqual(b.received.slice(0, 5), ['m0', 'm1', 'm2', 'm3', 'm4']);
    assert.ok(ia.droppedIn >= 1 && ia.messagesIn < 20, `relayed ${ia.messagesIn}, dropped ${ia.droppedIn}`);
    const order = b.received.map((m) => Number(m.slice(1)));
    assert.deepEqual(order, [...order].sort((x, y) => x - y));
    assert.equal(a.ws.readyState, WebSocket.OPEN);
    assert.ok(breaches.every((e) => e.clientId === ia.id && e.limit === 'rate' && e.action === 'drop'));
    assert.equal(breaches[0].detail, 'over 1 messages/s (burst 5); dropping its messages (1 so far)');
    // Still flooding a second later: reported again (at most once a second), with the running total. The server's
    // clock (Date) jumps 1.1 s instead of the test sleeping, and then stands still, so that all five are read within
    // that one second.
    const reported = breaches.length;
    const read = () => server.clients()[0].messagesIn + server.clients()[0].droppedIn;
    t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 1100 });
    for (let i = 0; i < 5; i++) a.ws.send(`n${i}`);
    await waitFor('the server to read the five', () => read() === 25);
    assert.equal(breaches.length, reported + 1, 'one report for the five');
    const total = Number(/dropping its messages \((\d+) so far\)$/.exec(breaches[reported].detail)?.[1]);
    assert.ok(total > ia.droppedIn, breaches[reported].detail);
  });

  test("'close': the client is closed with 1008 and the others are not", async () => {
    const { server, address, breaches, gone } = await startServer({ rateLimit: { messagesPerSecond: 1, burst: 3, action: 'close' } });
    const a = await textClient(address.url);
    const b = await textClient(address.url);
    await waitFor('2 clients connected', () => server.clients().length === 2);
    const closed = once(a.ws, 'close');
    for (let i = 0; i < 10; i++) a.ws.send(`m${i}`);
    const [code, reason] = await closed;
    assert.equal(code, 1008);
    assert.equal(String(reason), 'rate limit exceeded');
    await waitFor('the disconnect event', () => gone.length === 1);
    assert.equal(gone[0].code, 1008);
    assert.deepEqual(breaches.map((e) => [e.limit, e.action]), [['rate', 'close']]);
    assert.equal(b.ws.readyState, WebSocket.OPEN);
    server.sendToAll('still');
    await waitFor("'still' at b", () => b.received.includes('still'));
  });
});

describe('slow consumers', () => {
  const big = 'x'.repeat(64 * 1024);

  /**
   * Broadcasts until `done` (or `max` messages); the kernel buffers absorb a few MB first. Two messages per tick
   * keep the reading client's corked buffer under the mark.
   */
  async function flood(server: BroadcastServer, done: () => boolean, max = 4000): Promise<number> {
    let sent = 0;
    while (!done() && sent < max) {
      server.sendToAll(big);
      sent++;
      // A real pause, not a condition: it paces the flood so that the reading client's socket drains in between.
      if (sent % 2 === 0) await sleep(1);
    }
    return sent;
  }

  test("'drop': the stalled client's messages are dropped and counted while a reading client gets every one", async () => {
    const { server, address, breaches } = await startServer({ maxBufferedBytes: 256 * 1024, slowConsumerAction: 'drop' });
    const good = await textClient(address.url);
    const stalled = await stalledClient(address.port);
    await waitFor('2 clients connected', () => server.clients().length === 2);
    const stalledId = server.clients()[1].id;
    const sent = await flood(server, () => breaches.length > 0);
    await flood(server, () => false, 20);
    await waitFor('every message at the reading client', () => good.received.length === sent + 20, 10_000);
    const info = server.client(stalledId)!;
    assert.ok(info.droppedOut >= 20, `dropped ${info.droppedOut}`);
    assert.equal(info.messagesOut + info.droppedOut, sent + 20);
    assert.deepEqual(breaches.map((e) => [e.clientId, e.limit, e.action]), [[stalledId, 'slowConsumer', 'drop']]);
    assert.match(breaches[0].detail, /over maxBufferedBytes 262144/);
    assert.equal(server.clients().length, 2, 'the slow client keeps its connection');
    stalled.socket.destroy();
  });

  test("'close': the stalled client is closed with 1013 (the last frame it reads is the close frame)", async () => {
    const { server, address, breaches, gone } = await startServer({
      maxBufferedBytes: 256 * 1024,
      slowConsumerAction: 'close',
      closeTimeoutMs: 10_000,
    });
    const good = await textClient(address.url);
    const stalled = await stalledClient(address.port);
    await waitFor('2 clients connected', () => server.clients().length === 2);
    const sent = await flood(server, () => breaches.length > 0);
    assert.deepEqual(breaches.map((e) => [e.limit, e.action]), [['slowConsumer', 'close']]);
    // Reading now drains the backlog; the close frame (1013 = 0x03f5) comes last. The server ends the stream once
    // the client answers with its own close frame.
    const bytes = stalled.readAll();
    await waitFor('every message at the reading client', () => good.received.length === sent, 10_000);
    stalled.socket.end(Buffer.from('8882' + '00000000' + '03f5', 'hex')); // masked close 1013, mask key 0
    const all = await bytes;
    const closeFrame = Buffer.concat([Buffer.from('880f03f5', 'hex'), Buffer.from('slow consumer')]);
    assert.equal(all.subarray(all.length - closeFrame.length).toString('hex'), closeFrame.toString('hex'));
    await waitFor('the disconnect event', () => gone.length === 1);
    assert.equal(gone[0].code, 1013);
    assert.equal(server.clients().length, 1);
  });
});

describe('timeouts', () => {
  test('idle timeout: a quiet client is closed with 1001 "idle"; one that keeps sending stays', async (t) => {
    // The idle sweep (a setInterval) and the server's clock (Date) are mocked: the test moves time 50 ms at a step,
    // once the server has read the chatty client's message of that step.
    t.mock.timers.enable({ apis: ['setInterval', 'Date'] });
    const { server, address, breaches } = await startServer({ idleTimeoutMs: 200, relay: 'none' });
    const quiet = await textClient(address.url);
    const chatty = await textClient(address.url);
    await waitFor('2 clients connected', () => server.clients().length === 2);
    const chattyId = server.clients()[1].id;
    const quietClosed = once(quiet.ws, 'close');
    // 400 ms: twice the idle timeout.
    for (let step = 1; step <= 8; step++) {
      chatty.ws.send('hi');
      await waitFor(`the server to read message ${step}`, () => server.client(chattyId)?.messagesIn === step);
      t.mock.timers.tick(50);
    }
    const [code, reason] = await quietClosed;
    assert.equal(code, 1001);
    assert.equal(String(reason), 'idle');
    assert.equal(chatty.ws.readyState, WebSocket.OPEN);
    assert.deepEqual(server.clients().map((c) => c.id), [chattyId]);
    assert.deepEqual(breaches.map((e) => [e.limit, e.action]), [['idle', 'close']]);
  });
});

describe('dead connections', () => {
  test('heartbeat terminates a client that never pongs and keeps one that does', async () => {
    const { server, address } = await startServer({ heartbeatIntervalMs: 60 });
    const gone: DisconnectEvent[] = [];
    server.onDidDisconnect((e) => gone.push(e));
    const good = await textClient(address.url); // ws answers pings by itself
    let pings = 0;
    good.ws.on('ping', () => pings++);
    const raw = await rawUpgrade(address.port); // never answers
    await waitFor('2 clients connected', () => server.clients().length === 2);
    const rawId = server.clients()[1].id;
    await waitFor('the disconnect event', () => gone.length === 1, 3000);
    assert.equal(gone[0].client.id, rawId);
    assert.equal(gone[0].clean, false);
    assert.equal(gone[0].code, 1006);
    // It did receive pings (opcode 0x89, empty payload) before being dropped.
    assert.ok(raw.bytes().includes(Buffer.from('8900', 'hex')));
    // Two more heartbeats: the good client was pinged again after answering, so the server kept it.
    const seen = pings;
    await waitFor('two more heartbeats at the good client', () => pings >= seen + 2);
    assert.equal(good.ws.readyState, WebSocket.OPEN);
    assert.equal(server.clients().length, 1);
  });
});

describe('reading a client over its rate', () => {
  /**
   * The server's end of each client's TCP connection, by client id: the server, given this `attachCapture` with a
   * `capture` sink, hands it each socket, and it records nothing.
   */
  function serverSockets(): { sockets: Map<string, net.Socket>; attachCapture: CaptureAttacher } {
    const sockets = new Map<string, net.Socket>();
    const attachCapture: CaptureAttacher = (socket, init) => {
      sockets.set(init.connectionId, socket);
      return { dispose() {} };
    };
    return { sockets, attachCapture };
  }

  test("a flooder over its rate is not read until its bucket refills; another client's messages all arrive meanwhile", async (t) => {
    const { sockets, attachCapture } = serverSockets();
    const capture = { append: () => 0 };
    const { server, address, breaches } = await startServer({
      relay: 'broadcastOthers',
      rateLimit: { messagesPerSecond: 10, burst: 10, action: 'drop' },
      capture,
      attachCapture,
      handshakeTimeoutMs: 0,
    });
    const receiver = await textClient(address.url);
    const good = await textClient(address.url);
    const flood = await textClient(address.url);
    await waitFor('3 clients connected', () => server.clients().length === 3);
    const [, goodId, floodId] = server.clients().map((c) => c.id);
    const floodSocket = sockets.get(floodId)!;
    const read = () => server.client(floodId)!.messagesIn + server.client(floodId)!.droppedIn;
    // From here the rate-limit pause ends only when the test says so.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    try {
      // 8 MiB: more than the kernel's buffers hold, so the flooder is still writing while the server does not read.
      const payload = Buffer.alloc(1024, 0x66);
      for (let i = 0; i < 8192; i++) flood.ws.send(payload);
      await waitFor('the flooder to be paused', () => floodSocket.isPaused());
      assert.deepEqual(breaches.map((e) => [e.clientId, e.limit, e.action]), [[floodId, 'rate', 'drop']]);
      const parsed = read();
      assert.ok(parsed < 8192, `${parsed} read`);

      for (let i = 0; i < 10; i++) good.ws.send(`g${i}`);
      await waitFor("the good client's 10 messages at the receiver", () => receiver.received.filter((m) => m.startsWith('g')).length === 10);
      const bytesRead = floodSocket.bytesRead;
      for (let i = 0; i < 3; i++) {
        receiver.ws.ping();
        await once(receiver.ws, 'pong');
      }
      assert.equal(floodSocket.isPaused(), true);
      assert.equal(floodSocket.bytesRead, bytesRead, 'the server read nothing more from the flooder');
      assert.equal(read(), parsed);
      assert.ok(flood.ws.bufferedAmount > 0, 'the flooder is held back by TCP');
      assert.deepEqual(receiver.received.filter((m) => m.startsWith('g')), ['g0', 'g1', 'g2', 'g3', 'g4', 'g5', 'g6', 'g7', 'g8', 'g9']);
      const g = server.client(goodId)!;
      assert.deepEqual([g.messagesIn, g.droppedIn], [10, 0]);

      // The bucket has refilled (half a burst takes 500 ms at 10/s; the pause is at most 1 s): read again, until the
      // flooder is over its rate again.
      t.mock.timers.tick(1000);
      await waitFor('the flooder to be read again', () => read() > parsed);
      await waitFor('the flooder to be paused', () => floodSocket.isPaused());
      assert.ok(read() < 8192, `${read()} read`);
      assert.ok(breaches.every((e) => e.clientId === floodId));
    } finally {
      t.mock.timers.reset();
    }
  });

  test('a client that has read its share of a turn waits for the next one, so that another socket is read in between', async () => {
    const { sockets, attachCapture } = serverSockets();
    const { server, address, breaches } = await startServer({
      relay: 'broadcastOthers',
      rateLimit: { messagesPerSecond: 1e6, burst: 1e6, action: 'drop' },
      capture: { append: () => 0 },
      attachCapture,
    });
    const receiver = await textClient(address.url);
    const big = await textClient(address.url);
    const small = await textClient(address.url);
    await waitFor('3 clients connected', () => server.clients().length === 3);
    const bigId = server.clients()[1].id;
    const pausedAt: boolean[] = [];
    server.onDidReceive((e) => {
      if (e.clientId === bigId) pausedAt.push(sockets.get(bigId)!.isPaused());
    });
    // Both are in the kernel before the server reads: each 200 KiB message is over the share of a turn, so the small
    // message is read before the second big one can be.
    for (let i = 0; i < 4; i++) big.ws.send(`B${i}`.padEnd(200 * 1024, '.'));
    small.ws.send('s');
    await waitFor('5 messages at the receiver', () => receiver.received.length === 5);
    const order = receiver.received.map((m) => m.slice(0, 2));
    assert.deepEqual(order.filter((m) => m !== 's'), ['B0', 'B1', 'B2', 'B3']);
    assert.ok(order.indexOf('s') < order.indexOf('B1'), order.join(' '));
    assert.deepEqual(pausedAt, [true, true, true, true]);
    await waitFor('the big sender to be read again', () => !sockets.get(bigId)!.isPaused());
    assert.deepEqual(breaches, []);
  });
});
