// A flood through a real captured connection: 1 GiB of client messages into a server whose capture store is capped.
// The store must stay within its caps the whole time and account for everything it evicted.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { WebSocket } from 'ws';
import { EventStore } from '../../../src/core/capture/eventStore';
import { BroadcastServer } from '../../../src/core/server/broadcastServer';
import { waitFor } from '../../support/waitFor';

const MESSAGE = 1024 * 1024;
const COUNT = Number(process.env.FLOOD_MESSAGES || 1024); // 1 GiB

test(`flood: ${COUNT} x 1 MiB through a captured connection keeps the store within its caps`, { timeout: 120_000 }, async () => {
  const maxBytes = 64 * 1024 * 1024;
  const maxEvents = 5_000;
  const store = new EventStore({ maxBytes, maxEvents });
  const server = new BroadcastServer();
  const address = await server.start({
    port: 0,
    relay: 'none',
    heartbeatIntervalMs: 0,
    maxPayload: 2 * MESSAGE,
    rateLimit: { messagesPerSecond: 1e9, burst: 1e9, action: 'drop' },
    capture: store,
  });
  const ws = new WebSocket(address.url, { maxPayload: 2 * MESSAGE });
  try {
    await once(ws, 'open');
    const payload = Buffer.alloc(MESSAGE, 0x61);
    let peakBytes = 0;
    let peakCount = 0;
    for (let i = 0; i < COUNT; i++) {
      ws.send(payload);
      // Keep the client's own buffer small, and watch the store while the flood goes on.
      while (ws.bufferedAmount > 8 * MESSAGE) await new Promise((r) => setImmediate(r));
      const s = store.stats();
      peakBytes = Math.max(peakBytes, s.bytes);
      peakCount = Math.max(peakCount, s.count);
    }
    const [client] = server.clients();
    const arrived = () => server.client(client.id)!.messagesIn;
    await waitFor(() => `all ${COUNT} messages at the server (${arrived()} arrived)`, () => arrived() >= COUNT, 60_000);
    const s = store.stats();
    assert.ok(peakBytes <= maxBytes, `payload bytes stayed within the cap (peak ${peakBytes})`);
    assert.ok(peakCount <= maxEvents, `events stayed within the cap (peak ${peakCount})`);
    // Each message is a frame and a message event, each holding the 1 MiB payload.
    const messages = store.query({ kinds: ['message'], direction: 'c2s', backward: true, limit: 10_000 }).events;
    assert.ok(messages.length > 0 && messages.length < COUNT, `kept the newest ${messages.length} messages, not all`);
    assert.ok(s.evictedEvents > 0, 'evicted events are counted');
    assert.equal(s.count + s.evictedEvents, s.appended, 'every appended event is either kept or counted as evicted');
    assert.ok(s.evictedBytes >= COUNT * MESSAGE * 2 - maxBytes - 2 * MESSAGE, `evicted bytes add up (${s.evictedBytes})`);
  } finally {
    ws.terminate();
    await server.stop();
    store.dispose();
  }
});
