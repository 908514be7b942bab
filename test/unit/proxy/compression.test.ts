// The proxy's compression modes (src/core/proxy/compressionHandshake.ts, pipeCodec.ts): terminate (each leg has its
// own permessage-deflate, so any held message can be edited or dropped), passthrough and strip, against the real ws
// client and server with their defaults and a Python websockets server.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { computeAccept } from '../../../src/core/wire/handshake';
import type { CaptureEvent, FrameEvent, MessageEvent } from '../../../src/core/capture/events';
import { BreakpointController, type HeldFrame, type HeldOutcome } from '../../../src/core/proxy/breakpoints';
import { withHeader } from '../../../src/core/proxy/compressionHandshake';
import type { ProxyCompression } from '../../../src/core/proxy/compressionMode';
import { arraySink, cleanups, clientWith, frames, proxyTo, runCleanups, splitHead, startTarget } from './proxyHelpers';
import { startPythonWebsockets } from '../../support/pythonWebsockets';
import { waitFor } from '../../support/waitFor';

afterEach(runCleanups);

/** A target the tests can ask what it received. */
interface EchoTarget {
  url: string;
  received(): string[];
}

async function wsTarget(): Promise<EchoTarget> {
  // ws's server with deflate on (its default is off): `true` is ws's own defaults for it.
  const t = await startTarget({ wsOptions: { perMessageDeflate: true } });
  cleanups.push(() => t.close());
  return { url: t.url, received: () => t.conns[0]?.messages.map((m) => m.data.toString()) ?? [] };
}

async function pythonTarget(): Promise<EchoTarget> {
  const py = await startPythonWebsockets();
  cleanups.push(() => py.stop());
  return { url: py.url, received: () => py.messages() };
}

/** A proxy with an `order` rule on c2s, a capture, and the held frames and outcomes. */
async function proxyWithRule(targetUrl: string, compression?: ProxyCompression) {
  const bp = new BreakpointController();
  bp.setRules([{ id: 'orders', enabled: true, direction: 'c2s', jsonPath: '$.type', jsonEquals: '"order"' }]);
  cleanups.push(() => bp.dispose());
  const holds: HeldFrame[] = [];
  const outcomes: HeldOutcome[] = [];
  const changes: HeldFrame[] = [];
  bp.onDidHold((h) => holds.push(h));
  bp.onDidResolve((r) => outcomes.push(r.outcome));
  bp.onDidChange((h) => changes.push({ ...h }));
  const sink = arraySink();
  const p = await proxyTo(targetUrl, { breakpoints: bp, capture: sink, compression });
  return { ...p, bp, holds, outcomes, changes, sink };
}

function legTexts(events: CaptureEvent[], leg: string, direction: 'c2s' | 's2c'): string[] {
  return events
    .filter((e): e is MessageEvent => e.kind === 'message' && e.connectionId === leg && e.direction === direction)
    .map((m) => m.data.toString());
}

function legFrames(events: CaptureEvent[], leg: string, direction: 'c2s' | 's2c'): FrameEvent[] {
  return events.filter((e): e is FrameEvent => e.kind === 'frame' && e.connectionId === leg && e.direction === direction);
}

const order = (n: number) => JSON.stringify({ type: 'order', n, item: 'coffee beans, 1 kg' });
const tick = (i: number) => JSON.stringify({ type: 'tick', i, text: `tick number ${i} of many, with the same words each time` });

for (const [name, start] of [
  ['ws', wsTarget],
  ['Python websockets', pythonTarget],
] as const) {
  describe(`terminate against a ${name} target`, () => {
    test('a held compressed message is edited, the next dropped, the next forwarded; 120 later messages each way inflate on both sides', async () => {
      const target = await start();
      const { proxy, address, bp, holds, outcomes, sink } = await proxyWithRule(target.url);
      const { ws } = clientWith(address.url);
      const got: string[] = [];
      ws.on('message', (d: Buffer) => got.push(d.toString()));
      await once(ws, 'open');
      assert.match(ws.extensions, /permessage-deflate/);
      const [info] = proxy.connections();
      assert.equal(info.compression?.mode, 'terminate');
      assert.equal(info.compression?.chosen, 'default', 'terminate is the default while a rule exists');
      assert.ok(info.compression?.programLeg && info.compression?.targetLeg, 'both legs negotiated deflate');
      if (name === 'Python websockets') assert.equal(info.compression.targetLeg.clientMaxWindowBits, 12, "websockets' own window on the target leg");

      // Some history first, so that both contexts carry a window when the held ones come.
      for (let i = 0; i < 5; i++) ws.send(tick(i));
      ws.send(order(1));
      await waitFor('order 1 held', () => holds.length === 1);
      assert.equal(holds[0].compressed, true);
      assert.equal(holds[0].editable, true, 'editable whatever the context takeover');
      bp.edit(holds[0].id, order(100));
      ws.send(order(2));
      await waitFor('order 2 held', () => holds.length === 2);
      bp.drop(holds[1].id);
      ws.send(order(3));
      await waitFor('order 3 held', () => holds.length === 3);
      bp.forward(holds[2].id);
      for (let i = 5; i < 125; i++) ws.send(tick(i));
      // A fragmented compressed message: deflated again and split into as many frames.
      ws.send('fragment one, ', { fin: false });
      ws.send('fragment two, ', { fin: false });
      ws.send('fragment three', { fin: true });

      const expected = [...[0, 1, 2, 3, 4].map(tick), order(100), order(3), ...Array.from({ length: 120 }, (_, k) => tick(k + 5)), 'fragment one, fragment two, fragment three'];
      await waitFor('every echo', () => got.length === expected.length);
      assert.deepEqual(target.received(), expected, 'the target got exactly the edit, nothing of the dropped one');
      assert.deepEqual(got, expected, 'the echoes inflate on the program side');
      assert.deepEqual(outcomes, ['edited', 'dropped', 'forwarded']);

      // Both legs captured as they were on the wire, each inflated with its own leg's parameters.
      const sent = [...[0, 1, 2, 3, 4].map(tick), order(1), order(2), order(3), ...expected.slice(7)];
      assert.deepEqual(legTexts(sink.events, info.programSideId, 'c2s'), sent);
      assert.deepEqual(legTexts(sink.events, info.targetSideId, 'c2s'), expected);
      assert.deepEqual(legTexts(sink.events, info.targetSideId, 's2c'), expected);
      assert.deepEqual(legTexts(sink.events, info.programSideId, 's2c'), expected);
      assert.deepEqual(sink.of('error'), []);
      const atTarget = legFrames(sink.events, info.targetSideId, 'c2s').filter((f) => f.opcode <= 2);
      assert.ok(atTarget.filter((f) => f.opcode !== 0).every((f) => f.rsv1 && f.masked), 'compressed by the proxy, masked');
      assert.deepEqual(atTarget.slice(-3).map((f) => [f.opcode, f.fin, f.rsv1]), [
        [1, false, true],
        [0, false, false],
        [0, true, false],
      ]);
      const toProgram = legFrames(sink.events, info.programSideId, 's2c').filter((f) => f.opcode !== 0 && f.opcode <= 2);
      assert.ok(toProgram.every((f) => f.rsv1 && !f.masked), 'the echoes go to the program compressed by the proxy');
    });
  });
}

describe('compression modes', () => {
  test('strip: the offer loses permessage-deflate, neither leg negotiates it, frames go uncompressed', async () => {
    const t = await startTarget({ wsOptions: { perMessageDeflate: true } });
    cleanups.push(() => t.close());
    const { proxy, address } = await proxyWithRule(t.url, 'strip');
    const { ws, raw } = clientWith(address.url, [], { perMessageDeflate: { threshold: 0 } });
    const got: string[] = [];
    ws.on('message', (d: Buffer) => got.push(d.toString()));
    await once(ws, 'open');
    assert.equal(ws.extensions, '');
    assert.equal(t.conns[0].ws.extensions, '');
    assert.equal(t.conns[0].req.headers['sec-websocket-extensions'], undefined, 'nothing offered to the target');
    assert.deepEqual(proxy.connections()[0].compression, { mode: 'strip', chosen: 'option', programOffered: true });
    ws.send('plain as it is, plain as it is');
    await waitFor('the echo', () => got.length === 1);
    assert.deepEqual(frames(splitHead(raw().in)[1]).map((f) => f.rsv1), [false]);
    assert.deepEqual(frames(splitHead(t.conns[0].raw.in)[1], 'c2s').map((f) => f.rsv1), [false]);
  });

  test('passthrough, the default without rules: the extensions go end to end, byte for byte', async () => {
    const t = await startTarget({ wsOptions: { perMessageDeflate: true } });
    cleanups.push(() => t.close());
    const { proxy, address } = await proxyTo(t.url);
    const { ws, raw } = clientWith(address.url);
    const got: string[] = [];
    ws.on('message', (d: Buffer) => got.push(d.toString()));
    await once(ws, 'open');
    const c = proxy.connections()[0].compression!;
    assert.equal(c.mode, 'passthrough');
    assert.equal(c.chosen, 'default');
    assert.deepEqual(c.programLeg, c.targetLeg);
    for (let i = 0; i < 20; i++) ws.send(tick(i));
    await waitFor('the echoes', () => got.length === 20);
    assert.deepEqual(splitHead(t.conns[0].raw.in)[1], splitHead(raw().out)[1], 'program → target byte for byte');
    assert.deepEqual(splitHead(raw().in)[1], splitHead(t.conns[0].raw.out)[1], 'target → program byte for byte');
  });

  test('passthrough with rules: the held compressed message explains why it cannot be edited and suggests terminate', async () => {
    const t = await startTarget({ wsOptions: { perMessageDeflate: true } });
    cleanups.push(() => t.close());
    const { address, bp, holds } = await proxyWithRule(t.url, 'passthrough');
    const { ws } = clientWith(address.url);
    await once(ws, 'open');
    ws.send(order(1));
    await waitFor('held', () => holds.length === 1);
    assert.equal(holds[0].editable, false);
    assert.match(holds[0].notEditableReason!, /compressed with context takeover and the proxy passes compression through/);
    assert.equal(holds[0].suggestedCompression, 'terminate');
    assert.throws(() => bp.drop(holds[0].id), /cannot be dropped/);
    bp.forward(holds[0].id);
    await waitFor('at the target', () => t.conns[0].messages.length === 1);
  });

  test('each connection keeps the mode it started with', async () => {
    const t = await startTarget({ wsOptions: { perMessageDeflate: true } });
    cleanups.push(() => t.close());
    const bp = new BreakpointController();
    cleanups.push(() => bp.dispose());
    const { proxy, address } = await proxyTo(t.url, { breakpoints: bp });
    const first = clientWith(address.url).ws;
    await once(first, 'open');
    bp.setRules([{ id: 'r', enabled: true, textPattern: 'never' }]);
    const second = clientWith(address.url).ws;
    await once(second, 'open');
    bp.setRules([{ id: 'r', enabled: false, textPattern: 'never' }]);
    const third = clientWith(address.url).ws;
    await once(third, 'open');
    assert.deepEqual(proxy.connections().map((c) => c.compression?.mode), ['passthrough', 'terminate', 'passthrough']);
  });

  test('setCompression applies to the connections that upgrade from then on; an unknown mode is refused', async () => {
    const t = await startTarget({ wsOptions: { perMessageDeflate: true } });
    cleanups.push(() => t.close());
    const { proxy, address } = await proxyTo(t.url, { compression: 'passthrough' });
    const first = clientWith(address.url).ws;
    await once(first, 'open');
    proxy.setCompression('terminate');
    const second = clientWith(address.url).ws;
    await once(second, 'open');
    proxy.setCompression('strip');
    const third = clientWith(address.url).ws;
    await once(third, 'open');
    assert.deepEqual(
      proxy.connections().map((c) => [c.compression?.mode, c.compression?.chosen, c.compression?.programLeg !== undefined]),
      [
        ['passthrough', 'option', true],
        ['terminate', 'option', true],
        ['strip', 'option', false],
      ],
    );
    assert.match(first.extensions, /permessage-deflate/, 'the program negotiated deflate on the first and second');
    assert.equal(third.extensions, '', 'and not on the third: the proxy stripped the offer');
    assert.throws(() => proxy.setCompression('zip' as never), /compression must be/);
  });

  test('the answer to the program changes only its extensions header', () => {
    const head = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nsec-websocket-extensions: permessage-deflate; server_max_window_bits=12\r\nX: y\r\n\r\n', 'latin1');
    assert.equal(
      withHeader(head, 'Sec-WebSocket-Extensions', 'permessage-deflate').toString('latin1'),
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nsec-websocket-extensions: permessage-deflate\r\nX: y\r\n\r\n',
    );
    assert.equal(withHeader(head, 'Sec-WebSocket-Extensions', '').toString('latin1'), 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nX: y\r\n\r\n');
    const bare = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n', 'latin1');
    assert.equal(withHeader(bare, 'Sec-WebSocket-Extensions', 'permessage-deflate').toString('latin1'), 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n');
  });

  test('terminate: a target answer the proxy cannot accept as its client fails the upgrade with 502', async () => {
    // A target that answers 101 with parameters nobody offered.
    const server = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', (req: Buffer) => {
        const key = /sec-websocket-key: *(\S+)/i.exec(req.toString('latin1'))![1];
        socket.write(
          `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(key)}\r\n` +
            'Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=99\r\n\r\n',
        );
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise((r) => server.close(r)));
    const { address, failed } = await proxyWithRule(`ws://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
    const { ws } = clientWith(address.url);
    const [, res] = (await once(ws, 'unexpected-response')) as [unknown, { statusCode: number }];
    assert.equal(res.statusCode, 502);
    await waitFor('the failure', () => failed.length === 1);
    assert.equal(failed[0].errorCode, 'EBADRESPONSE');
    assert.match(failed[0].error!, /^invalid Sec-WebSocket-Extensions in the target's answer: invalid window bits 99/);
  });
});
