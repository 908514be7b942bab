// The seeded fuzz of a WebSocket server over raw TCP, shared by the unit fuzz (test/unit/fuzz) and the suite in the
// real extension host (test/vscode/hostile.test.ts): the case generator, the client that plays one case and checks
// what came back, and a runner that plays cases in parallel batches. A seed gives the same cases in both.

import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { waitFor } from '../support/waitFor';

/** mulberry32: small, fast and good enough to pick cases. */
export function prng(seed: number) {
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
export type Rng = ReturnType<typeof prng>;

export interface FrameSpec {
  fin?: boolean;
  rsv?: number;
  opcode: number;
  mask?: boolean;
  payload?: Buffer;
  /** Declared length when it differs from the payload's (truncation, huge lengths). */
  length?: number | bigint;
}

/** A client frame, masked with a random key unless `mask: false`. */
export function frame(rng: Rng, f: FrameSpec): Buffer {
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

export const closePayload = (code: number, reason: Buffer = Buffer.alloc(0)) => {
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

/**
 * What the server must answer: a close frame with this code, an HTTP status before any upgrade, a connection just
 * ended (no close frame), or a clean close handshake. `error`: the WS_ERR_* codes a capture may record for the
 * violation (the decoder names whichever rule it checks first); it must record one of them.
 */
export type Expect =
  /** `captured`: the status the capture records for the violation, when it differs from the close ws sends. */
  | { close: number; error: readonly string[]; captured?: number }
  | { status: number; error?: readonly string[] }
  | { abort: true }
  | { clean: 1000 };

export interface Case {
  kind: string;
  /** Bytes after a valid upgrade (frame cases) or the whole request (http cases). */
  bytes: Buffer;
  http: boolean;
  expect: Expect;
  /** End our side after writing (truncated frames). */
  end?: boolean;
}

export interface FuzzOptions {
  /** The server's maxPayload: the cases over it expect 1009. */
  maxPayload: number;
}

export const UPGRADE =
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

type Generator = (rng: Rng, o: FuzzOptions) => Omit<Case, 'http'> & { http?: boolean };

const GENERATORS: Generator[] = [
  (rng) => ({
    kind: 'rsv bits',
    bytes: frame(rng, { opcode: rng.pick([1, 2]), rsv: rng.int(1, 7), payload: rng.bytes(rng.int(0, 200)) }),
    // RSV1 without permessage-deflate, or RSV2/RSV3: whichever the decoder checks first.
    expect: { close: 1002, error: ['WS_ERR_UNEXPECTED_RSV_1', 'WS_ERR_UNEXPECTED_RSV_2_3'] },
  }),
  (rng) => ({
    kind: 'reserved opcode',
    bytes: frame(rng, { opcode: rng.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), payload: rng.bytes(rng.int(0, 50)) }),
    expect: { close: 1002, error: ['WS_ERR_INVALID_OPCODE'] },
  }),
  (rng) => ({
    kind: 'unmasked frame',
    bytes: frame(rng, { opcode: rng.pick([1, 2, 8, 9, 10]), mask: false, payload: Buffer.from('hi') }),
    expect: { close: 1002, error: ['WS_ERR_EXPECTED_MASK'] },
  }),
  (rng) => ({
    kind: 'control frame > 125 bytes',
    bytes: frame(rng, { opcode: rng.pick([8, 9, 10]), payload: rng.bytes(rng.int(126, 400)) }),
    expect: { close: 1002, error: ['WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH'] },
  }),
  (rng) => ({
    kind: 'fragmented control frame',
    bytes: frame(rng, { opcode: rng.pick([8, 9, 10]), fin: false, payload: rng.bytes(rng.int(0, 20)) }),
    expect: { close: 1002, error: ['WS_ERR_EXPECTED_FIN'] },
  }),
  (rng) => {
    const bad = rng.pick(INVALID_UTF8);
    const text = Buffer.concat([Buffer.from('ok '.repeat(rng.int(0, 5))), bad]);
    const expect = { close: 1007, error: ['WS_ERR_INVALID_UTF8'] };
    if (rng.next() < 0.5) return { kind: 'invalid UTF-8', bytes: frame(rng, { opcode: 1, payload: text }), expect };
    // Split across fragments, so the bad bytes straddle (or follow) a fragment boundary.
    const cut = rng.int(0, text.length);
    return {
      kind: 'invalid UTF-8, fragmented',
      bytes: Buffer.concat([
        frame(rng, { opcode: 1, fin: false, payload: text.subarray(0, cut) }),
        frame(rng, { opcode: 0, payload: text.subarray(cut) }),
      ]),
      expect,
    };
  },
  (rng) => ({
    kind: 'invalid close code',
    bytes: frame(rng, { opcode: 8, payload: closePayload(rng.pick([0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535])) }),
    expect: { close: 1002, error: ['WS_ERR_INVALID_CLOSE_CODE'] },
  }),
  (rng) => ({
    kind: 'close reason not UTF-8',
    bytes: frame(rng, { opcode: 8, payload: closePayload(1000, rng.pick(INVALID_UTF8)) }),
    expect: { close: 1007, error: ['WS_ERR_INVALID_UTF8'] },
  }),
  (rng) => ({
    kind: 'close payload of 1 byte',
    bytes: frame(rng, { opcode: 8, payload: rng.bytes(1) }),
    expect: { close: 1002, error: ['WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH'] },
  }),
  (rng) => ({
    kind: 'continuation without start',
    bytes: frame(rng, { opcode: 0, payload: rng.bytes(rng.int(0, 30)) }),
    expect: { close: 1002, error: ['WS_ERR_INVALID_OPCODE'] },
  }),
  (rng) => ({
    kind: 'new message inside a fragmented one',
    bytes: Buffer.concat([
      frame(rng, { opcode: rng.pick([1, 2]), fin: false, payload: Buffer.from('a') }),
      frame(rng, { opcode: rng.pick([1, 2]), payload: Buffer.from('b') }),
    ]),
    expect: { close: 1002, error: ['WS_ERR_INVALID_OPCODE'] },
  }),
  (rng, o) => ({
    kind: 'over maxPayload',
    // ws refuses on the declared length, before the payload arrives.
    bytes: frame(rng, { opcode: rng.pick([1, 2]), length: rng.pick([o.maxPayload + 1, 10 * o.maxPayload, 2 ** 40]), payload: rng.bytes(10) }),
    expect: { close: 1009, error: ['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH'] },
  }),
  (rng, o) => ({
    kind: 'fragments over maxPayload',
    bytes: Buffer.concat([
      frame(rng, { opcode: 2, fin: false, payload: Buffer.alloc(o.maxPayload - 10) }),
      frame(rng, { opcode: 0, payload: Buffer.alloc(20) }),
    ]),
    expect: { close: 1009, error: ['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'] },
  }),
  (rng) => ({
    kind: '64-bit length with the top bit set',
    bytes: frame(rng, { opcode: 2, length: 2n ** 63n + 5n }),
    // RFC 6455 §5.2: a protocol error, which the capture records as 1002; ws closes with 1009.
    expect: { close: 1009, captured: 1002, error: ['WS_ERR_INVALID_PAYLOAD_LENGTH_MSB'] },
  }),
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
    // The capture's own head parser gives up at the same size, before any handshake is recorded.
    expect: { status: 431, error: ['WS_ERR_HANDSHAKE_TOO_LARGE'] },
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

/** How many case kinds there are: one label per generator, two for invalid UTF-8 (whole and fragmented). */
export const KIND_COUNT = GENERATORS.length + 1;

export function makeCase(rng: Rng, o: FuzzOptions): Case {
  const c = rng.pick(GENERATORS)(rng, o);
  const http = c.http ?? false;
  const bytes = http || 'abort' in c.expect ? c.bytes : Buffer.concat([...validPrefix(rng), c.bytes]);
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

/**
 * Plays one case over a raw TCP connection to `127.0.0.1:port` and checks what the client got: the HTTP status,
 * the code of the server's last (close) frame, or no close frame for an aborted connection. Resolves with the
 * connection's local port, by which the caller finds the server's side of it.
 */
export async function runCase(port: number, rng: Rng, c: Case): Promise<number> {
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
      const got = () => `an upgrade response; got ${JSON.stringify(buf.toString('latin1', 0, 80))}`;
      await waitFor(got, () => {
        if (buf.includes('\r\n\r\n')) return true;
        if (socket.destroyed) throw new Error(`no ${got()}`);
        return false;
      }, 5000);
      assert.match(buf.toString('latin1', 0, 12), /^HTTP\/1\.1 101/);
    }
    const headLen = c.http ? 0 : buf.indexOf('\r\n\r\n') + 4;
    for (const part of chunks(rng, c.bytes)) socket.write(part);
    if (c.end) socket.end();
    if ('clean' in c.expect) {
      // The server echoes the close; the client is the one to end TCP after that.
      await waitFor('the server to echo the close', () => serverFrames(buf.subarray(headLen)).at(-1)?.opcode === 8, 5000);
      socket.end();
    }
    const t = setTimeout(() => socket.destroy(new Error(`server never closed the connection; it sent ${buf.subarray(0, 64).toString('hex')}`)), 5000);
    await closed;
    clearTimeout(t);
    const out = buf.subarray(headLen);
    if ('status' in c.expect) {
      assert.equal(out.toString('latin1', 0, 12), `HTTP/1.1 ${c.expect.status}`);
      return localPort;
    }
    const last = serverFrames(out).at(-1);
    if ('abort' in c.expect) {
      assert.notEqual(last?.opcode, 8, 'no close frame for a connection that just ended');
      return localPort;
    }
    const want = 'close' in c.expect ? c.expect.close : c.expect.clean;
    assert.equal(last?.opcode, 8, 'the last frame is a close frame');
    assert.equal(last.payload.readUInt16BE(0), want);
    return localPort;
  } finally {
    socket.destroy();
  }
}

export interface FuzzRunnerOptions extends FuzzOptions {
  seed: number;
  /** The server under test, on 127.0.0.1. */
  port: number;
  /**
   * Called just before each case connects; what it returns is handed to `serverSide` (a capture store's last id,
   * so the check looks only at what came after).
   */
  mark?: () => number;
  /** Checks the server's side of a finished case (its disconnect event, its capture). */
  serverSide?: (c: Case, localPort: number, mark: number) => Promise<void>;
}

/**
 * Plays seeded cases in parallel batches. Each case gets its own random stream, forked in order from the seed's, so
 * a seed gives the same cases whatever the batch sizes and however the parallel cases interleave.
 */
export class FuzzRunner {
  private readonly rng: Rng;
  /** Cases played so far. */
  done = 0;
  /** How often each kind ran. */
  readonly kinds = new Map<string, number>();
  /** The first case that failed, to replay it. */
  failed: string | undefined;

  constructor(private readonly o: FuzzRunnerOptions) {
    this.rng = prng(o.seed);
  }

  /** Plays `n` more cases, `parallel` at a time. */
  async run(n: number, parallel: number): Promise<void> {
    for (let left = n; left > 0; ) {
      const size = Math.min(parallel, left);
      left -= size;
      const batch = Array.from({ length: size }, () => {
        const c = makeCase(this.rng, this.o);
        this.kinds.set(c.kind, (this.kinds.get(c.kind) ?? 0) + 1);
        return { c, r: prng(this.rng.int(0, 2 ** 31)), no: ++this.done };
      });
      await Promise.all(
        batch.map(async ({ c, r, no }) => {
          try {
            const mark = this.o.mark?.() ?? 0;
            const localPort = await runCase(this.o.port, r, c);
            await this.o.serverSide?.(c, localPort, mark);
          } catch (err) {
            this.failed ??= `case ${no} "${c.kind}" (${c.bytes.subarray(0, 48).toString('hex')}…)`;
            throw err;
          }
        }),
      );
    }
  }
}
