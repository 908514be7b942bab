// "Inspect Browser WebSockets…" in a real extension host, against Debian's Chromium started with
// --remote-debugging-port on a local page that opens WebSockets to a local server.
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as vscode from 'vscode';
import { WebSocketServer } from 'ws';
import type { ConnectionEvent, MessageEvent } from '../../src/core/capture/events';
import type { ExtensionApi } from '../../src/extension/extension';
import { activateExtension, waitFor } from './waitFor';
import { killChromium, launchChromium, type Chromium } from '../support/chromium';


describe('Browser WebSockets over the DevTools protocol', function () {
  this.timeout(120_000);
  let api: ExtensionApi;
  let wss: WebSocketServer;
  let site: http.Server;
  let chromium: Chromium | undefined;

  before(async () => {
    api = await activateExtension();
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws) => ws.on('message', (d, isBinary) => ws.send(isBinary ? d : `server says: ${String(d)}`, { binary: isBinary })));
    const wsPort = (wss.address() as AddressInfo).port;
    // The page opens a WebSocket every 300 ms (at most 200 times): the inspector attaches while it runs, so the
    // sockets opened after that are seen from their handshake on.
    const page = `<!doctype html><title>ws page</title><script>
let n = 0;
const timer = setInterval(() => {
  if (++n > 200) return clearInterval(timer);
  const ws = new WebSocket('ws://127.0.0.1:${wsPort}/live?n=' + n);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => { ws.send('hello from chromium ' + n); ws.send(new Uint8Array([0, 1, 254, 255])); };
  let got = 0;
  ws.onmessage = () => { if (++got === 2) ws.close(1000, 'done'); };
}, 300);
</script>`;
    site = http.createServer((_req, res) => res.end(page));
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', () => r()));
    chromium = await launchChromium(`http://127.0.0.1:${(site.address() as AddressInfo).port}/`);
  });

  after(async () => {
    await vscode.commands.executeCommand('wsInspector.stopBrowserInspection');
    if (chromium) killChromium(chromium);
    for (const c of wss?.clients ?? []) c.terminate();
    wss?.close();
    site?.close();
  });

  it('shows the page WebSockets as browser connections with their frames', async () => {
    const id = await vscode.commands.executeCommand<string>('wsInspector.inspectBrowser', `http://127.0.0.1:${chromium!.port}`);
    assert.match(id ?? '', /^browser\d+$/, 'the command attached and returned the inspection id');

    const row = await waitFor('a browser connection row', () =>
      api.session.connections().find((c) => c.kind === 'browser' && c.parentId === id && c.label.includes('/live?n=')),
    );
    assert.ok(api.session.sources().some((s) => s.id === id && s.kind === 'browser'));

    const mine = (): MessageEvent[] =>
      api.session.store
        .query({ connectionId: row.id, kinds: ['message'], limit: 100, backward: true })
        .events.filter((e): e is MessageEvent => e.kind === 'message');
    await waitFor('both directions of one socket', () => mine().some((m) => m.direction === 's2c' && m.opcode === 2));
    const messages = mine();
    const sent = messages.find((m) => m.direction === 'c2s' && m.opcode === 1);
    assert.match(sent?.data.toString() ?? '', /^hello from chromium \d+$/);
    assert.ok(messages.some((m) => m.direction === 's2c' && m.data.toString() === `server says: ${sent!.data.toString()}`));
    const binary = messages.find((m) => m.direction === 'c2s' && m.opcode === 2);
    assert.deepEqual([...(binary?.data ?? [])], [0, 1, 254, 255]);

    const opened = api.session.store
      .query({ connectionId: row.id, kinds: ['connection'], limit: 10 })
      .events.find((e): e is ConnectionEvent => e.kind === 'connection' && e.state === 'open');
    assert.equal(opened?.meta?.source, 'browser', 'the connection is marked as coming from the browser');
  });

  it('an endpoint where nothing listens gives a readable error and attaches nothing', async () => {
    const before = api.session.sources().length;
    const server = http.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    const result = await vscode.commands.executeCommand('wsInspector.inspectBrowser', `http://127.0.0.1:${port}`);
    assert.equal(result, undefined, 'the command reports the error instead of returning an inspection');
    assert.equal(api.session.sources().length, before);
  });
});
