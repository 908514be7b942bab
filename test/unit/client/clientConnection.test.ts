import { describe, test, afterEach, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as http from 'node:http';
import * as https from 'node:https';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { WebSocketServer } from 'ws';
import type { ConnectionEvent, FrameEvent } from '../../../src/core/capture/events';
import { BroadcastServer } from '../../../src/core/server/broadcastServer';
import { devCredentials } from '../tlsCredentials';
import {
  connect,
  type ClientConnection,
  type ClientConnectionOptions,
  type ClientStateChange,
} from '../../../src/core/client/clientConnection';
import { freePort } from '../../support/freePort';
import { sleep, waitFor } from '../../support/waitFor';
import { arraySink } from '../../support/arraySink';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startServer(relay: 'echo' | 'broadcast' = 'echo', port = 0) {
  const server = new BroadcastServer();
  const address = await server.start({ port, relay, heartbeatIntervalMs: 0 });
  cleanups.push(() => server.stop());
  return { server, address };
}

function open(url: string, options: ClientConnectionOptions = {}) {
  const conn = connect(url, options);
  const states: ClientStateChange[] = [];
  const received: Array<{ text: string; isBinary: boolean }> = [];
  conn.onDidChangeState((s) => states.push(s));
  conn.onDidReceive((m) => received.push({ text: m.data.toString(), isBinary: m.isBinary }));
  cleanups.push(() => conn.dispose());
  return { conn, states, received, last: () => states[states.length - 1] };
}

async function waitState(c: { states: ClientStateChange[] }, state: string, n = 1, ms = 5000) {
  await waitFor(`${n} × ${state}`, () => c.states.filter((s) => s.state === state).length >= n, ms);
  return c.states.filter((s) => s.state === state)[n - 1];
}

/** A port nobody listens on. */

/** A TCP server that answers each connection with fixed bytes (or nothing). */
/** A TCP server that answers each request with `reply` (never, when undefined); `requests` counts what it read. */
async function rawServer(reply: string | undefined, seen = { requests: 0 }) {
  const sockets = new Set<net.Socket>();
  const s = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      seen.requests++;
      if (reply !== undefined) socket.end(reply);
    });
  });
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  cleanups.push(() => {
    for (const x of sockets) x.destroy();
    return new Promise((r) => s.close(r));
  });
  return (s.address() as net.AddressInfo).port;
}


describe('ClientConnection', () => {
  test('opens, sends text and binary, receives, and closes without reconnecting', async (t) => {
    const { address } = await startServer('echo');
    const c = open(address.url, { reconnect: { enabled: true } });
    await waitState(c, 'open');
    assert.equal(c.conn.state, 'open');
    c.conn.send('hello');
    c.conn.send(Buffer.from([1, 2, 3]));
    await waitFor('2 messages at the client', () => c.received.length === 2);
    assert.deepEqual(c.received, [
      { text: 'hello', isBinary: false },
      { text: '\x01\x02\x03', isBinary: true },
    ]);
    // Timers from here on are the test's: once closed, running every pending one must start no attempt.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    c.conn.close(4000, 'done');
    await waitState(c, 'closed');
    t.mock.timers.runAll();
    assert.deepEqual(
      c.states.map((s) => s.state),
      ['connecting', 'open', 'closing', 'closed'],
    );
    assert.equal(c.last().code, 4000);
    assert.throws(() => c.conn.send('late'), { code: 'ERR_NOT_OPEN', message: /connection is closed/ });
  });

  test('headers and subprotocols reach the server', async () => {
    const { server, address } = await startServer('echo');
    const c = open(address.url, { headers: { 'User-Agent': 'inspector-test' }, subprotocols: ['v2.chat', 'v1.chat'] });
    await waitState(c, 'open');
    assert.equal(c.conn.protocol, 'v2.chat');
    const [info] = server.clients();
    assert.equal(info.userAgent, 'inspector-test');
    assert.equal(info.subprotocol, 'v2.chat');
  });

  test('a refused port gives a clear ECONNREFUSED error', async () => {
    const port = await freePort();
    const c = open(`ws://127.0.0.1:${port}/`);
    const closed = await waitState(c, 'closed');
    assert.equal(closed.error?.code, 'ECONNREFUSED');
    assert.equal(closed.error?.message, `Connection refused by 127.0.0.1:${port} — is a server listening there?`);
  });

  test('a 401 upgrade response gives status, message and the bounded body', async () => {
    const body = 'token expired\n';
    const port = await rawServer(
      `HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nWWW-Authenticate: Bearer\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    const c = open(`ws://127.0.0.1:${port}/`);
    const closed = await waitState(c, 'closed');
    assert.equal(closed.error?.code, 'ERR_UPGRADE_REJECTED');
    assert.equal(closed.error?.message, 'Server rejected the upgrade: 401 Unauthorized');
    assert.equal(closed.error?.status, 401);
    assert.equal(closed.error?.body?.toString(), body);
  });

  test('with capture on, the 401 error carries the captured handshake', async () => {
    const body = 'token expired\n';
    const port = await rawServer(
      `HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    const sink = arraySink();
    const c = open(`ws://127.0.0.1:${port}/secret`, { capture: sink });
    const closed = await waitState(c, 'closed');
    const hs = closed.error?.handshake;
    assert.ok(hs, 'handshake attached');
    assert.equal(hs.status, 401);
    assert.equal(hs.ok, false);
    assert.equal(hs.request.startLine, 'GET /secret HTTP/1.1');
    assert.equal(hs.response?.startLine, 'HTTP/1.1 401 Unauthorized');
    assert.equal(hs.body?.toString(), body);
    assert.equal(hs.connectionId, c.conn.connectionId);
  });

  test('with capture on, frames of both directions are recorded per TCP connection', async () => {
    const { address } = await startServer('echo');
    const sink = arraySink();
    const c = open(address.url, { capture: sink });
    await waitState(c, 'open');
    c.conn.send('ping?');
    await waitFor('the message at the client', () => c.received.length === 1);
    c.conn.close(1000, '');
    await waitState(c, 'closed');
    await waitFor('the closed connection in the capture', () => sink.events.some((e) => e.kind === 'connection' && e.state === 'closed'));
    const frames = sink.events.filter((e): e is FrameEvent => e.kind === 'frame');
    assert.deepEqual(
      frames.map((f) => [f.direction, f.opcode, f.masked, f.payload.toString('hex')]),
      [
        ['c2s', 1, true, Buffer.from('ping?').toString('hex')],
        ['s2c', 1, false, Buffer.from('ping?').toString('hex')],
        ['c2s', 8, true, '03e8'],
        ['s2c', 8, false, '03e8'],
      ],
    );
    assert.ok(sink.events.every((e) => e.connectionId === c.conn.connectionId));
    const openEv = sink.events.find((e) => e.kind === 'connection' && e.state === 'open') as ConnectionEvent;
    assert.equal(openEv.role, 'client');
    assert.equal(openEv.meta?.url, address.url);
  });

  test('a server that never answers the upgrade hits the handshake timeout', async () => {
    const port = await rawServer(undefined);
    const c = open(`ws://127.0.0.1:${port}/`, { handshakeTimeout: 150 });
    const closed = await waitState(c, 'closed');
    assert.equal(closed.error?.code, 'EHANDSHAKETIMEOUT');
    assert.equal(closed.error?.message, `No upgrade response from 127.0.0.1:${port} within 150 ms`);
  });

  test('close() while connecting settles in closed, with no error and no retry', async (t) => {
    const seen = { requests: 0 };
    const port = await rawServer(undefined, seen);
    const c = open(`ws://127.0.0.1:${port}/`, { reconnect: { enabled: true, initialDelayMs: 10 } });
    await waitState(c, 'connecting');
    await waitFor('the upgrade request at the server', () => seen.requests === 1);
    // Timers from here on are the test's: once closed, running every pending one must start no attempt.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    c.conn.close();
    const closed = await waitState(c, 'closed');
    assert.equal(closed.error, undefined);
    t.mock.timers.runAll();
    assert.deepEqual(c.states.map((s) => s.state), ['connecting', 'closed']);
  });

  test('a protocol violation by the server is reported with its WS_ERR code', async () => {
    // A hand-written server: valid 101, then a frame with RSV2 set.
    const sockets: net.Socket[] = [];
    const srv = net.createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      socket.once('data', (d) => {
        const key = /sec-websocket-key: (.+)\r\n/i.exec(d.toString())![1];
        const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        setTimeout(() => socket.write(Buffer.from('a1026869', 'hex')), 20);
      });
    });
    srv.listen(0, '127.0.0.1');
    await once(srv, 'listening');
    cleanups.push(() => {
      for (const x of sockets) x.destroy();
      return new Promise((r) => srv.close(r));
    });
    const { port } = srv.address() as net.AddressInfo;
    const c = open(`ws://127.0.0.1:${port}/`);
    await waitState(c, 'open');
    const closed = await waitState(c, 'closed');
    assert.equal(closed.error?.code, 'WS_ERR_UNEXPECTED_RSV_2_3');
    assert.match(closed.error!.message, new RegExp(`^Protocol error from 127\\.0\\.0\\.1:${port}: `));
  });

  test('an unknown host gives a DNS error', async () => {
    const c = open('ws://no-such-host.invalid:9/', { handshakeTimeout: 3000 });
    const closed = await waitState(c, 'closed', 1, 8000);
    assert.ok(['ENOTFOUND', 'EAI_AGAIN'].includes(closed.error!.code), closed.error!.code);
    assert.match(closed.error!.message, /^Cannot resolve host "no-such-host\.invalid"/);
  });

  test('reconnects after a server restart, with delays that grow and are capped, then resets', async (t) => {
    const first = await startServer('echo');
    const port = first.address.port;
    const c = open(first.address.url, { reconnect: { enabled: true, initialDelayMs: 40, maxDelayMs: 160, jitter: 0, stableAfterMs: 50 } });
    await waitState(c, 'open');
    await first.server.stop();
    await waitState(c, 'reconnecting', 5);
    const delays = c.states.filter((s) => s.state === 'reconnecting').map((s) => [s.attempt, s.delayMs]);
    assert.deepEqual(delays.slice(0, 5), [
      [1, 40],
      [2, 80],
      [3, 160],
      [4, 160],
      [5, 160],
    ]);
    const firstDrop = c.states.find((s) => s.state === 'reconnecting')!;
    assert.equal(firstDrop.code, 1001);
    assert.equal(firstDrop.reason, 'server stopping');
    assert.equal(c.states.filter((s) => s.state === 'reconnecting')[1].error?.code, 'ECONNREFUSED');

    const second = await startServer('echo', port);
    await waitState(c, 'open', 2, 3000);
    c.conn.send('back');
    await waitFor("the echo of 'back'", () => c.received.some((r) => r.text === 'back'));

    // The counter starts over once a connection has stayed open stableAfterMs. Real time has to pass here:
    // ClientConnection measures it with performance.now(), which mock timers do not move.
    await sleep(60);
    const before = c.states.length;
    // The retry timer from here on is the test's: after close(), running every pending timer must start no attempt.
    t.mock.timers.enable({ apis: ['setTimeout'] });
    await second.server.stop();
    await waitFor('a reconnect after the second stop', () => c.states.slice(before).some((s) => s.state === 'reconnecting'));
    const again = c.states.slice(before).find((s) => s.state === 'reconnecting')!;
    assert.deepEqual([again.attempt, again.delayMs], [1, 40]);
    c.conn.close();
    assert.equal(c.conn.state, 'closed');
    const n = c.states.length;
    t.mock.timers.runAll();
    assert.equal(c.states.length, n, 'no attempt after close()');
  });

  test('gives up after maxAttempts', async () => {
    const port = await freePort();
    const c = open(`ws://127.0.0.1:${port}/`, { reconnect: { enabled: true, initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 2, jitter: 0 } });
    const closed = await waitState(c, 'closed');
    assert.deepEqual(
      c.states.map((s) => `${s.state}${s.attempt ?? ''}`),
      ['connecting0', 'reconnecting1', 'connecting1', 'reconnecting2', 'connecting2', 'closed'],
    );
    assert.equal(closed.error?.code, 'ECONNREFUSED');
  });

  test('connects over a unix socket', async () => {
    const sock = path.join(os.tmpdir(), `wsi-${process.pid}-${Date.now()}.sock`);
    const server = http.createServer();
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => {
      ws.send(`path=${req.url}`);
      ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary }));
    });
    server.listen(sock);
    await once(server, 'listening');
    cleanups.push(async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      await new Promise((r) => server.close(r));
      fs.rmSync(sock, { force: true });
    });
    const c = open(`ws+unix://${sock}:/chat?x=1`);
    await waitState(c, 'open');
    c.conn.send('over unix');
    await waitFor('2 messages at the client', () => c.received.length === 2);
    assert.deepEqual(c.received.map((r) => r.text), ['path=/chat?x=1', 'over unix']);
    const missing = open(`ws+unix://${sock}.missing`);
    const closed = await waitState(missing, 'closed');
    assert.equal(closed.error?.code, 'ENOENT');
    assert.equal(closed.error?.message, `No unix socket at ${sock}.missing`);
  });

  test('bad URLs and options throw at once', () => {
    assert.throws(() => connect('http//nope'), SyntaxError);
    assert.throws(() => connect('ftp://x/'), /ws:\/\/, wss:\/\/ or ws\+unix:\/\//);
    assert.throws(() => connect('ws://x/', { reconnect: { jitter: 2 } }), TypeError);
    assert.throws(() => connect('ws://x/', { reconnect: { initialDelayMs: 10, maxDelayMs: 5 } }), TypeError);
  });
});

describe('ClientConnection TLS', () => {
  let key: Buffer;
  let cert: Buffer;
  let port: number;
  let server: https.Server;
  let conns: ClientConnection[];

  before(async () => {
    // A self-signed certificate valid for "localhost" only, so 127.0.0.1 is a host-name mismatch.
    ({ key, cert } = await devCredentials(['localhost']));
    server = https.createServer({ key, cert });
    const wss = new WebSocketServer({ server });
    wss.on('connection', (ws) => ws.send('secure hello'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
    conns = [];
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test('a self-signed certificate is refused with advice', async () => {
    const c = open(`wss://localhost:${port}/`);
    const closed = await waitState(c, 'closed');
    assert.equal(closed.error?.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.match(closed.error!.message, /self-signed certificate that is not trusted; pass its CA in tls\.ca/);
  });

  test('with its CA it opens; on another host name it fails', async () => {
    const ok = open(`wss://localhost:${port}/`, { tls: { ca: cert } });
    await waitState(ok, 'open');
    await waitFor('the message at the trusting client', () => ok.received.length === 1);
    assert.equal(ok.received[0].text, 'secure hello');
    const wrong = open(`wss://127.0.0.1:${port}/`, { tls: { ca: cert } });
    const closed = await waitState(wrong, 'closed');
    assert.equal(closed.error?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.match(closed.error!.message, /^TLS: the certificate is not valid for "127\.0\.0\.1"/);
    const insecure = open(`wss://127.0.0.1:${port}/`, { tls: { rejectUnauthorized: false } });
    await waitState(insecure, 'open');
    conns.push(ok.conn, insecure.conn);
  });
});
