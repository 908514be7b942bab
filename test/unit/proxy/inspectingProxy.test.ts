import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { InspectingProxy } from '../../../src/core/proxy/inspectingProxy';
import { devCredentials } from '../tlsCredentials';
import { RawClient, cleanups, clientWith, proxyTo, runCleanups, splitHead, startTarget } from './proxyHelpers';
import { waitFor } from '../../support/waitFor';

afterEach(runCleanups);

describe('InspectingProxy: refusals and failures', () => {
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
});
