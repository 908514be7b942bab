// Isolation (issue 25): one flooder must not delay everyone. A sender at 50 msg/s and a receiver beside two flooders
// writing 1 KiB messages as fast as their sockets take; the receiver's send-to-receive latency and the messages it
// never got, over ISOLATION_RUNS runs (default 5) of ISOLATION_RUN_MS (default 5000), against a baseline without
// flooders measured in the same run. Goal: p99 < 50 ms and nothing lost in every run.
// The server (bench/isolation-server.child.ts: the extension's defaults, capture on) and the flooders
// (bench/isolation-flood.child.ts) run in processes of their own; the sender and the receiver run here, so that
// their clocks are one. Each run starts a new server and store. ISOLATION_DEBUG=1 prints each message later than 20 ms.

import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { WebSocket } from 'ws';
import { childScript } from './childScript';
import type { FloodRequest, FloodStarted, FloodStopped } from './isolation-flood.child';
import type { IsolationServerRequest, IsolationServerStarted, IsolationServerStats } from './isolation-server.child';
import type { BenchRow } from './row';
import { sleep, waitFor } from '../test/support/waitFor';

const RUNS = Number(process.env.ISOLATION_RUNS ?? 5);
const RUN_MS = Number(process.env.ISOLATION_RUN_MS ?? 5000);
const FLOODERS = 2;
const SEND_INTERVAL_MS = 20; // 50 msg/s
/** A message not delivered this long after the last send is counted as lost. */
const GRACE_MS = 5000;
const P99_GOAL_MS = 50;
const DEBUG = !!process.env.ISOLATION_DEBUG;

export interface IsolationRun {
  p50: number;
  p99: number;
  max: number;
  sent: number;
  lost: number;
  server: IsolationServerStats;
  flood?: FloodStopped;
}

function ask<T>(child: ChildProcess, req: IsolationServerRequest | FloodRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`isolation child exited (${code}) before it replied`));
    child.once('exit', onExit);
    child.once('message', (m: T | { error: string }) => {
      child.off('exit', onExit);
      if (m !== null && typeof m === 'object' && 'error' in m) reject(new Error(m.error));
      else resolve(m as T);
    });
    child.send(req);
  });
}

function forkChild(script: string): ChildProcess {
  return fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, NODE_PATH: path.resolve('node_modules') } });
}


/** The nearest-rank percentile. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function open(url: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  ws.on('error', () => {});
  await once(ws, 'open');
  return ws;
}

/** One run: a new server, optionally the flooders, then the sender for `ms`; latency as the receiver saw it. */
async function oneRun(server: ChildProcess, flood: ChildProcess | undefined, ms: number): Promise<IsolationRun> {
  const { port } = await ask<IsolationServerStarted>(server, 'start');
  const url = `ws://127.0.0.1:${port}/`;
  const receiver = await open(url);
  const sender = await open(url);
  const latencies: number[] = [];
  const seen = new Set<number>();
  receiver.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) return; // a flooder's message
    const [seq, sentAt] = data.toString().split(' ').map(Number);
    if (seen.has(seq)) return;
    seen.add(seq);
    latencies.push(performance.now() - sentAt);
    if (DEBUG && performance.now() - sentAt > 20) console.error(`late: ${(performance.now() - sentAt).toFixed(1)} ms, sent ${(sentAt - t0).toFixed(0)} ms into the run`);
  });
  let floodStats: FloodStopped | undefined;
  let t0 = performance.now();
  try {
    if (flood) await ask<FloodStarted>(flood, { start: { port, flooders: FLOODERS } });
    let sent = 0;
    t0 = performance.now();
    // Paced against the start, so that a late timer does not lower the rate.
    while (performance.now() - t0 < ms) {
      sender.send(`${sent} ${performance.now()}`);
      sent++;
      await sleep(Math.max(0, t0 + sent * SEND_INTERVAL_MS - performance.now()));
    }
    // At most GRACE_MS: what has not arrived by then counts as lost.
    await waitFor('every message at the receiver', () => seen.size >= sent, GRACE_MS).catch(() => undefined);
    const stats = await ask<IsolationServerStats>(server, 'stats');
    if (flood) floodStats = await ask<FloodStopped>(flood, 'stop');
    const sorted = [...latencies].sort((a, b) => a - b);
    return {
      p50: percentile(sorted, 50),
      p99: percentile(sorted, 99),
      max: sorted[sorted.length - 1] ?? NaN,
      sent,
      lost: sent - seen.size,
      server: stats,
      flood: floodStats,
    };
  } finally {
    if (flood && floodStats === undefined) await ask<FloodStopped>(flood, 'stop').catch(() => undefined);
    receiver.terminate();
    sender.terminate();
    await ask(server, 'stop');
  }
}

export async function benchIsolation(): Promise<{ rows: BenchRow[]; verdict: string }> {
  const [serverScript, floodScript] = await Promise.all([childScript('isolation-server'), childScript('isolation-flood')]);
  const server = forkChild(serverScript);
  const flood = forkChild(floodScript);
  const runs: IsolationRun[] = [];
  let baseline: IsolationRun;
  try {
    // Not counted: warms the JIT of the server, the flooders and this process.
    await oneRun(server, flood, 1000);
    baseline = await oneRun(server, undefined, RUN_MS);
    for (let i = 0; i < RUNS; i++) runs.push(await oneRun(server, flood, RUN_MS));
  } finally {
    for (const c of [server, flood]) if (c.connected) c.send('exit');
  }
  const describe = (r: IsolationRun) => {
    const n = (x: number) => Math.round(x).toLocaleString('en-US');
    const s = r.server;
    const drops = r.flood ? `; flooders wrote ${n(r.flood.written)} (CPU ${n(r.flood.cpuMs)} ms), server dropped ${n(s.droppedIn)}` : '';
    return (
      `ms p99 (p50 ${r.p50.toFixed(1)}, max ${r.max.toFixed(1)}; lost ${r.lost}/${r.sent}${drops}; ` +
      `server: ${n(s.capturedEvents)} events captured, CPU ${n(s.cpuMs)} ms, loop late ${n(s.loopDelayMaxMs)} ms at most)`
    );
  };
  const ok = (r: IsolationRun) => r.p99 < P99_GOAL_MS && r.lost === 0;
  const rows: BenchRow[] = [
    { name: 'isolation: baseline, no flooders', value: baseline.p99, unit: describe(baseline) },
    ...runs.map((r, i) => ({
      name: `isolation: run ${i + 1}, ${FLOODERS} flooders`,
      value: r.p99,
      unit: describe(r),
      ratio: r.p99 / baseline.p99,
      baseline: 'p99 vs no flooders',
      goal: `p99 < ${P99_GOAL_MS} ms, 0 lost`,
      met: ok(r),
    })),
  ];
  const failed = runs.filter((r) => !ok(r)).length;
  const verdict =
    `isolation: ${failed === 0 ? 'PASS' : 'FAIL'}: receiver p99 < ${P99_GOAL_MS} ms and 0 lost in ${runs.length - failed} of ${runs.length} runs ` +
    `beside ${FLOODERS} flooders (worst p99 ${Math.max(...runs.map((r) => r.p99)).toFixed(1)} ms, ${runs.reduce((n, r) => n + r.lost, 0)} lost; ` +
    `baseline p99 ${baseline.p99.toFixed(1)} ms)`;
  return { rows, verdict };
}
