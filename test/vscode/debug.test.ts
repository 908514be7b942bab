// Debug sessions in a real extension host: a real Node program launched by js-debug from a configuration that
// carries `wsInspector`, talking to a real ws server through the proxy the extension starts for it.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { WebSocketServer } from 'ws';
import type { ConnectionEvent, MessageEvent } from '../../src/core/capture/events';
import type { ExtensionApi } from '../../src/extension/extension';
import { activateExtension, waitFor } from './waitFor';

/** The bundle runs from out/vscode; the program the debugger launches needs this repository's `ws`. */
const wsModule = path.resolve(__dirname, '..', '..', 'node_modules', 'ws');


function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

describe('Debug sessions: wsInspector in launch configurations', function () {
  this.timeout(90_000);
  let api: ExtensionApi;
  let target: WebSocketServer;
  let targetPort: number;
  const received: Array<{ path: string; text: string }> = [];
  let dir: string;

  before(async () => {
    api = await activateExtension();
    target = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => target.once('listening', () => r()));
    targetPort = (target.address() as net.AddressInfo).port;
    target.on('connection', (ws, req) => {
      ws.on('message', (data) => {
        received.push({ path: req.url ?? '', text: data.toString() });
        ws.send(`echo: ${data.toString()}`);
      });
    });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsi-debug-'));
  });

  after(async () => {
    target.close();
    for (const c of target.clients) c.terminate();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('starts the proxy, gives the program WS_INSPECTOR_URL, tags its frames, and stops the proxy when the session ends', async () => {
    const program = path.join(dir, 'client.js');
    fs.writeFileSync(
      program,
      `const WebSocket = require(${JSON.stringify(wsModule)});
const url = process.env.WS_INSPECTOR_URL;
if (!url) { console.error('no WS_INSPECTOR_URL'); process.exit(2); }
const ws = new WebSocket(url.replace(/\\/$/, '') + '/room?user=debuggee');
ws.on('open', () => ws.send('hello from the debuggee'));
ws.on('message', (m) => { console.log('got', m.toString()); ws.close(1000, 'done'); });
ws.on('close', () => process.exit(0));
ws.on('error', (e) => { console.error(e.message); process.exit(3); });
`,
    );
    const name = 'WS inspector debug test';
    let proxyPort: number | undefined;
    const started = new Promise<vscode.DebugSession>((resolve) => {
      const sub = vscode.debug.onDidStartDebugSession((s) => {
        if (s.name === name || s.configuration.name === name) {
          sub.dispose();
          resolve(s);
        }
      });
    });
    const ended = new Promise<void>((resolve) => {
      const sub = vscode.debug.onDidTerminateDebugSession((s) => {
        if (s.configuration.name === name && s.parentSession === undefined) {
          sub.dispose();
          resolve();
        }
      });
    });
    const ok = await vscode.debug.startDebugging(undefined, {
      type: 'node',
      request: 'launch',
      name,
      program,
      console: 'internalConsole',
      wsInspector: { proxy: { target: `ws://127.0.0.1:${targetPort}/api`, port: 0 } },
    });
    assert.equal(ok, true, 'the debug session started');
    await started;
    // While the session runs, the proxy it started is listed with the session's name.
    const proxy = api.session.proxies.list().find((p) => p.tag === name);
    if (proxy) proxyPort = Number(new URL(proxy.url).port);

    await waitFor('the target to receive the message', () => received.find((r) => r.text === 'hello from the debuggee'));
    await ended;

    const got = received.find((r) => r.text === 'hello from the debuggee')!;
    assert.equal(got.path, '/api/room?user=debuggee', 'the program path and query are forwarded under the target path');

    // The program leg and the target leg carry the message, tagged with the debug session.
    const events = api.session.store.query({ limit: 10_000, backward: true }).events;
    const opened = events.filter((e): e is ConnectionEvent => e.kind === 'connection' && e.state === 'open' && e.meta?.debugSession === name);
    const sides = new Set(opened.map((e) => e.meta?.side));
    assert.deepEqual([...sides].sort(), ['program', 'target'], 'both legs are tagged with the session name');
    const group = opened[0].connectionId.split('/')[0];
    const messages = events.filter((e): e is MessageEvent => e.kind === 'message' && e.connectionId.startsWith(`${group}/`));
    assert.ok(messages.some((m) => m.direction === 'c2s' && m.connectionId.endsWith('/program') && m.data.toString() === 'hello from the debuggee'));
    const seen = events
      .filter((e) => e.connectionId.startsWith(`${group}/`))
      .map((e) => `${e.connectionId} ${e.kind} ${'direction' in e ? e.direction : ''} ${e.kind === 'message' ? e.data.toString() : e.kind === 'error' ? e.code : ''}`)
      .join('\n');
    assert.ok(messages.some((m) => m.direction === 'c2s' && m.connectionId.endsWith('/target') && m.data.toString() === 'hello from the debuggee'), seen);
    assert.ok(messages.some((m) => m.direction === 's2c' && m.data.toString() === 'echo: hello from the debuggee'));

    // The session is over: the proxy it started is gone and its port refuses connections.
    await waitFor('the proxy to stop', () => api.session.proxies.list().every((p) => p.tag !== name) || undefined);
    assert.ok(proxyPort, 'the proxy was listed while the session ran');
    assert.equal(await refused(proxyPort), true, 'the proxy port is closed');
  });

  it('with "server": true starts the broadcast server for the session, tags its clients, and stops it at the end', async () => {
    await vscode.commands.executeCommand('wsInspector.stopServer');
    await vscode.workspace.getConfiguration('wsInspector').update('server.port', 0, vscode.ConfigurationTarget.Global);
    const program = path.join(dir, 'server-client.js');
    fs.writeFileSync(
      program,
      `const WebSocket = require(${JSON.stringify(wsModule)});
const ws = new WebSocket(process.env.WS_INSPECTOR_URL);
ws.on('open', () => ws.send('hello server'));
ws.on('message', () => setTimeout(() => ws.close(1000), 1500));
ws.on('close', () => process.exit(0));
ws.on('error', (e) => { console.error(e.message); process.exit(3); });
`,
    );
    const name = 'WS inspector server session';
    const ended = new Promise<void>((resolve) => {
      const sub = vscode.debug.onDidTerminateDebugSession((s) => {
        if (s.configuration.name === name && s.parentSession === undefined) {
          sub.dispose();
          resolve();
        }
      });
    });
    try {
      const ok = await vscode.debug.startDebugging(undefined, { type: 'node', request: 'launch', name, program, wsInspector: { server: true } });
      assert.equal(ok, true);
      const client = await waitFor('the debuggee as a client of the server', () =>
        api.session.connections().find((c) => c.kind === 'serverClient' && c.tag === name),
      );
      assert.equal(api.session.servers()[0]?.tag, name, 'the server is marked as started by the session');
      const got = await waitFor('its message in the capture', () =>
        api.session.store
          .query({ connectionId: client.id, kinds: ['message'], limit: 10 })
          .events.find((e) => e.kind === 'message' && e.data.toString() === 'hello server'),
      );
      assert.equal(got.kind, 'message');
      await ended;
      await waitFor('the server to stop with the session', () => api.session.serverAddress === undefined || undefined);
    } finally {
      await vscode.workspace.getConfiguration('wsInspector').update('server.port', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('refuses a configuration whose wsInspector attribute is wrong, with the reason, and starts nothing', async () => {
    const before = api.session.proxies.list().length;
    const ok = await vscode.debug.startDebugging(undefined, {
      type: 'node',
      request: 'launch',
      name: 'bad wsInspector',
      program: path.join(dir, 'client.js'),
      wsInspector: { proxy: { target: 'http://not-a-websocket' } },
    });
    assert.equal(ok, false, 'the launch is refused');
    assert.equal(api.session.proxies.list().length, before);
  });
});
