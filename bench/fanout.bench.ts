// Broadcast fan-out: deliveries per second of 1 KiB messages to 100 clients, for our server with capture on (a new
// store each round, and the store kept across rounds as the extension keeps its session's), with capture off, and the
// idiomatic plain-ws broadcast server, all measured in the same run.
//
// Each server runs in a process of its own (bench/fanout-server.child.ts) and the load generator in another
// (bench/fanout.child.ts). The generator keeps clients on every server and loads them in turn, in slices of a quarter
// of a second: on this shared 2-core machine the CPU a process gets drifts by ±20% over seconds, and servers measured
// one after the other, seconds apart, differed by that much from round to round. Interleaved, they share the drift.
// Separate processes keep each variant's collections its own: a store's garbage is never collected while another
// variant is being measured.
//
// A round starts every server anew (so `on` fills a new store over the round), runs the slices, and stops them.
// Ratios are medians of per-round ratios. The first rounds, not counted, warm the processes up: the servers' JIT
// compiles for several rounds (with capture on, 116, 44, 28 and 12 functions in the first four rounds after one warm-up
// round, against 48, 22, 14 and 12 with capture off, by --trace-opt), and compiling costs CPU in the round it happens.
// Knobs for investigation: FANOUT_DEBUG=1 prints each round's rates, CPU use and collections; FANOUT_ONLY=<a,b>
// runs some variants (on, session, off, plain); FANOUT_ROUNDS (default 9), FANOUT_WARMUP_ROUNDS (default 3),
// FANOUT_SLICES (slices per server and round, default 6), FANOUT_WINDOW (messages in flight, default 64),
// FANOUT_SERVER_NODE_ARGS (Node options of the servers), FANOUT_ALT (another build's server in place of plain ws).

import { fork, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import type { RunRequest, RunResult } from './fanout.child';
import type { ServerStarted, ServerStopped, ServerVariant } from './fanout-server.child';
import type { BenchRow } from './row';
import { childScript } from './childScript';

export type FanoutRow = BenchRow;

const CLIENTS = 100;
const MESSAGE_SIZE = 1024;
const ROUNDS = Number(process.env.FANOUT_ROUNDS) || 9;
const WARMUP_ROUNDS = Number(process.env.FANOUT_WARMUP_ROUNDS ?? 3);
const SLICES = Number(process.env.FANOUT_SLICES) || 6;
const WARMUP_MS = 50;
const SLICE_MS = 250;
const WINDOW = Number(process.env.FANOUT_WINDOW) || 64;

const VARIANTS: Array<{ variant: ServerVariant; name: string }> = [
  { variant: 'on', name: 'ours, capture on' },
  { variant: 'session', name: 'ours, capture on, session store' },
  { variant: 'off', name: 'ours, capture off' },
  { variant: 'plain', name: 'plain ws' },
];

/** Sends a request to a child and waits for its reply. */
function ask<T>(child: ChildProcess, req: unknown): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`fan-out child exited (${code}) before it replied`));
    child.once('exit', onExit);
    child.once('message', (m: T | { error: string }) => {
      child.off('exit', onExit);
      if (m !== null && typeof m === 'object' && 'error' in m) reject(new Error(m.error));
      else resolve(m as T);
    });
    child.send(req as never);
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function forkChild(script: string, args: string[] = [], execArgv: string[] = []): ChildProcess {
  return fork(script, args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv,
    env: { ...process.env, NODE_PATH: path.resolve('node_modules') },
  });
}

export async function benchFanout(): Promise<FanoutRow[]> {
  const only = process.env.FANOUT_ONLY?.split(',').map((s) => s.trim());
  const chosen = VARIANTS.filter((v) => only === undefined || only.includes(v.variant));
  const [loadScript, serverScript] = await Promise.all([childScript('fanout'), childScript('fanout-server')]);
  const load = forkChild(loadScript);
  // FANOUT_SERVER_NODE_ARGS: Node options for the server processes, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`.
  const serverArgs = process.env.FANOUT_SERVER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  // FANOUT_ALT=<a bundled fanout-server.child.js of another build>: that build's capture-on server takes the plain-ws
  // server's place, so that the `vs plain ws` rows compare two builds over the same seconds.
  const alt = process.env.FANOUT_ALT;
  const servers = chosen.map((v) => (alt && v.variant === 'plain' ? forkChild(alt, ['on'], serverArgs) : forkChild(serverScript, [v.variant], serverArgs)));
  const rates = new Map<ServerVariant, number[]>(chosen.map((v) => [v.variant, []]));
  // Server CPU per delivery over the whole round: less sensitive than the rate to other work on the machine.
  const cpuPerDelivery = new Map<ServerVariant, number[]>(chosen.map((v) => [v.variant, []]));
  try {
    // Rounds up to 0 warm the servers' JIT up (fresh processes run their first round 10-20% slower, capture more so)
    // and are not counted.
    for (let round = 1 - WARMUP_ROUNDS; round <= ROUNDS; round++) {
      const started = await Promise.all(servers.map((s) => ask<ServerStarted>(s, 'start')));
      const stopAll = () => Promise.all(servers.map((s) => ask<ServerStopped>(s, 'stop')));
      const req: RunRequest = {
        ports: started.map((s) => s.port),
        clients: CLIENTS,
        messageSize: MESSAGE_SIZE,
        slices: SLICES,
        warmupMs: WARMUP_MS,
        sliceMs: SLICE_MS,
        window: WINDOW,
      };
      const r = await ask<RunResult>(load, req).catch(async (err: unknown) => {
        await stopAll();
        throw err;
      });
      const stopped = await stopAll();
      chosen.forEach((v, i) => {
        const rate = (r.deliveries[i] / r.ms[i]) * 1000;
        const cpu = stopped[i];
        if (round > 0) {
          rates.get(v.variant)!.push(rate);
          cpuPerDelivery.get(v.variant)!.push((cpu.user + cpu.system) / r.totalDeliveries[i]);
        }
        if (process.env.FANOUT_DEBUG) {
          const ns = (us: number) => ((us * 1000) / r.totalDeliveries[i]).toFixed(0);
          console.error(
            `${round <= 0 ? 'warm-up' : `round ${round}`} ${v.name}: ${Math.round(rate)}/s, user ${ns(cpu.user)} + system ${ns(cpu.system)} ns per delivery, ` +
              `${cpu.scavenges} scavenges, ${cpu.fullCollections} full collections (${cpu.fullMs.toFixed(0)} ms), ${cpu.pageFaults} page faults`,
          );
        }
      });
    }
  } finally {
    for (const c of [load, ...servers]) if (c.connected) c.send('exit');
  }
  const perRound = (a: ServerVariant, b: ServerVariant, from = rates) => {
    const xs = from.get(a);
    const ys = from.get(b);
    return xs === undefined || ys === undefined ? NaN : median(xs.map((x, j) => x / ys[j]));
  };
  const med = (v: ServerVariant, from = rates) => median(from.get(v) ?? [NaN]);
  const unit = 'deliveries/s';
  const onVsPlain = perRound('on', 'plain');
  const onVsOff = perRound('on', 'off');
  return [
    { name: 'fanout: ours, capture on', value: med('on'), unit, ratio: onVsPlain, baseline: 'vs plain ws', goal: '>= 1.00x plain ws', met: onVsPlain >= 1 },
    { name: 'fanout: ours, capture on', value: med('on'), unit, ratio: onVsOff, baseline: 'vs capture off', goal: '>= 0.85x capture off', met: onVsOff >= 0.85 },
    {
      name: 'fanout: ours, capture on, the session store kept across rounds',
      value: med('session'),
      unit,
      ratio: perRound('session', 'off'),
      baseline: 'vs capture off',
    },
    { name: 'fanout: ours, capture off', value: med('off'), unit, ratio: perRound('off', 'plain'), baseline: 'vs plain ws' },
    { name: 'fanout: plain ws broadcast', value: med('plain'), unit },
    {
      name: 'fanout: server CPU per delivery, capture on',
      value: med('on', cpuPerDelivery) * 1000,
      unit: `ns (capture off ${Math.round(med('off', cpuPerDelivery) * 1000)} ns)`,
      ratio: perRound('on', 'off', cpuPerDelivery),
      baseline: 'vs capture off',
    },
  ];
}

// Runs alone (`node out/bench/fanout.bench.js`); the argv check keeps it quiet when bundled into bench/run.ts.
if (require.main === module && /fanout\.bench/.test(process.argv[1] ?? '')) {
  benchFanout().then(
    (rows) => console.table(rows.map((r) => ({ ...r, value: Math.round(r.value), ratio: r.ratio?.toFixed(2) }))),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
