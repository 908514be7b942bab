// Child processes for bench/load.bench.ts, one role per process (argv[2]):
// - `server <variant> <relay> [redisUrl channel]`: one server alone in a fresh process, joined to a Redis backplane
//   when a URL is given; it reports its client count, CPU time and counters on request;
// - `clients`: the load generator. Raw sockets that did a real WebSocket handshake send masked 1 KiB binary frames
//   on a schedule, with the send time in the payload, and walk the frames they receive to read it back. Senders and
//   receivers share this process's clock, so send-to-receive latency needs no clock sync, and the generator does
//   not share the server's event loop.

import { randomBytes } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { WebSocketServer } from 'ws';
import { EventStore, type EventStoreOptions } from '../src/core/capture/eventStore';
import { RedisBackplane } from '../src/core/scale/redisBackplane';
import { BroadcastServer } from '../src/core/server/broadcastServer';
import { encodeFrame } from '../src/core/wire/frameEncoder';
import { FrameWalker, isMeasured, LatencyHistogram, PAYLOAD_HEAD, sentAt, writeStamp } from './loadWire';
import { waitFor } from '../test/support/waitFor';

export type LoadServerVariant = 'ours, capture on' | 'ours, capture off' | 'plain ws';
export type LoadRelay = 'broadcast' | 'echo' | 'none';

export type ServerRequest = { cmd: 'status' } | { cmd: 'relay'; relay: LoadRelay } | { cmd: 'exit' };
export interface ServerStatus {
  clients: number;
  /** CPU time (user + system) used by the server process since it started, in ms. */
  cpuMs: number;
  /** Messages the server received from clients since it started. */
  messagesIn: number;
  /** Deliveries skipped for slow consumers (ours only: plain ws buffers without limit). */
  droppedOut: number;
  /** With a backplane: messages it published, and those it could not (Redis down or too many waiting). */
  published: number;
  publishFailed: number;
  /** Garbage collection since the process started (ms), and its longest pause since the previous status. */
  gcMs: number;
  gcMaxPauseMs: number;
  /** Event-loop delay since the previous status (ms): its p99 and max. A latency tail that is not GC shows here. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

/** Clients are opened in named groups (one per server setup), and a step runs on one group while the others idle. */
export type ClientsRequest =
  | { cmd: 'open'; group: string; ports: number[]; count: number }
  | ({ cmd: 'step'; group: string } & StepRequest)
  | { cmd: 'close'; group: string }
  | { cmd: 'exit' };

export interface StepRequest {
  /** Tags the payloads, so stragglers of an earlier step are not counted in this one. */
  stepId: number;
  /** Messages per second sent in total, spread evenly over the senders (the first `senders` clients). */
  rate: number;
  senders: number;
  messageSize: number;
  /** How many clients receive each message: every client in broadcast mode, 1 in echo mode, 0 in none. */
  deliveriesPerMessage: number;
  /** Sent but not measured: the server, the JIT and the buffers reach their steady state first. */
  warmupMs: number;
  /** Messages sent in this window are the measured ones. */
  measureMs: number;
  /** Sending goes on this long after the window, so the last measured messages meet the same load as the others. */
  tailMs: number;
  /** After sending stops, how long measured deliveries may still arrive; later ones count as lost. */
  drainMs: number;
  /** The step ends once nothing arrived for this long (an overloaded server's backlog must clear before the next step). */
  quietMs: number;
  /** …or after this long, whichever comes first. */
  settleMaxMs: number;
}

export interface StepResult {
  /** Every message sent in the step (warm-up and tail included). */
  sentTotal: number;
  /** Measured messages sent, and the deliveries of them expected and received. */
  sent: number;
  expected: number;
  received: number;
  /** Send-to-receive latency of the measured deliveries, in ms; a lost delivery counts as infinitely late. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** How late the generator sent, against its schedule (p99, ms): when it is high, the generator was the limit. */
  sendLagP99: number;
  /** The generator's CPU use over the step, in cores, and its longest garbage-collection pause (ms). */
  generatorCpu: number;
  generatorGcMaxPauseMs: number;
  /** Measured deliveries received per second of the measured window. */
  deliveriesPerSecond: number;
  /** False when the backlog had not cleared within settleMaxMs. */
  settled: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Server role

/** Garbage-collection pauses of this process: a latency spike often is one. */
class GcWatch {
  totalMs = 0;
  maxPauseMs = 0;
  private readonly observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      this.totalMs += e.duration;
      if (e.duration > this.maxPauseMs) this.maxPauseMs = e.duration;
    }
  });

  constructor() {
    this.observer.observe({ entryTypes: ['gc'] });
  }

  /** The longest pause since the last call. */
  takeMaxPause(): number {
    const m = this.maxPauseMs;
    this.maxPauseMs = 0;
    return m;
  }
}

/** The benchmark floods on purpose; the default per-client rate limit (100/s) would drop most of a sender's traffic. */
const UNLIMITED = { messagesPerSecond: 1e9, burst: 1e9, action: 'drop' } as const;

async function serverRole(variant: LoadServerVariant, initialRelay: LoadRelay, redisUrl?: string, channel?: string): Promise<void> {
  const gc = new GcWatch();
  // 10 ms resolution: finer sampling would itself load the loop it measures.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const takeLoopDelay = () => {
    const d = { loopDelayP99Ms: loopDelay.percentile(99) / 1e6, loopDelayMaxMs: loopDelay.max / 1e6 };
    loopDelay.reset();
    return d;
  };
  let port: number;
  let status: () => Omit<ServerStatus, 'cpuMs' | 'loopDelayP99Ms' | 'loopDelayMaxMs'>;
  let setRelay: (r: LoadRelay) => void;
  if (variant === 'plain ws') {
    const httpServer = http.createServer();
    const wss = new WebSocketServer({ server: httpServer });
    let messagesIn = 0;
    let relay = initialRelay;
    setRelay = (r) => (relay = r);
    wss.on('connection', (ws) => {
      ws.on('error', () => {});
      // The idiomatic ws server for each relay mode (one comparison per message picks the mode).
      ws.on('message', (m, isBinary) => {
        messagesIn++;
        if (relay === 'broadcast') wss.clients.forEach((c) => c.send(m, { binary: isBinary }));
        else if (relay === 'echo') ws.send(m, { binary: isBinary });
      });
    });
    await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
    port = (httpServer.address() as net.AddressInfo).port;
    status = () => ({ clients: wss.clients.size, messagesIn, droppedOut: 0, published: 0, publishFailed: 0, gcMs: gc.totalMs, gcMaxPauseMs: gc.takeMaxPause() });
  } else {
    const server = new BroadcastServer();
    // The store's defaults are the product's defaults: capture on as a user would run it.
    // LOAD_CAPTURE_STORE (JSON EventStoreOptions) is for investigation only, e.g. '{"maxEvents":1000}'.
    const storeOptions = process.env.LOAD_CAPTURE_STORE ? (JSON.parse(process.env.LOAD_CAPTURE_STORE) as EventStoreOptions) : {};
    const capture = variant === 'ours, capture on' ? new EventStore(storeOptions) : undefined;
    setRelay = (r) => server.setRelay(r);
    const a = await server.start({ port: 0, relay: initialRelay, heartbeatIntervalMs: 0, maxClients: 100_000, rateLimit: UNLIMITED, capture });
    port = a.port;
    // The backplane records its traffic into the same store, as the extension does.
    const backplane = redisUrl && channel ? new RedisBackplane(server, { url: redisUrl, channel, capture }) : undefined;
    await backplane?.start();
    status = () => {
      const clients = server.clients();
      let messagesIn = 0;
      let droppedOut = 0;
      for (const c of clients) {
        messagesIn += c.messagesIn;
        droppedOut += c.droppedOut;
      }
      const stats = backplane?.stats;
      return {
        clients: clients.length,
        messagesIn,
        droppedOut,
        published: stats?.published ?? 0,
        publishFailed: stats?.publishFailed ?? 0,
        gcMs: gc.totalMs,
        gcMaxPauseMs: gc.takeMaxPause(),
      };
    };
  }
  process.on('message', (m: ServerRequest) => {
    if (m.cmd === 'exit') process.exit(0);
    if (m.cmd === 'relay') setRelay(m.relay);
    const cpu = process.cpuUsage();
    process.send!({ ...status(), ...takeLoopDelay(), cpuMs: (cpu.user + cpu.system) / 1000 } satisfies ServerStatus);
  });
  process.send!({ port });
}

// ---------------------------------------------------------------------------------------------------------------
// Clients role: the load generator

const UPGRADE =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

/** Every client's reads land here in turn (see LoadClient.connect). */
const READ_BUFFER = Buffer.alloc(256 * 1024);

/** What the receivers of the current step report into; replaced at each step. */
interface Tally {
  stepId: number;
  received: number;
  hist: LatencyHistogram;
  lastArrival: number;
}

let tally: Tally = { stepId: -1, received: 0, hist: new LatencyHistogram(), lastArrival: 0 };

function onFrame(buf: Buffer, payloadAt: number, arrival: number): void {
  if (!isMeasured(buf, payloadAt, tally.stepId)) return;
  tally.received++;
  tally.hist.record(arrival - sentAt(buf, payloadAt));
}

class LoadClient {
  private readonly walker = new FrameWalker(onFrame);
  /** A per-client mask key, as a real client has; the constant part of the payload is masked once. */
  private readonly mask = randomBytes(4);
  private template: Buffer | undefined;
  private templateSize = 0;

  private constructor(readonly socket: net.Socket) {}

  static connect(port: number): Promise<LoadClient> {
    return new Promise((resolve, reject) => {
      let head = Buffer.alloc(0);
      let client: LoadClient | undefined;
      // Reads land in one shared buffer (no allocation and no 'data' event per read): the walker copies only a
      // header split across reads, so nothing keeps a reference to it.
      const onRead = (n: number, buf: Uint8Array): boolean => {
        const now = performance.now();
        const chunk = Buffer.from(buf.buffer, buf.byteOffset, n);
        if (client) {
          tally.lastArrival = now;
          client.walker.feed(chunk, now);
          return true;
        }
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return true;
        s.removeListener('error', reject);
        s.on('error', () => {});
        if (!head.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) {
          s.destroy();
          reject(new Error(`upgrade refused: ${head.subarray(0, end).toString('latin1').split('\r\n')[0]}`));
          return false;
        }
        client = new LoadClient(s);
        if (head.length > end + 4) client.walker.feed(head.subarray(end + 4), now);
        resolve(client);
        return true;
      };
      const s = net.connect({ port, host: '127.0.0.1', noDelay: true, onread: { buffer: READ_BUFFER, callback: onRead } });
      s.on('error', reject);
      s.on('connect', () => s.write(UPGRADE));
    });
  }

  send(size: number, stepId: number, measured: boolean): void {
    if (!this.template || this.templateSize !== size) {
      this.template = encodeFrame({ opcode: 0x2, payload: Buffer.alloc(size, 0x61), maskKey: this.mask });
      this.templateSize = size;
    }
    // A fresh buffer per write: the socket may still hold the previous one.
    const frame = Buffer.from(this.template);
    writeStamp(frame, frame.length - size, { sentAt: performance.now(), measured, stepId }, this.mask);
    this.socket.write(frame);
  }
}

async function pool<T>(n: number, parallel: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await fn(i);
      }
    }),
  );
  return out;
}


async function runStep(clients: LoadClient[], req: StepRequest, gc: GcWatch): Promise<StepResult> {
  if (req.senders < 1 || req.senders > clients.length) throw new Error(`senders must be 1..${clients.length}; got ${req.senders}`);
  if (req.messageSize < PAYLOAD_HEAD) throw new Error(`messageSize must be at least ${PAYLOAD_HEAD}`);
  tally = { stepId: req.stepId, received: 0, hist: new LatencyHistogram(), lastArrival: performance.now() };
  const lag = new LatencyHistogram();
  const measureFrom = req.warmupMs;
  const measureTo = req.warmupMs + req.measureMs;
  const sendTo = measureTo + req.tailMs;
  const intervalMs = 1000 / req.rate;
  const total = Math.floor(sendTo / intervalMs);
  let sent = 0;
  let sentMeasured = 0;
  const c0 = process.cpuUsage();
  gc.takeMaxPause();
  const t0 = performance.now();
  // Message k is due at t0 + k × interval and goes out from sender k mod senders. A 1 ms timer sends what is due;
  // after a stall it catches up at once, and the stall shows as send lag.
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      const due = Math.min(total, Math.floor((now - t0) / intervalMs) + 1);
      for (; sent < due; sent++) {
        const at = sent * intervalMs;
        const measured = at >= measureFrom && at < measureTo;
        if (measured) sentMeasured++;
        clients[sent % req.senders].send(req.messageSize, req.stepId, measured);
        lag.record(now - t0 - at);
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 1);
    };
    tick();
  });
  const expected = sentMeasured * req.deliveriesPerMessage;
  // Bounded waits: first for the measured deliveries, then for the backlog to clear.
  const arrived = () => tally.received >= expected;
  await waitFor('the measured deliveries', arrived, req.drainMs).catch(() => undefined);
  const received = tally.received;
  const hist = tally.hist;
  const generatorCpuMs = process.cpuUsage(c0);
  const elapsed = performance.now() - t0;
  const quiet = () => performance.now() - tally.lastArrival >= req.quietMs;
  await waitFor('no delivery for quietMs', quiet, req.settleMaxMs).catch(() => undefined);
  const settled = performance.now() - tally.lastArrival >= req.quietMs;
  const lost = Math.max(0, expected - received);
  return {
    sentTotal: sent,
    sent: sentMeasured,
    expected,
    received,
    p50: hist.percentile(0.5, lost),
    p90: hist.percentile(0.9, lost),
    p99: hist.percentile(0.99, lost),
    max: lost > 0 ? Infinity : hist.max,
    sendLagP99: lag.percentile(0.99, 0),
    generatorCpu: (generatorCpuMs.user + generatorCpuMs.system) / 1000 / elapsed,
    generatorGcMaxPauseMs: gc.takeMaxPause(),
    deliveriesPerSecond: (received / req.measureMs) * 1000,
    settled,
  };
}

function clientsRole(): void {
  const gc = new GcWatch();
  const groups = new Map<string, LoadClient[]>();
  const group = (name: string) => {
    const g = groups.get(name);
    if (!g) throw new Error(`no clients open in group "${name}"`);
    return g;
  };
  process.on('message', (m: ClientsRequest) => {
    const run = async (): Promise<unknown> => {
      switch (m.cmd) {
        case 'open': {
          // Round-robin over the servers, so the first few clients (the senders) are spread over them too.
          const opened = await pool(m.count, 50, (i) => LoadClient.connect(m.ports[i % m.ports.length]));
          groups.set(m.group, (groups.get(m.group) ?? []).concat(opened));
          return { open: groups.get(m.group)!.length };
        }
        case 'step':
          return runStep(group(m.group), m, gc);
        case 'close':
          for (const c of groups.get(m.group) ?? []) c.socket.destroy();
          groups.delete(m.group);
          return { open: 0 };
        case 'exit':
          for (const g of groups.values()) for (const c of g) c.socket.destroy();
          process.exit(0);
      }
    };
    run().then(
      (r) => process.send!(r ?? {}),
      (err: Error) => process.send!({ error: err.message }),
    );
  });
  process.send!({ ready: true });
}

if (process.argv[2] === 'server') {
  serverRole(process.argv[3] as LoadServerVariant, process.argv[4] as LoadRelay, process.argv[5], process.argv[6]).catch((err: Error) => {
    process.send!({ error: err.message });
    process.exit(1);
  });
}
else if (process.argv[2] === 'clients') clientsRole();
