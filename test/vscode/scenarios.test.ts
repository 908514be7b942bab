// Scenario files in the editor: the Test Explorer's items, Run and Debug against a real ws server on loopback, a
// failure at its step's line, the CodeLens Send reaching the endpoint, and diagnostics at their line.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { WebSocketServer } from 'ws';
import type { ExtensionApi } from '../../src/extension/extension';
import { activateExtension, waitFor } from './waitFor';

/** 1-based line of the first line of `text` that contains `needle`. */
function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `"${needle}" is in the file`);
  return i + 1;
}

describe('Scenario files in the editor', function () {
  let api: ExtensionApi;
  let server: WebSocketServer;
  const received: string[] = [];
  let folder: vscode.Uri;
  const written: vscode.Uri[] = [];

  before(async () => {
    api = await activateExtension();
    folder = vscode.workspace.workspaceFolders![0].uri;
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    server.on('connection', (ws) =>
      ws.on('message', (d) => {
        const text = String(d);
        received.push(text);
        if (text.includes('"ping"')) ws.send(JSON.stringify({ type: 'pong', at: Date.now() }));
      }),
    );
  });

  after(async () => {
    // The connections the CodeLens opened stay open for the user; the later suites start without them.
    const port = (server.address() as { port: number }).port;
    for (const c of api.session.outgoingConnections()) if (c.url.includes(`:${port}/`)) api.session.closeOutgoing(c.id);
    for (const u of written) await vscode.workspace.fs.delete(u).then(undefined, () => undefined);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    for (const c of server.clients) c.terminate();
    await new Promise((r) => server.close(r));
  });

  async function write(name: string, text: string, open = false): Promise<vscode.Uri> {
    const uri = vscode.Uri.joinPath(folder, name);
    await vscode.workspace.fs.writeFile(uri, Buffer.from(text));
    written.push(uri);
    if (open) await vscode.workspace.openTextDocument(uri);
    return uri;
  }

  const fileText = () => `version: 1
endpoints:
  echo: ws://127.0.0.1:${(server.address() as { port: number }).port}/
messages:
  hello: { json: { type: hello, from: codelens } }
scenarios:
  ping passes:
    steps:
      - connect: echo
      - send: { json: { type: ping } }
      - expect: { json: { type: pong } }
  ping fails:
    timeout: 1s
    steps:
      - connect: echo
      - send: { json: { type: ping } }
      - expect: { json: { type: other } }
`;

  it('lists the scenarios of a workspace file in the Test Explorer, at their lines', async () => {
    const text = fileText();
    const uri = await write('list.wsx.yaml', text);
    const items = api.scenarios.tests.controller.items;
    // The Test Explorer's Refresh finds files that no editor opened (the workspace search).
    await vscode.commands.executeCommand('testing.refreshTests');
    await waitFor('the file and its two scenarios in the Test Explorer', () => items.get(uri.toString())?.children.size === 2);
    const names: Array<[string, number]> = [];
    items.get(uri.toString())!.children.forEach((c) => names.push([c.label, c.range!.start.line + 1]));
    names.sort((a, b) => a[1] - b[1]);
    assert.deepEqual(names, [
      ['ping passes', lineOf(text, 'ping passes:')],
      ['ping fails', lineOf(text, 'ping fails:')],
    ]);
  });

  it('runs a scenario into the inspector, and reports a failure at the step\'s line with a diff', async () => {
    const text = fileText();
    const uri = await write('run.wsx.yaml', text, true);
    await waitFor('the scenarios listed', () => api.scenarios.tests.controller.items.get(uri.toString())?.children.size === 2);
    const before = api.session.store.stats().lastId;
    const passed = await api.scenarios.tests.runOne(uri, 'ping passes', false);
    assert.equal(passed?.state, 'passed', passed?.message);
    assert.equal(passed?.steps.length, 3);
    // The run's connection is in the inspector's store, labelled with the scenario.
    const conns = api.session.store.query({ afterId: before, kinds: ['connection'], limit: 1000 }).events;
    assert.ok(conns.some((e) => e.kind === 'connection' && e.meta?.scenario === 'ping passes'), 'a connection labelled with the scenario');
    const failed = await api.scenarios.tests.runOne(uri, 'ping fails', false);
    assert.equal(failed?.state, 'failed');
    assert.equal(failed?.line, lineOf(text, 'type: other'));
    assert.match(failed?.message ?? '', /expect/);
    assert.ok(failed?.expected && failed.actual, 'expected and actual for a diff');
    assert.match(failed!.actual!, /pong/);
  });

  it('debugs a scenario one step at a time', async () => {
    const uri = await write('debug.wsx.yaml', fileText(), true);
    await waitFor('the scenarios listed', () => api.scenarios.tests.controller.items.get(uri.toString())?.children.size === 2);
    const paused: string[] = [];
    const sub = api.scenarios.gate.onDidPause((s) => {
      paused.push(s.label);
      // The step has not run yet: the server got no more pings than before this pause.
      setTimeout(() => void vscode.commands.executeCommand('wsInspector.scenarioContinue'), 20);
    });
    try {
      const outcome = await api.scenarios.tests.runOne(uri, 'ping passes', true);
      assert.equal(outcome?.state, 'passed', outcome?.message);
      assert.equal(paused.length, 3, paused.join(' | '));
    } finally {
      sub.dispose();
    }
  });

  it('CodeLens: Send over a named message reaches the endpoint (connecting first)', async () => {
    const uri = await write('lens.wsx.yaml', fileText());
    await vscode.window.showTextDocument(uri);
    const lenses = await waitFor('the CodeLens of the file', async () => {
      const l = await vscode.commands.executeCommand<vscode.CodeLens[]>('vscode.executeCodeLensProvider', uri, 100);
      return l?.some((x) => x.command?.title.includes('Send')) ? l : undefined;
    });
    const titles = lenses.map((l) => l.command?.title ?? '');
    assert.ok(titles.some((t) => t.includes('Connect')) && titles.filter((t) => t.includes('Run')).length === 2 && titles.some((t) => t.includes('Debug')), titles.join(', '));
    const send = lenses.find((l) => l.command?.title.includes('Send'))!;
    const n = received.length;
    await vscode.commands.executeCommand(send.command!.command, ...(send.command!.arguments ?? []));
    await waitFor('the named message at the server', () => received.slice(n).some((m) => m.includes('"from":"codelens"')));
  });

  it('Record as Scenario writes a file that passes against the same server', async () => {
    const conn = await api.session.connect(`ws://127.0.0.1:${(server.address() as { port: number }).port}/rec`);
    const id = conn.connectionId!;
    const got = new Promise((r) => conn.onDidReceive(r));
    await api.session.send({ kind: 'connection', connectionId: id }, JSON.stringify({ type: 'ping', n: 7 }));
    await got;
    const uri = await vscode.commands.executeCommand<vscode.Uri>('wsInspector.recordScenario', id, 'recorded ping');
    assert.ok(uri, 'a file was written');
    written.push(uri);
    const text = Buffer.from(await vscode.workspace.fs.readFile(uri)).toString('utf8');
    assert.match(text, /recorded ping/);
    await api.session.disconnect(id);
    const outcome = await api.scenarios.tests.runOne(uri, 'recorded ping', false);
    assert.equal(outcome?.state, 'passed', `${outcome?.message}\n${text}`);
  });

  it('Start Mock Server runs the file\'s mock on the session\'s server, and Stop stops it', async () => {
    await vscode.workspace.getConfiguration('wsInspector').update('server.port', 0, vscode.ConfigurationTarget.Global);
    // The mock starts the server itself when none runs, and stops it with the mock.
    await api.session.stopServer();
    const uri = await write('mock.wsx.yaml', `version: 1
mock:
  onConnect: { json: { type: welcome } }
  rules:
    - match: { json: { type: ping } }
      reply: { json: { type: pong } }
`, true);
    const url = await vscode.commands.executeCommand<string>('wsInspector.startMockServer', uri);
    assert.ok(url && api.session.serverAddress, 'the server runs the mock');
    const { default: WebSocket } = await import('ws');
    const ws = new WebSocket(api.session.serverAddress!.url);
    const messages: string[] = [];
    ws.on('message', (d) => {
      messages.push(String(d));
      if (messages.length === 1) ws.send(JSON.stringify({ type: 'ping' }));
    });
    await waitFor('the greeting and the reply', () => messages.length >= 2);
    assert.deepEqual(messages.map((m) => JSON.parse(m).type), ['welcome', 'pong']);
    ws.close();
    assert.equal(await vscode.commands.executeCommand('wsInspector.stopMockServer'), true);
    await waitFor('the server the mock started, stopped', () => !api.session.serverAddress);
  });

  it('*.wsx.json is validated by VS Code\'s JSON support against the contributed schema', async function () {
    this.timeout(60_000);
    const uri = await write('schema.wsx.json', '{\n  "version": 1,\n  "scenarioz": {}\n}\n');
    await vscode.window.showTextDocument(uri);
    // The JSON language server starts with the first JSON editor: allow for its start.
    const fromJson = await waitFor(
      () => `a JSON schema diagnostic (have: ${vscode.languages.getDiagnostics(uri).map((d) => `${d.source}: ${d.message}`).join(' | ')})`,
      () => vscode.languages.getDiagnostics(uri).find((d) => d.source !== 'wsx' && /scenarioz/.test(d.message)),
      45_000,
    );
    assert.equal(fromJson.range.start.line, 2);
  });

  it('shows the file\'s problems in the Problems view, at their line', async () => {
    const text = `version: 1
scenarios:
  broken:
    steps:
      - connect: { connection: c, url: 'ws://127.0.0.1:1/' }
      - sned: hello
`;
    const uri = await write('broken.wsx.yaml', text);
    await vscode.workspace.openTextDocument(uri);
    const diags = await waitFor('diagnostics for the file', () => {
      const d = vscode.languages.getDiagnostics(uri);
      return d.length ? d : undefined;
    });
    assert.equal(diags.length, 1, diags.map((x) => x.message).join(' | '));
    const d = diags[0];
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(d.code, 'WSX_UNKNOWN_STEP');
    assert.equal(d.range.start.line + 1, lineOf(text, 'sned'));
    assert.match(d.message, /unknown step "sned".*did you mean "send"/);
  });
});
