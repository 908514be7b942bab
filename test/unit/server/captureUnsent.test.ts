// Issue 17, point 1: written is not sent. A frame the server wrote to a socket that closed before the kernel took it
// is flagged unsent, bytesOut counts what left, and a close frame that never left does not make the close clean.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { EventStore } from '../../../src/core/capture/eventStore';
import type { ConnectionEvent, FrameEvent, HandshakeEvent, MessageEvent } from '../../../src/core/capture/events';
import { sleep, waitFor } from '../../support/waitFor';
import { client, rawUpgrade, runCleanups, startServer } from './helpers';

afterEach(runCleanups);

function closedOf(store: EventStore, id: string): ConnectionEvent | undefined {
  return store.query({ connectionId: id, kinds: ['connection'] }).events.find((e) => (e as ConnectionEvent).state === 'closed') as
    | ConnectionEvent
    | undefined;
}

async function closedEvent(store: EventStore, id: string): Promise<ConnectionEvent> {
  await waitFor(`the closed event of ${id}`, () => closedOf(store, id) !== undefined);
  return closedOf(store, id)!;
}

const s2cFrames = (store: EventStore, id: string) =>
  store.query({ connectionId: id, kinds: ['frame'], direction: 's2c', limit: 10_000 }).events as FrameEvent[];
const headLength = (store: EventStore, id: string) =>
  (store.query({ connectionId: id, kinds: ['handshake'] }).events[0] as HandshakeEvent).response!.length;
const wire = (f: FrameEvent) => Buffer.concat([f.header, f.payload]);

describe('BroadcastServer capture: written is not sent', () => {
  test('a peer that resets while the server writes: the frames after the reset are unsent, bytesOut is what the peer read', async () => {
    const store = new EventStore();
    const { server, address } = await startServer({ capture: store });
    const peer = await rawUpgrade(address.port);
    const [{ id }] = server.clients();
    for (let i = 0; i < 3; i++) server.sendTo(id, `before ${i}`);
    await waitFor('the three frames at the peer', () => peer.bytes().length === 3 * 10);
    // The RST is in the server's kernel when the next writes are made; Node learns of it only from them.
    peer.socket.resetAndDestroy();
    for (let i = 0; i < 5; i++) server.sendTo(id, `after ${i}`);
    const closed = await closedEvent(store, id);

    const frames = s2cFrames(store, id);
    assert.deepEqual(
      frames.map((f) => [f.payload.toString(), f.unsentTo]),
      [
        ['before 0', undefined],
        ['before 1', undefined],
        ['before 2', undefined],
        ['after 0', [id]],
        ['after 1', [id]],
        ['after 2', [id]],
        ['after 3', [id]],
        ['after 4', [id]],
      ],
      'the five frames written after the reset are flagged unsent, the three the peer read are not',
    );
    const read = peer.bytes();
    assert.ok(Buffer.concat(frames.slice(0, 3).map(wire)).equals(read), 'the frames not flagged are the bytes the peer read');
    assert.equal(closed.bytesOut, headLength(store, id) + read.length, 'bytesOut is the response head and what the peer read');
    const unsentFrames = frames.slice(3);
    assert.equal(closed.unsent?.bytes, unsentFrames.reduce((n, f) => n + wire(f).length, 0), 'the unsent bytes are the five frames');
    assert.deepEqual(closed.unsent?.frameIds, unsentFrames.map((f) => f.id));
    const messages = store.query({ connectionId: id, kinds: ['message'], direction: 's2c' }).events as MessageEvent[];
    assert.deepEqual(messages.map((m) => m.unsentTo?.length ?? 0), [0, 0, 0, 1, 1, 1, 1, 1], 'their messages too');
    assert.equal(closed.clean, false);
    assert.equal(closed.missingClose, 'both');
  });

  test('a peer that never reads, then closes: the backlog and the server’s close frame are unsent, and the close is not clean', async () => {
    const store = new EventStore();
    // The backlog is meant to stay: no slow-consumer drop while the test fills it.
    const { server, address } = await startServer({ capture: store, maxBufferedBytes: 256 * 1024 * 1024 });
    const peer = await rawUpgrade(address.port);
    peer.socket.pause();
    const [{ id }] = server.clients();
    const chunk = Buffer.alloc(256 * 1024, 7);
    // 32 MiB: more than the kernel's buffers on both ends of a loopback connection hold.
    for (let i = 0; i < 128; i++) server.sendTo(id, chunk);
    server.disconnect(id, 1000, 'bye');
    // Time for the kernel to take what it will of the backlog.
    await sleep(100);
    peer.socket.destroy();
    const closed = await closedEvent(store, id);

    const frames = s2cFrames(store, id);
    assert.equal(frames.length, 129, '128 binary frames and the close');
    const written = headLength(store, id) + frames.reduce((n, f) => n + wire(f).length, 0);
    assert.ok(closed.unsent !== undefined && closed.unsent.bytes > 0, 'some of what was written never left');
    assert.equal(closed.bytesOut! + closed.unsent.bytes, written, 'bytesOut and the unsent bytes add up to what was written');
    assert.ok(closed.bytesOut! < written - 4 * 1024 * 1024, `bytesOut (${closed.bytesOut}) counts only what the kernel took`);
    const flagged = frames.filter((f) => f.unsentTo !== undefined);
    assert.ok(flagged.length >= 2, 'at least the last data frame and the close are flagged');
    assert.deepEqual(frames.slice(frames.length - flagged.length), flagged, 'the flagged frames are the last ones written');
    assert.deepEqual(closed.unsent.frameIds, flagged.map((f) => f.id));
    assert.equal(frames[frames.length - 1].opcode, 8);
    assert.deepEqual(frames[frames.length - 1].unsentTo, [id], 'the server’s close frame never left');
    assert.deepEqual(closed.closeFrames, { sent: { code: 1000, reason: 'bye', unsent: true } });
    assert.equal(closed.clean, false);
    assert.equal(closed.missingClose, 'both', 'neither close frame crossed');
    assert.equal(closed.code, undefined, 'no close code crossed the wire');
  });

  test('a broadcast to a peer that has reset: unsent to that peer only, the others got it', async () => {
    const store = new EventStore();
    const { server, address } = await startServer({ capture: store });
    const a = await client(address.url);
    const b = await client(address.url);
    const peer = await rawUpgrade(address.port);
    const ids = server.clients().map((c) => c.id);
    const peerId = ids[2];
    server.sendToAll('one');
    await waitFor('one at every client', () => a.texts().length === 1 && b.texts().length === 1 && peer.bytes().length === 5);
    peer.socket.resetAndDestroy();
    server.sendToAll('two');
    server.sendToAll('three');
    await closedEvent(store, peerId);
    await waitFor('two and three at a and b', () => a.texts().length === 3 && b.texts().length === 3);

    const frames = s2cFrames(store, ids[0]);
    assert.deepEqual(
      frames.map((f) => [f.payload.toString(), [f.connectionId, ...(f.alsoSentTo ?? [])].sort(), f.unsentTo]),
      [
        ['one', [...ids].sort(), undefined],
        ['two', [...ids].sort(), [peerId]],
        ['three', [...ids].sort(), [peerId]],
      ],
      'each broadcast is one frame for three clients; two and three never left for the peer that reset',
    );
    const closed = closedOf(store, peerId)!;
    assert.equal(closed.bytesOut, headLength(store, peerId) + 5, 'the peer’s bytesOut is its head and "one"');
    assert.equal(closed.unsent?.bytes, 2 + 3 + 2 + 5, 'two frames: "two" and "three", each with its two-byte header');
    assert.equal(closedOf(store, ids[0]), undefined, 'the others are still connected');
  });

  test('a clean close: nothing unsent, both close frames crossed', async () => {
    const store = new EventStore();
    const { server, address } = await startServer({ capture: store });
    const c = await client(address.url);
    const [{ id }] = server.clients();
    server.sendTo(id, 'hello');
    await waitFor('hello', () => c.texts().length === 1);
    c.ws.close(1000, 'done');
    const closed = await closedEvent(store, id);
    assert.equal(closed.unsent, undefined);
    assert.equal(closed.missingClose, undefined);
    assert.equal(closed.clean, true);
    assert.equal(closed.code, 1000);
    assert.deepEqual(
      s2cFrames(store, id).map((f) => f.unsentTo),
      [undefined, undefined],
    );
  });
});
