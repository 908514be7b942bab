// Outgoing connections as a user meets them (issue 19, points 5, 6, 8, 9): forgiving URLs, loud abnormal closes,
// auto-reconnect on the same connection, and TLS errors told in the endpoint's own settings. Real servers on loopback.
import * as assert from 'node:assert/strict';
import * as https from 'node:https';
import * as net from 'node:net';
import * as vscode from 'vscode';
import { WebSocketServer, type WebSocket } from 'ws';
import type { ExtensionApi } from '../../src/extension/extension';
import { TRUST_ACTION } from '../../src/extension/clientCommands';
import { devCredentials } from '../unit/tlsCredentials';
import { activateExtension, waitFor } from './waitFor';

const config = () => vscode.workspace.getConfiguration('wsInspector');

async function wsServer(): Promise<{ wss: WebSocketServer; port: number; sockets: WebSocket[]; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((resolve) => wss.once('listening', resolve));
  const sockets: WebSocket[] = [];
  wss.on('connection', (ws) => sockets.push(ws));
  return {
    wss,
    port: (wss.address() as net.AddressInfo).port,
    sockets,
    close: () => {
      for (const c of wss.clients) c.terminate();
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

/** A port nothing listens on: bound, then closed. */
async function refusedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

describe('Outgoing connections (issue 19: connecting like Postman)', function () {
  this.timeout(30_000);
  let api: ExtensionApi;
  const seen = new Set<unknown>();
  /** The next notification whose message has `marker`, not one an earlier test already took. */
  const shown = (marker: string) =>
    waitFor(`a notification with "${marker}"`, () => api.notifications().find((n) => !seen.has(n) && n.message.includes(marker))).then((n) => {
      seen.add(n);
      return n;
    });

  before(async () => {
    api = await activateExtension();
  });
  afterEach(async () => {
    await vscode.commands.executeCommand('notifications.clearAll');
    for (const o of api.session.outgoingConnections()) api.session.closeOutgoing(o.id);
    await config().update('endpoints', undefined, vscode.ConfigurationTarget.Global);
  });

  it('host:port gets ws://, and a server that resets the connection gives a loud 1006 (reset) with Reconnect and Show Frames', async () => {
    const server = await wsServer();
    try {
      const id = await vscode.commands.executeCommand<string>('wsInspector.connect', `127.0.0.1:${server.port}/chat`);
      assert.equal(typeof id, 'string', 'the URL without a scheme connected');
      assert.equal(api.session.outgoingConnections().find((o) => o.id === id)?.url, `ws://127.0.0.1:${server.port}/chat`);
      await waitFor('the server side', () => server.sockets[0]);
      (server.sockets[0] as unknown as { _socket: net.Socket })._socket.resetAndDestroy();
      const n = await shown(`ws://127.0.0.1:${server.port}/chat closed abnormally`);
      assert.equal(n.severity, 'error');
      assert.match(n.message, /closed abnormally: 1006 \(reset\)/);
      assert.deepEqual(n.actions, ['Reconnect', 'Show Frames']);
    } finally {
      await server.close();
    }
  });

  it('a refused port says refused; a #fragment is refused with the reason before anything is dialled', async () => {
    const port = await refusedPort();
    const connecting = vscode.commands.executeCommand('wsInspector.connect', `ws://127.0.0.1:${port}/`);
    const n = await shown(`Could not connect to ws://127.0.0.1:${port}/`);
    assert.match(n.message, /refused/i);
    await vscode.commands.executeCommand('notifications.clearAll');
    assert.equal(await connecting, undefined);

    const before = api.session.outgoingConnections().length;
    assert.equal(await vscode.commands.executeCommand('wsInspector.connect', `ws://127.0.0.1:${port}/#room`), undefined);
    const f = await shown('#fragment');
    assert.equal(f.severity, 'error');
    assert.equal(api.session.outgoingConnections().length, before, 'nothing was dialled');
  });

  it('reconnect: the endpoint setting reconnects the same connection with backoff; each attempt is in the capture', async () => {
    const server = await wsServer();
    try {
      const url = `ws://127.0.0.1:${server.port}/again`;
      await config().update('endpoints', [{ name: 'again', url, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } }], vscode.ConfigurationTarget.Global);
      const first = await vscode.commands.executeCommand<string>('wsInspector.connect', url);
      assert.match(first ?? '', /^o\d+\.1$/);
      await waitFor('the server side', () => server.sockets[0]);
      server.sockets[0].terminate();
      const warn = await shown(`${url} closed abnormally`);
      assert.equal(warn.severity, 'warning', 'reconnecting on its own: a warning');
      assert.match(warn.message, /Reconnecting in/);
      const again = await waitFor('the connection open again', () => {
        const mine = api.session.outgoingConnections().filter((o) => o.url === url);
        return mine.length === 1 && mine[0].state === 'open' && mine[0].id !== first ? mine[0] : undefined;
      });
      assert.equal(again.url, url, 'the same connection, same place and label');
      assert.equal(again.id.split('.')[0], first?.split('.')[0], 'the same ClientConnection, its next TCP connection');
      const opens = api.session.store.query({ kinds: ['connection'], backward: true, limit: 10_000 }).events.filter((e) => e.connectionId.startsWith(`${first?.split('.')[0]}.`) && (e as { state?: string }).state === 'open');
      assert.ok(opens.length >= 2, `each attempt is a connection in the timeline (${opens.length})`);
    } finally {
      await server.close();
    }
  });

  it('an untrusted certificate names caFile and allowSelfSigned of the endpoint and offers to trust a CA file', async () => {
    const { key, cert } = await devCredentials();
    const web = https.createServer({ key, cert });
    const wss = new WebSocketServer({ server: web });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    try {
      const url = `wss://127.0.0.1:${(web.address() as net.AddressInfo).port}/`;
      const connecting = vscode.commands.executeCommand('wsInspector.connect', url);
      const n = await shown(`Could not connect to ${url}`);
      assert.match(n.message, /caFile/);
      assert.match(n.message, /allowSelfSigned/);
      assert.doesNotMatch(n.message, /tls\.ca|rejectUnauthorized/, 'no library option names');
      assert.deepEqual(n.actions, [TRUST_ACTION, 'Show Log']);
      await vscode.commands.executeCommand('notifications.clearAll');
      assert.equal(await connecting, undefined);
    } finally {
      for (const c of wss.clients) c.terminate();
      wss.close();
      web.closeAllConnections();
      await new Promise((resolve) => web.close(resolve));
    }
  });
});
