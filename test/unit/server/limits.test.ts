import { describe, test, afterEach, before } from 'node:test';
import assert from 'node:assert/strict';
import type * as http from 'node:http';
import * as net from 'node:net';
import { once } from 'node:events';
import { WebSocket, type ClientOptions } from 'ws';
import {
  BroadcastServer,
  type BroadcastServerOptions,
  type DisconnectEvent,
  type LimitBreachEvent,
  type RejectEvent,
} from '../../../src/core/server/broadcastServer';
import type { NewCaptureEvent } from '../../../src/core/capture/events';
import { normalizeOrigin, TokenBucket } from '../../../src/core/server/limits';
import { devCredentials } from '../tlsCredentials';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startServer(options: BroadcastServerOptions = {}) {
  const server = new BroadcastServer();
  const breaches: LimitBreachEvent[] = [];
  const rejects: RejectEvent[] = [];
  const gone: DisconnectEvent[] = [];
  server.onDidBreachLimit((e) => breaches.push(e));
  server.onDidReject((e) => rejects.push(e));
  server.onDidDisconnect((e) => gone.push(e));
  const address = await server.start({ port: 0, heartbeatIntervalMs: 0, ...options });
  cleanups.push(() => server.stop());
  return { server, address, breaches, rejects, gone };
}

async function client(url: string, options: ClientOptions = {}) {
  const ws = new WebSocket(url, options);
  const received: string[] = [];
  ws.on('message', (data: Buffer) => received.push(data.toString()));
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  await once(ws, 'open');
  return { ws, received };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

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

describe('TokenBucket and origins', () => {
  test('the bucket allows a burst, then the sustained rate', () => {
    const b = new TokenBucket(10 / 1000, 5, 0);
    let ok = 0;
    for (let i = 0; i < 10; i++) if (b.take(0)) ok++;
    assert.equal(ok, 5);
    assert.equal(b.take(50), false); // half a token
    assert.equal(b.take(100), true); // one token after 100 ms at 10/s
    assert.equal(b.take(100), false);
    assert.equal(b.take(100_000), true); // capped at burst, not 1000 tokens
    for (let i = 0; i < 4; i++) assert.equal(b.take(100_000), true);
    assert.equal(b.take(100_000), false);
  });

  test('normalizeOrigin ignores case and a trailing slash', () => {
    assert.equal(normalizeOrigin('HTTPS://App.Example:8443/'), 'https://app.example:8443');
  });
});

describe('origin allowlist', () => {
  test('another origin gets 403; an allowed one and a client without Origin connect', async () => {
    const { server, address, rejects } = await startServer({ allowedOrigins: ['https://app.example', 'http://localhost:3000/'] });
    const evil = new WebSocket(address.url, { headers: { Origin: 'https://evil.example' } });
    evil.on('error', () => {});
    cleanups.push(() => evil.terminate());
    const [, res] = (await once(evil, 'unexpected-response')) as [http.ClientRequest, http.IncomingMessage];
    let body = '';
    for await (const chunk of res) body += chunk;
    assert.equal(res.statusCode, 403);
    assert.equal(body, '403 Forbidden: origin https://evil.example is not allowed\n');
    assert.deepEqual(rejects.map((r) => [r.status, r.code]), [[403, 'ERR_ORIGIN']]);
    await client(address.url, { headers: { Origin: 'https://APP.example' } });
    await client(address.url, { origin: 'http://localhost:3000' });
    await client(address.url); // ws sends no Origin by default
    await until(() => server.clients().length === 3);
  });
});

describe('exposure', () => {
  test('0.0.0.0 without auth is refused; with auth or allowRemote it binds, and exposed says so', async () => {
    const s = new BroadcastServer();
    await assert.rejects(s.start({ host: '0.0.0.0', port: 0 }), { name: 'ServerError', code: 'ERR_EXPOSED_WITHOUT_AUTH' });
    assert.equal(s.state, 'stopped');
    for (const extra of [{ auth: { tokens: ['t0ken'] } }, { allowRemote: true }]) {
      const a = await s.start({ host: '0.0.0.0', port: 0, heartbeatIntervalMs: 0, ...extra });
      try {
        assert.equal(a.host, '0.0.0.0');
        assert.equal(s.exposed, true);
      } finally {
        await s.stop();
      }
      assert.equal(s.exposed, false);
    }
    const local = await s.start({ port: 0, heartbeatIntervalMs: 0 });
    assert.equal(local.host, '127.0.0.1');
    assert.equal(s.exposed, false);
    await s.stop();
  });
});

describe('rate limit', () => {
  test("'drop': messages over the bucket are not relayed, counted, and reported at most once a second", async () => {
    const { server, address, breaches } = await startServer({
      relay: 'broadcastOthers',
      rateLimit: { messagesPerSecond: 1, burst: 5, action: 'drop' },
    });
    const a = await client(address.url);
    const b = await client(address.url);
    await until(() => server.clients().length === 2);
    for (let i = 0; i < 20; i++) a.ws.send(`m${i}`);
    await until(() => b.received.length === 5);
    await until(() => server.clients()[0].droppedIn === 15);
    await sleep(50);
    assert.deepEqual(b.received, ['m0', 'm1', 'm2', 'm3', 'm4']);
    assert.equal(a.ws.readyState, WebSocket.OPEN);
    const [ia] = server.clients();
    assert.equal(ia.messagesIn, 5);
    assert.deepEqual(breaches.map((e) => [e.clientId, e.limit, e.action]), [[ia.id, 'rate', 'drop']]);
    assert.equal(breaches[0].detail, 'over 1 messages/s (burst 5); dropping its messages (1 so far)');
    // Still flooding a second later: reported again (at most once a second), with the running total.
    await sleep(1100);
    for (let i = 0; i < 5; i++) a.ws.send(`n${i}`);
    await until(() => breaches.length === 2);
    assert.match(breaches[1].detail, /dropping its messages \(1[67] so far\)$/);
    await sleep(30);
    assert.equal(breaches.length, 2);
  });

  test("'close': the client is closed with 1008 and the others are not", async () => {
    const { server, address, breaches, gone } = await startServer({ rateLimit: { messagesPerSecond: 1, burst: 3, action: 'close' } });
    const a = await client(address.url);
    const b = await client(address.url);
    await until(() => server.clients().length === 2);
    const closed = once(a.ws, 'close');
    for (let i = 0; i < 10; i++) a.ws.send(`m${i}`);
    const [code, reason] = await closed;
    assert.equal(code, 1008);
    assert.equal(String(reason), 'rate limit exceeded');
    await until(() => gone.length === 1);
    assert.equal(gone[0].code, 1008);
    assert.deepEqual(breaches.map((e) => [e.limit, e.action]), [['rate', 'close']]);
    assert.equal(b.ws.readyState, WebSocket.OPEN);
    server.sendToAll('still');
    await until(() => b.received.includes('still'));
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
      if (sent % 2 === 0) await sleep(1);
    }
    return sent;
  }

  test("'drop': the stalled client's messages are dropped and counted while a reading client gets every one", async () => {
    const { server, address, breaches } = await startServer({ maxBufferedBytes: 256 * 1024, slowConsumerAction: 'drop' });
    const good = await client(address.url);
    const stalled = await stalledClient(address.port);
    await until(() => server.clients().length === 2);
    const stalledId = server.clients()[1].id;
    const sent = await flood(server, () => breaches.length > 0);
    await flood(server, () => false, 20);
    await until(() => good.received.length === sent + 20, 10_000);
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
    const good = await client(address.url);
    const stalled = await stalledClient(address.port);
    await until(() => server.clients().length === 2);
    const sent = await flood(server, () => breaches.length > 0);
    assert.deepEqual(breaches.map((e) => [e.limit, e.action]), [['slowConsumer', 'close']]);
    // Reading now drains the backlog; the close frame (1013 = 0x03f5) comes last. The server ends the stream once
    // the client answers with its own close frame.
    const bytes = stalled.readAll();
    await until(() => good.received.length === sent, 10_000);
    stalled.socket.end(Buffer.from('8882' + '00000000' + '03f5', 'hex')); // masked close 1013, mask key 0
    const all = await bytes;
    const closeFrame = Buffer.concat([Buffer.from('880f03f5', 'hex'), Buffer.from('slow consumer')]);
    assert.equal(all.subarray(all.length - closeFrame.length).toString('hex'), closeFrame.toString('hex'));
    await until(() => gone.length === 1);
    assert.equal(gone[0].code, 1013);
    assert.equal(server.clients().length, 1);
  });
});

describe('timeouts', () => {
  test('handshake timeout: a TCP connection without an upgrade request is destroyed; an upgraded one is not', async () => {
    const { server, address, breaches } = await startServer({ handshakeTimeoutMs: 150 });
    const good = await client(address.url);
    const idle = net.connect(address.port, '127.0.0.1');
    idle.on('error', () => {});
    cleanups.push(() => idle.destroy());
    await once(idle, 'connect');
    idle.write('GET / HTTP/1.1\r\nHost: x\r\n'); // never finished
    const t0 = Date.now();
    await once(idle, 'close');
    const waited = Date.now() - t0;
    assert.ok(waited >= 120 && waited < 2000, `closed after ${waited} ms`);
    assert.deepEqual(breaches.map((e) => [e.limit, e.action]), [['handshakeTimeout', 'terminate']]);
    await sleep(200);
    assert.equal(good.ws.readyState, WebSocket.OPEN);
    assert.equal(server.clients().length, 1);
  });

  test('idle timeout: a quiet client is closed with 1001 "idle"; one that keeps sending stays', async () => {
    const { server, address, breaches } = await startServer({ idleTimeoutMs: 200, relay: 'none' });
    const quiet = await client(address.url);
    const chatty = await client(address.url);
    await until(() => server.clients().length === 2);
    const timer = setInterval(() => chatty.ws.send('hi'), 50);
    cleanups.push(() => clearInterval(timer));
    const [code, reason] = await once(quiet.ws, 'close');
    assert.equal(code, 1001);
    assert.equal(String(reason), 'idle');
    await sleep(300);
    assert.equal(chatty.ws.readyState, WebSocket.OPEN);
    assert.deepEqual(breaches.map((e) => [e.limit, e.action]), [['idle', 'close']]);
  });
});

describe('TLS', () => {
  let creds: { key: Buffer; cert: Buffer };
  before(async () => {
    creds = await devCredentials();
  });

  test('wss: a client with the CA connects and is relayed to; one without it fails verification', async () => {
    const { server, address } = await startServer({ tls: creds, handshakeTimeoutMs: 2000 });
    assert.match(address.url, /^wss:\/\/127\.0\.0\.1:\d+\/$/);
    const a = await client(address.url, { ca: creds.cert });
    const b = await client(address.url, { ca: creds.cert });
    await until(() => server.clients().length === 2);
    a.ws.send('over tls');
    await until(() => b.received.length === 1);
    assert.equal(b.received[0], 'over tls');

    const untrusted = new WebSocket(address.url);
    cleanups.push(() => untrusted.terminate());
    const [err] = (await once(untrusted, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    await sleep(50);
    assert.equal(server.clients().length, 2);
  });

  test('wss handshake timeout: a TCP connection that never starts TLS is destroyed and reported', async () => {
    const { address, breaches } = await startServer({ tls: creds, handshakeTimeoutMs: 150 });
    const raw = net.connect(address.port, '127.0.0.1');
    raw.on('error', () => {});
    cleanups.push(() => raw.destroy());
    await once(raw, 'connect');
    const t0 = Date.now();
    await once(raw, 'close');
    assert.ok(Date.now() - t0 >= 120, `closed after ${Date.now() - t0} ms`);
    await until(() => breaches.length === 1);
    assert.deepEqual([breaches[0].limit, breaches[0].action], ['handshakeTimeout', 'terminate']);
    assert.match(breaches[0].clientId, /^c\d+$/);
    assert.equal(breaches[0].detail, 'no complete TLS handshake within 150 ms');
  });

  test('wss with capture: the capture records the decrypted handshake and frames', async () => {
    const events: NewCaptureEvent[] = [];
    const capture = { append: (e: NewCaptureEvent) => events.push(e) };
    const { server, address } = await startServer({ tls: creds, capture });
    const a = await client(address.url, { ca: creds.cert });
    await until(() => server.clients().length === 1);
    a.ws.send('secret hello');
    await until(() => a.received.length === 1);
    const hs = events.find((e) => e.kind === 'handshake');
    assert.ok(hs && hs.kind === 'handshake');
    assert.equal(hs.status, 101);
    assert.equal(hs.request.startLine, 'GET / HTTP/1.1');
    const frames = events.filter((e) => e.kind === 'frame');
    assert.deepEqual(
      frames.map((f) => f.kind === 'frame' && [f.direction, f.opcode, f.payload.toString()]),
      [['c2s', 1, 'secret hello'], ['s2c', 1, 'secret hello']],
    );
  });
});
