// Issue 18 in a real extension host: the setting wsInspector.proxy.compression and launch.json's
// wsInspector.proxy.compression reach the proxy (a real ws program and target, deflate on), a value that is not a mode
// is refused with the reason, the switch of a held card writes `terminate` into launch.json, and rules that apply to
// the embedded server and to client connections hold Send to all and a connection's send.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import * as vscode from 'vscode';
import WebSocket, { WebSocketServer } from 'ws';
import { setRuleScopes, switchCompression } from '../../src/extension/breakpointCommands';
import type { ExtensionApi } from '../../src/extension/extension';
import { activateExtension, waitFor } from './waitFor';

/** The bundle runs from out/vscode; the program the debugger launches needs this repository's `ws`. */
const wsModule = path.resolve(__dirname, '..', '..', 'node_modules', 'ws');
const config = () => vscode.workspace.getConfiguration('wsInspector');
const G = vscode.ConfigurationTarget.Global;

describe('Compression through the proxy, and breakpoints beyond it (issue 18)', function () {
  this.timeout(90_000);
  let api: ExtensionApi;
  let target: WebSocketServer;
  let targetUrl: string;
  const atTarget: string[] = [];

  before(async () => {
    api = await activateExtension();
    target = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
    await new Promise<void>((r) => target.once('listening', () => r()));
    targetUrl = `ws://127.0.0.1:${(target.address() as net.AddressInfo).port}/api`;
    target.on('connection', (ws) => ws.on('message', (d) => (atTarget.push(String(d)), ws.send(`echo: ${String(d)}`))));
  });

  after(async () => {
    for (const c of target.clients) c.terminate();
    target.close();
    for (const key of ['proxy.compression', 'breakpoints.rules', 'server.port']) await config().update(key, undefined, G);
  });

  /** A program connected through `url` with every message compressed. */
  async function program(url: string): Promise<WebSocket> {
    const ws = new WebSocket(url, { perMessageDeflate: { threshold: 0 } });
    ws.on('error', () => {});
    await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
    return ws;
  }

  it('the setting "strip" reaches a proxy started from the palette; the connection row says so', async () => {
    await config().update('proxy.compression', 'strip', G);
    const url = (await vscode.commands.executeCommand<string>('wsInspector.startProxy', { target: targetUrl, port: 0 }))!;
    const ws = await program(url);
    try {
      assert.equal(ws.extensions, '', 'the program negotiated no deflate');
      const row = await waitFor('the row with its compression', () => api.session.connections().find((c) => c.kind === 'proxy' && c.compression && c.state === 'open'));
      assert.deepEqual(row.compression, { mode: 'strip', chosen: 'option', setIn: 'setting', programOffered: true });
    } finally {
      ws.terminate();
      for (const p of api.session.proxies.list()) await api.session.proxies.stop(p.id);
    }
  });

  it('changing the setting while a proxy runs applies to the program’s next connection; the open one keeps its mode', async () => {
    await config().update('proxy.compression', 'strip', G);
    const url = (await vscode.commands.executeCommand<string>('wsInspector.startProxy', { target: targetUrl, port: 0 }))!;
    const first = await program(url);
    let second: WebSocket | undefined;
    try {
      assert.equal(first.extensions, '');
      await config().update('proxy.compression', 'terminate', G);
      second = await program(url);
      assert.match(second.extensions, /^permessage-deflate/, 'the next connection terminates compression: deflate with the proxy');
      const modes = await waitFor('both rows with their mode', () => {
        const rows = api.session.connections().filter((c) => c.kind === 'proxy' && c.compression && c.state === 'open');
        return rows.length === 2 ? rows.map((r) => r.compression!.mode).sort() : undefined;
      });
      assert.deepEqual(modes, ['strip', 'terminate']);
    } finally {
      first.terminate();
      second?.terminate();
      for (const p of api.session.proxies.list()) await api.session.proxies.stop(p.id);
      await config().update('proxy.compression', undefined, G);
    }
  });

  it('a value that is not a mode is refused with the reason, and no proxy starts', async () => {
    await config().update('proxy.compression', 'zip', G);
    const before = api.session.proxies.list().length;
    assert.equal(await vscode.commands.executeCommand('wsInspector.startProxy', { target: targetUrl, port: 0 }), undefined);
    const shown = await waitFor('the refusal', () => api.notifications().find((n) => n.message.includes('wsInspector.proxy.compression')));
    assert.match(shown.message, /expected one of automatic, terminate, passthrough, strip, got "zip"/);
    assert.equal(api.session.proxies.list().length, before);
    await config().update('proxy.compression', undefined, G);
  });

  it('launch.json refuses an unknown compression, with the reason', async () => {
    const ok = await vscode.debug.startDebugging(undefined, {
      type: 'node',
      request: 'launch',
      name: 'bad compression',
      program: __filename,
      wsInspector: { proxy: { target: targetUrl, compression: 'gzip' } },
    });
    assert.equal(ok, false);
    const shown = await waitFor('the refusal', () => api.notifications().find((n) => n.message.includes('bad compression')));
    assert.match(shown.message, /wsInspector\.proxy\.compression must be one of automatic, terminate, passthrough, strip\./);
  });

  it("launch.json's compression overrides the setting; the held card's switch writes terminate into that configuration", async () => {
    const folder = vscode.workspace.workspaceFolders![0];
    const dir = path.join(folder.uri.fsPath, '.vscode');
    fs.mkdirSync(dir, { recursive: true });
    const client = path.join(folder.uri.fsPath, 'order-client.js');
    fs.writeFileSync(
      client,
      `const WebSocket = require(${JSON.stringify(wsModule)});
const ws = new WebSocket(process.env.WS_INSPECTOR_URL, { perMessageDeflate: { threshold: 0 } });
ws.on('open', () => ws.send('{"type":"order","qty":2}'));
ws.on('message', () => ws.close(1000));
ws.on('close', () => process.exit(0));
`,
    );
    const name = 'WSI passthrough session';
    const launchFile = path.join(dir, 'launch.json');
    const launch = { version: '0.2.0', configurations: [{ type: 'node', request: 'launch', name, program: client, console: 'internalConsole', wsInspector: { proxy: { target: targetUrl, port: 0, compression: 'passthrough' } } }] };
    fs.writeFileSync(launchFile, JSON.stringify(launch, null, 2));
    await config().update('proxy.compression', 'terminate', G);
    await config().update('breakpoints.rules', [{ id: 'orders', textPattern: 'order' }], G);
    try {
      await waitFor('VS Code to read launch.json', () => (vscode.workspace.getConfiguration('launch', folder.uri).get<unknown[]>('configurations') ?? []).length === 1);
      await waitFor('the rule in force', () => api.session.holds.controller.rules.length === 1);
      assert.equal(await vscode.debug.startDebugging(folder, name), true);
      const card = await waitFor('the held card', () => api.session.breakpoints().held.find((h) => h.ruleId === 'orders'));
      assert.equal(card.editable, false, 'compressed with context takeover, passed through');
      assert.deepEqual(card.compressionSwitch, { where: 'launch.json', configuration: name });
      const row = api.session.connections().find((c) => c.id === card.connectionId)!;
      assert.equal(row.compression?.mode, 'passthrough');
      assert.equal(row.compression?.setIn, 'launch.json', 'launch.json over the setting');

      const message = await switchCompression(api.session.heldFrameContext(card.id));
      assert.match(message, /launch configuration "WSI passthrough session" \(launch\.json\)/);
      const written = JSON.parse(fs.readFileSync(launchFile, 'utf8'));
      assert.equal(written.configurations[0].wsInspector.proxy.compression, 'terminate');
      await api.session.resolveHeld(card.id, 'forward');
      await waitFor('the order at the target', () => atTarget.includes('{"type":"order","qty":2}'));
    } finally {
      fs.rmSync(launchFile, { force: true });
      await config().update('breakpoints.rules', undefined, G);
      await config().update('proxy.compression', undefined, G);
    }
  });

  it('a rule for the server holds Send to all (the command says so); moved to client connections, it holds a send', async () => {
    await config().update('server.port', 0, G);
    await config().update('breakpoints.rules', [{ id: 'out', direction: 's2c', appliesTo: ['server'] }], G);
    await waitFor('the rule in force', () => api.session.holds.controller.hasActiveRules('server') || undefined);
    await vscode.commands.executeCommand('wsInspector.stopServer');
    const url = await vscode.commands.executeCommand<string>('wsInspector.startServer');
    assert.ok(url, 'the server started');
    const peer = await program(url);
    let id: string | undefined;
    const got: string[] = [];
    peer.on('message', (d) => got.push(String(d)));
    try {
      assert.equal(await vscode.commands.executeCommand('wsInspector.sendToAll', 'to everyone'), 0, 'nothing delivered yet');
      await waitFor('the notice', () => api.notifications().find((n) => n.message.startsWith('Not sent yet: held by breakpoint out.')));
      const card = await waitFor('the held Send to all', () => api.session.breakpoints().held.find((h) => h.source === 'server'));
      assert.deepEqual([card.connectionId, card.connectionLabel, card.direction], ['allClients', 'Send to all', 's2c']);
      await api.session.resolveHeld(card.id, 'edit', 'edited for everyone');
      await waitFor('the edit at the client', () => got.includes('edited for everyone'));

      await setRuleScopes('out', ['client']);
      assert.deepEqual(config().get<Array<{ appliesTo?: string[] }>>('breakpoints.rules')?.[0].appliesTo, ['client']);
      await waitFor('the rule for client connections', () => api.session.holds.controller.hasActiveRules('client') || undefined);
      id = await vscode.commands.executeCommand<string>('wsInspector.connect', url);
      assert.ok(id, 'connected');
      // s2c on a client connection is what it receives: the server's echo of the peer's message is held.
      peer.send('hello all');
      const held = await waitFor('the received message held', () => api.session.breakpoints().held.find((h) => h.source === 'client'));
      assert.equal(held.connectionLabel, url);
      assert.equal(held.text, 'hello all');
      await api.session.resolveHeld(held.id, 'forward');
      const r = await api.session.send({ kind: 'connection', connectionId: id }, 'from VS Code');
      assert.equal(r.status, 'sent', 'a send is c2s: the s2c rule lets it go');
    } finally {
      peer.terminate();
      if (id) await vscode.commands.executeCommand('wsInspector.disconnect', id);
      await vscode.commands.executeCommand('wsInspector.stopServer');
      await config().update('breakpoints.rules', undefined, G);
    }
  });
});
