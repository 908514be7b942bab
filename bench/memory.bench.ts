// Memory per idle client (1,000 and 10,000) for our server, with capture off and on, against the plain ws server,
// and churn: 10,000 connect/close cycles must leave the server's RSS within 10% of its baseline.
// Every server variant runs alone in a fresh child process (so RSS is its own and no variant inherits another's
// heap), and the clients run in another child: 10,000 connections are 20,000 fds when both ends share a process.
// Knobs: MEMORY_COUNTS=1000,10000 and MEMORY_CHURN=10000 change the sizes.

import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import type { ClientsRequest, MemorySample, ServerRequest, ServerVariant } from './memory.child';
import type { BenchRow } from './row';
import { childScript } from './childScript';
import { sleep, waitFor } from '../test/support/waitFor';

export type MemoryRow = BenchRow;

const COUNTS = (process.env.MEMORY_COUNTS ?? '1000,10000').split(',').map(Number);
const CHURN = Number(process.env.MEMORY_CHURN) || 10_000;
/**
 * Cycles before the baseline is taken. RSS climbs over the first few thousand cycles for plain ws as much as for
 * ours (allocator and V8 page high-water marks; heapUsed stays flat), then stays level: the baseline is that level.
 */
const WARMUP_CYCLES = Number(process.env.MEMORY_WARMUP) || 5000;
/** The capture store's cap during churn: small, so the run shows the store staying at its cap rather than filling. */
const CHURN_STORE_EVENTS = 5000;
const VARIANTS: ServerVariant[] = ['ours, capture off', 'ours, capture on', 'plain ws'];
/** Ours may cost this much more per idle client than plain ws (a record, counters, a token bucket). */
const PER_CLIENT_GOAL = 1.5;

function ask<T>(child: ChildProcess, req: ServerRequest | ClientsRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    child.once('message', (m: T | { error: string }) =>
      m !== null && typeof m === 'object' && 'error' in m ? reject(new Error(m.error)) : resolve(m as T),
    );
    child.send(req);
  });
}

async function spawn(script: string, args: string[]): Promise<{ child: ChildProcess; first: unknown }> {
  const child = fork(script, args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: ['--expose-gc'],
    env: { ...process.env, NODE_PATH: path.resolve('node_modules') },
  });
  const [first] = await once(child, 'message');
  return { child, first };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = once(child, 'exit');
  child.send({ cmd: 'exit' });
  await Promise.race([exited, sleep(3000)]);
  if (child.exitCode === null) child.kill();
}

async function measureWhen(server: ChildProcess, clients: number): Promise<MemorySample> {
  // The server counts a client once its upgrade completed; the clients' child may resolve a moment earlier.
  return waitFor(`the server to count ${clients} clients`, async () => {
    const s = await ask<MemorySample>(server, { cmd: 'measure' });
    return s.clients === clients && s;
  }, 4000);
}

interface PerClient {
  rss: number;
  heap: number;
}

/** Memory per idle client for one variant and count, in a fresh server process. */
async function perClient(script: string, variant: ServerVariant, count: number): Promise<PerClient> {
  const { child: server, first } = await spawn(script, ['server', variant]);
  const { child: clients } = await spawn(script, ['clients']);
  try {
    const { port } = first as { port: number };
    // Warm up: the first connections pay for lazily loaded code and pools.
    await ask(clients, { cmd: 'open', port, count: 50 });
    await ask(clients, { cmd: 'close' });
    const before = await measureWhen(server, 0);
    await ask(clients, { cmd: 'open', port, count });
    const after = await measureWhen(server, count);
    await ask(clients, { cmd: 'close' });
    return { rss: (after.rss - before.rss) / count, heap: (after.heapUsed + after.external - before.heapUsed - before.external) / count };
  } finally {
    await stopChild(clients);
    await stopChild(server);
  }
}

/** RSS after `CHURN` connect/close cycles over RSS after a warm-up, in a fresh server process. */
async function churn(
  script: string,
  variant: ServerVariant,
): Promise<{ ratio: number; before: number; after: number; cold: number; heapRatio: number; heapAfter: number }> {
  const { child: server, first } = await spawn(script, ['server', variant, String(CHURN_STORE_EVENTS)]);
  const { child: clients } = await spawn(script, ['clients']);
  try {
    const { port } = first as { port: number };
    const cold = await measureWhen(server, 0);
    await ask(clients, { cmd: 'churn', port, cycles: WARMUP_CYCLES, parallel: 50 });
    const before = await measureWhen(server, 0);
    const step = CHURN / 5;
    for (let done = 0; done < CHURN; done += step) {
      await ask(clients, { cmd: 'churn', port, cycles: step, parallel: 50 });
      if (process.env.MEMORY_DEBUG) {
        const s = await measureWhen(server, 0);
        console.error(`${variant}: after ${done + step} cycles rss ${(s.rss / 2 ** 20).toFixed(1)} MiB heapUsed ${(s.heapUsed / 2 ** 20).toFixed(1)} MiB external ${(s.external / 2 ** 20).toFixed(1)} MiB`);
      }
    }
    const after = await measureWhen(server, 0);
    return {
      ratio: after.rss / before.rss,
      before: before.rss,
      after: after.rss,
      cold: cold.rss,
      heapRatio: (after.heapUsed + after.external) / (before.heapUsed + before.external),
      heapAfter: after.heapUsed + after.external,
    };
  } finally {
    await stopChild(clients);
    await stopChild(server);
  }
}

const KiB = (n: number) => n / 1024;

export async function benchMemory(): Promise<MemoryRow[]> {
  const script = await childScript('memory');
  const rows: MemoryRow[] = [];
  for (const count of COUNTS) {
    const r = new Map<ServerVariant, PerClient>();
    for (const v of VARIANTS) r.set(v, await perClient(script, v, count));
    const plain = r.get('plain ws')!;
    const n = count.toLocaleString('en-US');
    for (const v of VARIANTS) {
      const m = r.get(v)!;
      const isOff = v === 'ours, capture off';
      const vsPlain = v === 'plain ws' ? {} : { ratio: m.rss / plain.rss, baseline: 'vs plain ws' };
      rows.push({
        name: `memory/idle client, ${n} clients: ${v} (RSS)`,
        value: KiB(m.rss),
        unit: 'KiB',
        ...vsPlain,
        ...(isOff ? { goal: `<= ${PER_CLIENT_GOAL.toFixed(2)}x plain ws`, met: m.rss / plain.rss <= PER_CLIENT_GOAL } : {}),
      });
      rows.push({
        name: `memory/idle client, ${n} clients: ${v} (heap+external)`,
        value: KiB(m.heap),
        unit: 'KiB',
        ...(v === 'plain ws' ? {} : { ratio: m.heap / plain.heap, baseline: 'vs plain ws' }),
      });
    }
  }
  const MiB = (n: number) => (n / 2 ** 20).toFixed(1);
  for (const v of VARIANTS) {
    const c = await churn(script, v);
    const name = `churn: ${CHURN.toLocaleString('en-US')} connect/close cycles, ${v}${v === 'ours, capture on' ? ` (store cap ${CHURN_STORE_EVENTS} events)` : ''}`;
    rows.push({
      name: `${name}: RSS`,
      value: c.after / 2 ** 20,
      unit: `MiB after (baseline ${MiB(c.before)} after ${WARMUP_CYCLES} warm-up cycles; ${MiB(c.cold)} cold)`,
      ratio: c.ratio,
      baseline: 'vs baseline',
      goal: v === 'plain ws' ? undefined : '<= 1.10x baseline',
      met: v === 'plain ws' ? undefined : c.ratio <= 1.1,
    });
    rows.push({ name: `${name}: heap+external`, value: c.heapAfter / 2 ** 20, unit: 'MiB after', ratio: c.heapRatio, baseline: 'vs baseline' });
  }
  return rows;
}

// Runs alone (`node out/bench/memory.bench.js`); the argv check keeps it quiet when bundled into bench/run.ts.
if (require.main === module && /memory\.bench/.test(process.argv[1] ?? '')) {
  benchMemory().then(
    (rows) => console.table(rows.map((r) => ({ ...r, value: r.value.toFixed(1), ratio: r.ratio?.toFixed(2) }))),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
