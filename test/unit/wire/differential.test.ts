// Differential test: random frame sequences go through ws's Receiver and through our decoder + assembler (+ inflater);
// both must yield the same messages, control frames, close and first error. Replay one case with DIFF_SEED=<seed>.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import type { Direction } from '../../../src/core/wire/types';
import { PassiveInflater, negotiatedDeflate } from '../../../src/core/wire/deflate';
import { encodeClosePayload, encodeFrame } from '../../../src/core/wire/frameEncoder';
import { FrameDecoder } from '../../../src/core/wire/frameDecoder';
import { MessageAssembler } from '../../../src/core/wire/messageAssembler';
import { mulberry32 } from './helpers';
import { WsPmd, wsCompress, wsPmd } from './wsPmd';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Receiver } = require('ws') as { Receiver: new (o: object) => WsReceiver };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { kStatusCode } = require(join(dirname(require.resolve('ws')), 'lib', 'constants.js')) as { kStatusCode: symbol };

interface WsReceiver {
  on(ev: string, fn: (...args: never[]) => void): void;
  write(chunk: Buffer, cb: (err?: Error | null) => void): boolean;
  _errored: boolean;
}

type Entry = string;

const HEADERS = [
  'permessage-deflate',
  'permessage-deflate; client_no_context_takeover',
  'permessage-deflate; server_no_context_takeover',
  'permessage-deflate; client_no_context_takeover; server_no_context_takeover',
  'permessage-deflate; server_max_window_bits=10; client_max_window_bits=9',
];
const CHARS = ['a', 'b', ' ', 'z', '0', 'é', 'ß', '中', '文', '😀', '\n', '"'];
const VIOLATIONS = ['rsv2', 'rsv1', 'opcode', 'mask', 'controlLength', 'controlFin', 'continuation', 'newData', 'closeCode', 'closeLength1', 'utf8', 'closeUtf8', 'inflate'] as const;

interface Case {
  seed: number;
  isServer: boolean;
  header?: string;
  maxPayload: number;
  wire: Buffer;
  chunks: Buffer[];
}

async function buildCase(seed: number): Promise<Case> {
  const rnd = mulberry32(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const isServer = rnd() < 0.5;
  const header = rnd() < 0.45 ? HEADERS[int(HEADERS.length)] : undefined;
  const violation = rnd() < 0.3 ? VIOLATIONS[int(VIOLATIONS.length)] : undefined;
  const maxPayload = violation === undefined && rnd() < 0.15 ? 500 + int(3000) : 0;
  // The sender is the other end: a client (masking) when ws's receiver is a server.
  const sender: WsPmd | undefined = header ? wsPmd(!isServer, header) : undefined;
  const mask = (): Buffer | undefined => {
    if (!isServer) return undefined;
    return rnd() < 0.05 ? Buffer.alloc(4) : Buffer.from([int(256), int(256), int(256), int(256)]);
  };
  const frames: Buffer[] = [];
  const control = () => {
    const payload = Buffer.alloc(int(rnd() < 0.9 ? 20 : 126));
    for (let i = 0; i < payload.length; i++) payload[i] = int(256);
    frames.push(encodeFrame({ opcode: rnd() < 0.5 ? 9 : 10, payload, maskKey: mask() }));
  };
  const nMessages = 1 + int(10);
  const violateAt = violation ? int(nMessages) : -1;
  for (let m = 0; m < nMessages; m++) {
    const binary = rnd() < 0.4;
    const big = rnd() < 0.02;
    const len = big ? 20000 + int(60000) : int(rnd() < 0.5 ? 40 : 2000);
    let data: Buffer;
    if (binary) {
      data = Buffer.alloc(len);
      for (let i = 0; i < len; i++) data[i] = int(256);
    } else {
      let s = '';
      while (s.length < len) s += rnd() < 0.7 ? String.fromCharCode(0x20 + int(90)) : CHARS[int(CHARS.length)];
      data = Buffer.from(s);
    }
    const v = m === violateAt ? violation : undefined;
    if (v === 'utf8' && !binary) data = Buffer.concat([data, Buffer.from([0xc3, 0x28])]);
    let payload = data;
    let rsv1 = false;
    if (sender && rnd() < 0.75) {
      payload = await wsCompress(sender, data);
      rsv1 = true;
    }
    if (v === 'inflate' && sender) {
      payload = Buffer.from([0xff, 0xfe, 0xfd, 0xfc, 0x01]);
      rsv1 = true;
    }
    if (v === 'rsv1' && !sender) rsv1 = true;
    // Fragment at random byte offsets (also through UTF-8 sequences), with control frames in between.
    const nFrag = rnd() < 0.6 ? 1 : 2 + int(4);
    const cuts = [0];
    for (let i = 1; i < nFrag; i++) cuts.push(int(payload.length + 1));
    cuts.push(payload.length);
    cuts.sort((a, b) => a - b);
    for (let f = 0; f < nFrag; f++) {
      const last = f === nFrag - 1;
      if (v === 'newData' && last && nFrag > 1) break; // the next message starts while this one is open
      const opcode = f === 0 ? (binary ? 2 : 1) : 0;
      frames.push(encodeFrame({ opcode, fin: last, rsv1: f === 0 && rsv1, payload: payload.subarray(cuts[f], cuts[f + 1]), maskKey: mask() }));
      if (rnd() < 0.2) control();
    }
    if (v === 'newData' && nFrag === 1) frames.push(encodeFrame({ opcode: 1, fin: false, payload: Buffer.from('x'), maskKey: mask() }));
    if (v === 'rsv2') frames.push(encodeFrame({ opcode: 2, rsv2: true, payload: Buffer.from('r'), maskKey: mask() }));
    if (v === 'opcode') frames.push(encodeFrame({ opcode: [3, 7, 11, 15][int(4)], payload: Buffer.from('o'), maskKey: mask() }));
    if (v === 'mask') frames.push(encodeFrame({ opcode: 2, payload: Buffer.from('m'), maskKey: isServer ? undefined : Buffer.from([1, 2, 3, 4]) }));
    if (v === 'controlLength') frames.push(encodeFrame({ opcode: 9, payload: Buffer.alloc(126), maskKey: mask() }));
    if (v === 'controlFin') frames.push(encodeFrame({ opcode: 10, fin: false, payload: Buffer.alloc(1), maskKey: mask() }));
    if (v === 'continuation') frames.push(encodeFrame({ opcode: 0, payload: Buffer.from('c'), maskKey: mask() }));
    if (v === 'closeCode') frames.push(encodeFrame({ opcode: 8, payload: encodeClosePayload([0, 999, 1004, 1005, 1006, 1016, 2000, 5000][int(8)], 'x'), maskKey: mask() }));
    if (v === 'closeLength1') frames.push(encodeFrame({ opcode: 8, payload: Buffer.from([3]), maskKey: mask() }));
    if (v === 'closeUtf8') frames.push(encodeFrame({ opcode: 8, payload: Buffer.from([0x03, 0xe8, 0xe2, 0x82]), maskKey: mask() }));
    if (rnd() < 0.1) control();
  }
  if (rnd() < 0.4) {
    const code = [1000, 1001, 1011, 3000, 4999][int(5)];
    frames.push(encodeFrame({ opcode: 8, payload: rnd() < 0.2 ? Buffer.alloc(0) : encodeClosePayload(code, 'bye é'), maskKey: mask() }));
  }
  sender?.cleanup();
  const wire = Buffer.concat(frames);
  const chunks: Buffer[] = [];
  // Byte-by-byte only for short streams: ws's Writable makes it slow, and it adds nothing over 1..7-byte chunks.
  const style = wire.length > 8000 ? 2 + int(2) : int(4);
  for (let i = 0; i < wire.length; ) {
    const n = style === 0 ? 1 : style === 1 ? 1 + int(7) : style === 2 ? 1 + int(200) : 1 + int(70000);
    chunks.push(wire.subarray(i, i + n));
    i += n;
  }
  return { seed, isServer, header, maxPayload, wire, chunks };
}

function runWs(c: Case): Promise<Entry[]> {
  const log: Entry[] = [];
  const extensions: Record<string, WsPmd> = {};
  if (c.header) extensions['permessage-deflate'] = wsPmd(c.isServer, c.header, c.maxPayload);
  const r = new Receiver({ isServer: c.isServer, extensions, maxPayload: c.maxPayload });
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      extensions['permessage-deflate']?.cleanup();
      resolve(log);
    };
    r.on('message', (data: Buffer, isBinary: boolean) => r._errored || log.push(`message ${isBinary ? 2 : 1} ${data.toString('hex')}`));
    r.on('ping', (data: Buffer) => r._errored || log.push(`ping ${data.toString('hex')}`));
    r.on('pong', (data: Buffer) => r._errored || log.push(`pong ${data.toString('hex')}`));
    r.on('conclude', (code: number, reason: Buffer) => r._errored || log.push(`close ${code} ${reason.toString('hex')}`));
    r.on('error', (err: Error & { code?: string; [k: symbol]: unknown }) => {
      const code = err.code?.startsWith('WS_ERR_') ? err.code : 'WS_ERR_INFLATE_FAILED';
      log.push(`error ${code} ${String(err[kStatusCode])}`);
      finish();
    });
    // One write at a time, and none after an error: ws's Receiver keeps parsing later writes after an error found
    // in its async (inflate) path, where a real WebSocket would already have closed the socket.
    let i = 0;
    const next = (err?: Error | null): void => {
      if (err) return; // the 'error' event finishes
      if (r._errored || i >= c.chunks.length) {
        setImmediate(finish);
        return;
      }
      // ws unmasks in place, so it gets copies.
      r.write(Buffer.from(c.chunks[i++]), next);
    };
    next();
  });
}

function runOurs(c: Case): Entry[] {
  const log: Entry[] = [];
  const direction: Direction = c.isServer ? 'c2s' : 's2c';
  const params = c.header ? negotiatedDeflate(c.header) : undefined;
  const max = c.maxPayload || undefined;
  let errors = 0;
  const onError = (e: { code: string; closeCode: number }) => {
    errors++;
    log.push(`error ${e.code} ${e.closeCode}`);
  };
  const assembler = new MessageAssembler({
    direction,
    maxMessageSize: max,
    inflater: params ? PassiveInflater.forDirection(params, direction, max) : undefined,
    onMessage: (m) => {
      // ws reports these as errors only; ours also keeps the message, flagged.
      if (m.utf8Valid === false || m.inflateError !== undefined) return;
      log.push(`message ${m.opcode} ${m.data.toString('hex')}`);
    },
    onError,
  });
  const decoder = new FrameDecoder({
    direction,
    maxPayload: max,
    rsv1Allowed: params !== undefined,
    onFrame: (f) => {
      const before = errors;
      const close = assembler.push(f);
      if (f.opcode === 9) log.push(`ping ${f.payload.toString('hex')}`);
      if (f.opcode === 10) log.push(`pong ${f.payload.toString('hex')}`);
      if (close && errors === before) log.push(`close ${close.code ?? 1005} ${Buffer.from(close.reason ?? '').toString('hex')}`);
    },
    onError,
  });
  for (const chunk of c.chunks) decoder.push(chunk);
  return log;
}

/**
 * ws stops at the first error or close frame; compare up to there. ws inflates fragment by fragment and so reports a
 * bad deflate stream at the fragment that holds it; we inflate whole messages, after the control frames that arrived
 * between the fragments. For that error only, control frames are left out of the comparison.
 */
function upToEnd(log: Entry[]): Entry[] {
  const i = log.findIndex((e) => e.startsWith('error') || e.startsWith('close'));
  const cut = i === -1 ? log : log.slice(0, i + 1);
  if (cut[cut.length - 1]?.startsWith('error WS_ERR_INFLATE_FAILED')) return cut.filter((e) => !e.startsWith('ping') && !e.startsWith('pong'));
  return cut;
}

const fixed = process.env.DIFF_SEED;
const BLOCKS = fixed ? 1 : 6;
const PER_BLOCK = fixed ? 1 : 500;

describe('differential: our decoder + assembler vs ws Receiver', () => {
  for (let b = 0; b < BLOCKS; b++) {
    test(`seeds ${b * PER_BLOCK}..${(b + 1) * PER_BLOCK - 1}`, async () => {
      let violations = 0;
      let compressed = 0;
      for (let s = b * PER_BLOCK; s < (b + 1) * PER_BLOCK; s++) {
        const seed = fixed ? Number(fixed) : s;
        const c = await buildCase(seed);
        const theirs = await runWs(c);
        const ours = upToEnd(runOurs(c));
        assert.deepEqual(ours, upToEnd(theirs), `seed ${seed} (replay: DIFF_SEED=${seed})`);
        if (theirs.some((e) => e.startsWith('error'))) violations++;
        if (c.header) compressed++;
      }
      // The generator really produces both kinds of case.
      if (!fixed) {
        assert.ok(violations > PER_BLOCK / 10, `violations ${violations}`);
        assert.ok(compressed > PER_BLOCK / 4, `deflate cases ${compressed}`);
      }
    });
  }

  test('a hand-made context-takeover stream (zlib, not ws) inflates the same in both', async () => {
    // Two messages compressed with one raw deflate context and sync flushes, tails stripped.
    const zlib = await import('node:zlib');
    const d = zlib.createDeflateRaw();
    const chunksOut: Buffer[] = [];
    d.on('data', (b: Buffer) => chunksOut.push(b));
    const flush = (data: string) =>
      new Promise<Buffer>((resolve) => {
        d.write(data);
        d.flush(zlib.constants.Z_SYNC_FLUSH, () => {
          const out = Buffer.concat(chunksOut.splice(0));
          resolve(out.subarray(0, out.length - 4));
        });
      });
    const m1 = await flush('hello hello hello');
    const m2 = await flush('hello hello hello');
    d.close();
    assert.ok(m2.length < m1.length, 'the second message refers to the first');
    const wire = Buffer.concat([encodeFrame({ opcode: 1, rsv1: true, payload: m1 }), encodeFrame({ opcode: 1, rsv1: true, payload: m2 })]);
    const c: Case = { seed: -1, isServer: false, header: 'permessage-deflate', maxPayload: 0, wire, chunks: [wire] };
    const ours = runOurs(c);
    assert.deepEqual(ours, await runWs(c));
    assert.equal(ours.length, 2);
    assert.equal(deflateRawSync(Buffer.alloc(0)).length > 0, true);
  });
});
