// Seeded fuzz of the broadcast server over raw TCP: hostile frames and handshakes, each answered with the RFC close
// code or HTTP status ws gives, while three well-behaved clients keep receiving broadcasts. The cases come from
// test/fuzz/cases.ts, which the extension-host suite (test/vscode/hostile.test.ts) plays too.
// FUZZ_SEED=<n> replays a run; FUZZ_CASES=<n> changes its length (default 3000).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { BroadcastServer, type DisconnectEvent } from '../../../src/core/server/broadcastServer';
import { FuzzRunner, KIND_COUNT, type Case } from '../../fuzz/cases';
import { sleep, waitFor } from '../../support/waitFor';

const CASES = Number(process.env.FUZZ_CASES) || 3000;
const SEED = Number(process.env.FUZZ_SEED) || 0x5eed_2026;
const PARALLEL = 12;
const CHECK_EVERY = 60;
const MAX_PAYLOAD = 64 * 1024;

/** The server's side of a finished case must agree with what the client saw: its disconnect event has the same code. */
async function checkDisconnect(c: Case, localPort: number, codeByPort: Map<number, DisconnectEvent>): Promise<void> {
  if ('status' in c.expect) return; // never upgraded: no client, no disconnect event
  await waitFor(`the disconnect event of the connection from port ${localPort}`, () => codeByPort.has(localPort), 2000);
  const gone = codeByPort.get(localPort);
  codeByPort.delete(localPort);
  assert.ok(gone, 'no disconnect event for this connection');
  if ('abort' in c.expect) {
    assert.equal(gone.code, 1006);
    return;
  }
  assert.equal(gone.code, 'close' in c.expect ? c.expect.close : c.expect.clean);
  assert.equal(gone.clean, 'clean' in c.expect);
}

test(`fuzz: ${CASES} seeded hostile sequences over raw TCP; 3 clients keep receiving`, { timeout: 60_000 }, async () => {
  console.log(`# serverFuzz seed=${SEED} cases=${CASES} (replay with FUZZ_SEED=${SEED})`);
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const server = new BroadcastServer();
  // Capture on, so the capture's own decoder sees every hostile byte too (the sink only counts).
  let captured = 0;
  const capture = { append: () => ++captured };
  const address = await server.start({
    port: 0,
    heartbeatIntervalMs: 0,
    maxPayload: MAX_PAYLOAD,
    rateLimit: { messagesPerSecond: 1e6, burst: 1e6, action: 'drop' },
    capture,
  });
  const codeByPort = new Map<number, DisconnectEvent>();
  server.onDidDisconnect((e) => codeByPort.set(e.client.remotePort, e));
  const good: Array<{ ws: WebSocket; ticks: string[] }> = [];
  const runner = new FuzzRunner({
    seed: SEED,
    port: address.port,
    maxPayload: MAX_PAYLOAD,
    serverSide: (c, localPort) => checkDisconnect(c, localPort, codeByPort),
  });
  try {
    for (let i = 0; i < 3; i++) {
      const ws = new WebSocket(address.url);
      const entry = { ws, ticks: [] as string[] };
      ws.on('message', (d: Buffer) => {
        const s = d.toString();
        if (s.startsWith('tick ')) entry.ticks.push(s);
      });
      ws.on('error', () => {});
      await once(ws, 'open');
      good.push(entry);
    }
    let tick = 0;
    const checkBroadcasts = async () => {
      const msg = `tick ${++tick}`;
      good[tick % 3].ws.send(msg);
      await waitFor(
        () => `${msg} at the well-behaved clients (they have ${good.map((g) => g.ticks.at(-1)).join(', ')})`,
        () => good.every((g) => g.ticks.at(-1) === msg),
        3000,
      );
      for (const g of good) assert.equal(g.ws.readyState, WebSocket.OPEN);
    };

    // Warm up (JIT, pools), then take the baseline.
    await runner.run(PARALLEL * 4, PARALLEL * 4);
    await checkBroadcasts();
    gc();
    gc();
    const baseline = process.memoryUsage().heapUsed;

    while (runner.done < CASES) {
      await runner.run(Math.min(CHECK_EVERY, CASES - runner.done), PARALLEL);
      await checkBroadcasts();
    }

    // Nothing is left behind: no stray clients, sockets or pending upgrades, and the heap is back near its baseline.
    assert.equal(server.clients().length, 3);
    const internals = server as unknown as { sockets: { size: number }; gate: { pending: number } };
    assert.equal(internals.sockets.size, 3);
    assert.equal(internals.gate.pending, 0);
    // Not a condition: a moment for the last cases' close callbacks to run before the heap is measured.
    await sleep(50);
    gc();
    gc();
    const after = process.memoryUsage().heapUsed;
    const grew = after - baseline;
    console.log(`# serverFuzz heapUsed baseline ${(baseline / 1e6).toFixed(1)} MB, after ${(after / 1e6).toFixed(1)} MB; kinds ${runner.kinds.size}`);
    assert.ok(captured > CASES, `the capture saw the traffic (${captured} events)`);
    assert.ok(grew < 4 * 1024 * 1024, `heap grew by ${(grew / 1e6).toFixed(1)} MB over ${CASES} cases`);
    assert.equal(runner.kinds.size, KIND_COUNT, 'every kind of case ran');
  } catch (err) {
    console.log(`# serverFuzz FAILED with seed=${SEED}: ${runner.failed ?? `after case ${runner.done}`}`);
    throw err;
  } finally {
    for (const g of good) g.ws.terminate();
    await server.stop();
  }
});
