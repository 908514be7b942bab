// Hostile traffic against the server the command started, inside the real extension host: each violation closes
// only its own connection with the RFC code, is recorded in the capture, and the host and the other clients go on.
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as vscode from 'vscode';
import WebSocket from 'ws';
import type { ErrorEvent } from '../../src/core/capture/events';
import type { ExtensionApi } from '../../src/extension/extension';

/** A raw TCP client that upgrades, then writes `frames` as they are. Resolves with the close code it got (or 1006). */
function rawClient(port: number, frames: Buffer): Promise<{ code: number; id?: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let upgraded = false;
    s.on('error', () => resolve({ code: 1006 }));
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) return;
        if (!buf.subarray(0, end).toString().startsWith('HTTP/1.1 101')) return reject(new Error(buf.toString()));
        upgraded = true;
        buf = buf.subarray(end + 4);
        s.write(frames);
      }
      // A server close frame: 0x88, length, code.
      const i = buf.indexOf(0x88);
      if (i !== -1 && buf.length >= i + 4) {
        resolve({ code: buf.readUInt16BE(i + 2) });
        s.destroy();
      }
    });
    s.on('close', () => resolve({ code: 1006 }));
    s.write(
      'GET /hostile HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nUser-Agent: hostile\r\n\r\n',
    );
  });
}

const MASK = Buffer.from([1, 2, 3, 4]);
const masked = (b0: number, payload: Buffer) =>
  Buffer.concat([Buffer.from([b0, 0x80 | payload.length]), MASK, payload.map((x, i) => x ^ MASK[i & 3])]);

const CASES: Array<{ name: string; frames: Buffer; code: number; errorCode: string }> = [
  { name: 'RSV2 set', frames: masked(0x81 | 0x20, Buffer.from('x')), code: 1002, errorCode: 'WS_ERR_UNEXPECTED_RSV_2_3' },
  { name: 'reserved opcode 3', frames: masked(0x83, Buffer.from('x')), code: 1002, errorCode: 'WS_ERR_INVALID_OPCODE' },
  { name: 'unmasked client frame', frames: Buffer.from([0x81, 0x01, 0x78]), code: 1002, errorCode: 'WS_ERR_EXPECTED_MASK' },
  { name: 'invalid UTF-8', frames: masked(0x81, Buffer.from([0xc3, 0x28])), code: 1007, errorCode: 'WS_ERR_INVALID_UTF8' },
  { name: 'fragmented ping', frames: masked(0x09, Buffer.from('p')), code: 1002, errorCode: 'WS_ERR_EXPECTED_FIN' },
];

describe('hostile traffic in a real extension host', function () {
  let api: ExtensionApi;
  let good: WebSocket;
  const received: string[] = [];

  before(async () => {
    const ext = vscode.extensions.all.find((e) => e.packageJSON.name === 'websocket-inspector')!;
    api = (await ext.activate()) as ExtensionApi;
    await vscode.workspace.getConfiguration('wsInspector').update('server.port', 0, vscode.ConfigurationTarget.Global);
    await vscode.commands.executeCommand('wsInspector.startServer');
    good = new WebSocket(api.session.serverAddress!.url);
    good.on('message', (d) => received.push(String(d)));
    await new Promise((r) => good.once('open', r));
  });

  after(async () => {
    good?.terminate();
    await vscode.commands.executeCommand('wsInspector.stopServer');
  });

  for (const c of CASES) {
    it(`${c.name}: closed with ${c.code}, recorded as ${c.errorCode}; the good client still gets broadcasts`, async () => {
      const port = api.session.serverAddress!.port;
      const before = api.session.store.stats().lastId;
      const { code } = await rawClient(port, c.frames);
      assert.equal(code, c.code);
      const errors = api.session.store.query({ afterId: before, kinds: ['error'] }).events as ErrorEvent[];
      assert.ok(
        errors.some((e) => e.code === c.errorCode && e.closeCode === c.code),
        `recorded ${c.errorCode}; got ${errors.map((e) => e.code).join(', ') || 'nothing'}`,
      );
      const n = received.length;
      await vscode.commands.executeCommand('wsInspector.sendToAll', `after ${c.name}`);
      for (const end = Date.now() + 3000; received.length === n; ) {
        if (Date.now() > end) throw new Error('the good client got nothing');
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(received[received.length - 1], `after ${c.name}`);
    });
  }
});
