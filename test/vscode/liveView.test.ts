// The live view's model (issue 19, points 2 and 4): a closed client keeps its row, its address and its close; counts
// follow Send to Client and Send to All; the Connections view's arrows mean the frame list's; Send to All to nobody
// says so.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import WebSocket from 'ws';
import type { ExtensionApi } from '../../src/extension/extension';
import { activateExtension, waitFor } from './waitFor';

function openClient(url: string): Promise<{ ws: WebSocket; received: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { 'User-Agent': 'wsi-live-view-test' } });
    const received: string[] = [];
    ws.on('message', (d) => received.push(String(d)));
    ws.once('open', () => resolve({ ws, received }));
    ws.once('error', reject);
  });
}

describe('the live view: closed connections and counts', function () {
  let api: ExtensionApi;

  before(async () => {
    api = await activateExtension();
    await vscode.workspace.getConfiguration('wsInspector').update('server.port', 0, vscode.ConfigurationTarget.Global);
  });

  after(async () => {
    if (api.session.serverAddress) await vscode.commands.executeCommand('wsInspector.stopServer');
  });

  it('counts follow Send to Client and Send to All, the tree shows ↑ for client → server, a closed client stays', async () => {
    if (api.session.serverAddress) await vscode.commands.executeCommand('wsInspector.stopServer');
    const url = (await vscode.commands.executeCommand('wsInspector.startServer')) as string;
    const c = await openClient(url);
    const port = (c.ws as unknown as { _socket: { localPort: number } })._socket.localPort;
    const address = `127.0.0.1:${port}`;
    await waitFor('the client', () => api.session.clientCount === 1);
    c.ws.send('up 1');
    c.ws.send('up 2');
    const row = () => api.session.connections().find((r) => r.label === address);
    await waitFor('two messages in', () => row()?.messagesIn === 2);
    // The relay echoes the client's own messages back (broadcast): what the server sent so far.
    await waitFor('the relay', () => c.received.length === 2);
    const out0 = row()!.messagesOut;

    await vscode.commands.executeCommand('wsInspector.sendToClient', row()!.id, 'to you');
    assert.equal(row()!.messagesOut, out0 + 1, 'Send to Client counts at once');
    assert.equal(await vscode.commands.executeCommand('wsInspector.sendToAll', 'to all'), 1);
    assert.equal(row()!.messagesOut, out0 + 2, 'Send to All counts at once');
    await waitFor('both at the client', () => c.received.includes('to you') && c.received.includes('to all'));

    // The Connections view: ↑ is client → server (2 from the client), ↓ server → client.
    const [serverNode] = api.tree.getChildren();
    const treeItem = () => {
      const node = api.tree.getChildren(serverNode).find((n) => 'connection' in n && n.connection.label === address);
      return node && api.tree.getTreeItem(node);
    };
    await waitFor('the tree counts', () => String(treeItem()?.description) === `open · ↑2 ↓${out0 + 2}`);

    c.ws.close(1000, 'bye');
    await waitFor('the client closed', () => api.session.clientCount === 0);
    await waitFor('kept as closed', () => row()?.state === 'closed');
    assert.equal(row()!.note, 'closed 1000 bye');
    assert.equal(row()!.label, address, 'still its address, not its id');
    assert.equal(row()!.messagesOut, out0 + 2);
    await waitFor('the tree keeps it', () => /^closed 1000 bye · ↑2 ↓\d+$/.test(String(treeItem()?.description)));
    assert.equal(treeItem()!.contextValue, 'serverClient.closed', 'no Send or Disconnect on a closed client');
    assert.equal(api.session.labelOf(row()!.id), address, 'prompts and notifications name the address');
    await assert.rejects(api.session.send({ kind: 'client', clientId: row()!.id }, 'too late'), {
      message: `Client ${address} is closed: nothing was sent.`,
    });
  });

  it('Send to All with no clients says that nobody received it', async () => {
    if (!api.session.serverAddress) await vscode.commands.executeCommand('wsInspector.startServer');
    await waitFor('no clients', () => api.session.clientCount === 0);
    const delivered = await vscode.commands.executeCommand('wsInspector.sendToAll', 'to nobody');
    assert.equal(delivered, 0);
    const last = api.notifications().at(-1);
    assert.equal(last?.severity, 'warning');
    assert.match(last!.message, /nobody received it/);
    assert.doesNotMatch(last!.message, /^Sent/);
  });
});
