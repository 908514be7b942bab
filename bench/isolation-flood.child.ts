// The flooders of bench/isolation.bench.ts, in a process of their own: raw WebSocket clients (a real handshake, then
// pre-framed masked 1 KiB binary messages) that write as fast as the socket takes, and read and discard what the
// server broadcasts to them. Requests over IPC: `{ start: { port, flooders } }` replies once every flooder is
// upgraded and writing; `stop` replies with the messages written; `exit`.

import * as net from 'node:net';

export type FloodRequest = { start: { port: number; flooders: number } } | 'stop' | 'exit';

export interface FloodStarted {
  flooders: number;
}

export interface FloodStopped {
  /** Messages handed to the sockets (the kernel took them, or they wait in the socket's buffer). */
  written: number;
  /** CPU time of this process while flooding, in ms. */
  cpuMs: number;
}

const MESSAGE_SIZE = 1024;
const PER_WRITE = 64;

/** 64 masked binary frames of 1 KiB each (mask key 0, so the payload reads as is). */
const CHUNK = (() => {
  const frame = Buffer.alloc(2 + 2 + 4 + MESSAGE_SIZE, 0x61);
  frame[0] = 0x82;
  frame[1] = 0x80 | 126;
  frame.writeUInt16BE(MESSAGE_SIZE, 2);
  frame.writeUInt32BE(0, 4);
  return Buffer.concat(new Array<Buffer>(PER_WRITE).fill(frame));
})();

function upgrade(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let head = Buffer.alloc(0);
    s.setNoDelay(true);
    s.on('error', reject);
    s.on('connect', () =>
      s.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      s.removeListener('data', onData);
      if (!head.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) return reject(new Error(head.toString()));
      s.removeListener('error', reject);
      // A reset at stop is expected; what the server broadcasts is read and discarded.
      s.on('error', () => {});
      s.on('data', () => {});
      resolve(s);
    };
    s.on('data', onData);
  });
}

let sockets: net.Socket[] = [];
let written = 0;
let flooding = false;
let cpu0 = process.cpuUsage();

function pump(s: net.Socket): void {
  while (flooding && !s.destroyed) {
    written += PER_WRITE;
    if (!s.write(CHUNK)) {
      s.once('drain', () => pump(s));
      return;
    }
  }
}

async function start(port: number, flooders: number): Promise<FloodStarted> {
  sockets = await Promise.all(Array.from({ length: flooders }, () => upgrade(port)));
  written = 0;
  flooding = true;
  cpu0 = process.cpuUsage();
  for (const s of sockets) pump(s);
  return { flooders };
}

function stop(): FloodStopped {
  flooding = false;
  for (const s of sockets) s.destroy();
  sockets = [];
  const cpu = process.cpuUsage(cpu0);
  return { written, cpuMs: (cpu.user + cpu.system) / 1000 };
}

if (process.send !== undefined) {
  process.on('message', (req: FloodRequest) => {
    const reply = (p: Promise<unknown>) => p.then((r) => process.send!(r), (err: Error) => process.send!({ error: err.message }));
    if (req === 'exit') process.disconnect();
    else if (req === 'stop') reply(Promise.resolve(stop()));
    else reply(start(req.start.port, req.start.flooders));
  });
}
