// Seeded fuzz of the broadcast server over raw TCP: hostile frames and handshakes, each answered with the RFC close
// code or HTTP status ws gives, while three well-behaved clients keep receiving broadcasts.
// FUZZ_SEED=<n> replays a run; FUZZ_CASES=<n> changes its length (default 3000).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { once } from 'node:events';
import { WebSocket } from 'ws';
import { BroadcastServer, type DisconnectEvent } from '../../../src/core/server/broadcastServer';

const CASES = Number(process.env.FUZZ_CASES) || 3000;
const SEED = Number(process.env.FUZZ_SEED) || 0x5eed_2026;
const PARALLEL = 12;
const CHECK_EVERY = 60;
const MAX_PAYLOAD = 64 * 1024;

/** mulberry32: small, fast and good enough to pick cases. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[int(0, xs.length - 1)];
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => int(0, 255)));
  return { next, int, pick, bytes };
}
type Rng = ReturnType<typeof prng>;

interface FrameSpec {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  mask?: boolean;
  payload?: Buffer;
  /** Declared length when it differs from the payload's (truncation, huge lengths). */
  length?: number | bigint;
}

/** A client frame, masked with a random key unless `mask: false`. */
function frame(rng: Rng, f: FrameSpec): Buffer {
  const payload = f.payload ?? Buffer.alloc(0);
  const len = f.length ?? payload.length;
  const mask = f.mask !== false;
  const b0 = (f.fin === false ? 0 : 0x80) | ((f.rsv ?? 0) << 4) | f.opcode;
  let head: Buffer;
  if (typeof len === 'bigint' || len > 0xffff) {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  } else if (len > 125) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(2);
    head[1] = len;
  }
  head[0] = b0;
  if (!mask) return Buffer.concat([head, payload]);
  head[1] |= 0x80;
  const key = rng.bytes(4);
  const masked = Buffer.from(payload);
  for (let i = 0; i < masked.length; i++) masked[i] ^= key[i & 3];
  return Buffer.concat([head, key, masked]);
}

const closePayload = (code: number, reason: Buffer = Buffer.alloc(0)) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, reason]);
};

const INVALID_UTF8 = [
  Buffer.from([0x80]), // lone continuation
  Buffer.from([0xc0, 0x80]), // overlong NUL
  Buffer.from([0xed, 0xa0, 0x80]), // UTF-16 surrogate
  Buffer.from([0xf5, 0x80, 0x80, 0x80]), // beyond U+10FFFF
  Buffer.from([0xe2, 0x82]), // truncated sequence at the end
  Buffer.from([0xff]),
];

type Expect = { close: number } | { status: number } | { abort: true } | { clean: 1000 };

interface Case {
  kind: string;
  /** Bytes after a valid upgrade (frame cases) or the whole request (http cases). */
  bytes: Buffer;
  http: boolean;
  expect: Expect;
  /** End our side after writing (truncated frames). */
  end?: boolean;
}

const UPGRADE =
  'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

function request(headers: Record<string, string>, method = 'GET'): string {
  const h: Record<string, string> = {
    Host: '127.0.0.1',
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version': '13',
    ...headers,
  };
  return `${method} / HTTP/1.1\r\n${Object.entries(h).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** Valid traffic that may precede the violation: masked text, binary, ping. */
function validPrefix(rng: Rng): Buffer[] {
  return Array.from({ length: rng.int(0, 2) }, () => {
    const op = rng.pick([1, 2, 9]);
    const payload = op === 1 ? Buffer.from(`fuzz ${rng.int(0, 1e6)}`) : rng.bytes(rng.int(0, op === 9 ? 125 : 300));
    return frame(rng, { opcode: op, payload });
  });
}

const GENERATORS: Array<(rng: Rng) => Omit<Case, 'http'> & { http?: boolean }> = [
  (rng) => ({
    kind: 'rsv bits',
    bytes: frame(rng, { opcode: rng.pick([1, 2]), rsv: rng.int(1, 7), payload: rng.bytes(rng.int(0, 200)) }),
    expect: { close: 1002 },
  }),
  (rng) => ({
    kind: 'reserved opcode',
    bytes: frame(rng, { opcode: rng.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), payload: rng.bytes(rng.int(0, 50)) }),
    expect: { close: 1002 },
  }),
  (rng) => ({
    kind: 'unmasked frame',
    bytes: frame(rng, { opcode: rng.pick([1, 2, 8, 9, 10]), mask: false, payload: Buffer.from('hi') }),
    expect: { close: 1002 },
  }),
  (rng) => ({
    kind: 'control frame > 125 bytes',
    bytes: frame(rng, { opcode: rng.pick([8, 9, 10]), payload: rng.bytes(rng.int(126, 400)) }),
    expect: { close: 1002 },
  }),
  (rng) => ({
    kind: 'fragmented control frame',
    bytes: frame(rng, { opcode: rng.pick([8, 9, 10]), fin: false, payload: rng.bytes(rng.int(0, 20)) }),
    expect: { close: 1002 },
  }),
  (rng) => {
    const bad = rng.pick(INVALID_UTF8);
    const text = Buffer.concat([Buffer.from('ok '.repeat(rng.int(0, 5))), bad]);
    if (rng.next() < 0.5) return { kind: 'invalid UTF-8', bytes: frame(rng, { opcode: 1, payload: text }), expect: { close: 1007 } };
    // Split across fragments, so the bad bytes straddle (or follow) a fragment boundary.
    const cut = rng.int(0, text.length);
    return {
      kind: 'invalid UTF-8, fragmented',
      bytes: Buffer.concat([
        frame(rng, { opcode: 1, fin: false, payload: text.subarray(0, cut) }),
        frame(rng, { opcode: 0, payload: text.subarray(cut) }),
      ]),
      expect: { close: 1007 },
    };
  },
  (rng) => ({
    kind: 'invalid close code',
    bytes: frame(rng, { opcode: 8, payload: closePayload(rng.pick([0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535])) }),
    expect: { close: 1002 },
  }),
  (rng) => ({
    kind: 'close reason not UTF-8',
    bytes: frame(rng, { opcode: 8, payload: closePayload(1000, rng.pick(INVALID_UTF8)) }),
    expect: { close: 1007 },
  }),
  (rng) => ({ kind: 'close payload of 1 byte', bytes: frame(rng, { opcode: 8, payload: rng.bytes(1) }), expect: { close: 1002 } }),
  (rng) => ({ kind: 'continuation without start', bytes: frame(rng, { opcode: 0, payload: rng.bytes(rng.int(0, 30)) }), expect: { close: 1002 } }),
  (rng) => ({
    kind: 'new message inside a fragmented one',
    bytes: Buffer.concat([
      frame(rng, { opcode: rng.pick([1, 2]), fin: false, payload: Buffer.from('a') }),
      frame(rng, { opcode: rng.pick([1, 2]), payload: Buffer.from('b') }),
    ]),
    expect: { close: 1002 },
  }),
  (rng) => ({
    kind: 'over maxPayload',
    // ws refuses on the declared length, before the payload arrives.
    bytes: frame(rng, { opcode: rng.pick([1, 2]), length: rng.pick([MAX_PAYLOAD + 1, 10 * MAX_PAYLOAD, 2 ** 40]), payload: rng.bytes(10) }),
    expect: { close: 1009 },
  }),
  (rng) => ({
    kind: 'fragments over maxPayload',
    bytes: Buffer.concat([
      frame(rng, { opcode: 2, fin: false, payload: Buffer.alloc(MAX_PAYLOAD - 10) }),
      frame(rng, { opcode: 0, payload: Buffer.alloc(20) }),
    ]),
    expect: { close: 1009 },
  }),
  (rng) => ({ kind: '64-bit length with the top bit set', bytes: frame(rng, { opcode: 2, length: 2n ** 63n + 5n }), expect: { close: 1009 } }),
  (rng) => {
    const full = frame(rng, { opcode: rng.pick([1, 2]), payload: Buffer.from('x'.repeat(rng.int(10, 3000))) });
    return { kind: 'truncated frame, then FIN', bytes: full.subarray(0, rng.int(1, full.length - 1)), expect: { abort: true }, end: true };
  },
  (rng) => ({ kind: 'clean close', bytes: frame(rng, { opcode: 8, payload: closePayload(1000, Buffer.from('bye')) }), expect: { clean: 1000 } }),
  // Before and instead of the handshake.
  (rng) => {
    // Not CR or LF first: HTTP parsers rightly skip empty lines before a request.
    const junk = Buffer.concat([Buffer.from([rng.pick([0x00, 0x01, 0x16, 0x7f, 0x80, 0xff, 0x20])]), rng.bytes(rng.int(0, 200))]);
    return { kind: 'garbage before the handshake', http: true, bytes: Buffer.concat([junk, Buffer.from(UPGRADE)]), expect: { status: 400 } };
  },
  (rng) => ({
    kind: 'oversized headers',
    http: true,
    bytes: Buffer.from(request({ 'X-Pad': 'p'.repeat(rng.int(17 * 1024, 40 * 1024)) })),
    expect: { status: 431 },
  }),
  (rng) => ({
    kind: 'wrong Sec-WebSocket-Version',
    http: true,
    bytes: Buffer.from(request({ 'Sec-WebSocket-Version': rng.pick(['0', '7', '12', '14', '255', 'abc', '13x']) })),
    expect: { status: 400 },
  }),
  (rng) => ({
    kind: 'bad Sec-WebSocket-Key',
    http: true,
    bytes: Buffer.from(request({ 'Sec-WebSocket-Key': rng.pick(['short', 'not base64 at all!!', 'AAAAAAAAAAAAAAAAAAAAAA']) })),
    expect: { status: 400 },
  }),
  (rng) => ({ kind: 'upgrade with POST', http: true, bytes: Buffer.from(request({}, rng.pick(['POST', 'PUT']))), expect: { status: 405 } }),
  (rng) => ({
    kind: 'plain HTTP, no upgrade',
    http: true,
    bytes: Buffer.from(`${rng.pick(['GET', 'HEAD', 'POST'])} /${rng.int(0, 99)} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`),
    expect: { status: 426 },
  }),
  (rng) => ({ kind: 'Upgrade is not websocket', http: true, bytes: Buffer.from(request({ Upgrade: rng.pick(['h2c', 'websockets', 'TLS/1.0']) })), expect: { status: 400 } }),
];

function makeCase(rng: Rng): Case {
  const c = rng.pick(GENERATORS)(rng);
  const http = c.http ?? false;
  const bytes = http || c.expect && 'abort' in c.expect ? c.bytes : Buffer.concat([...validPrefix(rng), c.bytes]);
  return { ...c, http, bytes };
}

/** Splits the bytes into random chunks, so the server parses every possible boundary over the run. */
function chunks(rng: Rng, b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  while (i < b.length) {
    const n = rng.next() < 0.3 ? rng.int(1, 8) : rng.int(1, b.length);
    out.push(b.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** The frames the server sent (unmasked, as servers send), parsed just enough to find the last one. */
function serverFrames(b: Buffer): Array<{ opcode: number; payload: Buffer }> {
  const out: Array<{ opcode: number; payload: Buffer }> = [];
  let i = 0;
  while (i + 2 <= b.length) {
    let len = b[i + 1] & 0x7f;
    let p = i + 2;
    if (len === 126) {
      len = b.readUInt16BE(p);
      p += 2;
    } else if (len === 127) {
      len = Number(b.readBigUInt64BE(p));
      p += 8;
    }
    if (p + len > b.length) throw new Error(`truncated server frame at ${i}`);
    out.push({ opcode: b[i] & 0x0f, payload: b.subarray(p, p + len) });
    i = p + len;
  }
  return out;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function runCase(port: number, rng: Rng, c: Case, codeByPort: Map<number, DisconnectEvent>): Promise<void> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
  const closed = once(socket, 'close');
  try {
    await once(socket, 'connect');
    const localPort = socket.localPort!;
    if (!c.http) {
      socket.write(UPGRADE);
      while (!buf.includes('\r\n\r\n')) await sleep(1);
      assert.match(buf.toString('latin1', 0, 12), /^HTTP\/1\.1 101/);
    }
    const headLen = c.http ? 0 : buf.indexOf('\r\n\r\n') + 4;
    for (const part of chunks(rng, c.bytes)) socket.write(part);
    if (c.end) socket.end();
    if ('clean' in c.expect) {
      // The server echoes the close; the client is the one to end TCP after that.
      while (serverFrames(buf.subarray(headLen)).at(-1)?.opcode !== 8) await sleep(1);
      socket.end();
    }
    const t = setTimeout(() => socket.destroy(new Error(`server never closed the connection; it sent ${buf.subarray(0, 64).toString('hex')}`)), 5000);
    await closed;
    clearTimeout(t);
    const out = buf.subarray(headLen);
    if ('status' in c.expect) {
      assert.equal(out.toString('latin1', 0, 12), `HTTP/1.1 ${c.expect.status}`);
      return;
    }
    const last = serverFrames(out).at(-1);
    // The server side must agree: the disconnect event carries the same code.
    const end = Date.now() + 2000;
    while (!codeByPort.has(localPort) && Date.now() < end) await sleep(2);
    const gone = codeByPort.get(localPort);
    codeByPort.delete(localPort);
    assert.ok(gone, 'no disconnect event for this connection');
    if ('abort' in c.expect) {
      assert.notEqual(last?.opcode, 8, 'no close frame for a connection that just ended');
      assert.equal(gone.code, 1006);
      return;
    }
    const want = 'close' in c.expect ? c.expect.close : c.expect.clean;
    assert.equal(last?.opcode, 8, 'the last frame is a close frame');
    assert.equal(last.payload.readUInt16BE(0), want);
    assert.equal(gone.code, want);
    assert.equal(gone.clean, 'clean' in c.expect);
  } finally {
    socket.destroy();
  }
}

test(`fuzz: ${CASES} seeded hostile sequences over raw TCP; 3 clients keep receiving`, { timeout: 60_000 }, async () => {
  console.log(`# serverFuzz seed=${SEED} cases=${CASES} (replay with FUZZ_SEED=${SEED})`);
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  const server = new BroadcastServer();
  // Capture on, so the capture's own decoder sees every hostile byte too (the sink only counts).
  let captured = 0;
  const capture = { append: () => ++captured };
  const address = await server.start({
    port: 0,
    heartbeatIntervalMs: 0,
    maxPayload: MAX_PAYLOAD,
    rateLimit: { messagesPerSecond: 1e6, burst: 1e6, action: 'drop' },
    capture,
  });
  const codeByPort = new Map<number, DisconnectEvent>();
  server.onDidDisconnect((e) => codeByPort.set(e.client.remotePort, e));
  const good: Array<{ ws: WebSocket; ticks: string[] }> = [];
  let failed: string | undefined;
  let caseNo = 0;
  try {
    for (let i = 0; i < 3; i++) {
      const ws = new WebSocket(address.url);
      const entry = { ws, ticks: [] as string[] };
      ws.on('message', (d: Buffer) => {
        const s = d.toString();
        if (s.startsWith('tick ')) entry.ticks.push(s);
      });
      ws.on('error', () => {});
      await once(ws, 'open');
      good.push(entry);
    }
    let tick = 0;
    const checkBroadcasts = async () => {
      const msg = `tick ${++tick}`;
      good[tick % 3].ws.send(msg);
      const end = Date.now() + 3000;
      while (!good.every((g) => g.ticks.at(-1) === msg)) {
        if (Date.now() > end) throw new Error(`well-behaved clients missed ${msg}: ${good.map((g) => g.ticks.at(-1)).join(', ')}`);
        await sleep(2);
      }
      for (const g of good) assert.equal(g.ws.readyState, WebSocket.OPEN);
    };

    const rng = prng(SEED);
    const kinds = new Map<string, number>();
    const runBatch = async (n: number) => {
      const batch = Array.from({ length: n }, () => {
        const c = makeCase(rng);
        kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
        // Each case gets its own stream, so parallel cases stay deterministic for a seed.
        return { c, r: prng(rng.int(0, 2 ** 31)) };
      });
      await Promise.all(
        batch.map(async ({ c, r }) => {
          const no = ++caseNo;
          try {
            await runCase(address.port, r, c, codeByPort);
          } catch (err) {
            failed ??= `case ${no} "${c.kind}" (${c.bytes.subarray(0, 48).toString('hex')}…)`;
            throw err;
          }
        }),
      );
    };

    // Warm up (JIT, pools), then take the baseline.
    await runBatch(PARALLEL * 4);
    await checkBroadcasts();
    gc();
    gc();
    const baseline = process.memoryUsage().heapUsed;

    let done = PARALLEL * 4;
    let sinceCheck = 0;
    while (done < CASES) {
      const n = Math.min(PARALLEL, CASES - done);
      await runBatch(n);
      done += n;
      sinceCheck += n;
      if (sinceCheck >= CHECK_EVERY) {
        sinceCheck = 0;
        await checkBroadcasts();
      }
    }
    await checkBroadcasts();

    // Nothing is left behind: no stray clients, sockets or pending upgrades, and the heap is back near its baseline.
    assert.equal(server.clients().length, 3);
    const internals = server as unknown as { sockets: Map<unknown, unknown>; pendingUpgrades: number };
    assert.equal(internals.sockets.size, 3);
    assert.equal(internals.pendingUpgrades, 0);
    await sleep(50);
    gc();
    gc();
    const after = process.memoryUsage().heapUsed;
    const grew = after - baseline;
    console.log(`# serverFuzz heapUsed baseline ${(baseline / 1e6).toFixed(1)} MB, after ${(after / 1e6).toFixed(1)} MB; kinds ${kinds.size}`);
    assert.ok(captured > CASES, `the capture saw the traffic (${captured} events)`);
    assert.ok(grew < 4 * 1024 * 1024, `heap grew by ${(grew / 1e6).toFixed(1)} MB over ${CASES} cases`);
    assert.equal(kinds.size, GENERATORS.length + 1, 'every kind of case ran'); // UTF-8 has two labels
  } catch (err) {
    console.log(`# serverFuzz FAILED with seed=${SEED}: ${failed ?? `after case ${caseNo}`}`);
    throw err;
  } finally {
    for (const g of good) g.ws.terminate();
    await server.stop();
  }
});
