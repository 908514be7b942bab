import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

describe('extension', () => {
  it('activates and contributes the WebSocket commands', async () => {
    const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'websocket-inspector');
    assert.ok(ext, 'extension is installed');
    await ext.activate();
    const cmds = await vscode.commands.getCommands(true);
    assert.ok(cmds.includes('wsInspector.startServer'));
  });
});
