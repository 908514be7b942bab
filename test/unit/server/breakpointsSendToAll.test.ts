// Send to all through the breakpoints (the composer's "Send to all"): held with the same card as a client's message.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { BreakpointController, type BreakpointRule, type HeldFrame, type HeldOutcome } from '../../../src/core/proxy/breakpoints';
import { SEND_TO_ALL_CONNECTION_ID } from '../../../src/core/server/serverBreakpoints';
import { client, cleanups, drained, runCleanups, startServer } from './helpers';
import { waitFor } from '../../support/waitFor';

afterEach(runCleanups);

const HOLD_ORDERS: BreakpointRule = { id: 'orders', enabled: true, appliesTo: ['server'], direction: 's2c', textPattern: 'order' };

async function setup(rules: BreakpointRule[] = [HOLD_ORDERS], withBreakpoints = true) {
  const bp = new BreakpointController({ timeoutMs: 20_000 });
  bp.setRules(rules);
  cleanups.push(() => bp.dispose());
  const holds: HeldFrame[] = [];
  const resolved: Array<{ frame: HeldFrame; outcome: HeldOutcome }> = [];
  bp.onDidHold((h) => holds.push(h));
  bp.onDidResolve((r) => resolved.push(r));
  const s = await startServer(withBreakpoints ? { breakpoints: bp } : {});
  const clients = [await client(s.address.url), await client(s.address.url), await client(s.address.url)];
  await waitFor('three clients', () => s.server.clients().length === 3);
  return { ...s, bp, holds, resolved, clients };
}

describe('BroadcastServer.sendToAllChecked', () => {
  test('a held Send to all reaches no client until Forward, then every client; a later one waits behind it', async () => {
    const t = await setup();
    const first = t.server.sendToAllChecked('{"type":"order"}');
    assert.equal(first.status, 'held');
    assert.equal(first.delivered, 0);
    const held = first.frame!;
    assert.equal(held, t.holds[0], 'the same frame as onDidHold');
    assert.equal(held.source, 'server');
    assert.equal(held.direction, 's2c');
    assert.equal(held.connectionId, SEND_TO_ALL_CONNECTION_ID);
    assert.equal(held.text, '{"type":"order"}');
    const second = t.server.sendToAllChecked('next');
    assert.equal(second.status, 'queued');
    await drained(t.server, t.clients);
    for (const c of t.clients) assert.deepEqual(c.texts(), []);

    t.bp.forward(held.id);
    assert.deepEqual(await first.settled, { outcome: 'forwarded', delivered: 3 });
    assert.deepEqual(await second.settled, { outcome: 'sent', delivered: 3 });
    await waitFor('both at every client', () => t.clients.every((c) => c.texts().length === 2));
    for (const c of t.clients) assert.deepEqual(c.texts(), ['{"type":"order"}', 'next']);
  });

  test('Edit sends the edit to every client; Drop sends nothing', async () => {
    const t = await setup();
    const edited = t.server.sendToAllChecked('order 1');
    t.bp.edit(edited.frame!.id, 'order 1, edited');
    assert.deepEqual(await edited.settled, { outcome: 'edited', delivered: 3 });
    const dropped = t.server.sendToAllChecked('order 2');
    t.bp.drop(dropped.frame!.id);
    assert.deepEqual(await dropped.settled, { outcome: 'dropped', delivered: 0 });
    await drained(t.server, t.clients);
    for (const c of t.clients) assert.deepEqual(c.texts(), ['order 1, edited']);
  });

  test('a Send to all no rule matches goes at once; so does every one without breakpoints or with rules for other places', async () => {
    const t = await setup();
    const r = t.server.sendToAllChecked(Buffer.from('no match'));
    assert.equal(r.status, 'sent');
    assert.equal(r.delivered, 3);
    assert.deepEqual(await r.settled, { outcome: 'sent', delivered: 3 });
    await waitFor('it at every client', () => t.clients.every((c) => c.received.length === 1 && c.received[0].isBinary));
    await runCleanups();

    for (const rules of [[{ ...HOLD_ORDERS, appliesTo: undefined }], [{ ...HOLD_ORDERS, appliesTo: ['proxy' as const, 'client' as const] }]]) {
      const u = await setup(rules);
      assert.equal(u.server.sendToAllChecked('order').status, 'sent', JSON.stringify(rules));
      await runCleanups();
    }
    const u = await setup([HOLD_ORDERS], false);
    assert.deepEqual(await u.server.sendToAllChecked('order').settled, { outcome: 'sent', delivered: 3 });
    assert.deepEqual(u.holds, []);
  });

  test('a Send to all held when the server stops is not sent: connectionClosed', async () => {
    const t = await setup();
    const r = t.server.sendToAllChecked('order');
    await t.server.stop();
    assert.deepEqual(await r.settled, { outcome: 'connectionClosed', delivered: 0 });
    assert.equal(r.frame!.closed?.by, 'server');
    for (const c of t.clients) assert.deepEqual(c.texts(), []);
  });
});
