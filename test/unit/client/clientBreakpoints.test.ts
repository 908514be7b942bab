// Frame breakpoints on an outgoing client connection: its sends held before they are written, its receives before its
// listeners get them. The peer is a plain ws server on loopback, so the test sees exactly what reached it.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { MessageEvent } from '../../../src/core/capture/events';
import { connect, type ClientConnection } from '../../../src/core/client/clientConnection';
import { BreakpointController, type BreakpointRule, type HeldFrame, type HeldOutcome } from '../../../src/core/proxy/breakpoints';
import { arraySink } from '../../support/arraySink';
import { sleep, waitFor } from '../../support/waitFor';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const rule = (r: Partial<BreakpointRule>): BreakpointRule => ({ id: r.id ?? 'r1', enabled: true, appliesTo: ['client'], ...r });

/** A ws server that keeps what it receives and the socket of its one client. */
async function peer() {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(wss, 'listening');
  cleanups.push(() => new Promise((r) => wss.close(r)));
  const got: string[] = [];
  let socket: WebSocket | undefined;
  wss.on('connection', (ws) => {
    socket = ws;
    ws.on('message', (d: Buffer) => got.push(d.toString()));
    cleanups.push(() => ws.terminate());
  });
  return { url: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, got, socket: () => waitFor('the client at the peer', () => socket) };
}

async function setup(rules: BreakpointRule[], timeoutMs = 20_000) {
  const p = await peer();
  const bp = new BreakpointController({ timeoutMs });
  bp.setRules(rules);
  cleanups.push(() => bp.dispose());
  const holds: HeldFrame[] = [];
  const resolved: Array<{ frame: HeldFrame; outcome: HeldOutcome }> = [];
  bp.onDidHold((h) => holds.push(h));
  bp.onDidResolve((r) => resolved.push(r));
  const sink = arraySink();
  const conn: ClientConnection = connect(p.url, { breakpoints: bp, capture: sink });
  cleanups.push(() => conn.dispose());
  const received: string[] = [];
  conn.onDidReceive((m) => received.push(m.data.toString()));
  await waitFor('open', () => conn.state === 'open');
  return { ...p, bp, holds, resolved, sink, conn, received, server: await p.socket() };
}

/** Lets the loopback carry what was written; used only to show that something did not arrive. */
const settle = () => sleep(50);

describe('ClientConnection breakpoints: sends', () => {
  test('a held send reaches the server only after Forward; later sends wait behind it, in order', async () => {
    const t = await setup([rule({ id: 'orders', direction: 'c2s', textPattern: 'order' })]);
    const first = t.conn.send('order 1');
    assert.equal(first.status, 'held');
    const held = first.frame!;
    assert.equal(held.source, 'client');
    assert.equal(held.connectionId, t.conn.id);
    assert.equal(held.direction, 'c2s');
    assert.equal(held.text, 'order 1');
    assert.equal(t.conn.send('later').status, 'queued');
    t.conn.ping();
    await once(t.server, 'ping');
    await settle();
    assert.deepEqual(t.got, []);

    t.bp.forward(held.id);
    assert.deepEqual(await first.settled, { outcome: 'forwarded', delivered: 1 });
    await waitFor('both at the server', () => t.got.length === 2);
    assert.deepEqual(t.got, ['order 1', 'later']);
    assert.equal(t.conn.send('order 2').status, 'held');
  });

  test('Edit sends the edit, Drop sends nothing, a time-out sends it unchanged', async () => {
    const t = await setup([rule({ direction: 'c2s', textPattern: 'order' })], 200);
    const edited = t.conn.send('order 1');
    t.bp.edit(edited.frame!.id, 'order 1, edited');
    const dropped = t.conn.send('order 2');
    t.bp.drop(dropped.frame!.id);
    assert.deepEqual(await dropped.settled, { outcome: 'dropped', delivered: 0 });
    const timedOut = t.conn.send(Buffer.from('order 3'));
    assert.deepEqual(await timedOut.settled, { outcome: 'timedOut', delivered: 1 });
    await waitFor('two at the server', () => t.got.length === 2);
    assert.deepEqual(t.got, ['order 1, edited', 'order 3']);
  });

  test('closing the connection while a send is held: it and the sends behind it are not sent', async () => {
    const t = await setup([rule({ direction: 'c2s', textPattern: 'order' })]);
    const held = t.conn.send('order');
    const behind = t.conn.send('behind');
    t.conn.close(1000, 'bye');
    assert.deepEqual(await held.settled, { outcome: 'connectionClosed', delivered: 0 });
    assert.deepEqual(await behind.settled, { outcome: 'connectionClosed', delivered: 0 });
    assert.deepEqual({ ...held.frame!.closed, at: 0 }, { code: 1000, reason: 'bye', by: 'client', at: 0 });
    await waitFor('closed', () => t.conn.state === 'closed');
    assert.deepEqual(t.got, []);
  });

  test('the server closing while a send is held ends it as connectionClosed, closed by the server', async () => {
    const t = await setup([rule({ direction: 'c2s' })]);
    const held = t.conn.send('anything');
    t.server.close(4001, 'going');
    assert.deepEqual(await held.settled, { outcome: 'connectionClosed', delivered: 0 });
    assert.deepEqual({ ...held.frame!.closed, at: 0 }, { code: 4001, reason: 'going', by: 'server', at: 0 });
  });
});

describe('ClientConnection breakpoints: receives', () => {
  test('a held receive reaches the listeners only after Forward, the ones behind it after it; the capture has it at once', async () => {
    const t = await setup([rule({ id: 'in', direction: 's2c', jsonPath: '$.type', jsonEquals: '"order"' })]);
    t.server.send('{"type":"order"}');
    t.server.send('after');
    const held = await waitFor('the hold', () => t.holds[0]);
    assert.equal(held.source, 'client');
    assert.equal(held.direction, 's2c');
    await waitFor('both in the capture', () => t.sink.of('message').filter((m: MessageEvent) => m.direction === 's2c').length === 2);
    assert.deepEqual(t.received, []);
    t.bp.forward(held.id);
    assert.deepEqual(t.received, ['{"type":"order"}', 'after']);
  });

  test('Edit hands the listeners the edit; Drop hands them nothing, and the capture still has what arrived', async () => {
    const t = await setup([rule({ direction: 's2c', textPattern: 'order' })]);
    t.server.send('order 1');
    const first = await waitFor('the first hold', () => t.holds[0]);
    t.bp.edit(first.id, 'order 1, edited');
    t.server.send('order 2');
    const second = await waitFor('the second hold', () => t.holds[1]);
    t.bp.drop(second.id);
    t.server.send('plain');
    await waitFor('“plain”', () => t.received.includes('plain'));
    assert.deepEqual(t.received, ['order 1, edited', 'plain']);
    const captured = t.sink.of('message').filter((m: MessageEvent) => m.direction === 's2c').map((m) => m.data.toString());
    assert.deepEqual(captured, ['order 1', 'order 2', 'plain']);
  });

  test('a receive held when the server closes stays held; disposing the connection ends it as connectionClosed', async () => {
    const t = await setup([rule({ direction: 's2c' })]);
    t.server.send('last words');
    t.server.close(1000);
    const held = await waitFor('the hold', () => t.holds[0]);
    await waitFor('closed', () => t.conn.state === 'closed');
    assert.equal(t.resolved.length, 0, 'still held');
    t.conn.dispose();
    assert.deepEqual(t.resolved.map((r) => r.outcome), ['connectionClosed']);
    assert.equal(held.closed?.by, 'client');
    assert.deepEqual(t.received, []);
  });
});

describe('ClientConnection breakpoints: rules for other places', () => {
  test('a rule without appliesTo, or for the proxy or the server, holds nothing on a client connection', async () => {
    for (const appliesTo of [undefined, ['proxy' as const], ['server' as const]]) {
      const t = await setup([{ id: 'all', enabled: true, ...(appliesTo ? { appliesTo } : {}) }]);
      assert.equal(t.conn.send('out').status, 'sent');
      t.server.send('in');
      await waitFor(`both ways (appliesTo ${JSON.stringify(appliesTo)})`, () => t.got.includes('out') && t.received.includes('in'));
      assert.deepEqual(t.holds, []);
      for (const c of cleanups.splice(0).reverse()) await c();
    }
  });

  test('breakpoints must be a BreakpointController', () => {
    assert.throws(() => connect('ws://127.0.0.1:1', { breakpoints: {} as BreakpointController }), TypeError);
  });
});
