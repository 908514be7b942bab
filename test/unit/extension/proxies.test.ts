import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { COUNTS_TICK_MS } from '../../../src/extension/countsTicker';
import { BreakpointState } from '../../../src/extension/breakpointState';
import { ProxyManager } from '../../../src/extension/proxies';
import { arraySink, startTarget } from '../proxy/proxyHelpers';
import { waitFor } from '../../support/waitFor';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('ProxyManager rows', () => {
  test('a proxied connection, its program leg and its target leg show the messages and bytes each end sent and got', async (t) => {
    // The counts ticker (a setInterval) is mocked: the test moves it on instead of waiting a tick of real time.
    t.mock.timers.enable({ apis: ['setInterval'] });
    const target = await startTarget();
    cleanups.push(() => target.close());
    const state = new BreakpointState(20_000, (f) => ({ label: f.connectionId }));
    const manager = new ProxyManager(arraySink(), state.controller);
    cleanups.push(() => state.dispose(), () => manager.dispose());
    const proxy = await manager.start({ target: target.url, port: 0 });
    const ws = new WebSocket(proxy.url);
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    await once(ws, 'open');
    let echoes = 0;
    ws.on('message', () => echoes++);
    ws.send('first');
    ws.send(Buffer.alloc(300, 1));
    await waitFor('the echoes', () => echoes === 2);

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

    // Traffic fires no event of its own: within a tick of the counts, the manager says its rows changed.
    let changes = 0;
    manager.onDidChange(() => changes++);
    ws.send('third');
    await waitFor('the third echo', () => echoes === 3);
    assert.equal(changes, 0, 'traffic fires no event of its own');
    t.mock.timers.tick(COUNTS_TICK_MS);
    assert.equal(changes, 1, 'the next tick of the counts');
    assert.equal(rowsOf().conn.messagesOut, 3);

    ws.close(1000);
    await waitFor('the closed row', () => rowsOf().conn?.state === 'closed');
    const done = rowsOf();
    assert.equal(done.conn.messagesOut, 3, 'a closed row keeps its counts');
    assert.ok(done.conn.bytesOut > fromProgram, 'and counts the close frame');
  });

  test('a held binary message is in the snapshot whole as hex, and an edit in hex reaches the target as those bytes', async () => {
    const target = await startTarget();
    cleanups.push(() => target.close());
    const state: BreakpointState = new BreakpointState(20_000, (f) => manager.heldContext(f));
    const manager: ProxyManager = new ProxyManager(arraySink(), state.controller);
    cleanups.push(() => state.dispose(), () => manager.dispose());
    state.setRules([{ id: 'bin', enabled: true, direction: 'c2s', opcode: 2 }]);
    const proxy = await manager.start({ target: target.url, port: 0 });
    const ws = new WebSocket(proxy.url);
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    await once(ws, 'open');
    // Not UTF-8 (0xff), so it has no text form.
    ws.send(Buffer.from([0xff, 0x00, 0x01, 0x02]));
    await waitFor('the held message', () => state.snapshot().held.length === 1);
    const held = state.snapshot().held[0];
    assert.equal(held.text, undefined);
    assert.equal(held.hex, 'ff000102');
    assert.equal(held.hexComplete, true);

    assert.throws(() => state.act(held.id, 'edit', undefined, 'ff 0g'), {
      message: 'The edited payload is not hex: "g" at position 5 is not a hex digit (0-9, a-f).',
    });
    assert.equal(state.snapshot().held.length, 1, 'a bad edit leaves it held');
    state.act(held.id, 'edit', undefined, 'FF 00\naa bb cc');
    await waitFor('the edited message at the target', () => target.conns[0]?.messages.length === 1);
    assert.deepEqual(target.conns[0].messages[0], { data: Buffer.from([0xff, 0x00, 0xaa, 0xbb, 0xcc]), isBinary: true });
  });
});
