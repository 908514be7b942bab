import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as vscode from 'vscode';
import WebSocket from 'ws';
import type { ExtensionApi } from '../../src/extension/extension';

/** Polls `fn` until it returns a truthy value; extension-host state updates asynchronously. */
async function until<T>(what: string, fn: () => T | Promise<T>, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function openClient(url: string): Promise<{ ws: WebSocket; received: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { 'User-Agent': 'wsi-vscode-test' } });
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

describe('WebSocket Inspector in a real extension host', function () {
  let api: ExtensionApi;
  const clients: WebSocket[] = [];

  before(async () => {
    const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'websocket-inspector');
    assert.ok(ext, 'the extension is installed');
    api = (await ext.activate()) as ExtensionApi;
    await vscode.workspace.getConfiguration('wsInspector').update('server.port', 0, vscode.ConfigurationTarget.Global);
  });

  after(async () => {
    for (const c of clients) c.terminate();
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
    const url = (await vscode.commands.executeCommand('wsInspector.startServer')) as string;
    assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+/);
    const a = await openClient(url);
    const b = await openClient(url);
    clients.push(a.ws, b.ws);
    await until('two clients', () => api.session.clientCount === 2);
    const port = new URL(url).port;
    await until('status bar text', () => api.statusBarText() === `$(broadcast) WS :${port} · 2 clients`);
    const rows = api.session.connections();
    assert.equal(rows.length, 2);
    assert.ok(rows.every((r) => r.userAgent === 'wsi-vscode-test'));

    await vscode.commands.executeCommand('wsInspector.sendToAll', 'hello from VS Code');
    await until('both clients receive the message', () => a.received.includes('hello from VS Code') && b.received.includes('hello from VS Code'));

    // The capture recorded the server→client frames of that message.
    const frames = api.session.store
      .query({ kinds: ['frame'], direction: 's2c', text: 'hello from VS Code' })
      .events;
    assert.equal(frames.length, 2, 'one captured frame per client');
  });

  it('stop frees the port and closes clients with 1001', async () => {
    const port = api.session.serverAddress!.port;
    const closed = new Promise<number>((resolve) => clients[0].once('close', (code) => resolve(code)));
    await vscode.commands.executeCommand('wsInspector.stopServer');
    assert.equal(await closed, 1001);
    assert.equal(api.session.serverAddress, undefined);
    assert.equal(api.statusBarText(), undefined);
    assert.ok(await portIsFree(port), `port ${port} is free again`);
  });
});
