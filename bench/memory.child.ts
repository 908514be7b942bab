// Child processes for bench/memory.bench.ts, one role per process (argv[2]):
// - `server <variant> [maxEvents]`: runs one server variant alone in a fresh process, so its RSS is its own, and reports
//   its memory (after two full GCs) on request;
// - `clients`: opens, holds, closes and churns raw WebSocket clients (a real handshake, then nothing), so the
//   10,000 client fds are not in the server's process.

import * as net from 'node:net';
import { EventStore } from '../src/core/capture/eventStore';
import { BroadcastServer } from '../src/core/server/broadcastServer';
import { startPlainWsBroadcast } from './plainWs';

export type ServerVariant = 'ours, capture off' | 'ours, capture on' | 'plain ws';

export type ServerRequest = { cmd: 'measure' } | { cmd: 'exit' };
export interface MemorySample {
  rss: number;
  heapUsed: number;
  /** Buffers and other memory outside the JS heap that V8 knows of. */
  external: number;
  clients: number;
}

export type ClientsRequest =
  | { cmd: 'open'; port: number; count: number }
  | { cmd: 'close' }
  | { cmd: 'churn'; port: number; cycles: number; parallel: number }
  | { cmd: 'exit' };

const UPGRADE =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
/** A masked close frame, code 1000, mask key 0. */
const CLOSE = Buffer.from('888200000000' + '03e8', 'hex');

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

async function serverRole(variant: ServerVariant, maxEvents: number): Promise<void> {
  let port: number;
  let count: () => number;
  if (variant === 'plain ws') {
    const plain = await startPlainWsBroadcast();
    port = plain.port;
    count = () => plain.wss.clients.size;
  } else {
    const server = new BroadcastServer();
    const capture = variant === 'ours, capture on' ? new EventStore({ maxEvents, maxBytes: 64 * 1024 * 1024 }) : undefined;
    const a = await server.start({ port: 0, maxClients: 20_000, capture });
    port = a.port;
    count = () => server.clients().length;
  }
  process.on('message', (m: ServerRequest) => {
    if (m.cmd === 'exit') process.exit(0);
    gc();
    gc();
    const u = process.memoryUsage();
    process.send!({ rss: u.rss, heapUsed: u.heapUsed, external: u.external, clients: count() } satisfies MemorySample);
  });
  process.send!({ port });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let head = '';
    s.on('error', reject);
    s.on('connect', () => s.write(UPGRADE));
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.removeListener('data', onData);
      s.removeListener('error', reject);
      s.on('error', () => {});
      s.on('data', () => {}); // pings and broadcasts are read and dropped
      if (!head.startsWith('HTTP/1.1 101')) reject(new Error(head.split('\r\n')[0]));
      else resolve(s);
    };
    s.on('data', onData);
  });
}

/** Closes with a close frame and waits until the server has ended the connection. */
function closeClean(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) return resolve();
    s.once('close', () => resolve());
    s.end(CLOSE);
    setTimeout(() => s.destroy(), 5000).unref();
  });
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

function clientsRole(): void {
  let held: net.Socket[] = [];
  process.on('message', (m: ClientsRequest) => {
    const run = async (): Promise<unknown> => {
      switch (m.cmd) {
        case 'open':
          held = held.concat(await pool(m.count, 100, () => connect(m.port)));
          return { open: held.length };
        case 'close': {
          const all = held;
          held = [];
          await pool(all.length, 200, (i) => closeClean(all[i]));
          return { open: 0 };
        }
        case 'churn':
          await pool(m.cycles, m.parallel, async () => closeClean(await connect(m.port)));
          return { cycles: m.cycles };
        case 'exit':
          for (const s of held) s.destroy();
          process.exit(0);
      }
    };
    run().then(
      (r) => process.send!(r),
      (err: Error) => process.send!({ error: err.message }),
    );
  });
  process.send!({ ready: true });
}

if (process.argv[2] === 'server') void serverRole(process.argv[3] as ServerVariant, Number(process.argv[4]) || 100_000);
else if (process.argv[2] === 'clients') clientsRole();
