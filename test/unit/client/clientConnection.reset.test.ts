import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type * as net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { ClientConnection, type ClientStateChange } from '../../../src/core/client/clientConnection';

describe('ClientConnection: a reset after the upgrade', () => {
  test('closes with 1006 and the socket\'s cause (ECONNRESET), which ws alone does not report', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', r));
    const server = new Promise<WebSocket>((r) => wss.once('connection', r));
    const c = new ClientConnection(`ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}/`);
    try {
      const closed = new Promise<ClientStateChange>((resolve) => c.onDidChangeState((e) => e.state === 'closed' && resolve(e)));
      c.open();
      const peer = await server;
      await new Promise((r) => setTimeout(r, 50));
      (peer as unknown as { _socket: net.Socket })._socket.resetAndDestroy();
      const e = await closed;
      assert.equal(e.code, 1006);
      assert.equal(e.error?.code, 'ECONNRESET');
      assert.match(e.error?.message ?? '', /reset/);
    } finally {
      c.dispose();
      await new Promise((r) => wss.close(r));
    }
  });
});
