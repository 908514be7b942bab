import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { CdpError, connectCdp, endpointError, type CdpEvent } from '../../../src/core/cdp/cdpConnection';
import { ConnectionError } from '../../../src/core/util/connectionError';
import { freePort } from '../../support/freePort';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A WebSocket peer on 127.0.0.1 whose replies the test writes. */
async function peer(onMessage: (ws: WebSocket, m: { id: number; method: string; params: unknown; sessionId?: string }) => void) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const sockets: WebSocket[] = [];
  wss.on('connection', (ws) => {
    sockets.push(ws);
    ws.on('error', () => {});
    ws.on('message', (d) => onMessage(ws, JSON.parse(d.toString())));
  });
  cleanups.push(() => {
    for (const s of wss.clients) s.terminate();
    return new Promise((r) => wss.close(r));
  });
  return { url: `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}/devtools/page/X`, sockets };
}


describe('CDP connection', () => {
  test('replies are paired with their commands by id, whatever order they come in; events carry their sessionId', async () => {
    const held: Array<{ ws: WebSocket; id: number; method: string }> = [];
    const p = await peer((ws, m) => {
      held.push({ ws, id: m.id, method: m.method });
      if (held.length < 2) return;
      // Answer the second command first, then an event of a flat session, then the first command with an error.
      ws.send(JSON.stringify({ id: held[1].id, result: { echo: held[1].method } }));
      ws.send(JSON.stringify({ method: 'Network.webSocketClosed', params: { requestId: 'r' }, sessionId: 'S1' }));
      ws.send(JSON.stringify({ id: held[0].id, error: { code: -32601, message: "'Nope.x' wasn't found" } }));
    });
    const conn = await connectCdp(p.url);
    cleanups.push(() => conn.dispose());
    const events: CdpEvent[] = [];
    conn.onEvent((e) => events.push(e));
    const first = conn.send('Nope.x');
    const second = conn.send('Browser.getVersion', {}, 'S1');
    assert.deepEqual(await second, { echo: 'Browser.getVersion' });
    await assert.rejects(first, (e: unknown) => {
      assert.ok(e instanceof CdpError);
      assert.equal(e.code, -32601);
      assert.equal(e.message, "Nope.x: 'Nope.x' wasn't found");
      return true;
    });
    assert.deepEqual(events, [{ method: 'Network.webSocketClosed', params: { requestId: 'r' }, sessionId: 'S1' }]);
  });

  test('what is not CDP is counted and dropped: not JSON, binary, arrays, replies to nothing, echoes of commands', async () => {
    const p = await peer((ws, m) => {
      ws.send('{oops');
      ws.send(Buffer.from('{"method":"A.b"}'), { binary: true });
      ws.send('[]');
      ws.send('{"id": 12345, "result": {}}');
      ws.send(JSON.stringify({ id: m.id, method: m.method, params: {} })); // an echo is an event-shaped message, not a reply
      ws.send(JSON.stringify({ method: 'Real.event', params: [1] }));
      ws.send(JSON.stringify({ id: m.id, result: 7 }));
    });
    const conn = await connectCdp(p.url);
    cleanups.push(() => conn.dispose());
    const events: CdpEvent[] = [];
    conn.onEvent((e) => events.push(e));
    assert.deepEqual(await conn.send('X.y'), {});
    assert.equal(conn.malformedMessages, 4);
    assert.deepEqual(events.map((e) => [e.method, e.params]), [['X.y', {}], ['Real.event', {}]]);
  });

  test('a command with no reply times out; the connection closing rejects the rest and fires onClose once', async () => {
    const p = await peer(() => {});
    const conn = await connectCdp(p.url);
    cleanups.push(() => conn.dispose());
    await assert.rejects(conn.send('Slow.call', {}, undefined, 50), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ETIMEDOUT');
      assert.equal(e.message, 'Slow.call: no reply within 50 ms');
      return true;
    });
    const pending = conn.send('Never.answered');
    const closes: number[] = [];
    conn.onClose((c) => closes.push(c.code));
    p.sockets[0].close(1001, 'bye');
    await assert.rejects(pending, /Never.answered: the DevTools connection closed \(1001\)/);
    assert.deepEqual(closes, [1001]);
    await assert.rejects(conn.send('After.close'), /After.close: the DevTools connection is closed/);
    conn.dispose();
    assert.deepEqual(closes, [1001]);
  });

  test('closeAndWait() ends the connection from our side', async () => {
    const p = await peer(() => {});
    const conn = await connectCdp(p.url);
    await conn.closeAndWait();
    assert.equal(conn.isClosed, true);
    conn.dispose();
  });

  test('connect failures are readable: refused, an HTTP answer instead of an upgrade, a peer that never upgrades', async () => {
    const port = await freePort();
    await assert.rejects(connectCdp(`ws://127.0.0.1:${port}/devtools/browser/x`), (e: unknown) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.code, 'ECONNREFUSED');
      assert.equal(e.message, `Nothing listens at 127.0.0.1:${port}. Start Chromium with --remote-debugging-port=${port}`);
      return true;
    });

    const server = http.createServer((_req, res) => {
      res.statusCode = 404;
      res.end();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise((r) => server.close(r)));
    const httpPort = (server.address() as net.AddressInfo).port;
    await assert.rejects(connectCdp(`ws://127.0.0.1:${httpPort}/devtools/browser/stale`), (e: ConnectionError) => {
      assert.equal(e.code, 'ENOTDEVTOOLS');
      assert.equal(e.status, 404);
      assert.match(e.message, /answered HTTP 404 instead of a DevTools WebSocket\. The target id in the URL may be stale/);
      return true;
    });

    // Accepts TCP and says nothing.
    const silent = net.createServer((s) => s.on('error', () => {}));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    cleanups.push(() => {
      silent.close();
    });
    const silentPort = (silent.address() as net.AddressInfo).port;
    await assert.rejects(connectCdp(`ws://127.0.0.1:${silentPort}/`, { timeoutMs: 100 }), (e: ConnectionError) => {
      assert.equal(e.code, 'ETIMEDOUT');
      assert.equal(e.message, `127.0.0.1:${silentPort} did not complete the DevTools WebSocket upgrade within 100 ms`);
      return true;
    });
    await assert.rejects(connectCdp('not a url'), /Not a valid DevTools WebSocket URL: not a url/);
  });

  test('endpointError names the port the user gave, and says when the peer does not speak HTTP', () => {
    const refused = endpointError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'localhost:9333', 5000);
    assert.equal(refused.message, 'Nothing listens at localhost:9333. Start Chromium with --remote-debugging-port=9333');
    const parse = endpointError(Object.assign(new Error('Parse Error: Expected HTTP/'), { code: 'HPE_INVALID_CONSTANT' }), '127.0.0.1:6379', 5000);
    assert.equal(parse.code, 'ENOTDEVTOOLS');
    assert.match(parse.message, /^127\.0\.0\.1:6379 does not speak HTTP: it is not a Chromium DevTools port/);
  });
});
