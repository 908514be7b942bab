// The breakpoints as the panel gets them, over a real proxy and real ws peers: each proxied connection's compression,
// a held frame's card (label, countdown, Hold longer), the card of one whose connection closed (kept until dismissed,
// with the close), and how a compressed message held in passthrough can be edited next time.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { BreakpointState, describeRule } from '../../../src/extension/breakpointState';
import { ProxyManager, type ProxyStartOptions } from '../../../src/extension/proxies';
import { arraySink, startTarget, type Target } from '../proxy/proxyHelpers';
import { waitFor } from '../../support/waitFor';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A proxy to a target with deflate (ws's server, perMessageDeflate on), and a program whose every message is compressed. */
async function setup(o: Partial<ProxyStartOptions> = {}, rules = [{ id: 'orders', enabled: true, direction: 'c2s' as const, textPattern: 'order' }]) {
  const target: Target = await startTarget({ wsOptions: { perMessageDeflate: true } });
  cleanups.push(() => target.close());
  const state: BreakpointState = new BreakpointState(30_000, (f) => manager.heldContext(f));
  const manager: ProxyManager = new ProxyManager(arraySink(), state.controller);
  cleanups.push(() => state.dispose(), () => manager.dispose());
  if (rules.length) state.setRules(rules);
  const proxy = await manager.start({ target: target.url, port: 0, ...o });
  const connect = async () => {
    const ws = new WebSocket(`${proxy.url}/chat`, { perMessageDeflate: { threshold: 0 } });
    ws.on('error', () => {});
    cleanups.push(() => ws.terminate());
    await once(ws, 'open');
    return ws;
  };
  return { target, state, manager, proxy, connect };
}

describe('BreakpointState and ProxyManager: what the panel shows', () => {
  test('a proxied connection row says how compression runs and what each leg negotiated', async () => {
    const { manager, connect } = await setup({ compression: 'terminate', compressionSetIn: 'setting' });
    await connect();
    const row = await waitFor('the open row', () => manager.rows().find((r) => r.kind === 'proxy' && r.compression));
    const c = row.compression!;
    assert.equal(c.mode, 'terminate');
    assert.equal(c.chosen, 'option');
    assert.equal(c.setIn, 'setting');
    assert.equal(c.programOffered, true);
    assert.equal(c.programLeg?.clientMaxWindowBits, 15);
    assert.equal(c.targetLeg?.serverNoContextTakeover, false, 'context takeover on the target leg (ws default)');
  });

  test('a held card carries its label and countdown; Hold longer moves it by 60 s; a close while held keeps the card until dismissed', async () => {
    const { state, connect, target } = await setup();
    const ws = await connect();
    ws.send('{"type":"order","qty":1}');
    const card = await waitFor('the held card', () => state.snapshot().held[0]);
    assert.equal(card.source, 'proxy');
    assert.match(card.connectionLabel, /^\/chat → ws:\/\/127\.0\.0\.1:\d+\/chat$/);
    assert.equal(card.editable, true, 'terminate (automatic with a rule) makes a compressed message editable');
    assert.ok(card.remainingMs > 29_000 && card.remainingMs <= 30_000, String(card.remainingMs));

    state.act(card.id, 'holdLonger');
    const longer = state.snapshot().held[0];
    assert.ok(longer.remainingMs > 89_000, String(longer.remainingMs));
    assert.equal(longer.deadline, card.deadline + 60_000);

    // The target goes away: the card says so at once, and stays, not held any more.
    await waitFor('the target connection', () => target.conns[0]);
    target.conns[0].ws.close(4001, 'maintenance');
    const closed = await waitFor('the closed card', () => state.snapshot().held.find((h) => h.resolved));
    assert.deepEqual({ ...closed.closed, at: 0 }, { code: 4001, reason: 'maintenance', by: 'target', at: 0 });
    const recent = state.snapshot().recent.at(-1)!;
    assert.equal(recent.outcome, 'connectionClosed');
    assert.equal(recent.text, 'not delivered: the connection closed');
    assert.equal(recent.closed?.code, 4001);
    assert.throws(() => state.act(closed.id, 'forward'), /No held frame/);

    state.act(closed.id, 'dismiss');
    assert.deepEqual(state.snapshot().held, []);
    assert.equal(state.snapshot().recent.at(-1)?.outcome, 'connectionClosed', 'the outcome list keeps it');
  });

  test('passthrough set in the setting: the card offers the setting; in launch.json: that configuration', async () => {
    for (const [o, want] of [
      [{ compression: 'passthrough', compressionSetIn: 'setting' }, { where: 'setting' }],
      [{ compression: 'passthrough', compressionSetIn: 'launch.json', launch: { name: 'App', folder: 'file:///w' } }, { where: 'launch.json', configuration: 'App' }],
    ] as const) {
      const { state, connect } = await setup(o);
      const ws = await connect();
      ws.send('{"type":"order"}');
      const card = await waitFor('the held card', () => state.snapshot().held[0]);
      assert.equal(card.editable, false);
      assert.equal(card.compressed, true);
      assert.deepEqual(card.compressionSwitch, want);
      assert.equal(state.context(card.id)?.compressionSwitch?.folder, 'launch' in o ? 'file:///w' : undefined);
      state.act(card.id, 'forward');
      for (const c of cleanups.splice(0).reverse()) await c();
    }
  });

  test('automatic, connected before any rule: passthrough, and the card says the next connection terminates', async () => {
    const { state, connect, manager } = await setup({}, []);
    const ws = await connect();
    assert.equal(manager.rows().find((r) => r.kind === 'proxy')?.compression?.mode, 'passthrough');
    state.setRules([{ id: 'all', enabled: true }]);
    ws.send('hello');
    const card = await waitFor('the held card', () => state.snapshot().held[0]);
    assert.deepEqual(card.compressionSwitch, { where: 'automatic' });
    state.act(card.id, 'forward');
    await connect();
    await waitFor('the next connection in terminate', () => manager.rows().some((r) => r.kind === 'proxy' && r.compression?.mode === 'terminate'));
  });

  test('a rule in one line: the proxy’s words for its direction, or the server’s and client’s when it applies there too', () => {
    assert.equal(describeRule({ id: 'a', enabled: true, direction: 'c2s', textPattern: 'order' }), 'program → target · /order/');
    assert.equal(describeRule({ id: 'b', enabled: true, direction: 's2c', opcode: 1, appliesTo: ['server'] }), 'towards the client (s2c) · text');
    assert.equal(describeRule({ id: 'c', enabled: true, jsonPath: '$.type', appliesTo: ['proxy', 'client'] }), '$.type == (any)');
    assert.equal(describeRule({ id: 'd', enabled: true }), 'every frame');
    const state = new BreakpointState(1000, (f) => ({ label: f.connectionId }));
    state.setRules([{ id: 'b', enabled: true, appliesTo: ['client', 'server'] }]);
    assert.deepEqual(state.snapshot().rules, [{ id: 'b', enabled: true, description: 'every frame', appliesTo: ['client', 'server'] }]);
    assert.equal(state.snapshot().holdLongerMs, 60_000);
    state.dispose();
  });
});
