import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as http from 'node:http';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { BroadcastServer, type DisconnectEvent } from '../../../src/core/server/broadcastServer';
import type { ClientInfo } from '../../../src/core/server/clientRegistry';
import { waitFor } from '../../support/waitFor';
import { cleanups, client, drained, rawUpgrade, runCleanups, startServer } from './helpers';

afterEach(runCleanups);

/** A masked client frame (mask key 0 keeps the payload readable in hex). */
function clientFrame(firstByte: number, payload: Buffer): Buffer {
  assert.ok(payload.length < 126);
  return Buffer.concat([Buffer.from([firstByte, 0x80 | payload.length, 0, 0, 0, 0]), payload]);
}

describe('BroadcastServer relay', () => {
  test('setRelay changes the mode for the next message', async () => {
    const { server, address } = await startServer();
    const a = await client(address.url);
    const b = await client(address.url);
    await waitFor('2 clients connected', () => server.clients().length === 2);
    server.setRelay('echo');
    a.ws.send('one');
    await waitFor('the echo at a', () => a.received.length === 1);
    await drained(server, [a, b]);
    assert.deepEqual(b.texts(), []);
    assert.throws(() => server.setRelay('all' as never), TypeError);
  });

  test('text stays text and binary stays binary, byte for byte', async () => {
    const { server, address } = await startServer();
    const a = await client(address.url);
    const b = await client(address.url);
    await waitFor('2 clients connected', () => server.clients().length === 2);
    const bin = Buffer.from([0, 1, 2, 0xff, 0xfe]);
    const big = Buffer.alloc(70_000, 7); // 64-bit length form, written without the merge copy
    a.ws.send('héllo');
    a.ws.send(bin);
    a.ws.send(big);
    await waitFor('3 messages at b', () => b.received.length === 3);
    assert.equal(b.received[0].isBinary, false);
    assert.equal(b.received[0].data.toString(), 'héllo');
    assert.equal(b.received[1].isBinary, true);
    assert.deepEqual(b.received[1].data, bin);
    assert.equal(b.received[2].isBinary, true);
    assert.deepEqual(b.received[2].data, big);
  });

  test('relayed bytes are one unmasked FIN frame per message', async () => {
    const { server, address } = await startServer();
    const raw = await rawUpgrade(address.port);
    const a = await client(address.url);
    await waitFor('2 clients connected', () => server.clients().length === 2);
    a.ws.send('Hello');
    await waitFor('7 bytes at the raw client', () => raw.bytes().length === 7);
    assert.equal(raw.bytes().toString('hex'), '810548656c6c6f');
  });

  test('deflate clients and plain clients both receive', async () => {
    const { server, address } = await startServer({ perMessageDeflate: true });
    const z = await client(address.url, { perMessageDeflate: true });
    const p = await client(address.url, { perMessageDeflate: false });
    await waitFor('2 clients connected', () => server.clients().length === 2);
    assert.match(z.ws.extensions, /permessage-deflate/);
    assert.equal(p.ws.extensions, '');
    for (let i = 0; i < 20; i++) z.ws.send(`m${i} ${'x'.repeat(200)}`);
    await waitFor('20 messages at each client', () => z.received.length === 20 && p.received.length === 20);
    const want = Array.from({ length: 20 }, (_, i) => `m${i} ${'x'.repeat(200)}`);
    assert.deepEqual(z.texts(), want);
    assert.deepEqual(p.texts(), want);
  });

  test('onDidReceive reports each message once, with counters', async () => {
    const { server, address } = await startServer({ relay: 'broadcastOthers' });
    const seen: Array<{ clientId: string; text: string; isBinary: boolean }> = [];
    server.onDidReceive((e) => seen.push({ clientId: e.clientId, text: e.data.toString(), isBinary: e.isBinary }));
    const a = await client(address.url);
    const b = await client(address.url);
    await waitFor('2 clients connected', () => server.clients().length === 2);
    const [ia, ib] = server.clients();
    a.ws.send('abc');
    a.ws.send(Buffer.from('de'));
    await waitFor('2 messages at b', () => b.received.length === 2);
    assert.deepEqual(seen, [
      { clientId: ia.id, text: 'abc', isBinary: false },
      { clientId: ia.id, text: 'de', isBinary: true },
    ]);
    const ca = server.client(ia.id)!;
    const cb = server.client(ib.id)!;
    assert.deepEqual([ca.messagesIn, ca.bytesIn, ca.messagesOut, ca.bytesOut], [2, 5, 0, 0]);
    assert.deepEqual([cb.messagesIn, cb.bytesIn, cb.messagesOut, cb.bytesOut], [0, 0, 2, 5]);
  });
});

describe('BroadcastServer clients', () => {
  test('the client set follows clean and abrupt disconnects', async () => {
    const { server, address } = await startServer();
    const connected: ClientInfo[] = [];
    const gone: DisconnectEvent[] = [];
    server.onDidConnect((c) => connected.push(c));
    server.onDidDisconnect((e) => gone.push(e));
    const a = await client(address.url, { headers: { 'User-Agent': 'test-agent/1', Origin: 'http://localhost:5173' } });
    const b = await client(address.url, { protocol: undefined });
    await waitFor('2 connect events', () => connected.length === 2);
    assert.equal(server.clients().length, 2);
    assert.notEqual(connected[0].id, connected[1].id);
    assert.equal(connected[0].userAgent, 'test-agent/1');
    assert.equal(connected[0].origin, 'http://localhost:5173');
    assert.equal(connected[0].remoteAddress, '127.0.0.1');
    assert.equal(connected[0].remotePort, a.ws['_socket' as never]['localPort' as never]);
    assert.ok(Math.abs(connected[0].connectedAt - Date.now()) < 5000);

    a.ws.close(4001, 'bye');
    await waitFor('the disconnect event', () => gone.length === 1);
    assert.equal(gone[0].client.id, connected[0].id);
    assert.equal(gone[0].code, 4001);
    assert.equal(gone[0].reason, 'bye');
    assert.equal(gone[0].clean, true);
    assert.deepEqual(server.clients().map((c) => c.id), [connected[1].id]);

    (b.ws as unknown as { _socket: net.Socket })._socket.destroy();
    await waitFor('2 disconnect events', () => gone.length === 2);
    assert.equal(gone[1].client.id, connected[1].id);
    assert.equal(gone[1].code, 1006);
    assert.equal(gone[1].clean, false);
    assert.deepEqual(server.clients(), []);
  });

  test('subprotocol is recorded', async () => {
    const { server, address } = await startServer();
    await client(address.url, {}).then(() => undefined);
    const ws = new WebSocket(address.url, ['chat.v2']);
    cleanups.push(() => ws.terminate());
    await once(ws, 'open');
    await waitFor('2 clients connected', () => server.clients().length === 2);
    assert.deepEqual(server.clients().map((c) => c.subprotocol), ['', 'chat.v2']);
  });

  test('sendToAll, sendTo and disconnect', async () => {
    const { server, address } = await startServer();
    const a = await client(address.url);
    const b = await client(address.url);
    await waitFor('2 clients connected', () => server.clients().length === 2);
    const [ia, ib] = server.clients();
    assert.equal(server.sendToAll('to all'), 2);
    server.sendToAll(Buffer.from([1, 2, 3]));
    server.sendTo(ib.id, 'just b');
    await waitFor('2 messages at a and 3 at b', () => a.received.length === 2 && b.received.length === 3);
    await drained(server, [a, b]);
    assert.deepEqual(a.received.map((r) => [r.data.toString('hex'), r.isBinary]), [
      [Buffer.from('to all').toString('hex'), false],
      ['010203', true],
    ]);
    assert.deepEqual(b.texts()[2], 'just b');

    assert.throws(() => server.sendTo('nope', 'x'), { code: 'ERR_UNKNOWN_CLIENT', message: /No connected client with id "nope"/ });
    assert.throws(() => server.disconnect('nope'), { code: 'ERR_UNKNOWN_CLIENT' });
    assert.throws(() => server.disconnect(ia.id, 1005), TypeError);

    const closed = once(a.ws, 'close');
    server.disconnect(ia.id, 4000, 'kicked');
    const [code, reason] = await closed;
    assert.equal(code, 4000);
    assert.equal(String(reason), 'kicked');
    await waitFor('1 client connected', () => server.clients().length === 1);
  });

  test('maxClients answers 503 before the upgrade', async () => {
    const { server, address } = await startServer({ maxClients: 2 });
    await client(address.url);
    await client(address.url);
    await waitFor('2 clients connected', () => server.clients().length === 2);
    const ws = new WebSocket(address.url);
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    const [, res] = (await once(ws, 'unexpected-response')) as [http.ClientRequest, http.IncomingMessage];
    assert.equal(res.statusCode, 503);
    let body = '';
    for await (const chunk of res) body += chunk;
    assert.match(body, /maxClients is 2/);
    assert.equal(server.clients().length, 2);
  });

  test('plain HTTP gets 426 Upgrade Required; a wrong path gets 404', async () => {
    const { address } = await startServer({ path: '/ws' });
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get(`http://127.0.0.1:${address.port}/`, resolve).on('error', reject),
    );
    res.resume();
    assert.equal(res.statusCode, 426);
    assert.equal(res.headers.upgrade, 'websocket');

    const ws = new WebSocket(`ws://127.0.0.1:${address.port}/other`);
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    const [, r404] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage];
    assert.equal(r404.statusCode, 404);
    assert.equal(address.url, `ws://127.0.0.1:${address.port}/ws`);
    await client(address.url); // the right path works
  });
});

describe('BroadcastServer robustness', () => {
  for (const [name, frame, wsCode] of [
    ['RSV2 set', clientFrame(0xa1, Buffer.from('hi')), 'WS_ERR_UNEXPECTED_RSV_2_3'],
    ['unmasked frame', Buffer.from('810268 69'.replace(' ', ''), 'hex'), 'WS_ERR_EXPECTED_MASK'],
  ] as const) {
    test(`a malformed frame (${name}) closes only that client, with 1002`, async () => {
      const { server, address } = await startServer();
      const gone: DisconnectEvent[] = [];
      server.onDidDisconnect((e) => gone.push(e));
      const good = await client(address.url);
      const raw = await rawUpgrade(address.port);
      await waitFor('2 clients connected', () => server.clients().length === 2);
      raw.socket.write(frame);
      await once(raw.socket, 'close');
      // The server's close frame: FIN+close, length 2, status 1002.
      assert.equal(raw.bytes().toString('hex'), '880203ea');
      await waitFor('the disconnect event', () => gone.length === 1);
      assert.equal(gone[0].code, 1002);
      assert.equal(gone[0].clean, false);
      assert.equal(gone[0].error?.code, wsCode);
      const other = await client(address.url);
      await waitFor('2 clients connected', () => server.clients().length === 2);
      other.ws.send('still here');
      await waitFor('the message at the good client', () => good.received.length === 1);
      assert.equal(good.texts()[0], 'still here');
    });
  }

  test('a message over maxPayload closes that client with 1009', async () => {
    const { server, address } = await startServer({ maxPayload: 1000 });
    const gone: DisconnectEvent[] = [];
    server.onDidDisconnect((e) => gone.push(e));
    const a = await client(address.url);
    const closed = once(a.ws, 'close');
    a.ws.send(Buffer.alloc(1001));
    const [code] = await closed;
    assert.equal(code, 1009);
    await waitFor('the disconnect event', () => gone.length === 1);
    assert.equal(gone[0].code, 1009);
  });

  test('stop() closes clients with 1001 and frees the port at once', async () => {
    const { server, address } = await startServer();
    const a = await client(address.url);
    const b = await client(address.url);
    // A socket that never upgrades must not keep the port.
    const idle = net.connect(address.port, '127.0.0.1');
    idle.on('error', () => {});
    cleanups.push(() => idle.destroy());
    await once(idle, 'connect');
    const states: string[] = [];
    server.onDidChangeState((s) => states.push(s.state));
    const closes = [once(a.ws, 'close'), once(b.ws, 'close')];
    await server.stop();
    for (const c of await Promise.all(closes)) {
      assert.equal(c[0], 1001);
      assert.equal(String(c[1]), 'server stopping');
    }
    assert.deepEqual(states, ['stopping', 'stopped']);
    assert.equal(server.state, 'stopped');
    const again = await server.start({ port: address.port, heartbeatIntervalMs: 0 });
    assert.equal(again.port, address.port);
    await client(again.url);
  });

  test('stop() right after start() waits for it; a second stop() shares the first', async () => {
    const server = new BroadcastServer();
    const started = server.start({ port: 0, heartbeatIntervalMs: 0 });
    const stopped = server.stop();
    const address = await started;
    await Promise.all([stopped, server.stop()]);
    assert.equal(server.state, 'stopped');
    // The port is free again.
    const again = await server.start({ port: address.port, heartbeatIntervalMs: 0 });
    await server.stop();
    assert.equal(again.port, address.port);
  });

  test('a busy port rejects with EADDRINUSE and a clear message', async () => {
    const { address } = await startServer();
    const second = new BroadcastServer();
    await assert.rejects(second.start({ port: address.port }), {
      code: 'EADDRINUSE',
      message: `Port ${address.port} on 127.0.0.1 is already in use; stop the other program or choose another port`,
    });
    assert.equal(second.state, 'stopped');
  });
});

describe('BroadcastServer exposure', () => {
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

describe('BroadcastServer origins', () => {
  /** Upgrades with `origin` (none when undefined); resolves with the status and, for a refusal, the body. */
  async function handshake(url: string, origin?: string): Promise<{ status: number; body: string }> {
    const ws = new WebSocket(url, origin === undefined ? {} : { headers: { Origin: origin } });
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    const r = await Promise.race([
      once(ws, 'open').then(() => ({ status: 101, body: '' })),
      once(ws, 'unexpected-response').then(async (args) => {
        const res = args[1] as http.IncomingMessage;
        let body = '';
        for await (const chunk of res) body += chunk;
        return { status: res.statusCode ?? 0, body };
      }),
    ]);
    ws.terminate();
    return r;
  }

  const LOCAL = ['http://localhost:5173', 'https://127.0.0.1', 'http://[::1]:3000', 'vscode-webview://1ls9sbb2k1a3pfp5gq8hkl0b5an8gg4rpo93u7pfgf9trcb8ni6j', 'vscode-file://vscode-app'];
  const FOREIGN = ['http://evil.test', 'http://localhost.evil.test', 'http://127.0.0.1.evil.test', 'null', 'http://localhost@evil.test'];

  test('by default, no Origin and local origins connect; other sites, null and malformed origins get 403 naming the setting', async () => {
    const { server, address } = await startServer();
    const rejects: Array<{ status: number; code: string; reason: string }> = [];
    server.onDidReject((e) => rejects.push(e));
    for (const origin of [undefined, ...LOCAL]) assert.equal((await handshake(address.url, origin)).status, 101, `${origin} connects`);
    for (const origin of FOREIGN) {
      const reason = `origin ${origin} is not allowed; add it to wsInspector.server.allowedOrigins to allow it`;
      assert.deepEqual(await handshake(address.url, origin), { status: 403, body: `403 Forbidden: ${reason}\n` });
      const r = rejects.at(-1)!;
      assert.deepEqual([r.status, r.code, r.reason], [403, 'ERR_ORIGIN', reason]);
    }
    assert.equal(rejects.length, FOREIGN.length);
  });

  test('allowedOrigins adds origins; local ones still connect and others are still refused', async () => {
    const { address } = await startServer({ allowedOrigins: ['http://evil.test', 'null'] });
    for (const origin of [undefined, ...LOCAL, 'http://EVIL.test/', 'null']) {
      assert.equal((await handshake(address.url, origin)).status, 101, `${origin} connects`);
    }
    for (const origin of ['http://evil.test:8080', 'https://evil.test', 'http://localhost.evil.test']) {
      assert.equal((await handshake(address.url, origin)).status, 403, `${origin} is refused`);
    }
  });

  test('another origin gets 403; an allowed one and a client without Origin connect', async () => {
    const { server, address, rejects } = await startServer({ allowedOrigins: ['https://app.example', 'http://localhost:3000/'] });
    const evil = new WebSocket(address.url, { headers: { Origin: 'https://evil.example' } });
    evil.on('error', () => {});
    cleanups.push(() => evil.terminate());
    const [, res] = (await once(evil, 'unexpected-response')) as [http.ClientRequest, http.IncomingMessage];
    let body = '';
    for await (const chunk of res) body += chunk;
    assert.equal(res.statusCode, 403);
    assert.equal(body, '403 Forbidden: origin https://evil.example is not allowed; add it to wsInspector.server.allowedOrigins to allow it\n');
    assert.deepEqual(rejects.map((r) => [r.status, r.code]), [[403, 'ERR_ORIGIN']]);
    await client(address.url, { headers: { Origin: 'https://APP.example' } });
    await client(address.url, { origin: 'http://localhost:3000' });
    await client(address.url); // ws sends no Origin by default
    await waitFor('3 clients connected', () => server.clients().length === 3);
  });
});
