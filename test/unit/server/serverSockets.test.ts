// The broadcast server's TCP connections from accept to close (src/core/server/serverSockets.ts): the handshake
// timer, and for wss the raw TCP sockets under the TLS ones.
import { describe, test, afterEach, before } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import type { NewCaptureEvent } from '../../../src/core/capture/events';
import { devCredentials } from '../tlsCredentials';
import { sleep, waitFor } from '../../support/waitFor';
import { cleanups, runCleanups, startServer, textClient } from './helpers';

afterEach(runCleanups);

describe('timeouts', () => {
  test('handshake timeout: a TCP connection without an upgrade request is destroyed; an upgraded one is not', async () => {
    const { server, address, breaches } = await startServer({ handshakeTimeoutMs: 150 });
    const good = await textClient(address.url);
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
    // The upgraded client's own handshake timer, had it one, started earlier and would have fired first: a ping
    // answered now shows its connection outlived it.
    let ponged = false;
    good.ws.once('pong', () => (ponged = true));
    good.ws.ping();
    await waitFor('the pong of the upgraded client', () => ponged);
    assert.equal(good.ws.readyState, WebSocket.OPEN);
    assert.equal(server.clients().length, 1);
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
    const a = await textClient(address.url, { ca: creds.cert });
    const b = await textClient(address.url, { ca: creds.cert });
    await waitFor('2 clients connected', () => server.clients().length === 2);
    a.ws.send('over tls');
    await waitFor('the message at b', () => b.received.length === 1);
    assert.equal(b.received[0], 'over tls');

    const untrusted = new WebSocket(address.url);
    cleanups.push(() => untrusted.terminate());
    const [err] = (await once(untrusted, 'error')) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    // A window, not a condition: the server reports nothing for a handshake the client refused, so the test gives
    // the refused connection a moment in which it must not become a client.
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
    await waitFor('the breach', () => breaches.length === 1);
    assert.deepEqual([breaches[0].limit, breaches[0].action], ['handshakeTimeout', 'terminate']);
    assert.match(breaches[0].clientId, /^c\d+$/);
    assert.equal(breaches[0].detail, 'no complete TLS handshake within 150 ms');
  });

  test('wss with capture: the capture records the decrypted handshake and frames', async () => {
    const events: NewCaptureEvent[] = [];
    const capture = { append: (e: NewCaptureEvent) => events.push(e) };
    const { server, address } = await startServer({ tls: creds, capture });
    const a = await textClient(address.url, { ca: creds.cert });
    await waitFor('1 client connected', () => server.clients().length === 1);
    a.ws.send('secret hello');
    await waitFor('the message at a', () => a.received.length === 1);
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
