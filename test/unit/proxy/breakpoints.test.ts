import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { WebSocket, type ServerOptions } from 'ws';
import type { CaptureEvent, MessageEvent } from '../../../src/core/capture/events';
import { onClientSocket } from '../../../src/core/capture/socketTap';
import { BreakpointController, HELD_OUTCOME_TEXT, validateRule, type BreakpointRule, type HeldFrame, type HeldOutcome } from '../../../src/core/proxy/breakpoints';
import type { ProxyCompression } from '../../../src/core/proxy/compressionMode';
import { InspectingProxy } from '../../../src/core/proxy/inspectingProxy';
import { FrameDecoder } from '../../../src/core/wire/frameDecoder';
import { encodeFrame } from '../../../src/core/wire/frameEncoder';
import { MASK, RawClient, arraySink, frames, header, parseHead, record, splitHead, startTarget, type Recorded, type TargetConn } from './proxyHelpers';
import { waitFor } from '../../support/waitFor';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(o: { rules: BreakpointRule[]; timeoutMs?: number; wsOptions?: ServerOptions; onConnection?: (c: TargetConn) => void; compression?: ProxyCompression }) {
  const target = await startTarget({ wsOptions: o.wsOptions, onConnection: o.onConnection });
  cleanups.push(() => target.close());
  // Long enough that nothing times out while a test looks at a held frame; the time-out test sets its own.
  const bp = new BreakpointController({ timeoutMs: o.timeoutMs ?? 20_000 });
  bp.setRules(o.rules);
  const holds: HeldFrame[] = [];
  const resolved: Array<{ frame: HeldFrame; outcome: HeldOutcome }> = [];
  bp.onDidHold((h) => holds.push(h));
  bp.onDidResolve((r) => resolved.push(r));
  const sink = arraySink();
  const proxy = new InspectingProxy();
  const address = await proxy.start({ target: target.url, breakpoints: bp, capture: sink, compression: o.compression });
  cleanups.push(() => bp.dispose());
  cleanups.push(() => proxy.dispose());
  cleanups.push(() => proxy.stop());
  return { target, bp, holds, resolved, sink, proxy, address };
}

function client(url: string, options: ConstructorParameters<typeof WebSocket>[2] = {}) {
  const ws = new WebSocket(url, options);
  let raw: Recorded | undefined;
  onClientSocket(ws, (s) => (raw = record(s)));
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  const got: string[] = [];
  ws.on('message', (d: Buffer) => got.push(d.toString()));
  return { ws, got, raw: () => raw! };
}

/** The messages one leg's capture saw, in one direction. */
function texts(events: CaptureEvent[], leg: string, direction: 'c2s' | 's2c'): string[] {
  return events
    .filter((e): e is MessageEvent => e.kind === 'message' && e.connectionId === leg && e.direction === direction)
    .map((m) => m.data.toString());
}

const rule = (r: Partial<BreakpointRule>): BreakpointRule => ({ id: r.id ?? 'r1', enabled: true, ...r });

/** A decoded frame's payload masked again with its key: its wire bytes after the header. */
function maskAgain(payload: Buffer, key: Buffer): Buffer {
  const out = Buffer.from(payload);
  for (let i = 0; i < out.length; i++) out[i] ^= key[i & 3];
  return out;
}

describe('validateRule', () => {
  test('accepts valid rules and explains invalid ones', () => {
    assert.equal(validateRule({ id: 'a', enabled: true }), undefined);
    assert.equal(validateRule({ id: 'a' }), undefined, 'enabled defaults to true');
    assert.equal(
      validateRule({ id: 'a', enabled: false, direction: 's2c', opcode: 1, textPattern: '^chat:', jsonPath: "$.items[0]['user id']", jsonEquals: '{"a":1}' }),
      undefined,
    );
    assert.match(validateRule({ id: 'a', enabled: true, textPattern: '(' })!, /^rule "a": textPattern is not a valid regular expression: /);
    assert.match(validateRule({ id: 'a', enabled: true, jsonPath: 'type' })!, /jsonPath must start with "\$"/);
    assert.match(validateRule({ id: 'a', enabled: true, jsonPath: '$..type' })!, /expected a name after "\."/);
    assert.match(validateRule({ id: 'a', enabled: true, jsonPath: '$[type]' })!, /expected an index or a quoted name/);
    assert.match(validateRule({ id: 'a', enabled: true, jsonPath: "$['type" })!, /unterminated quoted name/);
    assert.match(validateRule({ id: 'a', enabled: true, jsonPath: '$.type', jsonEquals: 'chat' })!, /jsonEquals is not valid JSON \(strings need quotes/);
    assert.match(validateRule({ id: 'a', enabled: true, jsonEquals: '1' })!, /jsonEquals needs a jsonPath/);
    assert.match(validateRule({ id: 'a', enabled: true, opcode: 3 })!, /opcode must be 1 \(text\), 2 \(binary\), 8 \(close\), 9 \(ping\) or 10 \(pong\)/);
    assert.match(validateRule({ id: 'a', enabled: true, direction: 'up' })!, /direction must be "c2s" or "s2c"/);
    assert.match(validateRule({ enabled: true })!, /id must be a non-empty string/);
    assert.match(validateRule('x')!, /a rule must be an object/);
  });

  test('setRules refuses an invalid rule or a duplicate id with a TypeError naming it; timeoutMs must be positive', () => {
    const bp = new BreakpointController();
    assert.throws(() => bp.setRules([rule({ id: 'ok' }), rule({ id: 'bad', textPattern: '[' })]), (e: Error) => e instanceof TypeError && /^breakpoint 2: rule "bad"/.test(e.message));
    assert.throws(() => bp.setRules([rule({ id: 'x' }), rule({ id: 'x' })]), /duplicate id "x"/);
    assert.equal(bp.timeoutMs, 30_000);
    assert.throws(() => (bp.timeoutMs = 0), TypeError);
    bp.setRules([rule({ id: 'kept' })]);
    assert.deepEqual(bp.rules, [{ id: 'kept', enabled: true }]);
    assert.throws(() => bp.forward(99), /No held frame with id 99/);
    bp.dispose();
  });

  test('matching: all given conditions must hold; JSON values compare by value; disabled rules never match', () => {
    const bp = new BreakpointController();
    const m = (payload: string, direction: 'c2s' | 's2c' = 'c2s', opcode = 1) =>
      bp.match({ direction, opcode, payload: Buffer.from(payload), isText: opcode === 1 });
    bp.setRules([
      rule({ id: 'off', enabled: false }),
      rule({ id: 'deep', jsonPath: "$.items[1]['user id']", jsonEquals: '{"a":[1,2]}' }),
      rule({ id: 'both', direction: 's2c', opcode: 1, textPattern: 'alert', jsonPath: '$.level', jsonEquals: '3' }),
      rule({ id: 'exists', direction: 'c2s', jsonPath: '$.token' }),
      rule({ id: 'ping', opcode: 9, textPattern: '^hb' }),
    ]);
    assert.equal(m('{"items":[0,{"user id":{"a":[1,2]}}]}'), 'deep');
    assert.equal(m('{"items":[0,{"user id":{"a":[1,2,3]}}]}'), undefined);
    assert.equal(m('{"level":3,"msg":"alert"}', 's2c'), 'both');
    assert.equal(m('{"level":3,"msg":"alert"}', 'c2s'), undefined, 'direction');
    assert.equal(m('{"level":2,"msg":"alert"}', 's2c'), undefined, 'value');
    assert.equal(m('{"level":3,"msg":"fine"}', 's2c'), undefined, 'regex');
    assert.equal(m('{"token":null}'), 'exists');
    assert.equal(m('not json {"token":1}'), undefined);
    assert.equal(m('hb-1', 'c2s', 9), 'ping');
    assert.equal(m('hb-1', 'c2s', 10), undefined);
    assert.equal(bp.wants('c2s', 2), true);
    bp.setRules([rule({ id: 'only-binary', opcode: 2 })]);
    assert.equal(bp.wants('c2s', 1), false);
    bp.setRules([]);
    assert.equal(bp.wants('s2c', 1), false);
    bp.dispose();
  });
});

describe('BreakpointController as any holder', () => {
  test('hold() works for any source: the server holds, the change and resolve events carry the frame, holdLonger and markClosed', () => {
    const bp = new BreakpointController({ timeoutMs: 1000 });
    const seen: string[] = [];
    bp.onDidHold((h) => seen.push(`hold:${h.source}:${h.connectionId}`));
    bp.onDidChange((h) => seen.push(`change:${h.deadline - h.heldAt}:${h.closed?.code ?? ''}`));
    bp.onDidResolve((r) => seen.push(`resolve:${r.outcome}:${HELD_OUTCOME_TEXT[r.outcome]}`));
    const outcomes: HeldOutcome[] = [];
    const init = { source: 'server' as const, connectionId: 'c7', direction: 'c2s' as const, opcode: 1, payload: Buffer.from('x'), compressed: false, ruleId: 'r', editable: true };
    const h = bp.hold(init, (o) => outcomes.push(o));
    assert.equal(h.source, 'server');
    bp.holdLonger(h.id, 500);
    bp.markClosed(h.id, { code: 1001, reason: 'going away', by: 'client' });
    bp.markClosed(h.id, { code: 1000, reason: 'again', by: 'client' });
    bp.release(h.id);
    assert.deepEqual(outcomes, ['connectionClosed']);
    assert.deepEqual(seen, ['hold:server:c7', 'change:1500:', 'change:1500:1001', 'resolve:connectionClosed:not delivered: the connection closed']);
    assert.equal(bp.hasActiveRules(), false);
    bp.setRules([{ id: 's', enabled: true, appliesTo: ['server'] }]);
    assert.equal(bp.hasActiveRules('proxy'), false, 'the proxy keeps passthrough for a server-only rule');
    assert.equal(bp.hasActiveRules('server'), true);
    bp.dispose();
  });
});

describe('Frame breakpoints in the proxy', () => {
  test('edit (terminate, the default with rules): the target receives the edited text in one correctly masked frame; each leg shows its own version', async () => {
    const { address, holds, resolved, bp, target, sink, proxy } = await setup({ rules: [rule({ id: 'secrets', direction: 'c2s', textPattern: 'secret' })] });
    const { ws, got } = client(address.url);
    await once(ws, 'open');
    const [info] = proxy.connections();
    ws.send('my secret');
    await waitFor('held', () => holds.length === 1);
    const h = holds[0];
    assert.deepEqual(
      { connectionId: h.connectionId, direction: h.direction, opcode: h.opcode, text: h.text, compressed: h.compressed, ruleId: h.ruleId, editable: h.editable },
      { connectionId: info.id, direction: 'c2s', opcode: 1, text: 'my secret', compressed: true, ruleId: 'secrets', editable: true },
    );
    // ws's client offers deflate and the proxy accepts it; ws's server does not, so the target leg is uncompressed.
    assert.deepEqual(info.compression, {
      mode: 'terminate',
      chosen: 'default',
      programOffered: true,
      programLeg: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
    });
    assert.equal(h.payload.toString(), 'my secret');
    assert.equal(h.deadline - h.heldAt, 20_000);
    assert.deepEqual(bp.held().map((x) => x.id), [h.id]);
    assert.equal(target.conns[0].messages.length, 0);

    bp.edit(h.id, 'my ******');
    await waitFor('echo', () => got.length === 1);
    assert.deepEqual(got, ['my ******']);
    assert.deepEqual(resolved.map((r) => r.outcome), ['edited']);
    assert.deepEqual(bp.held(), []);

    const atTarget = frames(splitHead(target.conns[0].raw.in)[1], 'c2s');
    assert.equal(atTarget.length, 1);
    assert.equal(atTarget[0].masked, true);
    assert.equal(atTarget[0].fin, true);
    assert.equal(atTarget[0].opcode, 1);
    assert.equal(atTarget[0].payload.toString(), 'my ******');
    // A strict decoder (masking enforced) accepts it.
    const errors: unknown[] = [];
    new FrameDecoder({ direction: 'c2s', onFrame: () => {}, onError: (e) => errors.push(e) }).push(splitHead(target.conns[0].raw.in)[1]);
    assert.deepEqual(errors, []);
    assert.deepEqual(texts(sink.events, info.programSideId, 'c2s'), ['my secret']);
    assert.deepEqual(texts(sink.events, info.targetSideId, 'c2s'), ['my ******']);
  });

  test('drop: the held message is gone; a ping passes it at once, the messages behind it wait and then go on in order', async () => {
    const { address, holds, resolved, bp, target, sink, proxy } = await setup({ rules: [rule({ direction: 'c2s', textPattern: '^A$' })] });
    const { ws, got } = client(address.url);
    await once(ws, 'open');
    const [info] = proxy.connections();
    ws.send('A');
    ws.ping('P');
    ws.send('B');
    ws.send('C');
    await waitFor('held', () => holds.length === 1);
    // Everything has reached the proxy (its program-side capture saw it), and only the ping has reached the target.
    await waitFor('all at the proxy', () => texts(sink.events, info.programSideId, 'c2s').length === 3);
    await waitFor('the ping at the target', () => splitHead(target.conns[0].raw.in)[1].length > 0);
    assert.deepEqual(frames(splitHead(target.conns[0].raw.in)[1], 'c2s').map((f) => [f.opcode, f.payload.toString()]), [[9, 'P']]);
    bp.drop(holds[0].id);
    await waitFor('echoes', () => got.length === 2);
    assert.deepEqual(got, ['B', 'C']);
    assert.deepEqual(
      frames(splitHead(target.conns[0].raw.in)[1], 'c2s').map((f) => [f.opcode, f.payload.toString()]),
      [
        [9, 'P'],
        [1, 'B'],
        [1, 'C'],
      ],
    );
    assert.deepEqual(resolved.map((r) => r.outcome), ['dropped']);
  });

  test('forward (passthrough): the held message and the frames behind it reach the target byte for byte, the ping first', async () => {
    const { address, holds, resolved, bp, target, sink, proxy } = await setup({ rules: [rule({ direction: 'c2s', textPattern: '^A$' })], compression: 'passthrough' });
    const { ws, got, raw } = client(address.url);
    await once(ws, 'open');
    const [info] = proxy.connections();
    ws.send('A');
    ws.ping('P');
    ws.send('B');
    await waitFor('held, all at the proxy', () => holds.length === 1 && texts(sink.events, info.programSideId, 'c2s').length === 2);
    const sent = frames(splitHead(raw().out)[1], 'c2s').map((f) => Buffer.concat([f.header, maskAgain(f.payload, f.maskKey!)]));
    await waitFor('the ping at the target', () => splitHead(target.conns[0].raw.in)[1].equals(sent[1]));
    bp.forward(holds[0].id);
    await waitFor('echoes', () => got.length === 2);
    assert.deepEqual(got, ['A', 'B']);
    assert.deepEqual(splitHead(target.conns[0].raw.in)[1], Buffer.concat([sent[1], sent[0], sent[2]]));
    assert.deepEqual(resolved.map((r) => r.outcome), ['forwarded']);
  });

  test('time-out: a held message goes on unchanged after timeoutMs, outcome timedOut', async () => {
    const { address, resolved, target } = await setup({ rules: [rule({ direction: 'c2s', textPattern: 'slow' })], timeoutMs: 50 });
    const { ws, got } = client(address.url);
    await once(ws, 'open');
    ws.send('slow one');
    await waitFor('echo after the time-out', () => got.length === 1);
    assert.deepEqual(got, ['slow one']);
    assert.deepEqual(resolved.map((r) => r.outcome), ['timedOut']);
    assert.equal(target.conns[0].messages[0].data.toString(), 'slow one');
  });

  test('JSON path rule: only the matching message is held; the one behind it waits', async () => {
    const { address, holds, bp, target, sink, proxy } = await setup({ rules: [rule({ id: 'chat', direction: 'c2s', jsonPath: '$.type', jsonEquals: '"chat"' })] });
    const { ws, got } = client(address.url);
    await once(ws, 'open');
    const [info] = proxy.connections();
    ws.send('{"type":"other"}');
    ws.send('{"type":"chat","n":1}');
    ws.send('not json');
    await waitFor('held, all at the proxy', () => holds.length === 1 && texts(sink.events, info.programSideId, 'c2s').length === 3);
    await waitFor('the first one went through', () => target.conns[0].messages.length === 1);
    assert.equal(holds[0].text, '{"type":"chat","n":1}');
    assert.equal(holds[0].ruleId, 'chat');
    assert.deepEqual(target.conns[0].messages.map((m) => m.data.toString()), ['{"type":"other"}']);
    bp.forward(holds[0].id);
    await waitFor('3 echoes', () => got.length === 3);
    assert.deepEqual(got, ['{"type":"other"}', '{"type":"chat","n":1}', 'not json']);
    assert.equal(holds.length, 1);
  });

  test('a fragmented message is matched whole; forwarded with its fragmentation, edited as one frame', async () => {
    const { address, holds, bp, target } = await setup({ rules: [rule({ direction: 'c2s', textPattern: 'secret' })] });
    const c = await RawClient.connect(address.port);
    cleanups.push(() => c.socket.destroy());
    await c.upgrade();
    const fragmented = (a: string, b: string, d: string) =>
      Buffer.concat([
        encodeFrame({ opcode: 1, fin: false, payload: Buffer.from(a), maskKey: MASK }),
        encodeFrame({ opcode: 0, fin: false, payload: Buffer.from(b), maskKey: MASK }),
        encodeFrame({ opcode: 0, payload: Buffer.from(d), maskKey: MASK }),
      ]);
    const first = fragmented('sec', 'ret', ' one');
    c.write(first);
    await waitFor('held', () => holds.length === 1);
    assert.equal(holds[0].text, 'secret one');
    await waitFor('the connection at the target', () => target.conns.length === 1);
    assert.equal(splitHead(target.conns[0].raw.in)[1].length, 0, 'no fragment went ahead');
    bp.forward(holds[0].id);
    await waitFor('the message at the target', () => target.conns[0].messages.length === 1);
    assert.deepEqual(splitHead(target.conns[0].raw.in)[1], first, 'the same three frames');

    c.write(fragmented('another ', 'sec', 'ret'));
    await waitFor('second held', () => holds.length === 2);
    assert.equal(holds[1].text, 'another secret');
    bp.edit(holds[1].id, 'redacted');
    await waitFor('2 messages at the target', () => target.conns[0].messages.length === 2);
    const after = frames(splitHead(target.conns[0].raw.in)[1].subarray(first.length), 'c2s');
    assert.deepEqual(after.map((f) => [f.opcode, f.fin, f.masked, f.payload.toString()]), [[1, true, true, 'redacted']]);
  });

  test('passthrough, permessage-deflate with context takeover: the held message is shown inflated, cannot be edited or dropped, forwards fine', async () => {
    const { address, holds, bp, target } = await setup({
      rules: [rule({ direction: 'c2s', textPattern: 'zip' })],
      wsOptions: { perMessageDeflate: { threshold: 0 } },
      compression: 'passthrough',
    });
    const { ws, got } = client(address.url, { perMessageDeflate: { threshold: 0 } });
    await once(ws, 'open');
    ws.send('zip zip zip zip');
    await waitFor('held', () => holds.length === 1);
    const h = holds[0];
    assert.equal(h.compressed, true);
    assert.equal(h.text, 'zip zip zip zip');
    assert.equal(h.editable, false);
    assert.match(h.notEditableReason!, /context takeover/);
    assert.equal(h.suggestedCompression, 'terminate', 'the card offers terminate for the next session');
    assert.throws(() => bp.edit(h.id, 'x'), /^Error: Held frame \d+ cannot be edited: the message is compressed with context takeover/);
    assert.throws(() => bp.drop(h.id), /cannot be dropped: .*desynchronise/);
    bp.forward(h.id);
    ws.send('zip again, zip');
    await waitFor('second held', () => holds.length === 2);
    assert.equal(holds[1].text, 'zip again, zip', 'inflated with the carried-over window');
    bp.forward(holds[1].id);
    await waitFor('2 echoes', () => got.length === 2);
    assert.deepEqual(target.conns[0].messages.map((m) => m.data.toString()), ['zip zip zip zip', 'zip again, zip']);
    assert.equal(frames(splitHead(target.conns[0].raw.in)[1], 'c2s')[0].rsv1, true);
  });

  test('passthrough, permessage-deflate without context takeover: an edit goes out uncompressed (RSV1 clear) and later messages still inflate', async () => {
    const { address, holds, bp, target } = await setup({
      rules: [rule({ direction: 'c2s', textPattern: '^zip' })],
      compression: 'passthrough',
      wsOptions: { perMessageDeflate: { threshold: 0, clientNoContextTakeover: true, serverNoContextTakeover: true } },
    });
    const { ws, got, raw } = client(address.url, { perMessageDeflate: { threshold: 0 } });
    await once(ws, 'open');
    assert.match(header(parseHead(splitHead(raw().in)[0]), 'sec-websocket-extensions')!, /client_no_context_takeover/);
    ws.send('zip one');
    await waitFor('held', () => holds.length === 1);
    assert.equal(holds[0].editable, true);
    bp.edit(holds[0].id, 'zip edited');
    ws.send('zip two');
    await waitFor('second held', () => holds.length === 2);
    bp.forward(holds[1].id);
    await waitFor('2 echoes', () => got.length === 2);
    assert.deepEqual(target.conns[0].messages.map((m) => m.data.toString()), ['zip edited', 'zip two']);
    const fs = frames(splitHead(target.conns[0].raw.in)[1], 'c2s');
    assert.deepEqual(fs.map((f) => [f.rsv1, f.masked]), [
      [false, true],
      [true, true],
    ]);
  });

  test('s2c: a target message is held and edited; the program receives it unmasked', async () => {
    const { address, holds, bp } = await setup({
      rules: [rule({ direction: 's2c', textPattern: 'from target' })],
      onConnection: (c) => c.ws.send('hello from target'),
    });
    const { ws, got, raw } = client(address.url);
    await once(ws, 'open');
    await waitFor('held', () => holds.length === 1);
    assert.equal(holds[0].direction, 's2c');
    bp.edit(holds[0].id, 'edited by the proxy');
    await waitFor('the echo', () => got.length === 1);
    assert.deepEqual(got, ['edited by the proxy']);
    const [f] = frames(splitHead(raw().in)[1]);
    assert.equal(f.masked, false);
    assert.equal(f.payload.toString(), 'edited by the proxy');
  });

  test('a control frame is matched on its own and can be edited; the text behind it waits', async () => {
    const { address, holds, bp, target } = await setup({ rules: [rule({ opcode: 9, direction: 'c2s' })] });
    const c = await RawClient.connect(address.port);
    cleanups.push(() => c.socket.destroy());
    await c.upgrade();
    c.write(Buffer.concat([encodeFrame({ opcode: 9, payload: Buffer.from('p1'), maskKey: MASK }), encodeFrame({ opcode: 1, payload: Buffer.from('after'), maskKey: MASK })]));
    await waitFor('held', () => holds.length === 1);
    assert.equal(holds[0].opcode, 9);
    assert.equal(holds[0].text, 'p1');
    assert.throws(() => bp.edit(holds[0].id, Buffer.alloc(126)), /at most 125 bytes/);
    bp.edit(holds[0].id, 'p2');
    await waitFor('the message at the target', () => target.conns[0].messages.length === 1);
    assert.deepEqual(
      frames(splitHead(target.conns[0].raw.in)[1], 'c2s').map((f) => [f.opcode, f.payload.toString()]),
      [
        [9, 'p2'],
        [1, 'after'],
      ],
    );
    await waitFor('pong and echo', () => frames(c.frameBytes).length === 2);
    assert.deepEqual(frames(c.frameBytes).map((f) => [f.opcode, f.payload.toString()]), [
      [10, 'p2'],
      [1, 'after'],
    ]);
  });

  test('the connection closing resolves its held frames as connectionClosed', async () => {
    const { address, holds, resolved, bp, target } = await setup({ rules: [rule({ direction: 'c2s', textPattern: 'hold me' })] });
    const { ws } = client(address.url);
    await once(ws, 'open');
    ws.send('hold me');
    await waitFor('held', () => holds.length === 1);
    target.conns[0].ws.terminate();
    await waitFor('resolved', () => resolved.length === 1);
    assert.equal(resolved[0].outcome, 'connectionClosed');
    assert.deepEqual(bp.held(), []);
    assert.throws(() => bp.forward(holds[0].id), /No held frame/);
  });

  test('stop() resolves held frames as connectionClosed', async () => {
    const { address, holds, resolved, proxy } = await setup({ rules: [rule({ direction: 's2c' })], onConnection: (c) => c.ws.send('x') });
    const { ws } = client(address.url);
    await once(ws, 'open');
    await waitFor('held', () => holds.length === 1);
    await proxy.stop();
    assert.deepEqual(resolved.map((r) => r.outcome), ['connectionClosed']);
  });

  test('rules for other opcodes do not buffer: the first text fragment is forwarded before the message is complete', async () => {
    const { address, target, holds } = await setup({ rules: [rule({ opcode: 2 })] });
    const c = await RawClient.connect(address.port);
    cleanups.push(() => c.socket.destroy());
    await c.upgrade();
    const first = encodeFrame({ opcode: 1, fin: false, payload: Buffer.from('part one'), maskKey: MASK });
    c.write(first);
    await waitFor('first fragment at the target', () => target.conns.length === 1 && splitHead(target.conns[0].raw.in)[1].length === first.length);
    c.write(encodeFrame({ opcode: 0, payload: Buffer.from(' + two'), maskKey: MASK }));
    await waitFor('the message at the target', () => target.conns[0].messages.length === 1);
    assert.equal(holds.length, 0);
  });
});
