// Issue 17, point 6: under connect and reset churn the capture's message counts agree with the wire. Every message
// that fully arrived is recorded and relayed; every one cut by its connection's end is recorded as incomplete.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { EventStore } from '../../../src/core/capture/eventStore';
import type { ErrorEvent, MessageEvent } from '../../../src/core/capture/events';
import { encodeClosePayload, encodeFrame } from '../../../src/core/wire/frameEncoder';
import { waitFor } from '../../support/waitFor';
import { client, runCleanups, startServer } from './helpers';

afterEach(runCleanups);

const MASK = Buffer.from('5a17c3e9', 'hex');
const UPGRADE =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** How each cycle's client ends, in turn. */
const ENDINGS = ['close', 'reset after a whole message', 'reset inside a frame', 'reset inside a fragmented message'] as const;
type Ending = (typeof ENDINGS)[number];

/** One connect–send–end cycle on a raw socket: resolves with whether the message was sent whole. */
async function cycle(port: number, n: number, ending: Ending): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.write(UPGRADE);
  let head = '';
  socket.on('data', (d: Buffer) => (head += d.toString('latin1')));
  await waitFor(`the 101 of cycle ${n}`, () => head.includes('\r\n\r\n'));
  const text = `message ${n}: ${'x'.repeat(n % 300)}`;
  const whole = encodeFrame({ opcode: 1, payload: Buffer.from(text), maskKey: MASK });
  switch (ending) {
    case 'close':
      socket.write(whole);
      socket.end(encodeFrame({ opcode: 8, payload: encodeClosePayload(1000, ''), maskKey: MASK }));
      await once(socket, 'close');
      return;
    case 'reset after a whole message':
      socket.write(whole);
      break;
    case 'reset inside a frame':
      socket.write(whole.subarray(0, Math.max(1, whole.length - 5)));
      break;
    case 'reset inside a fragmented message':
      socket.write(encodeFrame({ opcode: 1, fin: false, payload: Buffer.from(text), maskKey: MASK }));
      break;
  }
  // Right after the write, as a crashing client would: the RST follows the bytes on the wire.
  socket.resetAndDestroy();
}

describe('BroadcastServer capture under connect and reset churn', () => {
  test('1,000 cycles: messages recorded plus messages marked incomplete equal messages sent; each recorded one is relayed', async () => {
    const store = new EventStore();
    const { server, address } = await startServer({
      capture: store,
      relay: 'broadcastOthers',
      rateLimit: { messagesPerSecond: 1_000_000, burst: 1_000_000, action: 'drop' },
    });
    const observer = await client(address.url);
    const observerId = server.clients()[0].id;
    const CYCLES = 1000;
    const PARALLEL = 20;
    for (let start = 0; start < CYCLES; start += PARALLEL) {
      const batch: Promise<void>[] = [];
      for (let n = start; n < Math.min(CYCLES, start + PARALLEL); n++) batch.push(cycle(address.port, n, ENDINGS[n % ENDINGS.length]));
      await Promise.all(batch);
    }
    const closedCount = () => store.query({ kinds: ['connection'], limit: 10_000 }).events.filter((e) => e.kind === 'connection' && e.state === 'closed').length;
    await waitFor('every cycle’s closed event', () => closedCount() === CYCLES, 30_000);

    const all = store.query({ limit: 10_000 });
    assert.equal(all.hasMore, false);
    const recorded = all.events.filter((e): e is MessageEvent => e.kind === 'message' && e.direction === 'c2s' && e.connectionId !== observerId);
    const incomplete = all.events.filter((e): e is ErrorEvent => e.kind === 'error' && e.code === 'WS_ERR_INCOMPLETE_MESSAGE' && e.direction === 'c2s');
    assert.equal(recorded.length + incomplete.length, CYCLES, `recorded ${recorded.length} + incomplete ${incomplete.length} = sent`);
    // By ending: a whole message is recorded, a cut one is incomplete. Which cycle ended how is in the message text.
    const recordedTexts = new Set(recorded.map((m) => m.data.toString()));
    const cut = ENDINGS.filter((e) => e.startsWith('reset inside')).length;
    assert.equal(incomplete.length, (CYCLES / ENDINGS.length) * cut, 'every message cut by a reset is marked incomplete');
    assert.equal(recorded.length, CYCLES - incomplete.length);
    for (let n = 0; n < CYCLES; n++) {
      const whole = !ENDINGS[n % ENDINGS.length].startsWith('reset inside');
      assert.equal(recordedTexts.has(`message ${n}: ${'x'.repeat(n % 300)}`), whole, `cycle ${n} (${ENDINGS[n % ENDINGS.length]})`);
    }
    assert.match(incomplete[0].message, /ended inside a message/);
    assert.equal(incomplete[0].closeCode, 1006);

    await waitFor('every recorded message at the observer', () => observer.received.length >= recorded.length, 30_000);
    assert.deepEqual(new Set(observer.texts()), recordedTexts, 'what was recorded is what was relayed, and nothing cut was');
    assert.equal(observer.received.length, recorded.length, 'each once');
  });
});
