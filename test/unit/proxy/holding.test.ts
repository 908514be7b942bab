// Holding without starving the connection (src/core/proxy/framePipe.ts, pipeQueue.ts): pings, pongs and closes pass
// a held message both ways, a close while a message is held is shown at once and ends it as connectionClosed, and a
// hold outlasts a real keepalive (Python websockets: a ping every 20 s, 20 s to answer).
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { CaptureEvent, FrameEvent } from '../../../src/core/capture/events';
import { BreakpointController, type BreakpointRule, type HeldFrame, type HeldOutcome } from '../../../src/core/proxy/breakpoints';
import { arraySink, cleanups, clientWith, proxyTo, runCleanups, startTarget, type TargetConn } from './proxyHelpers';
import { startPythonWebsockets } from '../../support/pythonWebsockets';
import { sleep, waitFor } from '../../support/waitFor';

afterEach(runCleanups);

async function setup(rules: BreakpointRule[], targetUrl: string, timeoutMs?: number) {
  const bp = new BreakpointController({ timeoutMs });
  bp.setRules(rules);
  cleanups.push(() => bp.dispose());
  const holds: HeldFrame[] = [];
  const log: string[] = [];
  const resolved: Array<{ frame: HeldFrame; outcome: HeldOutcome }> = [];
  const changes: HeldFrame[] = [];
  bp.onDidHold((h) => holds.push(h));
  bp.onDidChange((h) => {
    changes.push(structuredClone(h));
    log.push('change');
  });
  bp.onDidResolve((r) => {
    resolved.push(r);
    log.push(`resolve:${r.outcome}`);
  });
  const sink = arraySink();
  const p = await proxyTo(targetUrl, { breakpoints: bp, capture: sink });
  return { ...p, bp, holds, resolved, changes, log, sink };
}

async function echoTarget(onConnection?: (c: TargetConn) => void) {
  const t = await startTarget({ wsOptions: { perMessageDeflate: true }, onConnection });
  cleanups.push(() => t.close());
  return t;
}

const holdC2s: BreakpointRule = { id: 'hold', enabled: true, direction: 'c2s', textPattern: '^hold' };

function controlFrames(events: CaptureEvent[], leg: string, direction: 'c2s' | 's2c', opcode: number): FrameEvent[] {
  return events.filter((e): e is FrameEvent => e.kind === 'frame' && e.connectionId === leg && e.direction === direction && e.opcode === opcode);
}

describe('holding without starving the connection', () => {
  test("pings and pongs pass a held message both ways: the program's and the target's keepalives work", async () => {
    const t = await echoTarget();
    const { address, holds, bp } = await setup([holdC2s], t.url);
    const { ws } = clientWith(address.url);
    await once(ws, 'open');
    ws.send('hold this');
    await waitFor('held', () => holds.length === 1);
    ws.send('behind the held one');
    // The program pings while its message is held: the target answers, the pong comes back.
    const programPong = once(ws, 'pong');
    ws.ping('program keepalive');
    assert.equal(((await programPong) as [Buffer])[0].toString(), 'program keepalive');
    // The target pings: the program's automatic pong passes the held message on its way back.
    const target = t.conns[0].ws;
    const targetPong = once(target, 'pong');
    target.ping('target keepalive');
    assert.equal(((await targetPong) as [Buffer])[0].toString(), 'target keepalive');
    assert.equal(t.conns[0].messages.length, 0, 'the data still waits');
    bp.forward(holds[0].id);
    await waitFor('both messages at the target, in order', () => t.conns[0].messages.length === 2);
    assert.deepEqual(t.conns[0].messages.map((m) => m.data.toString()), ['hold this', 'behind the held one']);
  });

  test('the target closes while a message is held: the held frame shows the code and reason at once, the close reaches the program, connectionClosed', async () => {
    const t = await echoTarget();
    const { address, holds, changes, log, resolved, bp } = await setup([holdC2s], t.url);
    const { ws } = clientWith(address.url);
    await once(ws, 'open');
    ws.send('hold me');
    await waitFor('held', () => holds.length === 1);
    const closedAtProgram = once(ws, 'close');
    t.conns[0].ws.close(4000, 'going away for lunch');
    const [code, reason] = (await closedAtProgram) as [number, Buffer];
    assert.equal(code, 4000);
    assert.equal(reason.toString(), 'going away for lunch');
    assert.equal(changes.length, 1);
    assert.deepEqual({ ...changes[0].closed, at: 0 }, { code: 4000, reason: 'going away for lunch', by: 'target', at: 0 });
    assert.deepEqual(log, ['change', 'resolve:connectionClosed'], 'shown first, then resolved');
    assert.equal(resolved[0].frame.closed?.code, 4000, 'the outcome keeps the close');
    assert.deepEqual(bp.held(), []);
    // The program answered the close; the held message never reached the target.
    await waitFor('the close handshake at the target', () => t.conns[0].closed !== undefined);
    assert.equal(t.conns[0].closed!.code, 4000);
    assert.deepEqual(t.conns[0].messages, []);
  });

  test('the program closes while a target message is held: its close passes the held one and ends it as connectionClosed', async () => {
    const t = await echoTarget((c) => c.ws.send('hold from target'));
    const { address, holds, changes, resolved } = await setup([{ id: 's', enabled: true, direction: 's2c', textPattern: '^hold' }], t.url);
    const { ws } = clientWith(address.url);
    const got: string[] = [];
    ws.on('message', (d: Buffer) => got.push(d.toString()));
    await once(ws, 'open');
    await waitFor('held', () => holds.length === 1);
    ws.close(4001, 'done here');
    await waitFor('the close at the target', () => t.conns[0].closed !== undefined);
    assert.deepEqual(t.conns[0].closed, { code: 4001, reason: 'done here' });
    assert.deepEqual(changes.map((c) => [c.closed?.code, c.closed?.reason, c.closed?.by]), [[4001, 'done here', 'program']]);
    assert.deepEqual(resolved.map((r) => r.outcome), ['connectionClosed']);
    assert.deepEqual(got, [], 'not delivered');
  });

  test('holdLonger moves the deadline (default +60 s) and fires onDidChange; forward is Forward now', async () => {
    const t = await echoTarget();
    const { address, holds, changes, bp } = await setup([holdC2s], t.url, 100);
    const { ws } = clientWith(address.url);
    await once(ws, 'open');
    ws.send('hold a while');
    await waitFor('held', () => holds.length === 1);
    const h = holds[0];
    assert.equal(h.deadline - h.heldAt, 100);
    bp.holdLonger(h.id);
    assert.equal(h.deadline - h.heldAt, 60_100);
    assert.equal(changes.length, 1);
    assert.throws(() => bp.holdLonger(h.id, -1), TypeError);
    // Past the first deadline: still held.
    await sleep(250);
    assert.deepEqual(bp.held().map((x) => x.id), [h.id]);
    bp.forward(h.id);
    await waitFor('at the target', () => t.conns[0].messages.length === 1);
    assert.throws(() => bp.holdLonger(h.id), /No held frame/);
  });

  test('a message held 45 s against Python websockets (ping every 20 s, 20 s timeout): the connection stays open, pings and pongs pass, Forward delivers it', { timeout: 120_000 }, async () => {
    const py = await startPythonWebsockets();
    cleanups.push(() => py.stop());
    // The default 30 s hold, made longer from the card.
    const { address, holds, bp, sink, proxy } = await setup([holdC2s], py.url);
    const { ws } = clientWith(address.url);
    const got: string[] = [];
    ws.on('message', (d: Buffer) => got.push(d.toString()));
    await once(ws, 'open');
    const [info] = proxy.connections();
    ws.send('hold for 45 seconds');
    await waitFor('held', () => holds.length === 1);
    assert.equal(holds[0].deadline - holds[0].heldAt, 30_000);
    await sleep(25_000);
    bp.holdLonger(holds[0].id);
    await sleep(20_000);
    assert.equal(ws.readyState, ws.OPEN, 'still open after 45 s');
    assert.deepEqual(py.events.filter((e) => e.close !== undefined), [], 'the target did not close');
    assert.deepEqual(py.messages(), [], 'the message is still held');
    assert.ok(controlFrames(sink.events, info.targetSideId, 's2c', 9).length >= 2, "the target's pings at 20 s and 40 s");
    assert.ok(controlFrames(sink.events, info.programSideId, 's2c', 9).length >= 2, 'passed on to the program');
    assert.ok(controlFrames(sink.events, info.targetSideId, 'c2s', 10).length >= 2, "and the program's pongs reached the target");
    bp.forward(holds[0].id);
    await waitFor('the echo', () => got.length === 1);
    assert.deepEqual(py.messages(), ['hold for 45 seconds']);
    assert.deepEqual(got, ['hold for 45 seconds']);
  });
});
