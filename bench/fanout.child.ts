// Load generator for bench/fanout.bench.ts, in its own process so it does not share a server's event loop.
// It connects to every server of the run at once and loads them in turn, in short slices, so that the servers are
// compared over the same seconds: on this shared machine the CPU time a process gets drifts by ±20% over seconds.
// To each server, one ws client sends 1 KiB binary messages; it and the other clients (raw sockets that did a real
// WebSocket handshake and only count bytes, so the generator stays cheaper than the server) receive every broadcast.

import * as net from 'node:net';
import { WebSocket } from 'ws';
import { sleep, waitFor } from '../test/support/waitFor';
import { rawClient } from './rawClient';

export interface RunRequest {
  /** One server per port; each is loaded in its own slices. */
  ports: number[];
  /** Clients per server, the sender included. */
  clients: number;
  messageSize: number;
  /** Slices per server. Slice k loads the servers in turn, starting with server k mod ports.length. */
  slices: number;
  /** Load before a slice's measurement starts. */
  warmupMs: number;
  /** A slice's measured time. */
  sliceMs: number;
  /** Messages in flight, counted by the deliveries still due. */
  window: number;
}

export interface RunResult {
  /** Per server: deliveries counted in its measured time, and that time. */
  deliveries: number[];
  ms: number[];
  /** Per server: every delivery of the run, warm-ups included: what the server's CPU time of the run paid for. */
  totalDeliveries: number[];
}

/** The clients of one server and what they sent and got. */
class Load {
  private rawBytes = 0;
  private senderReceived = 0;
  private sent = 0;
  private active = false;
  private sender: WebSocket | undefined;
  private readonly raws: net.Socket[] = [];
  private readonly frameBytes: number;
  private readonly payload: Buffer;

  constructor(private readonly req: RunRequest) {
    const n = req.messageSize;
    this.frameBytes = n + (n > 125 ? (n > 65535 ? 10 : 4) : 2);
    this.payload = Buffer.alloc(n, 0x61);
  }

  async connect(port: number): Promise<void> {
    const sender = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    this.sender = sender;
    sender.on('error', () => {});
    await new Promise((r, j) => (sender.once('open', r), sender.once('error', j)));
    sender.on('message', () => {
      this.senderReceived++;
      this.pump();
    });
    for (let i = 0; i < this.req.clients - 1; i++) {
      this.raws.push(
        await rawClient(port, (n) => {
          this.rawBytes += n;
          this.pump();
        }),
      );
    }
  }

  get delivered(): number {
    return Math.floor(this.rawBytes / this.frameBytes) + this.senderReceived;
  }

  /** Loads for `warmupMs + sliceMs`, then waits until every message sent has been delivered. */
  async slice(): Promise<{ deliveries: number; ms: number }> {
    this.active = true;
    this.pump();
    await sleep(this.req.warmupMs);
    const d0 = this.delivered;
    const t0 = performance.now();
    await sleep(this.req.sliceMs);
    const d1 = this.delivered;
    const t1 = performance.now();
    this.active = false;
    const due = this.sent * this.req.clients;
    // At most 5 s: the deliveries counted are those of the slice anyway.
    await waitFor('every delivery of the slice', () => this.delivered >= due, 5000).catch(() => undefined);
    return { deliveries: d1 - d0, ms: t1 - t0 };
  }

  close(): void {
    for (const s of this.raws) s.destroy();
    this.sender?.terminate();
  }

  private pump(): void {
    if (!this.active) return;
    const c = this.req.clients;
    // Keep `window` messages in flight: stop when the deliveries still due exceed window × clients.
    while (this.sent * c - this.delivered < this.req.window * c) {
      // Each message its own bytes, as real traffic has (a capture may keep equal payloads once). ws copies the
      // payload as it masks it, so the next write does not change one already sent.
      this.payload.writeUInt32LE(this.sent >>> 0, 0);
      this.sender!.send(this.payload, { binary: true });
      this.sent++;
    }
  }
}

async function run(req: RunRequest): Promise<RunResult> {
  const loads = req.ports.map(() => new Load(req));
  try {
    for (let i = 0; i < loads.length; i++) await loads[i].connect(req.ports[i]);
    const n = loads.length;
    const result: RunResult = { deliveries: new Array(n).fill(0), ms: new Array(n).fill(0), totalDeliveries: [] };
    for (let s = 0; s < req.slices; s++) {
      // Rotate the order so no server always follows the same one.
      for (let k = 0; k < n; k++) {
        const i = (s + k) % n;
        const r = await loads[i].slice();
        result.deliveries[i] += r.deliveries;
        result.ms[i] += r.ms;
      }
    }
    result.totalDeliveries = loads.map((l) => l.delivered);
    return result;
  } finally {
    for (const l of loads) l.close();
    await sleep(100);
  }
}


process.on('message', (msg: RunRequest | 'exit') => {
  if (msg === 'exit') {
    process.disconnect?.();
    return;
  }
  run(msg).then(
    (r) => process.send!(r),
    (err: Error) => process.send!({ error: err.message }),
  );
});
