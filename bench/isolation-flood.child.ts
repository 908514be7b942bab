// The flooders of bench/isolation.bench.ts, in a process of their own: raw WebSocket clients (a real handshake, then
// pre-framed masked 1 KiB binary messages) that write as fast as the socket takes, and read and discard what the
// server broadcasts to them. Requests over IPC: `{ start: { port, flooders } }` replies once every flooder is
// upgraded and writing; `stop` replies with the messages written; `exit`.

import * as net from 'node:net';
import { rawClient } from './rawClient';

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
  sockets = await Promise.all(Array.from({ length: flooders }, () => rawClient(port, () => {})));
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
