// Inspect Browser WebSockets of a real browser debug session: js-debug (bundled with VS Code) launches or attaches
// to Debian's Chromium, and the inspector attaches to the DevTools proxy js-debug shares for the page
// (extension.js-debug.requestCDPProxy). The page opens WebSockets to a local server; its frames must show up.
//
// The configurations say `browserLaunchLocation` / `browserAttachLocation: "workspace"`. Without it js-debug, when
// its extension host is remote (code-server, SSH, WSL, containers), starts or attaches the browser through the
// js-debug-companion extension on the user's side (DAP event `launchBrowserInCompanion`); a browser-hosted VS Code
// has no such side, and the session fails after `timeout` with "Timed out waiting for browser connection".
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { WebSocketServer } from 'ws';
import type { ConnectionEvent, MessageEvent } from '../../src/core/capture/events';
import type { ExtensionApi } from '../../src/extension/extension';
import { CHROMIUM, killChromium, launchChromium, type Chromium } from '../support/chromium';
import { activateExtension, sleep, waitFor } from './waitFor';

/** Offline, quiet, headless: what the browser needs on a machine without a display or internet. */
const BROWSER_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Pids of the processes whose command line names `marker` (a browser's own user-data dir). */
function pidsWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) out.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('Inspect Browser WebSockets of a browser debug session (js-debug requestCDPProxy)', function () {
  this.timeout(120_000);
  let api: ExtensionApi;
  let wss: WebSocketServer;
  let site: http.Server;
  let pageUrl: string;
  const sessions: vscode.DebugSession[] = [];
  let tracker: vscode.Disposable;

  before(async () => {
    api = await activateExtension();
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => wss.once('listening', () => r()));
    wss.on('connection', (ws) => ws.on('message', (d) => ws.send(`server says: ${String(d)}`)));
    const wsPort = (wss.address() as AddressInfo).port;
    // A socket every 300 ms (at most 200): the inspector attaches while the page runs and sees the later ones whole.
    const page = `<!doctype html><title>debugged page</title><script>
let n = 0;
const timer = setInterval(() => {
  if (++n > 200) return clearInterval(timer);
  const ws = new WebSocket('ws://127.0.0.1:${wsPort}/debugged?n=' + n);
  ws.onopen = () => ws.send('hello from the debugged page ' + n);
  ws.onmessage = () => ws.close(1000, 'done');
}, 300);
</script>`;
    site = http.createServer((_req, res) => res.end(page));
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', () => r()));
    pageUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}/`;
    tracker = vscode.debug.onDidStartDebugSession((d) => sessions.push(d));
  });

  after(async () => {
    tracker?.dispose();
    for (const c of wss?.clients ?? []) c.terminate();
    wss?.close();
    site?.close();
  });

  /** Starts `config` and returns its top-level session and the child session js-debug makes for the page. */
  async function startBrowserSession(config: vscode.DebugConfiguration): Promise<{ root: vscode.DebugSession; page: vscode.DebugSession }> {
    assert.equal(await vscode.debug.startDebugging(undefined, config), true, `js-debug started "${config.name}"`);
    const root = await waitFor('the top-level session', () => sessions.find((d) => d.name === config.name && d.parentSession === undefined));
    const page = await waitFor('the page session', () => sessions.find((d) => d.parentSession?.id === root.id), 30_000);
    return { root, page };
  }

  /** Stops the session and waits (bounded) until VS Code reports it ended. */
  async function stopSession(root: vscode.DebugSession): Promise<void> {
    const ended = new Promise<void>((resolve) => {
      const sub = vscode.debug.onDidTerminateDebugSession((d) => {
        if (d.id === root.id) {
          sub.dispose();
          resolve();
        }
      });
    });
    await vscode.debug.stopDebugging(root);
    // At most 15 s: the callers then check what they need (Chromium gone, the inspection ended) with waitFor.
    await Promise.race([ended, sleep(15_000)]);
  }

  /** The page's frames on one socket the inspector saw from its handshake: the text it sent and the reply. */
  async function assertPageFrames(inspectionId: string, session: vscode.DebugSession): Promise<void> {
    const pageSocket = () =>
      api.session.connections().find((c) => c.kind === 'browser' && c.parentId === inspectionId && c.label.includes('/debugged?n='));
    await waitFor('a socket of the debugged page', pageSocket);
    // The page's title is asked for when the socket appears, so it may come a moment after the row.
    const row = await waitFor(
      () => `the page title on its row (it shows "${pageSocket()?.note}")`,
      () => pageSocket()?.note === 'debugged page' && pageSocket(),
    );
    // js-debug renames a page's session as it learns the page (its address, then its title): the row follows the name.
    await waitFor(
      () => `the socket row to name the debug session "${session.name}" (it says "${pageSocket()?.tag}")`,
      () => pageSocket()?.tag === session.name,
    );
    assert.equal(row.note, 'debugged page', "the socket row names the page by its title");
    const messages = (): MessageEvent[] =>
      api.session.store
        .query({ connectionId: row.id, kinds: ['message'], limit: 20 })
        .events.filter((e): e is MessageEvent => e.kind === 'message');
    await waitFor('the reply on that socket', () => messages().some((m) => m.direction === 's2c'));
    const sent = messages().find((m) => m.direction === 'c2s');
    assert.match(sent?.data.toString() ?? '', /^hello from the debugged page \d+$/);
    assert.equal(sent?.opcode, 1, 'a text frame');
    const reply = messages().find((m) => m.direction === 's2c');
    assert.equal(reply?.data.toString(), `server says: ${sent!.data.toString()}`);
    const opened = api.session.store
      .query({ connectionId: row.id, kinds: ['connection'], limit: 10 })
      .events.find((e): e is ConnectionEvent => e.kind === 'connection' && e.state === 'open');
    assert.equal(opened?.meta?.source, 'browser');
    // Recorded when the socket opened, under the session's name then: the page part may have changed since.
    const parent = session.name.slice(session.name.indexOf('«'));
    assert.ok(opened?.meta?.debugSession?.endsWith(parent), `the open event names the session (${opened?.meta?.debugSession})`);
  }

  it('launch: js-debug starts Chromium; the launch.json session resolves to its page and shows the page frames', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsi-chrome-launch-'));
    let root: vscode.DebugSession | undefined;
    try {
      const name = 'Launch Chromium (wsi test)';
      const started = await startBrowserSession({
        type: 'pwa-chrome',
        request: 'launch',
        name,
        url: pageUrl,
        browserLaunchLocation: 'workspace',
        runtimeExecutable: CHROMIUM,
        runtimeArgs: BROWSER_ARGS,
        userDataDir: dir,
      });
      root = started.root;
      assert.ok(pidsWith(dir).length > 0, 'js-debug launched Chromium here, with our profile folder');
      // The id of the session launch.json started: it has no target of its own (js-debug never answers it), so the
      // command asks for its page's proxy.
      const id = await vscode.commands.executeCommand<string>('wsInspector.inspectBrowser', { debugSessionId: root.id });
      assert.match(id ?? '', /^browser\d+$/, 'attached through the proxy of the page session');
      const source = await waitFor('the inspection in the model', () => api.session.sources().find((s) => s.id === id));
      assert.equal(source.tag, started.page.name, "tagged with the page session's name");
      assert.ok(source.tag?.includes(name), 'which names the launch configuration');
      await assertPageFrames(id!, started.page);

      await vscode.commands.executeCommand('wsInspector.stopBrowserInspection', id);
      assert.equal(api.session.sources().some((s) => s.id === id), false);
      await stopSession(root);
      root = undefined;
      await waitFor('Chromium to exit with the session', () => pidsWith(dir).length === 0, 15_000);
    } finally {
      if (root) await Promise.race([vscode.debug.stopDebugging(root), sleep(10_000)]);
      for (const pid of pidsWith(dir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      fs.rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    }
  });

  it('attach: to Chromium started with --remote-debugging-port, by the page session; ends with the session', async () => {
    let chromium: Chromium | undefined;
    let root: vscode.DebugSession | undefined;
    try {
      chromium = await launchChromium(pageUrl);
      const started = await startBrowserSession({
        type: 'chrome',
        request: 'attach',
        name: 'Attach to Chromium (wsi test)',
        address: '127.0.0.1',
        port: chromium.port,
        browserAttachLocation: 'workspace',
      });
      root = started.root;
      const id = await vscode.commands.executeCommand<string>('wsInspector.inspectBrowser', { debugSessionId: started.page.id });
      assert.match(id ?? '', /^browser\d+$/);
      await assertPageFrames(id!, started.page);

      // Detaching the debugger closes its proxy: the inspection ends and leaves the list.
      await stopSession(root);
      root = undefined;
      await waitFor('the inspection to end with the debug session', () => !api.session.sources().some((s) => s.id === id), 15_000);
    } finally {
      if (root) await Promise.race([vscode.debug.stopDebugging(root), sleep(10_000)]);
      await vscode.commands.executeCommand('wsInspector.stopBrowserInspection');
      if (chromium) killChromium(chromium);
    }
  });
});
