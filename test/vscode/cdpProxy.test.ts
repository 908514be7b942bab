// Inspect Browser WebSockets through a VS Code debug session: js-debug shares the debuggee's DevTools through
// extension.js-debug.requestCDPProxy and the inspector attaches there (page mode). This drives the path with a Node
// debug session (the attach, its tag, the detach); browserDebug.test.ts does it with real Chromium sessions.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../src/extension/extension';
import { activateExtension, sleep, waitFor } from './waitFor';

describe('Inspect Browser WebSockets through a debug session (js-debug requestCDPProxy)', function () {
  this.timeout(90_000);
  let api: ExtensionApi;
  let dir: string;

  before(async () => {
    api = await activateExtension();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wsi-cdp-proxy-'));
  });

  after(async () => {
    await vscode.commands.executeCommand('wsInspector.stopBrowserInspection');
    // A clean-up that must not hang the suite: at most 10 s.
    await Promise.race([vscode.debug.stopDebugging(), sleep(10_000)]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('attaches to the DevTools proxy js-debug gives for the session, tagged with its name', async () => {
    const program = path.join(dir, 'idle.js');
    fs.writeFileSync(program, 'setTimeout(() => {}, 60_000);\n');
    const name = 'cdp proxy session';
    const sessions: vscode.DebugSession[] = [];
    const sub = vscode.debug.onDidStartDebugSession((d) => sessions.push(d));
    try {
      assert.equal(await vscode.debug.startDebugging(undefined, { type: 'node', request: 'launch', name, program }), true);
      // js-debug starts a parent session and, once the process runs, a child attached to it: the child's DevTools
      // are what it shares.
      const child = await waitFor('the child session', () => sessions.find((d) => d.parentSession !== undefined), 30_000);
      const id = await vscode.commands.executeCommand<string>('wsInspector.inspectBrowser', { debugSessionId: child.id });
      assert.match(id ?? '', /^browser\d+$/, 'attached through the proxy');
      const source = await waitFor('the inspection in the model', () => api.session.sources().find((s) => s.id === id));
      assert.equal(source.tag, child.name);
      assert.match(source.label, / at ws:\/\/\S+:\d+/);
      await vscode.commands.executeCommand('wsInspector.stopBrowserInspection', id);
      assert.equal(api.session.sources().some((s) => s.id === id), false);

      // The top-level session (the launch configuration's) has no target of its own and js-debug never answers it:
      // the command asks its child instead.
      const viaParent = await vscode.commands.executeCommand<string>('wsInspector.inspectBrowser', { debugSessionId: child.parentSession!.id });
      assert.match(viaParent ?? '', /^browser\d+$/, 'attached through the child session of the given one');
      const parentSource = await waitFor('the inspection in the model', () => api.session.sources().find((s) => s.id === viaParent));
      assert.equal(parentSource.tag, child.name);
      await vscode.commands.executeCommand('wsInspector.stopBrowserInspection', viaParent);
    } finally {
      sub.dispose();
    }
  });
});
