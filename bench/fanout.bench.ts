// Broadcast fan-out: deliveries per second of 1 KiB messages to 100 clients, for our server with capture on (a new
// store each round, and the store kept across rounds as the extension keeps its session's), with capture off, and the
// idiomatic plain-ws broadcast server, all measured in the same run.
// The load generator runs in a child process (bench/fanout.child.ts) so it does not share the server's event loop.
// Ratios are medians of per-round ratios (the variants of a round run back to back, in rotating order), because
// the machine is shared and absolute rates drift between rounds.
// Knobs for investigation: FANOUT_DEBUG=1 prints per-round rates, CPU use and collections, FANOUT_ONLY=<name part> runs one
// variant (e.g. under --cpu-prof), FANOUT_WINDOW=<n> changes the messages kept in flight (default 64), FANOUT_ROUNDS=<n>
// the rounds (default 9: single rounds on a shared machine spread by ±20%, the median of nine much less).

import { fork, type ChildProcess } from 'node:child_process';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import * as http from 'node:http';
import type * as net from 'node:net';
import * as path from 'node:path';
import { WebSocketServer } from 'ws';
import { EventStore } from '../src/core/capture/eventStore';
import { BroadcastServer } from '../src/core/server/broadcastServer';
import type { RunRequest, RunResult } from './fanout.child';
import type { BenchRow } from './row';
import { childScript } from './childScript';

export type FanoutRow = BenchRow;

const CLIENTS = 100;
const MESSAGE_SIZE = 1024;
const ROUNDS = Number(process.env.FANOUT_ROUNDS) || 9;
const WARMUP_MS = 400;
const MEASURE_MS = 1500;
const WINDOW = Number(process.env.FANOUT_WINDOW) || 64;

/** One client floods on purpose here; the default per-client rate limit (100/s) would drop nearly all of it. */
const UNLIMITED = { messagesPerSecond: 1e9, burst: 1e9, action: 'drop' } as const;

interface Variant {
  name: string;
  start(): Promise<{ port: number; stop(): Promise<void> }>;
}

/** The extension's store: one per session, kept across server restarts (and so, here, across rounds). */
let sessionStore: EventStore | undefined;

const variants: Variant[] = [
  {
    name: 'ours, capture on',
    async start() {
      const store = new EventStore({ maxEvents: 100_000, maxBytes: 64 * 1024 * 1024 });
      const server = new BroadcastServer();
      const a = await server.start({ port: 0, heartbeatIntervalMs: 0, maxClients: 10_000, rateLimit: UNLIMITED, capture: store });
      return { port: a.port, stop: () => server.stop() };
    },
  },
  {
    name: 'ours, capture on, session store',
    async start() {
      sessionStore ??= new EventStore({ maxEvents: 100_000, maxBytes: 64 * 1024 * 1024 });
      const server = new BroadcastServer();
      const a = await server.start({ port: 0, heartbeatIntervalMs: 0, maxClients: 10_000, rateLimit: UNLIMITED, capture: sessionStore });
      return { port: a.port, stop: () => server.stop() };
    },
  },
  {
    name: 'ours, capture off',
    async start() {
      const server = new BroadcastServer();
      const a = await server.start({ port: 0, heartbeatIntervalMs: 0, maxClients: 10_000, rateLimit: UNLIMITED });
      return { port: a.port, stop: () => server.stop() };
    },
  },
  {
    name: 'plain ws',
    async start() {
      const httpServer = http.createServer();
      const wss = new WebSocketServer({ server: httpServer });
      wss.on('connection', (ws) => {
        ws.on('error', () => {});
        ws.on('message', (m, isBinary) => wss.clients.forEach((c) => c.send(m, { binary: isBinary })));
      });
      await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
      const port = (httpServer.address() as net.AddressInfo).port;
      return {
        port,
        stop: async () => {
          for (const c of wss.clients) c.terminate();
          wss.close();
          httpServer.closeAllConnections();
          await new Promise((r) => httpServer.close(r));
        },
      };
    },
  },
];

/** The server process's collections since the last `take()`, for FANOUT_DEBUG. */
class GcCount {
  private scavenges = 0;
  private full = 0;
  private fullMs = 0;
  private readonly observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = ((e as PerformanceEntry & { detail?: { kind?: number } }).detail ?? {}).kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) {
        this.scavenges++;
      } else {
        // A mark-compact comes as its incremental marking's entry and its own; the time is both, the count one.
        if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) this.full++;
        this.fullMs += e.duration;
      }
    }
  });

  constructor() {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  take(): string {
    const s = `${this.scavenges} scavenges, ${this.full} full collections (${this.fullMs.toFixed(0)} ms)`;
    this.scavenges = this.full = this.fullMs = 0;
    return s;
  }

  dispose(): void {
    this.observer.disconnect();
  }
}

function runIn(child: ChildProcess, req: RunRequest): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    child.once('message', (m: RunResult | { error: string }) => ('error' in m ? reject(new Error(m.error)) : resolve(m)));
    child.send(req);
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

export async function benchFanout(): Promise<FanoutRow[]> {
  const script = await childScript('fanout');
  const child = fork(script, [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, NODE_PATH: path.resolve('node_modules') },
  });
  const rates: number[][] = variants.map(() => []);
  // Server CPU (this process) per delivery over the whole run: less sensitive than the rate to other work on the machine.
  const cpuPerDelivery: number[][] = variants.map(() => []);
  // A new store per round collects more often than the kept one (it allocates its arena and columns anew each round).
  const gc = process.env.FANOUT_DEBUG ? new GcCount() : undefined;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order so no variant always runs first (warm JIT, cold caches).
      for (let k = 0; k < variants.length; k++) {
        const i = (round + k) % variants.length;
        if (process.env.FANOUT_ONLY && !variants[i].name.includes(process.env.FANOUT_ONLY)) continue;
        const server = await variants[i].start();
        try {
          const c0 = process.cpuUsage();
          const t0 = performance.now();
          const r = await runIn(child, {
            port: server.port,
            clients: CLIENTS,
            messageSize: MESSAGE_SIZE,
            warmupMs: WARMUP_MS,
            measureMs: MEASURE_MS,
            window: WINDOW,
          });
          rates[i].push((r.deliveries / r.ms) * 1000);
          const c = process.cpuUsage(c0);
          cpuPerDelivery[i].push((c.user + c.system) / r.totalDeliveries);
          if (process.env.FANOUT_DEBUG) {
            const perDelivery = (us: number) => ((us * 1000) / r.totalDeliveries).toFixed(0);
            console.error(
              `${variants[i].name}: ${Math.round((r.deliveries / r.ms) * 1000)}/s, server cpu ${((c.user + c.system) / 1000 / (performance.now() - t0)).toFixed(2)} of a core (whole run), ` +
                `user ${perDelivery(c.user)} + system ${perDelivery(c.system)} ns per delivery, ${gc?.take()}`,
            );
          }
        } finally {
          await server.stop();
        }
      }
    }
  } finally {
    gc?.dispose();
    child.send('exit');
    child.disconnect();
  }
  const [on, session, off, plain] = rates;
  const perRound = (a: number[], b: number[]) => median(a.map((x, j) => x / b[j]));
  const onVsPlain = perRound(on, plain);
  const onVsOff = perRound(on, off);
  const unit = 'deliveries/s';
  const [cpuOn, , cpuOff] = cpuPerDelivery;
  const sessionVsOff = perRound(session, off);
  const cpuCost = perRound(cpuOn, cpuOff);
  return [
    { name: 'fanout: ours, capture on', value: median(on), unit, ratio: onVsPlain, baseline: 'vs plain ws', goal: '>= 1.00x plain ws', met: onVsPlain >= 1 },
    { name: 'fanout: ours, capture on', value: median(on), unit, ratio: onVsOff, baseline: 'vs capture off', goal: '>= 0.85x capture off', met: onVsOff >= 0.85 },
    {
      name: 'fanout: ours, capture on, the session store kept across rounds',
      value: median(session),
      unit,
      ratio: sessionVsOff,
      baseline: 'vs capture off',
    },
    { name: 'fanout: ours, capture off', value: median(off), unit, ratio: perRound(off, plain), baseline: 'vs plain ws' },
    { name: 'fanout: plain ws broadcast', value: median(plain), unit },
    {
      name: 'fanout: server CPU per delivery, capture on',
      value: median(cpuOn) * 1000,
      unit: `ns (capture off ${Math.round(median(cpuOff) * 1000)} ns)`,
      ratio: cpuCost,
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
