// One broadcast server of bench/fanout.bench.ts, in a process of its own: each variant's collections, JIT and caches
// stay its own, and a variant's garbage is never collected while another one is being measured.
// The variant is the first argument. Requests come over IPC: `start` (a new server; for `on`, with a new store),
// `stop` (replies with the CPU time and collections since its `start`), and `exit`.

import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import { EventStore } from '../src/core/capture/eventStore';
import { BroadcastServer } from '../src/core/server/broadcastServer';
import { startPlainWsBroadcast } from './plainWs';

export type ServerVariant = 'on' | 'session' | 'off' | 'plain';

export type ServerRequest = 'start' | 'stop' | 'exit';

export interface ServerStarted {
  port: number;
}

export interface ServerStopped {
  /** CPU time of this process from `start` to `stop`, in µs. */
  user: number;
  system: number;
  scavenges: number;
  fullCollections: number;
  /** Time in full collections, incremental marking steps included. */
  fullMs: number;
  /** Page faults served without I/O (first touches of new memory). */
  pageFaults: number;
}

/** One client floods on purpose here; the default per-client rate limit (100/s) would drop nearly all of it. */
const UNLIMITED = { messagesPerSecond: 1e9, burst: 1e9, action: 'drop' } as const;

/** The store's size in the extension's defaults, with the byte cap a little lower. */
const newStore = () => new EventStore({ maxEvents: 100_000, maxBytes: 64 * 1024 * 1024 });

/** The extension's store: one per session, kept across server restarts (and so, here, across rounds). */
let sessionStore: EventStore | undefined;

async function startServer(variant: ServerVariant): Promise<{ port: number; stop(): Promise<void> }> {
  // The idiomatic plain-ws broadcast server.
  if (variant === 'plain') return startPlainWsBroadcast();
  const capture = variant === 'on' ? newStore() : variant === 'session' ? (sessionStore ??= newStore()) : undefined;
  const server = new BroadcastServer();
  const a = await server.start({ port: 0, heartbeatIntervalMs: 0, maxClients: 10_000, rateLimit: UNLIMITED, capture });
  return { port: a.port, stop: () => server.stop() };
}

/** This process's collections since the last `take()`. */
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

  take(): { scavenges: number; fullCollections: number; fullMs: number } {
    const r = { scavenges: this.scavenges, fullCollections: this.full, fullMs: this.fullMs };
    this.scavenges = this.full = this.fullMs = 0;
    return r;
  }
}

if (process.send !== undefined) {
  const variant = process.argv[2] as ServerVariant;
  if (!['on', 'session', 'off', 'plain'].includes(variant)) throw new Error(`unknown fan-out server variant: ${variant}`);
  const gc = new GcCount();
  let running: { stop(): Promise<void> } | undefined;
  let cpu0 = process.cpuUsage();
  let faults0 = process.resourceUsage().minorPageFault;
  process.on('message', (req: ServerRequest) => {
    const reply = (p: Promise<unknown>) => p.then((r) => process.send!(r), (err: Error) => process.send!({ error: err.message }));
    if (req === 'start') {
      reply(
        startServer(variant).then((s): ServerStarted => {
          running = s;
          gc.take();
          cpu0 = process.cpuUsage();
          faults0 = process.resourceUsage().minorPageFault;
          return { port: s.port };
        }),
      );
    } else if (req === 'stop') {
      const cpu = process.cpuUsage(cpu0);
      const collections = gc.take();
      const pageFaults = process.resourceUsage().minorPageFault - faults0;
      reply((running?.stop() ?? Promise.resolve()).then((): ServerStopped => ({ ...cpu, ...collections, pageFaults })));
      running = undefined;
    } else {
      process.disconnect();
    }
  });
}
