// The server of bench/isolation.bench.ts, in a process of its own: the extension's defaults (capture on into a store
// of the default size, the default rate limit, relay broadcast). Requests come over IPC: `start` (a new server and a
// new store), `stats` (what the server read, dropped and spent since `start`), `stop`, and `exit`.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { EventStore } from '../src/core/capture/eventStore';
import { BroadcastServer } from '../src/core/server/broadcastServer';

export type IsolationServerRequest = 'start' | 'stats' | 'stop' | 'exit';

export interface IsolationServerStarted {
  port: number;
}

export interface IsolationServerStats {
  /** Over every client since `start`: messages relayed, and messages read but dropped by the rate limit. */
  messagesIn: number;
  droppedIn: number;
  /** Events the capture appended (both directions): a measure of the work the reads cost. */
  capturedEvents: number;
  /** CPU time of this process since `start`, in ms. */
  cpuMs: number;
  /** The longest this process's event loop was late since `start`, in ms: a stall here delays every client. */
  loopDelayMaxMs: number;
}

const loopDelay = monitorEventLoopDelay({ resolution: 5 });

let running: { server: BroadcastServer; store: EventStore; cpu0: NodeJS.CpuUsage; gone: { messagesIn: number; droppedIn: number } } | undefined;

async function start(): Promise<IsolationServerStarted> {
  const store = new EventStore();
  const server = new BroadcastServer();
  const gone = { messagesIn: 0, droppedIn: 0 };
  server.onDidDisconnect(({ client }) => {
    gone.messagesIn += client.messagesIn;
    gone.droppedIn += client.droppedIn;
  });
  const a = await server.start({ port: 0, capture: store });
  running = { server, store, cpu0: process.cpuUsage(), gone };
  loopDelay.reset();
  loopDelay.enable();
  return { port: a.port };
}

function stats(): IsolationServerStats {
  if (running === undefined) throw new Error('no server running');
  const { server, store, cpu0, gone } = running;
  const cpu = process.cpuUsage(cpu0);
  const clients = server.clients();
  return {
    messagesIn: clients.reduce((n, c) => n + c.messagesIn, gone.messagesIn),
    droppedIn: clients.reduce((n, c) => n + c.droppedIn, gone.droppedIn),
    capturedEvents: store.stats().appended,
    cpuMs: (cpu.user + cpu.system) / 1000,
    loopDelayMaxMs: loopDelay.max / 1e6,
  };
}

async function stop(): Promise<Record<string, never>> {
  const r = running;
  running = undefined;
  loopDelay.disable();
  await r?.server.stop();
  r?.store.dispose();
  return {};
}

if (process.send !== undefined) {
  process.on('message', (req: IsolationServerRequest) => {
    const reply = (p: Promise<unknown>) => p.then((r) => process.send!(r), (err: Error) => process.send!({ error: err.message }));
    if (req === 'start') reply(start());
    else if (req === 'stats') reply(Promise.resolve().then(stats));
    else if (req === 'stop') reply(stop());
    else process.disconnect();
  });
}
