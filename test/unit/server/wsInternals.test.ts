// The private fields of `ws` that this project reads (the idle-Sender check in broadcastFastPath.ts, the clean-close
// flags in broadcastServer.ts, the client's request in socketTap.ts). ws is pinned to an exact version in
// package.json; when an update renames or changes these fields, this test fails instead of the fast path switching
// itself off in silence.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import wsPackage from 'ws/package.json';
import projectPackage from '../../../package.json';

interface SenderInternals {
  _state: number;
  _queue: unknown[];
  _firstFragment: boolean;
}
interface WsInternals {
  _sender: SenderInternals;
  _closeFrameReceived: boolean;
  _closeFrameSent: boolean;
  _req: http.ClientRequest | null;
}
const internals = (ws: WebSocket) => ws as unknown as WsInternals;

/** A real server and client on loopback; the server's end of the connection and the client. */
async function pair(perMessageDeflate: boolean): Promise<{ server: WebSocket; client: WebSocket; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate });
  await once(wss, 'listening');
  const client = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`, { perMessageDeflate });
  const req = internals(client)._req;
  assert.ok(req instanceof http.ClientRequest, 'a connecting client holds its upgrade request in _req');
  const [[server]] = await Promise.all([once(wss, 'connection') as Promise<[WebSocket]>, once(client, 'open')]);
  assert.equal(internals(client)._req, null, 'an open client has dropped its request');
  return { server, client, close: () => new Promise<void>((resolve) => wss.close(() => resolve())) };
}

describe('ws private fields this project reads', () => {
  test('ws is the exact version package.json pins', () => {
    assert.match(projectPackage.dependencies.ws, /^\d+\.\d+\.\d+$/, 'pinned, not a range');
    assert.equal(wsPackage.version, projectPackage.dependencies.ws);
  });

  test('an idle Sender: _state 0, an empty _queue, _firstFragment true; a fragment in progress clears _firstFragment', async () => {
    const { server, client, close } = await pair(false);
    try {
      const s = internals(server)._sender;
      assert.equal(s._state, 0);
      assert.deepEqual(s._queue, []);
      assert.equal(s._firstFragment, true);
      server.send('part', { fin: false });
      assert.equal(s._firstFragment, false, 'in the middle of a fragmented message');
      server.send('end', { fin: true });
      assert.equal(s._firstFragment, true);
      const [data] = await once(client, 'message');
      assert.equal(String(data), 'partend');
    } finally {
      client.terminate();
      await close();
    }
  });

  test('a deflating Sender is not idle: _state is not 0 and the next message waits in _queue', async () => {
    const { server, client, close } = await pair(true);
    try {
      const s = internals(server)._sender;
      server.send(Buffer.alloc(64 * 1024, 'a'), { compress: true });
      assert.notEqual(s._state, 0, 'deflating');
      server.send('next', { compress: true });
      assert.equal(s._queue.length, 1, 'queued behind the deflate');
      const received: string[] = [];
      client.on('message', (d) => received.push(String(d).slice(0, 4)));
      while (received.length < 2) await once(client, 'message');
      assert.deepEqual(received, ['aaaa', 'next']);
      assert.equal(s._state, 0);
      assert.deepEqual(s._queue, []);
    } finally {
      client.terminate();
      await close();
    }
  });

  test('_closeFrameReceived and _closeFrameSent: both true after a clean close, on both ends', async () => {
    const { server, client, close } = await pair(false);
    try {
      assert.equal(internals(server)._closeFrameReceived, false);
      assert.equal(internals(server)._closeFrameSent, false);
      client.close(1000, 'bye');
      await Promise.all([once(server, 'close'), once(client, 'close')]);
      for (const ws of [server, client]) {
        assert.equal(internals(ws)._closeFrameReceived, true);
        assert.equal(internals(ws)._closeFrameSent, true);
      }
    } finally {
      await close();
    }
  });
});
