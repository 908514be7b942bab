import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as vscode from 'vscode';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket, { WebSocketServer } from 'ws';
import type { ExtensionApi } from '../../src/extension/extension';
import { activateExtension, waitFor } from './waitFor';

function openClient(url: string, userAgent = 'wsi-vscode-test'): Promise<{ ws: WebSocket; received: string[] }> {
  return new Promise((resolve, reject) => {
    // The Authorization header is not checked (auth is off); the export must not write its value.
    const ws = new WebSocket(url, { headers: { 'User-Agent': userAgent, Authorization: 'Bearer wsi-test-secret-42' } });
    const received: string[] = [];
    ws.on('message', (d) => received.push(String(d)));
    ws.once('open', () => resolve({ ws, received }));
    ws.once('error', reject);
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

// Each test sets up the server, clients and peers it uses: none relies on what an earlier one left.
describe('WebSocket Inspector in a real extension host', function () {
  let api: ExtensionApi;
  const clients: WebSocket[] = [];
  const peers: WebSocketServer[] = [];

  before(async () => {
    api = await activateExtension();
    await vscode.workspace.getConfiguration('wsInspector').update('server.port', 0, vscode.ConfigurationTarget.Global);
  });

  /** Starts the embedded server afresh (stopping one that runs), so that its clients are the test's own. */
  async function freshServer(): Promise<string> {
    if (api.session.serverAddress) await vscode.commands.executeCommand('wsInspector.stopServer');
    const url = (await vscode.commands.executeCommand('wsInspector.startServer')) as string;
    assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+/);
    return url;
  }

  /** A plain ws echo peer, outside the extension, that sends a greeting on open; returns its URL with `path`. */
  async function echoPeer(path: string): Promise<{ peer: WebSocketServer; url: string }> {
    const peer = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => 'chat.v1' });
    peers.push(peer);
    peer.on('connection', (ws) => {
      ws.send('welcome');
      ws.on('message', (d, isBinary) => ws.send(d, { binary: isBinary }));
    });
    await new Promise((r) => peer.once('listening', r));
    return { peer, url: `ws://127.0.0.1:${(peer.address() as net.AddressInfo).port}${path}` };
  }

  /** The capture of outgoing connection `connectionId`, once it holds the echo of `text`. */
  function echoCaptured(connectionId: string, text: string) {
    const store = api.session.store;
    const summary = () =>
      store
        .query({ connectionId })
        .events.map((e) => `${e.kind}${e.kind === 'message' ? `:${e.direction}:${e.data}` : ''}`)
        .join(' ');
    return waitFor(() => `the echo to be captured in ${connectionId}; have: ${summary()}`, () => {
      const ev = store.query({ connectionId }).events;
      return ev.some((e) => e.kind === 'message' && e.direction === 's2c' && e.data.toString() === text) && ev;
    });
  }

  after(async () => {
    for (const c of clients) c.terminate();
    for (const p of peers) p.close();
    await vscode.commands.executeCommand('wsInspector.stopServer');
  });

  it('contributes every command under the WebSocket category', async () => {
    const all = await vscode.commands.getCommands(true);
    for (const id of [
      'wsInspector.startServer',
      'wsInspector.stopServer',
      'wsInspector.connect',
      'wsInspector.disconnect',
      'wsInspector.openInspector',
      'wsInspector.sendToAll',
      'wsInspector.exportSession',
    ]) {
      assert.ok(all.includes(id), `${id} is registered`);
    }
    console.log(`    activation took ${api.activationMs.toFixed(1)} ms`);
  });

  it('starts the server; real clients show up in the client set, the status bar and the tree', async () => {
    const url = await freshServer();
    const a = await openClient(url);
    const b = await openClient(url);
    clients.push(a.ws, b.ws);
    await waitFor('two clients', () => api.session.clientCount === 2);
    const port = new URL(url).port;
    await waitFor('status bar text', () => api.statusBarText() === `$(broadcast) WS :${port} · 2 clients`);
    // The Connections view: the server, with both clients under it.
    const [serverNode] = api.tree.getChildren();
    assert.equal(serverNode.type, 'server');
    const serverItem = api.tree.getTreeItem(serverNode);
    assert.equal(serverItem.label, `Server :${port}`);
    assert.match(String(serverItem.description), /^2 clients · broadcast$/);
    const clientItems = api.tree.getChildren(serverNode).map((n) => api.tree.getTreeItem(n));
    assert.equal(clientItems.length, 2);
    assert.ok(clientItems.every((i) => /^127\.0\.0\.1:\d+$/.test(String(i.label)) && i.contextValue === 'serverClient'));
    const rows = api.session.connections();
    assert.equal(rows.length, 2);
    assert.ok(rows.every((r) => r.userAgent === 'wsi-vscode-test'));

    const sent = await vscode.commands.executeCommand('wsInspector.sendToAll', 'hello from VS Code');
    assert.equal(sent, 2, 'the command reports two recipients');
    await waitFor(
      () => `both clients to receive the message (got ${JSON.stringify([a.received, b.received])})`,
      () => a.received.includes('hello from VS Code') && b.received.includes('hello from VS Code'),
    );

    // The capture recorded the server→client frame of that message for each client (a broadcast is recorded once,
    // listing every connection it went to).
    for (const row of rows) {
      const frames = api.session.store.query({ kinds: ['frame'], direction: 's2c', connectionId: row.id, text: 'hello from VS Code' }).events;
      assert.equal(frames.length, 1, `client ${row.id} has the frame`);
    }
  });

  it('Connect captures the handshake and the frames of an outgoing connection', async () => {
    const { url } = await echoPeer('/echo?x=1');
    const connectionId = (await vscode.commands.executeCommand('wsInspector.connect', url)) as string;
    assert.ok(connectionId, 'the command returns the capture id of the open connection');
    await api.session.send({ kind: 'connection', connectionId }, 'ping-from-test');
    const events = await echoCaptured(connectionId, 'ping-from-test');
    const hs = events.find((e) => e.kind === 'handshake');
    assert.ok(hs && hs.kind === 'handshake');
    assert.equal(hs.request.startLine, 'GET /echo?x=1 HTTP/1.1');
    assert.equal(hs.status, 101);
    const frames = events.filter((e) => e.kind === 'frame');
    const sent = frames.find((f) => f.kind === 'frame' && f.direction === 'c2s' && f.payload.toString() === 'ping-from-test');
    assert.ok(sent && sent.kind === 'frame' && sent.masked && sent.maskKey?.length === 4, 'client frames are captured masked, with their key');
    assert.ok(frames.some((f) => f.kind === 'frame' && f.direction === 's2c' && f.payload.toString() === 'welcome'));
  });

  it('Open Inspector opens the panel, and Disconnect closes the outgoing connection with 1000', async () => {
    await vscode.commands.executeCommand('wsInspector.openInspector');
    await waitFor('the inspector tab', () =>
      vscode.window.tabGroups.all
        .flatMap((g) => g.tabs)
        .some((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('wsInspector.inspector')),
    );
    // Its own outgoing connection, to its own peer.
    const { peer, url } = await echoPeer('/to-disconnect');
    const id = (await vscode.commands.executeCommand('wsInspector.connect', url)) as string;
    assert.ok(api.session.outgoingConnections().some((o) => o.id === id), 'the connection is listed');
    const [atPeer] = await waitFor('the connection at the peer', () => peer.clients.size === 1 && [...peer.clients]);
    const closed = new Promise<number>((resolve) => atPeer.once('close', (code) => resolve(code)));
    await vscode.commands.executeCommand('wsInspector.disconnect', id);
    assert.equal(await closed, 1000);
    assert.ok(!api.session.outgoingConnections().some((o) => o.id === id), 'no longer listed');
  });

  it('Export Session writes a HAR file that parses and holds the frames', async () => {
    // Two clients of the server, with a user agent of their own, get a broadcast; an outgoing connection gets an echo.
    const serverUrl = await freshServer();
    const a = await openClient(serverUrl, 'wsi-vscode-export');
    const b = await openClient(serverUrl, 'wsi-vscode-export');
    clients.push(a.ws, b.ws);
    await waitFor('two clients', () => api.session.clientCount === 2);
    assert.equal(await vscode.commands.executeCommand('wsInspector.sendToAll', 'hello from the export test'), 2);
    await waitFor('the broadcast at both clients', () => a.received.length === 1 && b.received.length === 1);
    const { url } = await echoPeer('/export?x=1');
    const connectionId = (await vscode.commands.executeCommand('wsInspector.connect', url)) as string;
    await api.session.send({ kind: 'connection', connectionId }, 'ping-from-export');
    await echoCaptured(connectionId, 'ping-from-export');

    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'wsi-export-'));
    const target = vscode.Uri.file(path.join(dir, 'session.har'));
    await vscode.commands.executeCommand('wsInspector.exportSession', target);
    const text = await fs.readFile(target.fsPath, 'utf8');
    const har = JSON.parse(text);
    assert.ok(!text.includes('wsi-test-secret-42'), 'credentials are not exported by default');
    assert.equal(har.log.version, '1.2');
    const echo = har.log.entries.find((e: { request: { url: string } }) => e.request.url.endsWith('/export?x=1'));
    assert.ok(echo, 'the outgoing connection is an entry');
    assert.equal(echo._resourceType, 'websocket');
    assert.equal(echo.response.status, 101);
    const msgs = echo._webSocketMessages.map((m: { type: string; data: string }) => `${m.type}:${m.data}`);
    assert.ok(msgs.includes('receive:welcome'), msgs.join(','));
    assert.ok(msgs.includes('send:ping-from-export'), msgs.join(','));
    const serverSide = har.log.entries.filter((e: { request: { headers: Array<{ name: string; value: string }> } }) =>
      e.request.headers.some((h) => h.name === 'User-Agent' && h.value === 'wsi-vscode-export'),
    );
    assert.equal(serverSide.length, 2, 'both clients of the embedded server are entries');
    assert.ok(
      serverSide.every((e: { request: { headers: Array<{ name: string; value: string }> } }) => e.request.headers.some((h) => h.name === 'Authorization' && h.value === 'Bearer REDACTED')),
      'the header is there, its value replaced',
    );
    assert.ok(serverSide.every((e: { _webSocketMessages: Array<{ type: string; data: string }> }) => e._webSocketMessages.some((m) => m.type === 'receive' && m.data === 'hello from the export test')));
  });

  it('stop frees the port and closes clients with 1001', async () => {
    const c = await openClient(await freshServer());
    clients.push(c.ws);
    await waitFor('the client', () => api.session.clientCount === 1);
    const port = api.session.serverAddress!.port;
    const closed = new Promise<number>((resolve) => c.ws.once('close', (code) => resolve(code)));
    await vscode.commands.executeCommand('wsInspector.stopServer');
    assert.equal(await closed, 1001);
    assert.equal(api.session.serverAddress, undefined);
    assert.equal(api.statusBarText(), undefined);
    assert.ok(await portIsFree(port), `port ${port} is free again`);
  });
});
