import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { ProxyManager } from '../../../src/extension/proxies';
import { arraySink, startTarget, until } from '../proxy/proxyHelpers';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('ProxyManager rows', () => {
  test('a proxied connection, its program leg and its target leg show the messages and bytes each end sent and got', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const manager = new ProxyManager(arraySink(), 20_000);
    cleanups.push(() => manager.dispose());
    const proxy = await manager.start({ target: target.url, port: 0 });
    const ws = new WebSocket(proxy.url);
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    await once(ws, 'open');
    let echoes = 0;
    ws.on('message', () => echoes++);
    ws.send('first');
    ws.send(Buffer.alloc(300, 1));
    await until(() => echoes === 2, 'the echoes');

    const rowsOf = () => {
      const rows = manager.rows();
      return {
        conn: rows.find((r) => r.kind === 'proxy')!,
        program: rows.find((r) => r.kind === 'proxySide' && r.side === 'program')!,
        target: rows.find((r) => r.kind === 'proxySide' && r.side === 'target')!,
      };
    };
    // Unmasked echoes of 5 and 300 bytes: 2 + 5 and 4 + 300 bytes; the program's masked frames 4 bytes more each.
    const fromTarget = 2 + 5 + 4 + 300;
    const fromProgram = fromTarget + 8;
    const live = rowsOf();
    for (const r of [live.conn, live.program]) {
      assert.deepEqual([r.messagesOut, r.messagesIn, r.bytesOut, r.bytesIn], [2, 2, fromProgram, fromTarget], r.id);
    }
    assert.deepEqual([live.target.messagesOut, live.target.messagesIn, live.target.bytesOut, live.target.bytesIn], [2, 2, fromProgram, fromTarget]);

    ws.close(1000);
    await until(() => rowsOf().conn?.state === 'closed', 'the closed row');
    const done = rowsOf();
    assert.equal(done.conn.messagesOut, 2, 'a closed row keeps its counts');
    assert.ok(done.conn.bytesOut > fromProgram, 'and counts the close frame');
  });
});
