// Frame breakpoints in the broadcast server: a client's message held before it is relayed, on real ws clients over
// loopback. Send to all through the breakpoints is in breakpointsSendToAll.test.ts.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { BreakpointController, type BreakpointRule, type HeldFrame, type HeldOutcome } from '../../../src/core/proxy/breakpoints';
import type { BroadcastServerOptions, ReceiveEvent } from '../../../src/core/server/broadcastServer';
import { client, cleanups, drained, runCleanups, startServer } from './helpers';
import { sleep, waitFor } from '../../support/waitFor';

afterEach(runCleanups);

const rule = (r: Partial<BreakpointRule>): BreakpointRule => ({ id: r.id ?? 'r1', enabled: true, appliesTo: ['server'], ...r });
/** Holds a client's `{"type":"order"}`. */
const ORDER_RULE = rule({ id: 'orders', direction: 'c2s', jsonPath: '$.type', jsonEquals: '"order"' });
const ORDER = '{"type":"order","qty":1}';

/** A server with breakpoints and three clients: `a` sends, `b` and `c` receive. */
async function setup(o: { rules?: BreakpointRule[]; timeoutMs?: number; server?: BroadcastServerOptions } = {}) {
  // Long enough that nothing times out while a test looks at a held message; the time-out test sets its own.
  const bp = new BreakpointController({ timeoutMs: o.timeoutMs ?? 20_000 });
  bp.setRules(o.rules ?? [ORDER_RULE]);
  cleanups.push(() => bp.dispose());
  const holds: HeldFrame[] = [];
  const resolved: Array<{ frame: HeldFrame; outcome: HeldOutcome }> = [];
  bp.onDidHold((h) => holds.push(h));
  bp.onDidResolve((r) => resolved.push(r));
  const s = await startServer({ relay: 'broadcastOthers', breakpoints: bp, ...o.server });
  const received: ReceiveEvent[] = [];
  s.server.onDidReceive((e) => received.push(e));
  const a = await client(s.address.url);
  const b = await client(s.address.url);
  const c = await client(s.address.url);
  await waitFor('three clients', () => s.server.clients().length === 3);
  const aId = s.server.clients()[0].id;
  return { ...s, bp, holds, resolved, received, a, b, c, aId };
}

describe('BroadcastServer breakpoints: a client’s message', () => {
  test('is held before it is relayed; Forward relays it as it was, then the messages behind it, in order', async () => {
    const t = await setup();
    t.a.ws.send(ORDER);
    t.a.ws.send('after 1');
    t.a.ws.send('after 2');
    const held = await waitFor('the hold', () => t.holds[0]);
    assert.equal(held.source, 'server');
    assert.equal(held.connectionId, t.aId);
    assert.equal(held.direction, 'c2s');
    assert.equal(held.opcode, 1);
    assert.equal(held.text, ORDER);
    assert.equal(held.ruleId, 'orders');
    assert.equal(held.editable, true);
    // Everything the server sent before the marker has arrived: nothing of a's.
    await waitFor('all three read', () => t.received.length === 3);
    await drained(t.server, [t.a, t.b, t.c]);
    assert.deepEqual(t.b.texts(), []);
    assert.deepEqual(t.c.texts(), []);
    assert.equal(t.holds.length, 1, 'the later messages wait unmatched behind the held one');

    t.bp.forward(held.id);
    await waitFor('the three at b and c', () => t.b.texts().length === 3 && t.c.texts().length === 3);
    assert.deepEqual(t.b.texts(), [ORDER, 'after 1', 'after 2']);
    assert.deepEqual(t.c.texts(), [ORDER, 'after 1', 'after 2']);
    assert.deepEqual(t.resolved.map((r) => r.outcome), ['forwarded']);
  });

  test('does not hold up other clients’ messages', async () => {
    const t = await setup();
    t.a.ws.send(ORDER);
    await waitFor('the hold', () => t.holds[0]);
    t.c.ws.send('from c');
    await waitFor('c’s message at b', () => t.b.texts().includes('from c'));
    assert.deepEqual(t.b.texts(), ['from c']);
    assert.deepEqual(t.a.texts(), ['from c']);
  });

  test('Edit relays the edit to the others; onDidReceive reported what the client sent', async () => {
    const t = await setup();
    t.a.ws.send(ORDER);
    t.a.ws.send('after');
    const held = await waitFor('the hold', () => t.holds[0]);
    t.bp.edit(held.id, '{"type":"order","qty":1000}');
    await waitFor('two messages at b and c', () => t.b.texts().length === 2 && t.c.texts().length === 2);
    assert.deepEqual(t.b.texts(), ['{"type":"order","qty":1000}', 'after']);
    assert.deepEqual(t.c.texts(), ['{"type":"order","qty":1000}', 'after']);
    assert.equal(t.b.received[0].isBinary, false, 'the edit keeps the message’s type');
    assert.deepEqual(t.received.map((r) => r.data.toString()), [ORDER, 'after']);
    assert.deepEqual(t.resolved.map((r) => r.outcome), ['edited']);
  });

  test('Drop relays nothing of it; the messages behind it still go', async () => {
    const t = await setup();
    t.a.ws.send(ORDER);
    t.a.ws.send('after');
    const held = await waitFor('the hold', () => t.holds[0]);
    t.bp.drop(held.id);
    await waitFor('“after” at b and c', () => t.b.texts().includes('after') && t.c.texts().includes('after'));
    await drained(t.server, [t.a, t.b, t.c]);
    assert.deepEqual(t.b.texts(), ['after']);
    assert.deepEqual(t.c.texts(), ['after']);
  });

  test('a message behind a held one is matched in its turn, and held too', async () => {
    const t = await setup();
    t.a.ws.send(ORDER);
    t.a.ws.send('{"type":"order","qty":2}');
    t.a.ws.send('after');
    const first = await waitFor('the first hold', () => t.holds[0]);
    await waitFor('all three read', () => t.received.length === 3);
    t.bp.forward(first.id);
    const second = await waitFor('the second hold', () => t.holds[1]);
    assert.equal(second.text, '{"type":"order","qty":2}');
    await waitFor('the first at b', () => t.b.texts().length === 1);
    await drained(t.server, [t.a, t.b, t.c]);
    assert.deepEqual(t.b.texts(), [ORDER]);
    t.bp.drop(second.id);
    await waitFor('“after” at b', () => t.b.texts().includes('after'));
    assert.deepEqual(t.b.texts(), [ORDER, 'after']);
  });

  test('a hold that times out relays the message unchanged', async () => {
    const t = await setup({ timeoutMs: 150 });
    t.a.ws.send(ORDER);
    await waitFor('the hold', () => t.holds[0]);
    await waitFor('the message at b', () => t.b.texts().length === 1);
    assert.deepEqual(t.b.texts(), [ORDER]);
    assert.deepEqual(t.resolved.map((r) => r.outcome), ['timedOut']);
  });

  test('binary messages and the text of a compressed one (ws inflates it) are matched and relayed with their type', async () => {
    const t = await setup({
      rules: [rule({ id: 'bin', direction: 'c2s', opcode: 2 }), rule({ id: 'text', direction: 'c2s', textPattern: 'secret' })],
      server: { perMessageDeflate: { threshold: 0 } },
    });
    assert.match(t.a.ws.extensions, /permessage-deflate/);
    t.a.ws.send(Buffer.from([1, 2, 3]));
    const bin = await waitFor('the binary hold', () => t.holds[0]);
    assert.equal(bin.opcode, 2);
    assert.deepEqual([...bin.payload], [1, 2, 3]);
    t.bp.forward(bin.id);
    await waitFor('the binary at b', () => t.b.received.length === 1);
    assert.equal(t.b.received[0].isBinary, true);
    t.a.ws.send('a secret '.repeat(200), { compress: true });
    const text = await waitFor('the text hold', () => t.holds[1]);
    assert.equal(text.text, 'a secret '.repeat(200), 'the inflated text');
    t.bp.edit(text.id, 'redacted '.repeat(200));
    await waitFor('the edit at b and c', () => t.b.received.length === 2 && t.c.received.length === 2);
    assert.equal(t.b.texts()[1], 'redacted '.repeat(200));
    assert.equal(t.c.texts()[1], 'redacted '.repeat(200));
  });

  test('the sender leaving does not end the hold: Forward still relays it to the others', async () => {
    const t = await setup();
    t.a.ws.send(ORDER);
    const held = await waitFor('the hold', () => t.holds[0]);
    t.a.ws.close(1000, 'done');
    await waitFor('a gone', () => t.gone.length === 1);
    assert.equal(t.resolved.length, 0, 'still held');
    assert.deepEqual(t.bp.held().map((h) => h.id), [held.id]);
    t.bp.forward(held.id);
    await waitFor('the message at b and c', () => t.b.texts().length === 1 && t.c.texts().length === 1);
    assert.deepEqual(t.b.texts(), [ORDER]);
  });

  test('with relay echo, the sender leaving ends the hold as connectionClosed: there is nobody to relay to', async () => {
    const t = await setup({ server: { relay: 'echo' } });
    t.a.ws.send(ORDER);
    const held = await waitFor('the hold', () => t.holds[0]);
    t.a.ws.close(4000, 'bye');
    await waitFor('the outcome', () => t.resolved[0]);
    assert.equal(t.resolved[0].outcome, 'connectionClosed');
    assert.deepEqual({ ...held.closed, at: 0 }, { code: 4000, reason: 'bye', by: 'client', at: 0 });
  });

  test('stopping the server ends every hold as connectionClosed, and nothing is relayed', async () => {
    const t = await setup();
    t.a.ws.send(ORDER);
    const held = await waitFor('the hold', () => t.holds[0]);
    await t.server.stop();
    assert.deepEqual(t.resolved.map((r) => r.outcome), ['connectionClosed']);
    assert.equal(held.closed?.by, 'server');
    assert.equal(held.closed?.code, 1001);
    assert.deepEqual(t.b.texts(), []);
  });

  test('taking the breakpoints off forwards what is held and relays what waited; setting them again holds again', async () => {
    const t = await setup();
    t.a.ws.send(ORDER);
    t.a.ws.send('after');
    await waitFor('the hold', () => t.holds[0]);
    await waitFor('both read', () => t.received.length === 2);
    t.server.setBreakpoints(undefined);
    await waitFor('both at b', () => t.b.texts().length === 2);
    assert.deepEqual(t.b.texts(), [ORDER, 'after']);
    assert.deepEqual(t.resolved.map((r) => r.outcome), ['forwarded']);
    t.a.ws.send(ORDER);
    await waitFor('the third at b', () => t.b.texts().length === 3);
    t.server.setBreakpoints(t.bp);
    t.a.ws.send(ORDER);
    await waitFor('the second hold', () => t.holds[1]);
    assert.throws(() => t.server.setBreakpoints({} as BreakpointController), TypeError);
  });

  test('a rule for the proxy only, or without appliesTo, holds nothing in the server', async () => {
    for (const appliesTo of [undefined, ['proxy' as const], ['client' as const]]) {
      const t = await setup({ rules: [{ id: 'all', enabled: true, ...(appliesTo ? { appliesTo } : {}) }] });
      t.a.ws.send(ORDER);
      await waitFor(`the message at b (appliesTo ${JSON.stringify(appliesTo)})`, () => t.b.texts().length === 1);
      assert.deepEqual(t.holds, []);
      await runCleanups();
    }
  });

  test('a held message does not stop the heartbeat or the client’s own pings', async () => {
    // A rule on pings and pongs too: ws answers them itself, so the server never holds them.
    const t = await setup({ rules: [ORDER_RULE, rule({ id: 'pings', opcode: 9 }), rule({ id: 'pongs', opcode: 10 })], server: { heartbeatIntervalMs: 40 } });
    let pings = 0;
    t.a.ws.on('ping', () => pings++);
    t.a.ws.send(ORDER);
    const held = await waitFor('the hold', () => t.holds[0]);
    const before = pings;
    // Real time, so that several heartbeats pass while the message is held.
    await sleep(300);
    assert.ok(pings - before >= 3, `heartbeat pings while held: ${pings - before}`);
    t.a.ws.ping();
    await once(t.a.ws, 'pong');
    assert.equal(t.a.ws.readyState, t.a.ws.OPEN);
    assert.deepEqual(t.holds.map((h) => h.id), [held.id]);
    t.bp.forward(held.id);
    await waitFor('the message at b', () => t.b.texts().length === 1);
  });

  test('a client that floods behind a held message is not read until its queue shortens; nothing is lost, the order is kept', async () => {
    const t = await setup({ server: { heartbeatIntervalMs: 250, rateLimit: { messagesPerSecond: 1_000_000, burst: 1_000_000, action: 'drop' } } });
    // Over the 1,000 messages at which the server stops reading a client behind a held message.
    const n = 2000;
    t.a.ws.send(ORDER);
    const held = await waitFor('the hold', () => t.holds[0]);
    for (let i = 0; i < n; i++) t.a.ws.send(`m${i} ${'x'.repeat(200)}`);
    await waitFor('a read up to its pause', () => t.received.length > 1000);
    // Real time: the server does not read a, so it cannot read its pongs either, and several heartbeats pass.
    await sleep(1000);
    const read = t.received.length;
    assert.ok(read < n + 1, `the server paused reading a (read ${read} of ${n + 1})`);
    assert.equal(t.a.ws.readyState, t.a.ws.OPEN, 'not terminated for the pongs it could not be read for');
    t.bp.forward(held.id);
    const state = () => `everything at b (${t.b.received.length} of ${n + 1}; read ${t.received.length}; gone ${t.gone.map((g) => g.client.id)})`;
    await waitFor(state, () => t.b.received.length === n + 1);
    const texts = t.b.texts();
    assert.equal(texts[0], ORDER);
    for (let i = 0; i < n; i++) assert.equal(texts[i + 1].slice(0, texts[i + 1].indexOf(' ')), `m${i}`);
    assert.equal(t.a.ws.readyState, t.a.ws.OPEN);
  });
});
