import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { WebSocket, WebSocketServer, type ClientOptions } from 'ws';
import { canWritePastTap, onClientSocket, tapSocket, writePastTap, type ByteSink } from '../../../src/core/capture/socketTap';
import { DisposableStore } from '../../../src/core/util/events';
import { ConnectionCapture } from '../../../src/core/capture/connectionCapture';
import { EventStore } from '../../../src/core/capture/eventStore';
import type { FrameEvent, HandshakeEvent, MessageEvent } from '../../../src/core/capture/events';
import { devCredentials } from '../tlsCredentials';
import { waitFor } from '../../support/waitFor';

// ws's deflate and extension parser are not in its package exports; the test reaches them by file path.
const wsLib = path.join(path.dirname(require.resolve('ws')), 'lib');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const PerMessageDeflate = require(path.join(wsLib, 'permessage-deflate.js'));
// eslint-disable-next-line @typescript-eslint/no-require-imports
const extension = require(path.join(wsLib, 'extension.js'));
// Exported by ws at runtime, absent from @types/ws.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Receiver } = require('ws');

interface Recorder {
  sink: ByteSink;
  inbound: Buffer[];
  outbound: Buffer[];
  /** Interleaved, in the order the tap saw them. */
  log: Array<['in' | 'out', Buffer]>;
  in(): Buffer;
  out(): Buffer;
}

function recorder(): Recorder {
  const r: Recorder = {
    inbound: [],
    outbound: [],
    log: [],
    sink: {
      inbound: (c) => {
        const b = Buffer.from(c); // a chunk is only valid during the call
        r.inbound.push(b);
        r.log.push(['in', b]);
      },
      outbound: (c) => {
        const b = Buffer.from(c);
        r.outbound.push(b);
        r.log.push(['out', b]);
      },
    },
    in: () => Buffer.concat(r.inbound),
    out: () => Buffer.concat(r.outbound),
  };
  return r;
}

interface TestServer {
  server: http.Server;
  wss: WebSocketServer;
  taps: Recorder[];
  /** Resolves with each server-side ws as it connects. */
  nextClient(): Promise<WebSocket>;
  url(scheme: 'ws' | 'wss' | 'ws+unix'): string;
  closed: Promise<unknown>[];
}

async function startServer(
  d: DisposableStore,
  o: { perMessageDeflate?: boolean; tls?: { key: Buffer; cert: Buffer }; socketPath?: string; verifyClient?: () => boolean;
    /** Runs synchronously as ws hands over the socket, before any frame is emitted. */
    onClient?: (ws: WebSocket) => void; } = {},
): Promise<TestServer> {
  const server = o.tls ? https.createServer({ key: o.tls.key, cert: o.tls.cert }) : http.createServer();
  const taps: Recorder[] = [];
  const closed: Promise<unknown>[] = [];
  // After Node's own connection listener: see socketTap's notes.
  server.on(o.tls ? 'secureConnection' : 'connection', (socket: net.Socket) => {
    const r = recorder();
    taps.push(r);
    d.add(tapSocket(socket, r.sink));
    closed.push(once(socket, 'close'));
  });
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: o.perMessageDeflate ? { threshold: 0 } : false,
    verifyClient: o.verifyClient,
  });
  const waiting: Array<(ws: WebSocket) => void> = [];
  const ready: WebSocket[] = [];
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {});
      o.onClient?.(ws);
      const w = waiting.shift();
      if (w) w(ws);
      else ready.push(ws);
    });
  });
  if (o.socketPath) server.listen(o.socketPath);
  else server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  d.add({
    dispose: () => {
      wss.close();
      server.closeAllConnections();
      server.close();
    },
  });
  const port = () => (server.address() as net.AddressInfo).port;
  return {
    server,
    wss,
    taps,
    closed,
    nextClient: () => new Promise((resolve) => (ready.length ? resolve(ready.shift()!) : waiting.push(resolve))),
    url: (scheme) => (scheme === 'ws+unix' ? `ws+unix:${o.socketPath}:/chat` : `${scheme}://127.0.0.1:${port()}/chat`),
  };
}

/** Splits a tapped stream into its HTTP head (CRLFCRLF included) and the frame bytes after it. */
function splitHead(b: Buffer): { head: string; frames: Buffer } {
  const i = b.indexOf('\r\n\r\n');
  assert.ok(i > 0, 'no HTTP head in the tapped bytes');
  return { head: b.subarray(0, i + 4).toString('latin1'), frames: b.subarray(i + 4) };
}

interface Decoded {
  messages: Array<{ binary: boolean; data: Buffer }>;
  pings: string[];
  pongs: string[];
  close?: { code: number; reason: string };
}

/** Decodes one direction's frame bytes with ws's own Receiver, as the peer receiving them would. */
async function decode(frames: Buffer, o: { receiverIsServer: boolean; responseHead: string }): Promise<Decoded> {
  const extensions: Record<string, unknown> = {};
  const ext = /^sec-websocket-extensions:\s*(.*)$/im.exec(o.responseHead)?.[1]?.trim();
  if (ext) {
    const client = new PerMessageDeflate({ isServer: false });
    client.accept(extension.parse(ext)['permessage-deflate']);
    const pmd = new PerMessageDeflate({ isServer: o.receiverIsServer });
    pmd.params = client.params;
    extensions['permessage-deflate'] = pmd;
  }
  const receiver = new Receiver({ isServer: o.receiverIsServer, extensions, maxPayload: 0 });
  const out: Decoded = { messages: [], pings: [], pongs: [] };
  receiver.on('message', (data: Buffer, binary: boolean) => out.messages.push({ binary, data: Buffer.from(data) }));
  receiver.on('ping', (d: Buffer) => out.pings.push(d.toString()));
  receiver.on('pong', (d: Buffer) => out.pongs.push(d.toString()));
  const done = new Promise<void>((resolve, reject) => {
    receiver.on('conclude', (code: number, reason: Buffer) => {
      out.close = { code, reason: reason.toString() };
      resolve();
    });
    receiver.on('error', reject);
  });
  receiver.write(frames);
  await done;
  return out;
}

const BIG_C2S = randomBytes(70_000);
const BIG_S2C = randomBytes(70_000);

/**
 * The scripted conversation. The client sends text, binary, a fragmented message, a ping with a payload and
 * a 70,000-byte message; the server sends text, binary, a ping and 70,000 bytes; then the client closes with
 * 4001. Returns what each side's ws received.
 */
async function converse(srv: TestServer, client: WebSocket) {
  const serverWsP = srv.nextClient();
  await once(client, 'open');
  const serverWs = await serverWsP;
  const gotByServer: Array<{ binary: boolean; data: Buffer }> = [];
  const gotByClient: Array<{ binary: boolean; data: Buffer }> = [];
  serverWs.on('message', (data: Buffer, binary) => gotByServer.push({ binary, data }));
  client.on('message', (data: Buffer, binary) => gotByClient.push({ binary, data }));
  const serverClosed = once(serverWs, 'close');
  const clientClosed = once(client, 'close');
  const pong = once(client, 'pong');
  const serverPong = once(serverWs, 'pong');

  client.send('hello');
  client.send(Buffer.from([0, 1, 2, 255]));
  client.send('frag-a', { fin: false });
  client.send('frag-b', { fin: true });
  client.ping('ping-payload');
  client.send(BIG_C2S);
  serverWs.send('welcome');
  serverWs.ping('srv-ping');
  serverWs.send(BIG_S2C);

  await pong;
  await serverPong;
  await waitFor('2 messages at the client and 4 at the server', () => gotByClient.length >= 2 && gotByServer.length >= 4);
  client.close(4001, 'bye reason');
  const [[code, reason]] = await Promise.all([serverClosed, clientClosed]);
  assert.equal(code, 4001);
  assert.equal(reason.toString(), 'bye reason');
  await Promise.all(srv.closed);
  return { gotByServer, gotByClient };
}

const EXPECT_C2S = [
  { binary: false, data: Buffer.from('hello') },
  { binary: true, data: Buffer.from([0, 1, 2, 255]) },
  { binary: false, data: Buffer.from('frag-afrag-b') },
  { binary: true, data: BIG_C2S },
];
const EXPECT_S2C = [
  { binary: false, data: Buffer.from('welcome') },
  { binary: true, data: BIG_S2C },
];

/** (a) each direction's bytes are the same at both taps; (b) they decode to what each peer sent. */
async function assertFidelity(serverTap: Recorder, clientTap: Recorder, deflate: boolean) {
  const c2s = clientTap.out();
  const s2c = serverTap.out();
  assert.ok(c2s.length > 70_000 && s2c.length > 70_000);
  assert.ok(serverTap.in().equals(c2s), `server inbound (${serverTap.in().length}) != client outbound (${c2s.length})`);
  assert.ok(clientTap.in().equals(s2c), `client inbound (${clientTap.in().length}) != server outbound (${s2c.length})`);

  const req = splitHead(c2s);
  const res = splitHead(s2c);
  assert.match(req.head, /^GET \/chat HTTP\/1\.1\r\n/);
  assert.match(res.head, /^HTTP\/1\.1 101 Switching Protocols\r\n/);
  assert.equal(/sec-websocket-extensions: permessage-deflate/i.test(res.head), deflate);

  const fromClient = await decode(req.frames, { receiverIsServer: true, responseHead: res.head });
  const fromServer = await decode(res.frames, { receiverIsServer: false, responseHead: res.head });
  assert.deepEqual(fromClient.messages, EXPECT_C2S);
  assert.deepEqual(fromClient.pings, ['ping-payload']);
  assert.deepEqual(fromClient.pongs, ['srv-ping']);
  assert.deepEqual(fromClient.close, { code: 4001, reason: 'bye reason' });
  assert.deepEqual(fromServer.messages, EXPECT_S2C);
  assert.deepEqual(fromServer.pings, ['srv-ping']);
  assert.deepEqual(fromServer.pongs, ['ping-payload']);
  assert.deepEqual(fromServer.close, { code: 4001, reason: 'bye reason' });
  // The frames really were compressed when deflate was negotiated: RSV1 on the first data frame.
  assert.equal((req.frames[0] & 0x40) !== 0, deflate);
}

function tappedClient(d: DisposableStore, url: string, opts: Record<string, unknown> = {}) {
  const r = recorder();
  const ws = new WebSocket(url, opts as ClientOptions);
  onClientSocket(ws, (s) => d.add(tapSocket(s, r.sink)));
  ws.on('error', () => {});
  return { ws, tap: r };
}

describe('tapSocket over real ws', () => {
  for (const deflate of [false, true]) {
    test(`ws:// conversation, byte-exact at both ends${deflate ? ', permessage-deflate' : ''}`, async () => {
      const d = new DisposableStore();
      try {
        const srv = await startServer(d, { perMessageDeflate: deflate });
        const { ws, tap } = tappedClient(d, srv.url('ws'), { perMessageDeflate: deflate ? { threshold: 0 } : false });
        const { gotByServer, gotByClient } = await converse(srv, ws);
        assert.deepEqual(gotByServer, EXPECT_C2S);
        assert.deepEqual(gotByClient, EXPECT_S2C);
        assert.equal(srv.taps.length, 1);
        await assertFidelity(srv.taps[0], tap, deflate);
        // The server tap saw the request before the 101 it caused.
        assert.equal(srv.taps[0].log[0][0], 'in');
        assert.equal(tap.log[0][0], 'out');
      } finally {
        d.dispose();
      }
    });
  }

  test('head: request and first frames in one write are seen once, before the 101', async () => {
    const d = new DisposableStore();
    try {
      const got: string[] = [];
      const srv = await startServer(d, { onClient: (ws) => ws.on('message', (m) => got.push(m.toString())) });
      const request =
        'GET /chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
      const mask = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
      const masked = (opcode: number, payload: string) => {
        const p = Buffer.from(payload);
        return Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | p.length]), mask, p.map((b, i) => b ^ mask[i & 3])]);
      };
      const written = Buffer.concat([Buffer.from(request), masked(1, 'hi-from-head'), masked(9, 'head-ping')]);

      const raw = net.connect((srv.server.address() as net.AddressInfo).port, '127.0.0.1');
      d.add({ dispose: () => raw.destroy() });
      const received: Buffer[] = [];
      raw.on('data', (c) => received.push(c));
      await once(raw, 'connect');
      raw.write(written);

      const expectedResponseHead =
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n';
      const pongFrame = Buffer.from([0x8a, 9, ...Buffer.from('head-ping')]);
      const expectedS2C = Buffer.concat([Buffer.from(expectedResponseHead), pongFrame]);
      await waitFor('the 101 and the pong at the raw client', () => Buffer.concat(received).length >= expectedS2C.length);

      assert.deepEqual(got, ['hi-from-head'], 'ws got the head frame once');
      const tap = srv.taps[0];
      assert.ok(tap.in().equals(written), `server tap inbound ${tap.in().length} bytes, raw client wrote ${written.length}`);
      assert.ok(Buffer.concat(received).equals(expectedS2C));
      assert.ok(tap.out().equals(expectedS2C));
      assert.equal(tap.log[0][0], 'in', 'the request is tapped before the response it caused');
      assert.ok(tap.log[0][1].length > request.length, 'the head frames arrived in the same chunk as the request');
    } finally {
      d.dispose();
    }
  });

  test('a rejected handshake (ws abortHandshake: socket.end(data)) is tapped', async () => {
    const d = new DisposableStore();
    try {
      const srv = await startServer(d, { verifyClient: () => false });
      const { ws, tap } = tappedClient(d, srv.url('ws'));
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage];
      assert.equal(res.statusCode, 401);
      res.resume();
      await Promise.all(srv.closed);
      const out = srv.taps[0].out();
      assert.match(out.toString('latin1'), /^HTTP\/1\.1 401 Unauthorized\r\n[\s\S]*\r\n\r\nUnauthorized$/);
      assert.ok(tap.in().equals(out));
      assert.ok(srv.taps[0].in().equals(tap.out()));
    } finally {
      d.dispose();
    }
  });

  test('a plain HTTP response (http server write path) is tapped', async () => {
    const d = new DisposableStore();
    try {
      const srv = await startServer(d);
      srv.server.on('request', (_req, res) => {
        res.setHeader('content-type', 'text/plain');
        res.write('chunk-1;');
        res.end('chunk-2');
      });
      const raw = net.connect((srv.server.address() as net.AddressInfo).port, '127.0.0.1');
      d.add({ dispose: () => raw.destroy() });
      const received: Buffer[] = [];
      raw.on('data', (c) => received.push(c));
      const req = 'GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n';
      raw.end(req);
      await once(raw, 'close');
      await Promise.all(srv.closed);
      const body = Buffer.concat(received);
      assert.match(body.toString(), /^HTTP\/1\.1 200 OK\r\n[\s\S]*chunk-1;[\s\S]*chunk-2/);
      assert.ok(srv.taps[0].out().equals(body));
      assert.equal(srv.taps[0].in().toString(), req);
    } finally {
      d.dispose();
    }
  });

  test('ws+unix:// conversation, byte-exact', async () => {
    const d = new DisposableStore();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsi-tap-'));
    d.add({ dispose: () => fs.rmSync(dir, { recursive: true, force: true }) });
    try {
      const srv = await startServer(d, { socketPath: path.join(dir, 's.sock') });
      const { ws, tap } = tappedClient(d, srv.url('ws+unix'));
      await converse(srv, ws);
      await assertFidelity(srv.taps[0], tap, false);
    } finally {
      d.dispose();
    }
  });

  describe('wss://', () => {
    let creds: { key: Buffer; cert: Buffer };
    before(async () => {
      creds = await devCredentials();
    });

    for (const deflate of [false, true]) {
      test(`conversation over TLS: the taps see plaintext, byte-exact${deflate ? ', permessage-deflate' : ''}`, async () => {
        const d = new DisposableStore();
        try {
          const srv = await startServer(d, { tls: creds, perMessageDeflate: deflate });
          const { ws, tap } = tappedClient(d, srv.url('wss'), {
            ca: creds.cert,
            perMessageDeflate: deflate ? { threshold: 0 } : false,
          });
          await converse(srv, ws);
          assert.equal(tap.out().subarray(0, 4).toString(), 'GET ');
          assert.equal(srv.taps[0].in().subarray(0, 4).toString(), 'GET ');
          await assertFidelity(srv.taps[0], tap, deflate);
        } finally {
          d.dispose();
        }
      });
    }
  });
});

describe('tapSocket mechanics', () => {
  async function pair(d: DisposableStore): Promise<[net.Socket, net.Socket]> {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    d.add({ dispose: () => server.close() });
    const accepted = once(server, 'connection');
    const a = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const [b] = (await accepted) as [net.Socket];
    await once(a, 'connect');
    d.add({ dispose: () => (a.destroy(), b.destroy()) });
    return [a, b];
  }

  async function readAll(s: net.Socket): Promise<Buffer> {
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    await once(s, 'end');
    return Buffer.concat(chunks);
  }

  test('write overloads, string encodings, end(data); a write after end is not recorded', async () => {
    const d = new DisposableStore();
    try {
      const [a, b] = await pair(d);
      const r = recorder();
      d.add(tapSocket(a, r.sink));
      const all = readAll(b);
      let cbs = 0;
      a.write('héllo ');
      a.write('c3a9', 'hex', () => cbs++);
      a.write(new Uint8Array([1, 2, 3]), () => cbs++);
      a.write('AAEC', 'base64');
      a.cork();
      a.write('x');
      a.write('y');
      a.uncork();
      a.end('fin', 'latin1', () => cbs++);
      a.on('error', () => {});
      a.write('late', () => {});
      const got = await all;
      const expected = Buffer.concat([
        Buffer.from('héllo '), Buffer.from([0xc3, 0xa9]), Buffer.from([1, 2, 3]), Buffer.from([0, 1, 2]),
        Buffer.from('xy'), Buffer.from('fin', 'latin1'),
      ]);
      assert.ok(got.equals(expected));
      assert.ok(r.out().equals(expected), `tapped ${r.out().toString('hex')}`);
      await new Promise((res) => setImmediate(res));
      assert.equal(cbs, 3);
    } finally {
      d.dispose();
    }
  });

  test('unshifted bytes are seen once; inbound is seen before other listeners', async () => {
    const d = new DisposableStore();
    try {
      const [a, b] = await pair(d);
      const order: string[] = [];
      b.on('data', () => order.push('owner'));
      const r = recorder();
      d.add(tapSocket(b, { inbound: (c) => (order.push('tap'), r.sink.inbound(c)), outbound: r.sink.outbound }));
      a.write('0123456789');
      await once(b, 'data');
      // The owner gives back the last 4 bytes, as ws does with the upgrade head.
      b.unshift(Buffer.from('6789'));
      a.end('abc');
      await once(b, 'end');
      assert.equal(r.in().toString(), '0123456789abc');
      assert.equal(order[0], 'tap');
    } finally {
      d.dispose();
    }
  });

  test('a throwing sink never breaks the socket', async () => {
    const d = new DisposableStore();
    try {
      const [a, b] = await pair(d);
      let calls = 0;
      const boom = () => {
        calls++;
        throw new Error('sink failure');
      };
      d.add(tapSocket(a, { inbound: boom, outbound: boom }));
      d.add(tapSocket(b, { inbound: boom, outbound: boom }));
      const got = readAll(b);
      a.write('one');
      a.end('two');
      assert.equal((await got).toString(), 'onetwo');
      assert.ok(calls >= 3);
    } finally {
      d.dispose();
    }
  });

  test('dispose restores write/end/unshift and stops recording', async () => {
    const d = new DisposableStore();
    try {
      const [a, b] = await pair(d);
      const { write, end, unshift } = a;
      const dataListeners = a.listenerCount('data');
      const r = recorder();
      const tap = tapSocket(a, r.sink);
      assert.notEqual(a.write, write);
      a.write('seen');
      b.write('in-seen');
      await once(a, 'data');
      tap.dispose();
      assert.equal(a.write, write);
      assert.equal(a.end, end);
      assert.equal(a.unshift, unshift);
      assert.equal(a.listenerCount('data'), dataListeners);
      const got = readAll(b);
      a.end('unseen');
      await got;
      assert.equal(r.out().toString(), 'seen');
      assert.equal(r.in().toString(), 'in-seen');
    } finally {
      d.dispose();
    }
  });

  test('flushedOut: what the kernel took, corked and writev batches included; dispose restores _writeGeneric and _destroy', async () => {
    const d = new DisposableStore();
    try {
      const [a, b] = await pair(d);
      const own = { writeGeneric: (a as unknown as { _writeGeneric: unknown })._writeGeneric, destroy: (a as unknown as { _destroy: unknown })._destroy };
      const r = recorder();
      const tap = tapSocket(a, r.sink);
      a.write('one');
      assert.equal(tap.flushedOut(), 3, 'a write the kernel takes at once counts at once');
      a.cork();
      a.write('two');
      a.write(Buffer.from('three'));
      assert.equal(tap.flushedOut(), 3, 'corked: not yet handed over');
      a.uncork();
      assert.equal(tap.flushedOut(), 3 + 3 + 5, 'the writev batch');
      const got = readAll(b);
      a.end('four');
      assert.equal((await got).toString(), 'onetwothreefour');
      assert.equal(tap.flushedOut(), 15);
      assert.equal(r.out().length, tap.flushedOut(), 'every byte the sink saw was sent');
      tap.dispose();
      assert.equal((a as unknown as { _writeGeneric: unknown })._writeGeneric, own.writeGeneric);
      assert.equal((a as unknown as { _destroy: unknown })._destroy, own.destroy);
    } finally {
      d.dispose();
    }
  });

  test('flushedOut: a backlog the peer never read is not counted once the socket is destroyed', async () => {
    const d = new DisposableStore();
    try {
      const [a, b] = await pair(d);
      b.pause();
      const r = recorder();
      const tap = tapSocket(a, r.sink);
      const chunk = Buffer.alloc(1024 * 1024, 1);
      // 64 MiB: more than both ends' kernel buffers hold, so that libuv is still writing when the socket goes.
      for (let i = 0; i < 64; i++) a.write(chunk);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const before = tap.flushedOut();
      assert.ok(before > 0 && before < 64 * chunk.length, `some of it was taken (${before})`);
      a.destroy();
      await once(a, 'close');
      assert.ok(tap.flushedOut() >= before && tap.flushedOut() < 64 * chunk.length, `only what the kernel took (${tap.flushedOut()})`);
      assert.equal(r.out().length, 64 * chunk.length, 'the sink saw every write');
      // The peer can read exactly what the kernel took, and no more.
      b.resume();
      let read = 0;
      b.on('data', (c: Buffer) => (read += c.length));
      b.on('error', () => {});
      await once(b, 'close');
      assert.equal(read, tap.flushedOut(), 'the peer read exactly what flushedOut counted');
    } finally {
      d.dispose();
    }
  });

  test('dispose under a later wrapper keeps that wrapper working', async () => {
    const d = new DisposableStore();
    try {
      const [a, b] = await pair(d);
      const r1 = recorder();
      const r2 = recorder();
      const t1 = tapSocket(a, r1.sink);
      const t2 = tapSocket(a, r2.sink);
      a.write('both');
      t1.dispose();
      a.write('-second');
      const got = readAll(b);
      a.end();
      assert.equal((await got).toString(), 'both-second');
      assert.equal(r1.out().toString(), 'both');
      assert.equal(r2.out().toString(), 'both-second');
      t2.dispose();
    } finally {
      d.dispose();
    }
  });

  test('writePastTap: the bytes are sent in order and not seen; only where the tap wraps net.Socket’s own write', async () => {
    const d = new DisposableStore();
    try {
      const [a, b] = await pair(d);
      assert.equal(canWritePastTap(a), false, 'not tapped');
      const r = recorder();
      d.add(tapSocket(a, r.sink));
      assert.equal(canWritePastTap(a), true);
      a.write('seen ');
      writePastTap(a, Buffer.from('unseen '));
      a.write('seen');
      const got = readAll(b);
      a.end();
      assert.equal((await got).toString(), 'seen unseen seen');
      assert.equal(r.out().toString(), 'seen seen');

      // A socket whose write someone wrapped before the tap: writing past the tap would skip that wrapper too.
      const [c] = await pair(d);
      const inner = c.write;
      c.write = function (this: net.Socket, ...args: unknown[]) {
        return (inner as (...a: unknown[]) => boolean).apply(this, args);
      } as typeof c.write;
      d.add(tapSocket(c, recorder().sink));
      assert.equal(canWritePastTap(c), false);
    } finally {
      d.dispose();
    }
  });
});

describe('tap -> ConnectionCapture -> EventStore', () => {
  /** Header plus payload re-masked with its key: the frame as it was on the wire. */
  const wireBytes = (f: FrameEvent) => {
    const p = f.masked ? f.payload.map((b, i) => b ^ f.maskKey![i & 3]) : f.payload;
    return Buffer.concat([f.header, p]);
  };

  for (const deflate of [false, true]) {
    test(`the frames captured equal, byte for byte, the frames the peers wrote${deflate ? ' (permessage-deflate)' : ''}`, async () => {
      const d = new DisposableStore();
      const store = d.add(new EventStore());
      try {
        const captures: ConnectionCapture[] = [];
        const taps = (id: string, role: 'server' | 'client') => {
          const cap = new ConnectionCapture({ connectionId: id, role, sink: store });
          captures.push(cap);
          const r = recorder();
          const sink: ByteSink = {
            inbound: (c) => (r.sink.inbound(c), cap.inbound(c)),
            outbound: (c) => (r.sink.outbound(c), cap.outbound(c)),
          };
          return { r, sink, cap };
        };
        const server = taps('srv', 'server');
        const client = taps('cli', 'client');
        const srv = await startServer(d, { perMessageDeflate: deflate });
        srv.server.on('connection', (s: net.Socket) => d.add(tapSocket(s, server.sink)));
        const ws = new WebSocket(srv.url('ws'), { perMessageDeflate: deflate ? { threshold: 0 } : false });
        onClientSocket(ws, (s) => d.add(tapSocket(s, client.sink)));
        ws.on('error', () => {});
        await converse(srv, ws);
        for (const c of captures) c.end();

        for (const [id, tap] of [['srv', server.r], ['cli', client.r]] as const) {
          const c2s = splitHead(id === 'srv' ? tap.in() : tap.out()).frames;
          const s2c = splitHead(id === 'srv' ? tap.out() : tap.in()).frames;
          for (const [dir, bytes] of [['c2s', c2s], ['s2c', s2c]] as const) {
            const frames = store.query({ connectionId: id, kinds: ['frame'], direction: dir, limit: 10_000 }).events as FrameEvent[];
            assert.equal(frames.length, dir === 'c2s' ? 8 : 5, `${id} ${dir}: ${frames.length} frames`);
            assert.ok(Buffer.concat(frames.map(wireBytes)).equals(bytes), `${id} ${dir}: re-encoded frames differ from the wire`);
            assert.equal(frames.at(-1)!.opcode, 8);
            assert.equal(frames.at(-1)!.closeCode, 4001);
            assert.equal(frames.at(-1)!.closeReason, 'bye reason');
          }
          // Messages, once any inflation has finished.
          const expect = { c2s: EXPECT_C2S, s2c: EXPECT_S2C };
          for (const dir of ['c2s', 's2c'] as const) {
            const query = () => store.query({ connectionId: id, kinds: ['message'], direction: dir }).events as MessageEvent[];
            await waitFor(`${id} ${dir}: ${expect[dir].length} messages`, () => query().length >= expect[dir].length);
            const msgs = query();
            assert.deepEqual(
              msgs.map((m) => ({ binary: m.opcode === 2, data: m.data })),
              expect[dir],
              `${id} ${dir} messages`,
            );
            assert.ok(msgs.every((m) => m.compressed === deflate));
          }
          assert.equal(store.query({ connectionId: id, kinds: ['error'] }).events.length, 0);
          const hs = store.query({ connectionId: id, kinds: ['handshake'] }).events as HandshakeEvent[];
          assert.equal(hs.length, 1);
          assert.equal(hs[0].status, 101);
          assert.equal(hs[0].ok, true);
        }
      } finally {
        d.dispose();
      }
    });
  }
});
