import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as net from 'node:net';
import { BreakpointController, type BreakpointRule, type HeldFrame, type HeldOutcome } from '../../../src/core/proxy/breakpoints';
import { FramePipe, type PipeClose } from '../../../src/core/proxy/framePipe';
import type { WireError } from '../../../src/core/wire/errors';
import { encodeClosePayload, encodeFrame } from '../../../src/core/wire/frameEncoder';
import { MASK, frames } from './proxyHelpers';
import { waitFor } from '../../support/waitFor';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Two connected loopback sockets. */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const a = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  const [b] = (await once(server, 'connection')) as [net.Socket];
  server.close();
  for (const s of [a, b]) {
    s.on('error', () => {});
    cleanups.push(() => s.destroy());
  }
  return [a, b];
}

/** writer → source ⇒ FramePipe ⇒ dest → reader, all real sockets. */
async function setup(o: { rules?: BreakpointRule[]; maxPayload?: number } = {}) {
  const closes: PipeClose[] = [];
  const changes: HeldFrame[] = [];
  const [writer, source] = await socketPair();
  const [dest, reader] = await socketPair();
  const bp = new BreakpointController({ timeoutMs: 20_000 });
  bp.setRules(o.rules ?? []);
  cleanups.push(() => bp.dispose());
  const holds: HeldFrame[] = [];
  const outcomes: HeldOutcome[] = [];
  bp.onDidHold((h) => holds.push(h));
  bp.onDidResolve((r) => outcomes.push(r.outcome));
  bp.onDidChange((h) => changes.push(structuredClone(h)));
  const decodeErrors: WireError[] = [];
  let finished = 0;
  const pipe = new FramePipe({
    direction: 'c2s',
    connectionId: 'test-1',
    source,
    dest,
    maxPayload: o.maxPayload ?? 1024 * 1024,
    breakpoints: bp,
    onDecodeError: (e) => decodeErrors.push(e),
    onFinished: () => finished++,
    onClose: (c) => closes.push(c),
  });
  cleanups.push(() => pipe.dispose());
  let sourceEnded = false;
  source.on('data', (c: Buffer) => pipe.push(c));
  source.on('end', () => {
    sourceEnded = true;
    pipe.end();
  });
  const received: Buffer[] = [];
  let receivedBytes = 0;
  reader.on('data', (c: Buffer) => {
    received.push(c);
    receivedBytes += c.length;
  });
  return {
    writer,
    source,
    pipe,
    bp,
    holds,
    outcomes,
    changes,
    closes,
    decodeErrors,
    finished: () => finished,
    sourceEnded: () => sourceEnded,
    received: () => Buffer.concat(received),
    receivedBytes: () => receivedBytes,
  };
}

const text = (s: string, fin = true, opcode = 1) => encodeFrame({ opcode, fin, payload: Buffer.from(s), maskKey: MASK });
const rule = (r: Partial<BreakpointRule>): BreakpointRule => ({ id: 'r', enabled: true, ...r });
const texts = (b: Buffer) => frames(b, 'c2s').map((f) => f.payload.toString());

describe('FramePipe', () => {
  test('counts what it read and what it wrote: a dropped message is read but not written, an edited one written once', async () => {
    const s = await setup({ rules: [rule({ textPattern: '^x' })] });
    let n = 0;
    s.bp.onDidHold((h) => (n++ === 0 ? s.bp.drop(h.id) : s.bp.edit(h.id, 'edited')));
    // A fragmented message (two frames, a ping between them), a dropped one, an edited one, a plain one.
    const fragmented = [text('frag-', false), encodeFrame({ opcode: 9, payload: Buffer.from('p'), maskKey: MASK }), text('ment', true, 0)];
    const input = Buffer.concat([...fragmented, text('x-drop'), text('x-edit'), text('plain')]);
    s.writer.write(input);
    await waitFor('5 messages through the pipe', () => texts(s.received()).length === 5);
    // The ping does not wait for the fragmented message, which is matched whole: it goes first.
    assert.deepEqual(texts(s.received()), ['p', 'frag-', 'ment', 'edited', 'plain']);
    assert.deepEqual(s.pipe.counts, {
      bytesRead: input.length,
      messagesRead: 4,
      bytesWritten: s.receivedBytes(),
      messagesWritten: 3,
    });
  });

  test('a decision made inside onDidHold (at once) keeps the order: edit, then drop', async () => {
    const s = await setup({ rules: [rule({ textPattern: '^x' })] });
    let n = 0;
    s.bp.onDidHold((h) => (n++ === 0 ? s.bp.edit(h.id, 'edited') : s.bp.drop(h.id)));
    s.writer.write(Buffer.concat([text('a'), text('x1'), text('b'), text('x2'), text('c')]));
    await waitFor('4 messages through the pipe', () => texts(s.received()).length === 4);
    assert.deepEqual(texts(s.received()), ['a', 'edited', 'b', 'c']);
    assert.deepEqual(s.outcomes, ['edited', 'dropped']);
  });

  test('the source ending while a message is held: it is finished only after the decision', async () => {
    const s = await setup({ rules: [rule({ textPattern: 'x' })] });
    s.writer.end(Buffer.concat([text('x'), text('after')]));
    await waitFor('the held frame and the end of the source', () => s.holds.length === 1 && s.sourceEnded());
    assert.equal(s.finished(), 0);
    assert.equal(s.receivedBytes(), 0);
    s.bp.forward(s.holds[0].id);
    await waitFor('the pipe to finish', () => s.finished() === 1);
    await waitFor('2 messages through the pipe', () => texts(s.received()).length === 2);
    assert.deepEqual(texts(s.received()), ['x', 'after']);
  });

  test('a frame cut short by the end goes on as it is', async () => {
    const s = await setup();
    const whole = text('whole');
    const partial = text('partial').subarray(0, 4);
    s.writer.end(Buffer.concat([whole, partial]));
    await waitFor('the pipe to finish', () => s.finished() === 1);
    await waitFor('the whole frame and the partial one through the pipe', () => s.receivedBytes() === whole.length + partial.length);
    assert.deepEqual(s.received(), Buffer.concat([whole, partial]));
  });

  test('abandon() while a message is held: connectionClosed, nothing more is written, onFinished', async () => {
    const s = await setup({ rules: [rule({ textPattern: 'x' })] });
    s.writer.write(Buffer.concat([text('a'), text('x'), text('b')]));
    await waitFor('the held frame', () => s.holds.length === 1);
    await waitFor("the frame 'a' through the pipe", () => s.receivedBytes() === text('a').length);
    s.pipe.abandon();
    assert.deepEqual(s.outcomes, ['connectionClosed']);
    assert.equal(s.finished(), 1);
    s.writer.write(text('later'));
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(texts(s.received()), ['a']);
  });

  test('a message longer than maxPayload is forwarded without matching; later ones still match', async () => {
    const s = await setup({ rules: [rule({ textPattern: '.' })], maxPayload: 16 });
    const big = Buffer.concat([text('0123456789', false), text('0123456789', false, 0), text('0123456789', true, 0)]);
    s.writer.write(Buffer.concat([big, text('small')]));
    await waitFor('the held frame', () => s.holds.length === 1);
    assert.equal(s.holds[0].text, 'small');
    await waitFor('the big frame through the pipe', () => s.receivedBytes() === big.length);
    assert.deepEqual(s.received(), big);
  });

  test('a frame it cannot delimit: from its first byte on the direction goes raw, and the error is reported once', async () => {
    const s = await setup({ rules: [rule({ textPattern: 'never' })] });
    const bad = encodeFrame({ opcode: 0xb, payload: Buffer.from('??'), maskKey: MASK });
    const all = Buffer.concat([text('ok'), bad, text('never')]);
    s.writer.write(all);
    await waitFor('every byte through the pipe', () => s.receivedBytes() === all.length);
    assert.deepEqual(s.received(), all);
    assert.equal(s.pipe.passThrough, true);
    assert.deepEqual(s.decodeErrors.map((e) => e.code), ['WS_ERR_INVALID_OPCODE']);
    assert.equal(s.holds.length, 0, 'no breakpoints in raw mode');
  });

  test('behind a held message, reading stops once 16 MiB wait, and everything goes on after the decision', async () => {
    const s = await setup({ rules: [rule({ textPattern: '^hold$' })] });
    const mib = Buffer.alloc(1024 * 1024, 0x61);
    const chunkFrame = encodeFrame({ opcode: 2, payload: mib, maskKey: MASK });
    s.writer.write(text('hold'));
    await waitFor('the held frame', () => s.holds.length === 1);
    // 24 one-MiB frames: more than the pipe queues behind a held frame.
    for (let i = 0; i < 24; i++) s.writer.write(chunkFrame);
    await waitFor('source paused', () => s.source.isPaused(), 10_000);
    assert.equal(s.receivedBytes(), 0);
    s.bp.forward(s.holds[0].id);
    const total = text('hold').length + 24 * chunkFrame.length;
    await waitFor('all delivered', () => s.receivedBytes() === total, 20_000);
    assert.equal(s.source.isPaused(), false);
  });

  test('pings, pongs and a close pass a held message; after the close nothing of the data is written, the held one ends connectionClosed', async () => {
    const s = await setup({ rules: [rule({ textPattern: '^hold' })] });
    const control = (opcode: number, payload: Buffer) => encodeFrame({ opcode, payload, maskKey: MASK });
    s.writer.write(Buffer.concat([text('before'), text('hold me'), text('behind')]));
    await waitFor('the held frame', () => s.holds.length === 1);
    s.writer.write(Buffer.concat([control(9, Buffer.from('ping')), control(10, Buffer.from('pong'))]));
    await waitFor('the ping and the pong past the held message', () => frames(s.received(), 'c2s').length === 3);
    s.writer.write(control(8, encodeClosePayload(1000, 'bye')));
    await waitFor('the close past it too', () => frames(s.received(), 'c2s').length === 4);
    assert.deepEqual(frames(s.received(), 'c2s').map((f) => [f.opcode, f.payload.subarray(f.opcode === 8 ? 2 : 0).toString()]), [
      [1, 'before'],
      [9, 'ping'],
      [10, 'pong'],
      [8, 'bye'],
    ]);
    assert.deepEqual(s.closes, [{ code: 1000, reason: 'bye' }]);
    assert.deepEqual(s.changes.map((c) => [c.closed?.code, c.closed?.by]), [[1000, 'program']]);
    assert.deepEqual(s.outcomes, ['connectionClosed']);
    assert.deepEqual(s.pipe.counts.messagesWritten, 1);
  });

  test('peerClosed: the held message records the close at once and ends connectionClosed; what follows goes on unheld', async () => {
    const s = await setup({ rules: [rule({ textPattern: '^hold' })] });
    s.writer.write(Buffer.concat([text('hold one'), text('after')]));
    await waitFor('the held frame', () => s.holds.length === 1);
    s.pipe.peerClosed({ code: 1001, reason: 'target going away', by: 'target' });
    assert.deepEqual(s.changes.map((c) => [c.closed?.code, c.closed?.reason, c.closed?.by]), [[1001, 'target going away', 'target']]);
    assert.deepEqual(s.outcomes, ['connectionClosed']);
    s.writer.write(text('hold two'));
    await waitFor('the rest written', () => texts(s.received()).length === 2);
    assert.deepEqual(texts(s.received()), ['after', 'hold two']);
    assert.equal(s.holds.length, 1, 'nothing more is held for a side that closed');
  });
});
