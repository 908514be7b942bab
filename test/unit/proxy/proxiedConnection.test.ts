// One proxied connection (src/core/proxy/proxiedConnection.ts): the upgrade forwarded and answered, every byte after
// it forwarded both ways and captured on both legs, and each way it can fail.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import type { ConnectionEvent, ErrorEvent, HandshakeEvent, MessageEvent } from '../../../src/core/capture/events';
import { encodeClosePayload, encodeFrame } from '../../../src/core/wire/frameEncoder';
import {
  MASK,
  RawClient,
  arraySink,
  capturedWire,
  cleanups,
  clientWith,
  frames,
  header,
  parseHead,
  proxyTo,
  runCleanups,
  splitHead,
  startTarget,
} from './proxyHelpers';
import { freePort } from '../../support/freePort';
import { waitFor } from '../../support/waitFor';

afterEach(runCleanups);

describe('ProxiedConnection: fidelity', () => {
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

describe('ProxiedConnection: refusals and failures', () => {
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
});
