import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { WebSocket } from 'ws';
import type { ConnectionEvent, ErrorEvent, HandshakeEvent, MessageEvent } from '../../../src/core/capture/events';
import { onClientSocket } from '../../../src/core/capture/socketTap';
import { InspectingProxy } from '../../../src/core/proxy/inspectingProxy';
import type { ProxyConnectionInfo } from '../../../src/core/proxy/proxiedConnection';
import { ProxyError } from '../../../src/core/proxy/proxyOptions';
import { encodeClosePayload, encodeFrame } from '../../../src/core/wire/frameEncoder';
import { devCredentials } from '../tlsCredentials';
import {
  MASK,
  RawClient,
  arraySink,
  capturedWire,
  frames,
  header,
  parseHead,
  record,
  splitHead,
  startTarget,
  type Recorded,
} from './proxyHelpers';
import { freePort } from '../../support/freePort';
import { waitFor } from '../../support/waitFor';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function proxyTo(target: string, extra: Partial<Parameters<InspectingProxy['start']>[0]> = {}) {
  const proxy = new InspectingProxy();
  const opened: ProxyConnectionInfo[] = [];
  const failed: ProxyConnectionInfo[] = [];
  const closed: ProxyConnectionInfo[] = [];
  proxy.onDidOpen((i) => opened.push(i));
  proxy.onDidFail((i) => failed.push(i));
  proxy.onDidClose((i) => closed.push(i));
  const address = await proxy.start({ target, ...extra });
  cleanups.push(() => proxy.dispose());
  cleanups.push(() => proxy.stop());
  return { proxy, address, opened, failed, closed };
}


function clientWith(url: string, protocols: string[] = [], options: ConstructorParameters<typeof WebSocket>[2] = {}) {
  const ws = new WebSocket(url, protocols, options);
  let raw: Recorded | undefined;
  onClientSocket(ws, (s) => (raw = record(s)));
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  return { ws, raw: () => raw! };
}

describe('InspectingProxy: fidelity', () => {
  test('ws ↔ ws with permessage-deflate, fragments, pings and a 4001 close: both legs byte for byte, both captures exact', async () => {
    const target = await startTarget({
      wsOptions: { perMessageDeflate: { threshold: 0 }, handleProtocols: (ps) => [...ps][0] },
      onConnection: (c) => {
        c.ws.on('message', (data: Buffer, isBinary: boolean) => {
          if (data.toString() === 'ping me') c.ws.ping(Buffer.from('target ping'));
          c.ws.send(data, { binary: isBinary });
        });
      },
    });
    cleanups.push(() => target.close());
    const sink = arraySink();
    const { proxy, address, opened, closed } = await proxyTo(`${target.url}/base`, { capture: sink, meta: { session: 'dbg' } });

    const { ws, raw } = clientWith(`${address.url}/ws?x=1`, ['chat', 'superchat'], {
      perMessageDeflate: { threshold: 0 },
      origin: 'http://origin.test',
    });
    await once(ws, 'open');
    assert.equal(ws.protocol, 'chat');
    assert.match(ws.extensions, /permessage-deflate/);
    const got: string[] = [];
    ws.on('message', (d: Buffer) => got.push(d.toString()));
    ws.send('hello hello hello hello');
    ws.send(Buffer.from([1, 2, 3, 4, 5, 6]));
    ws.send('frag one, ', { fin: false });
    ws.send('frag two, ', { fin: false });
    ws.send('frag three', { fin: true });
    ws.ping('program ping');
    ws.send('ping me');
    await waitFor('echoes', () => got.length === 4);
    ws.close(4001, 'bye');
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    assert.equal(code, 4001);
    assert.equal(reason.toString(), 'bye');
    await waitFor('proxy connection closed', () => closed.length === 1);
    const tc = target.conns[0];
    await waitFor('target saw the close', () => tc.closed !== undefined);
    assert.deepEqual(tc.closed, { code: 4001, reason: 'bye' });
    assert.deepEqual(got, ['hello hello hello hello', '\x01\x02\x03\x04\x05\x06', 'frag one, frag two, frag three', 'ping me']);

    // The handshake: path joined, Host rewritten, the rest end to end; the program sees the target's own 101.
    assert.equal(tc.req.url, '/base/ws?x=1');
    const [programReqHead, programSent] = splitHead(raw().out);
    const [targetReqHead, targetGot] = splitHead(tc.raw.in);
    const pReq = parseHead(programReqHead);
    const tReq = parseHead(targetReqHead);
    assert.equal(tReq.startLine, 'GET /base/ws?x=1 HTTP/1.1');
    assert.equal(header(tReq, 'host'), `127.0.0.1:${target.port}`);
    for (const h of ['origin', 'sec-websocket-key', 'sec-websocket-protocol', 'sec-websocket-extensions', 'sec-websocket-version', 'upgrade', 'connection']) {
      assert.equal(header(tReq, h), header(pReq, h), h);
    }
    assert.deepEqual(
      tReq.headers.map(([n]) => n),
      pReq.headers.map(([n]) => n),
      'headers in the same order and case',
    );
    const [targetRespHead, targetSent] = splitHead(tc.raw.out);
    const [programRespHead, programGot] = splitHead(raw().in);
    assert.deepEqual(programRespHead, targetRespHead);

    // After the handshake: exactly the same bytes, both ways.
    assert.ok(programSent.length > 0 && targetSent.length > 0);
    assert.deepEqual(targetGot, programSent);
    assert.deepEqual(programGot, targetSent);
    // The fragments kept their fragmentation, and were compressed (RSV1 on the first).
    const sentFrames = frames(programSent, 'c2s');
    assert.deepEqual(
      sentFrames.map((f) => [f.opcode, f.fin, f.rsv1, f.masked]),
      [
        [1, true, true, true],
        [2, true, true, true],
        [1, false, true, true],
        [0, false, false, true],
        [0, true, false, true],
        [9, true, false, true],
        [1, true, true, true],
        [10, true, false, true], // ws answers the target's ping
        [8, true, false, true],
      ],
    );

    // Each leg's capture shows exactly what crossed that leg.
    const [info] = opened;
    assert.equal(info.id, closed[0].id);
    assert.equal(info.programSideId, `${info.id}/program`);
    assert.equal(info.targetSideId, `${info.id}/target`);
    assert.equal(info.path, '/ws?x=1');
    assert.equal(info.targetUrl, `${target.url}/base/ws?x=1`);
    assert.equal(closed[0].state, 'closed');
    assert.deepEqual(capturedWire(sink.events, info.programSideId, 'c2s'), programSent);
    assert.deepEqual(capturedWire(sink.events, info.programSideId, 's2c'), programGot);
    assert.deepEqual(capturedWire(sink.events, info.targetSideId, 'c2s'), targetGot);
    assert.deepEqual(capturedWire(sink.events, info.targetSideId, 's2c'), targetSent);
    for (const leg of [info.programSideId, info.targetSideId]) {
      const msgs = sink.events.filter((e): e is MessageEvent => e.kind === 'message' && e.connectionId === leg && e.direction === 'c2s');
      assert.deepEqual(
        msgs.map((m) => [m.data.toString('latin1'), m.compressed]),
        [
          ['hello hello hello hello', true],
          ['\x01\x02\x03\x04\x05\x06', true],
          ['frag one, frag two, frag three', true],
          ['ping me', true],
        ],
        `inflated on ${leg}`,
      );
      const hs = sink.events.find((e): e is HandshakeEvent => e.kind === 'handshake' && e.connectionId === leg)!;
      assert.equal(hs.status, 101);
      assert.equal(hs.ok, true);
      assert.equal(hs.subprotocol, 'chat');
      const conn = sink.events.filter((e): e is ConnectionEvent => e.kind === 'connection' && e.connectionId === leg);
      assert.deepEqual(conn.map((e) => e.state), ['open', 'closed']);
      assert.equal(conn[1].code, 4001);
      assert.equal(conn[1].clean, true);
    }
    const openEv = (leg: string) => sink.events.find((e): e is ConnectionEvent => e.kind === 'connection' && e.connectionId === leg)!;
    assert.deepEqual(openEv(info.programSideId).meta, {
      proxy: info.id,
      side: 'program',
      target: info.targetUrl,
      remote: info.remote,
      session: 'dbg',
    });
    assert.deepEqual(openEv(info.targetSideId).meta, { proxy: info.id, side: 'target', target: info.targetUrl, session: 'dbg' });
    assert.equal(openEv(info.targetSideId).role, 'client');
    assert.equal(openEv(info.programSideId).role, 'server');
    assert.deepEqual(proxy.connections(), []);
  });

  test('handcrafted frames (interleaved ping, 16-bit length for a short payload, odd chunking) reach ws unchanged', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const { address } = await proxyTo(target.url);
    const c = await RawClient.connect(address.port);
    cleanups.push(() => c.socket.destroy());
    const { head } = await c.upgrade('/chat');
    assert.equal(head.startLine, 'HTTP/1.1 101 Switching Protocols');

    const bin = Buffer.alloc(200, 7);
    const sent = Buffer.concat([
      encodeFrame({ opcode: 1, fin: false, payload: Buffer.from('Hel'), maskKey: MASK }),
      encodeFrame({ opcode: 9, payload: Buffer.from('p1'), maskKey: MASK }),
      encodeFrame({ opcode: 0, fin: false, payload: Buffer.from('lo, '), maskKey: MASK }),
      encodeFrame({ opcode: 0, payload: Buffer.from('world'), maskKey: MASK }),
      encodeFrame({ opcode: 2, payload: bin, maskKey: MASK }),
      encodeFrame({ opcode: 1, payload: Buffer.from('short'), maskKey: MASK, lengthForm: 16 }),
      encodeFrame({ opcode: 8, payload: encodeClosePayload(4001, 'bye'), maskKey: MASK }),
    ]);
    // 7-byte writes, each on its own turn of the event loop (bounded: under 60 writes).
    for (let i = 0; i < sent.length; i += 7) {
      c.write(sent.subarray(i, i + 7));
      await new Promise((r) => setImmediate(r));
    }
    const tc = await (async () => {
      await waitFor('the connection at the target', () => target.conns.length === 1);
      return target.conns[0];
    })();
    await waitFor('close', () => tc.closed !== undefined);
    await waitFor('program socket closed', () => c.closed);
    assert.deepEqual(splitHead(tc.raw.in)[1], sent);
    assert.deepEqual(
      tc.messages.map((m) => [m.isBinary, m.data.toString('latin1')]),
      [
        [false, 'Hello, world'],
        [true, bin.toString('latin1')],
        [false, 'short'],
      ],
    );
    assert.deepEqual(tc.closed, { code: 4001, reason: 'bye' });
    assert.deepEqual(c.frameBytes, splitHead(tc.raw.out)[1]);
    const back = frames(c.frameBytes);
    assert.deepEqual(
      back.map((f) => [f.opcode, f.payload.toString('latin1')]),
      [
        [10, 'p1'],
        [1, 'Hello, world'],
        [2, bin.toString('latin1')],
        [1, 'short'],
        [8, encodeClosePayload(4001, 'bye').toString('latin1')],
      ],
    );
  });

  test('a frame the proxy cannot delimit (reserved opcode) goes on raw; the target closes with 1002; recorded', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const sink = arraySink();
    const { address, opened } = await proxyTo(target.url, { capture: sink });
    const c = await RawClient.connect(address.port);
    cleanups.push(() => c.socket.destroy());
    await c.upgrade();
    const sent = Buffer.concat([
      encodeFrame({ opcode: 1, payload: Buffer.from('fine'), maskKey: MASK }),
      encodeFrame({ opcode: 3, payload: Buffer.from('odd'), maskKey: MASK }),
    ]);
    c.write(sent);
    await waitFor('target closed', () => target.conns[0]?.closed !== undefined);
    await waitFor('all bytes at the target', () => splitHead(target.conns[0].raw.in)[1].length === sent.length);
    assert.deepEqual(splitHead(target.conns[0].raw.in)[1], sent);
    await waitFor('close frame back', () => frames(c.frameBytes).some((f) => f.opcode === 8));
    const close = frames(c.frameBytes).find((f) => f.opcode === 8)!;
    assert.equal(close.payload.readUInt16BE(0), 1002, 'the target’s own verdict reaches the program');
    const err = sink.events.find((e): e is ErrorEvent => e.kind === 'error' && e.code === 'WS_ERR_PROXY_PASSTHROUGH')!;
    assert.equal(err.connectionId, opened[0].programSideId);
    assert.equal(err.direction, 'c2s');
    assert.match(err.message, /WS_ERR_INVALID_OPCODE/);
  });

  test('with no breakpoints the first fragment is forwarded before the message is complete', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const { address } = await proxyTo(target.url);
    const c = await RawClient.connect(address.port);
    cleanups.push(() => c.socket.destroy());
    await c.upgrade();
    const first = encodeFrame({ opcode: 1, fin: false, payload: Buffer.from('part one'), maskKey: MASK });
    c.write(first);
    await waitFor('first fragment at the target', () => target.conns.length === 1 && splitHead(target.conns[0].raw.in)[1].length === first.length);
    c.write(encodeFrame({ opcode: 0, payload: Buffer.from(' + two'), maskKey: MASK }));
    await waitFor('the message at the target', () => target.conns[0].messages.length === 1);
    assert.equal(target.conns[0].messages[0].data.toString(), 'part one + two');
  });
});

describe('InspectingProxy: refusals and failures', () => {
  test('a 401 from the target reaches the program with its body; both captures record the failed handshake; onDidFail', async () => {
    const body = 'missing bearer token';
    const response = `HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nX-Why: token\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const target = await startTarget({
      onUpgrade: (_req, socket) => {
        socket.end(response);
        return true;
      },
    });
    cleanups.push(() => target.close());
    const sink = arraySink();
    const { failed, closed, opened } = await proxyTo(target.url, { capture: sink }).then(async (p) => {
      const c = await RawClient.connect(p.address.port);
      cleanups.push(() => c.socket.destroy());
      const { head } = await c.upgrade('/secret');
      assert.equal(head.startLine, 'HTTP/1.1 401 Unauthorized');
      await waitFor('program socket ended', () => c.closed);
      assert.equal(c.bytes.toString('latin1'), response, 'exactly the target’s response');
      await waitFor('the proxy to close the connection', () => p.closed.length === 1);
      return p;
    });
    assert.equal(opened.length, 0);
    assert.equal(failed.length, 1);
    assert.equal(failed[0].status, 401);
    assert.equal(failed[0].state, 'failed');
    assert.equal(failed[0].errorCode, 'ERR_UPGRADE_REJECTED');
    assert.equal(failed[0].error, 'The target refused the upgrade: 401 Unauthorized');
    assert.equal(closed[0].state, 'failed');
    for (const leg of [failed[0].programSideId, failed[0].targetSideId]) {
      const hs = sink.events.find((e): e is HandshakeEvent => e.kind === 'handshake' && e.connectionId === leg)!;
      assert.equal(hs.status, 401, leg);
      assert.equal(hs.ok, false);
      assert.equal(hs.body?.toString(), body);
    }
  });

  test('a chunked refusal on a connection the target keeps open: the program gets it whole, then both sides are ended', async () => {
    const response = 'HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nno, t\r\n6\r\nhanks.\r\n0\r\n\r\n';
    const target = await startTarget({
      onUpgrade: (_req, socket) => {
        socket.write(response); // keep-alive: it ends only when the client does
        socket.on('end', () => socket.end());
        return true;
      },
    });
    cleanups.push(() => target.close());
    const { address, failed, closed } = await proxyTo(target.url);
    const c = await RawClient.connect(address.port);
    cleanups.push(() => c.socket.destroy());
    await c.upgrade();
    await waitFor('program socket ended', () => c.closed);
    assert.equal(c.bytes.toString('latin1'), response);
    await waitFor('both sides closed', () => closed.length === 1);
    assert.equal(failed[0].status, 403);
  });

  test('the program leaving before the target answers: onDidFail (ERR_PROGRAM_CLOSED), then onDidClose', async () => {
    const silent = net.createServer((s) => s.on('error', () => {}));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const sockets: net.Socket[] = [];
    silent.on('connection', (s) => sockets.push(s));
    cleanups.push(() => new Promise<void>((r) => silent.close(() => r())));
    cleanups.push(() => sockets.forEach((s) => s.destroy()));
    const { address, failed, closed } = await proxyTo(`ws://127.0.0.1:${(silent.address() as net.AddressInfo).port}`);
    const c = await RawClient.connect(address.port);
    c.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'));
    await waitFor('dialled', () => sockets.length === 1);
    c.socket.destroy();
    await waitFor('the proxy to close the connection', () => closed.length === 1);
    assert.equal(failed[0].errorCode, 'ERR_PROGRAM_CLOSED');
    assert.equal(closed[0].state, 'failed');
  });

  test('an unreachable target: 502 with a readable body, onDidFail, and the reason on the target leg', async () => {
    const port = await freePort();
    const sink = arraySink();
    const { address, failed, closed } = await proxyTo(`ws://127.0.0.1:${port}`, { capture: sink });
    const c = await RawClient.connect(address.port);
    cleanups.push(() => c.socket.destroy());
    const { head } = await c.upgrade();
    assert.equal(head.startLine, 'HTTP/1.1 502 Bad Gateway');
    await waitFor('the program socket to close', () => c.closed);
    const bodyText = splitHead(c.bytes)[1].toString();
    assert.match(bodyText, new RegExp(`Connection refused by 127\\.0\\.0\\.1:${port}`));
    await waitFor('the proxy to close the connection', () => closed.length === 1);
    assert.equal(failed[0].errorCode, 'ECONNREFUSED');
    assert.equal(failed[0].error, bodyText.trim());
    const err = sink.events.find((e): e is ErrorEvent => e.kind === 'error' && e.connectionId === failed[0].targetSideId)!;
    assert.equal(err.code, 'ECONNREFUSED');
    const hs = sink.events.find((e): e is HandshakeEvent => e.kind === 'handshake' && e.connectionId === failed[0].programSideId)!;
    assert.equal(hs.status, 502);
  });

  test('a target that never answers the upgrade: 504 after handshakeTimeoutMs', async () => {
    const silent = net.createServer((s) => s.on('error', () => {}));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    cleanups.push(() => new Promise<void>((r) => silent.close(() => r())));
    const sockets: net.Socket[] = [];
    silent.on('connection', (s) => sockets.push(s));
    cleanups.push(() => sockets.forEach((s) => s.destroy()));
    const { address, failed } = await proxyTo(`ws://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, { handshakeTimeoutMs: 100 });
    const c = await RawClient.connect(address.port);
    cleanups.push(() => c.socket.destroy());
    const { head } = await c.upgrade();
    assert.equal(head.startLine, 'HTTP/1.1 504 Gateway Timeout');
    await waitFor('the failed connection', () => failed.length === 1);
    assert.equal(failed[0].errorCode, 'EHANDSHAKETIMEOUT');
    assert.match(failed[0].error!, /No upgrade response from 127\.0\.0\.1:\d+ within 100 ms/);
  });

  test('plain HTTP gets 426; a non-WebSocket upgrade gets 400', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const { address, failed } = await proxyTo(target.url);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get(`http://127.0.0.1:${address.port}/`, resolve).on('error', reject),
    );
    res.resume();
    assert.equal(res.statusCode, 426);
    const c = await RawClient.connect(address.port);
    cleanups.push(() => c.socket.destroy());
    c.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n'));
    await waitFor('the program socket to close', () => c.closed);
    assert.match(c.bytes.toString(), /^HTTP\/1\.1 400 Bad Request/);
    assert.equal(failed[0].errorCode, 'ERR_NOT_WEBSOCKET');
    assert.equal(target.conns.length, 0);
  });
});

describe('InspectingProxy: wss targets', () => {
  test('a self-signed target: refused without its CA (readable), works with tls.ca, works with allowSelfSigned', async () => {
    const creds = await devCredentials();
    const target = await startTarget({ tls: creds });
    cleanups.push(() => target.close());

    const untrusted = await proxyTo(target.url);
    const c = await RawClient.connect(untrusted.address.port);
    cleanups.push(() => c.socket.destroy());
    const { head } = await c.upgrade();
    assert.equal(head.startLine, 'HTTP/1.1 502 Bad Gateway');
    await waitFor('the failed connection to the untrusted target', () => untrusted.failed.length === 1);
    assert.match(untrusted.failed[0].error!, /^TLS: 127\.0\.0\.1:\d+ presented a self-signed certificate that is not trusted; pass its CA certificate in tls\.ca/);

    for (const tls of [{ ca: creds.cert }, { allowSelfSigned: true }]) {
      const p = await proxyTo(target.url, { tls });
      const { ws } = clientWith(p.address.url);
      await once(ws, 'open');
      ws.send('over tls');
      const [data] = (await once(ws, 'message')) as [Buffer];
      assert.equal(data.toString(), 'over tls', JSON.stringify(Object.keys(tls)));
      ws.close();
      await once(ws, 'close');
    }
  });
});

describe('InspectingProxy: many connections and lifecycle', () => {
  test('50 concurrent connections each get their own echoes', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const { proxy, address, closed } = await proxyTo(target.url);
    const clients = Array.from({ length: 50 }, (_, i) => ({ i, ...clientWith(`${address.url}/c${i}`) }));
    await Promise.all(clients.map(({ ws }) => once(ws, 'open')));
    assert.equal(proxy.connections().length, 50);
    assert.equal(new Set(proxy.connections().map((c) => c.id)).size, 50);
    const replies = await Promise.all(
      clients.map(async ({ ws, i }) => {
        const got: string[] = [];
        ws.on('message', (d: Buffer) => got.push(d.toString()));
        for (let k = 0; k < 3; k++) ws.send(`client ${i} message ${k}`);
        await waitFor(`echoes of ${i}`, () => got.length === 3);
        return got;
      }),
    );
    replies.forEach((got, i) => assert.deepEqual(got, [0, 1, 2].map((k) => `client ${i} message ${k}`)));
    assert.deepEqual(target.conns.map((c) => c.req.url).sort(), clients.map(({ i }) => `/c${i}`).sort());
    for (const { ws } of clients) ws.close(1000);
    await waitFor('all closed', () => closed.length === 50);
    assert.deepEqual(proxy.connections(), []);
  });

  test('connections() and the close event carry what each direction read and wrote: the bytes the client sent and got', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const { proxy, address, closed } = await proxyTo(target.url);
    const { ws, raw } = clientWith(`${address.url}/counted`);
    await once(ws, 'open');
    const got: string[] = [];
    ws.on('message', (d: Buffer) => got.push(d.toString()));
    for (const m of ['one', 'two', 'three']) ws.send(m);
    await waitFor('echoes', () => got.length === 3);
    // The client's frames after its request head are what the proxy read from it (c2s) and wrote on; the frames it
    // got after the 101 head are what the proxy wrote to it (s2c).
    const sent = splitHead(raw().out)[1].length;
    const received = splitHead(raw().in)[1].length;
    const live = proxy.connections()[0].traffic!;
    assert.deepEqual(live.c2s, { bytesRead: sent, messagesRead: 3, bytesWritten: sent, messagesWritten: 3 });
    assert.deepEqual(live.s2c, { bytesRead: received, messagesRead: 3, bytesWritten: received, messagesWritten: 3 });
    ws.close(1000);
    await waitFor('closed', () => closed.length === 1);
    const end = closed[0].traffic!;
    // The close frames went through too: bytes, not messages.
    assert.equal(end.c2s.messagesWritten, 3);
    assert.equal(end.c2s.bytesWritten, splitHead(raw().out)[1].length);
    assert.equal(end.s2c.bytesWritten, splitHead(raw().in)[1].length);
  });

  test('stop() closes open connections with 1001 both ways and frees the port', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const proxy = new InspectingProxy();
    cleanups.push(() => proxy.dispose());
    const address = await proxy.start({ target: target.url });
    const { ws } = clientWith(address.url);
    await once(ws, 'open');
    await waitFor('the connection at the target', () => target.conns.length === 1);
    const closing = once(ws, 'close');
    await proxy.stop();
    const [code] = (await closing) as [number];
    assert.equal(code, 1001);
    await waitFor('the target to see the close', () => target.conns[0].closed !== undefined);
    assert.equal(target.conns[0].closed!.code, 1001);
    assert.deepEqual(proxy.connections(), []);
    const again = net.createServer().listen(address.port, '127.0.0.1');
    await once(again, 'listening');
    await new Promise<void>((r) => again.close(() => r()));
  });

  test('options: a non-loopback host needs allowRemote; the target must be ws:// or wss://', async () => {
    const p = new InspectingProxy();
    await assert.rejects(p.start({ target: 'ws://127.0.0.1:1', host: '0.0.0.0' }), (e: ProxyError) => e.code === 'ERR_REMOTE_NOT_ALLOWED');
    await assert.rejects(p.start({ target: 'http://127.0.0.1:1' }), (e: ProxyError) => e.code === 'ERR_INVALID_TARGET' && /ws:\/\/ or wss:\/\//.test(e.message));
    await assert.rejects(p.start({ target: 'not a url' }), (e: ProxyError) => e.code === 'ERR_INVALID_TARGET');
    await assert.rejects(p.start({ target: 'ws://127.0.0.1:1', handshakeTimeoutMs: -1 }), TypeError);
    p.dispose();
  });
});
