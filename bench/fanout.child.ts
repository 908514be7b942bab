// Load generator for bench/fanout.bench.ts, in its own process so it does not share the server's event loop.
// One ws client sends 1 KiB binary messages; it and the other clients (raw sockets that did a real WebSocket
// handshake and only count bytes, so the generator stays cheaper than the server) receive every broadcast.

import * as net from 'node:net';
import { WebSocket } from 'ws';

export interface RunRequest {
  port: number;
  /** Total clients, the sender included. */
  clients: number;
  messageSize: number;
  warmupMs: number;
  measureMs: number;
  /** Messages in flight, counted by the deliveries still due. */
  window: number;
}

export interface RunResult {
  deliveries: number;
  ms: number;
  /** Deliveries from the first message to the end, warm-up included: what the server's CPU time of the run paid for. */
  totalDeliveries: number;
}

function rawClient(port: number, onBytes: (n: number) => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let head = Buffer.alloc(0);
    let upgraded = false;
    s.setNoDelay(true);
    s.on('error', reject);
    s.on('connect', () =>
      s.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    s.on('data', (d: Buffer) => {
      if (upgraded) return onBytes(d.length);
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!head.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) return reject(new Error(head.toString()));
      upgraded = true;
      if (head.length > end + 4) onBytes(head.length - end - 4);
      resolve(s);
    });
  });
}

async function run(req: RunRequest): Promise<RunResult> {
  const frameBytes = req.messageSize + (req.messageSize > 125 ? (req.messageSize > 65535 ? 10 : 4) : 2);
  let rawBytes = 0;
  let senderReceived = 0;
  const delivered = () => Math.floor(rawBytes / frameBytes) + senderReceived;

  const sender = new WebSocket(`ws://127.0.0.1:${req.port}/`, { perMessageDeflate: false });
  sender.on('error', () => {});
  await new Promise((r, j) => (sender.once('open', r), sender.once('error', j)));
  const raws: net.Socket[] = [];
  let sent = 0;
  let running = true;
  const payload = Buffer.alloc(req.messageSize, 0x61);
  const pump = () => {
    if (!running) return;
    // Keep `window` messages in flight: stop when the deliveries still due exceed window × clients.
    while (sent * req.clients - delivered() < req.window * req.clients) {
      // Each message its own bytes, as real traffic has (a capture may keep equal payloads once). ws copies the
      // payload as it masks it, so the next write does not change one already sent.
      payload.writeUInt32LE(sent, 0);
      sender.send(payload, { binary: true });
      sent++;
    }
  };
  sender.on('message', () => {
    senderReceived++;
    pump();
  });
  for (let i = 0; i < req.clients - 1; i++) {
    raws.push(
      await rawClient(req.port, (n) => {
        rawBytes += n;
        pump();
      }),
    );
  }
  pump();
  await sleep(req.warmupMs);
  const d0 = delivered();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await sleep(req.measureMs);
  const d1 = delivered();
  const t1 = performance.now();
  const cpu = process.cpuUsage(c0);
  if (process.env.FANOUT_DEBUG) console.error(`child cpu ${((cpu.user + cpu.system) / 1000 / (t1 - t0)).toFixed(2)} of a core`);
  running = false;
  for (const s of raws) s.destroy();
  sender.terminate();
  await sleep(100);
  return { deliveries: d1 - d0, ms: t1 - t0, totalDeliveries: d1 };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
