// Decoder throughput against ws's Receiver on the same bytes. Both sides reassemble messages and validate UTF-8, so
// ours is the FrameDecoder plus the MessageAssembler. Alone:
//   npx esbuild bench/decoder.bench.ts --bundle --platform=node --packages=external --outfile=out/bench/decoder.bench.js
//   node --expose-gc out/bench/decoder.bench.js
import { encodeFrame } from '../src/core/wire/frameEncoder';
import { FrameDecoder } from '../src/core/wire/frameDecoder';
import { MessageAssembler } from '../src/core/wire/messageAssembler';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Receiver } = require('ws') as {
  Receiver: new (o: object) => { on(ev: string, fn: (data: Buffer) => void): void; write(chunk: Buffer): boolean };
};

export interface DecoderBenchResult {
  name: string;
  ours: number;
  ws: number;
  ratio: number;
  unit: string;
}

export interface DecoderBenchOptions {
  /** Bytes of frames in the stream. Default 50 MB. */
  totalBytes?: number;
  /** Size of the chunks the stream is fed in. Default 64 KiB. */
  chunkSize?: number;
  /** Rounds per side; the best counts. Default 5. */
  rounds?: number;
}

/** A stream of masked client frames: 1 KB and 16 KB, text and binary, with some fragmented messages. */
function buildStream(total: number, chunkSize: number): { chunks: Buffer[]; messages: number } {
  let seed = 42;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 4294967296;
  };
  const frames: Buffer[] = [];
  let size = 0;
  let messages = 0;
  const text1k = Buffer.from('a1b2c3d4 é '.repeat(100).slice(0, 1000));
  const text16k = Buffer.from('The quick brown fox jumps over the lazy dog 中文 '.repeat(400).slice(0, 16000));
  const bin = Buffer.alloc(16384);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 31) & 0xff;
  while (size < total) {
    const big = rnd() < 0.25;
    const text = rnd() < 0.5;
    const payload = text ? (big ? text16k : text1k) : big ? bin : bin.subarray(0, 1024);
    const maskKey = Buffer.from([rnd() * 256, rnd() * 256, rnd() * 256, rnd() * 256]);
    if (big && rnd() < 0.2) {
      const half = payload.length >> 1;
      frames.push(encodeFrame({ opcode: text ? 1 : 2, fin: false, payload: payload.subarray(0, half), maskKey }));
      frames.push(encodeFrame({ opcode: 0, payload: payload.subarray(half), maskKey }));
    } else {
      frames.push(encodeFrame({ opcode: text ? 1 : 2, payload, maskKey }));
    }
    messages++;
    size += payload.length;
  }
  const all = Buffer.concat(frames);
  const chunks: Buffer[] = [];
  for (let i = 0; i < all.length; i += chunkSize) chunks.push(all.subarray(i, i + chunkSize));
  return { chunks, messages };
}

/** Fresh copies, because ws unmasks in place. */
function copies(chunks: Buffer[]): Buffer[] {
  return chunks.map((c) => Buffer.from(c));
}

function runOurs(chunks: Buffer[]): { ms: number; messages: number } {
  let messages = 0;
  const assembler = new MessageAssembler({
    direction: 'c2s',
    onMessage: () => {
      messages++;
    },
    onError: (e) => {
      throw e;
    },
  });
  const decoder = new FrameDecoder({
    direction: 'c2s',
    onFrame: (f) => {
      assembler.push(f);
    },
    onError: (e) => {
      throw e;
    },
  });
  const t0 = performance.now();
  for (const c of chunks) decoder.push(c);
  return { ms: performance.now() - t0, messages };
}

function runWs(chunks: Buffer[]): { ms: number; messages: number } {
  let messages = 0;
  const r = new Receiver({ isServer: true, maxPayload: 100 * 1024 * 1024 });
  r.on('message', () => {
    messages++;
  });
  r.on('error', (e: unknown) => {
    throw e;
  });
  const t0 = performance.now();
  for (const c of chunks) r.write(c);
  return { ms: performance.now() - t0, messages };
}

export async function benchDecoder(o: DecoderBenchOptions = {}): Promise<DecoderBenchResult> {
  const total = o.totalBytes ?? 50_000_000;
  const rounds = o.rounds ?? 5;
  const { chunks, messages } = buildStream(total, o.chunkSize ?? 64 * 1024);
  const bytes = chunks.reduce((n, c) => n + c.length, 0);
  const gc = (globalThis as { gc?: () => void }).gc;
  let bestOurs = Infinity;
  let bestWs = Infinity;
  // Warm both up, then alternate who goes first.
  runOurs(copies(chunks.slice(0, 64)));
  runWs(copies(chunks.slice(0, 64)));
  for (let i = 0; i < rounds; i++) {
    for (const side of i % 2 === 0 ? ['ours', 'ws'] : ['ws', 'ours']) {
      const input = copies(chunks);
      gc?.();
      await new Promise((r) => setImmediate(r));
      const r = side === 'ours' ? runOurs(input) : runWs(input);
      if (r.messages !== messages) throw new Error(`${side} decoded ${r.messages} messages, expected ${messages}`);
      if (side === 'ours') bestOurs = Math.min(bestOurs, r.ms);
      else bestWs = Math.min(bestWs, r.ms);
    }
  }
  const mbps = (ms: number) => bytes / 1e6 / (ms / 1000);
  const ours = mbps(bestOurs);
  const ws = mbps(bestWs);
  return { name: 'decoder: masked 1 KB/16 KB frames, 64 KiB chunks', ours, ws, ratio: ours / ws, unit: 'MB/s' };
}

if (require.main === module && /decoder\.bench/.test(process.argv[1] ?? '')) {
  benchDecoder().then(
    (r) => console.log(`${r.name}: ours ${r.ours.toFixed(1)} ${r.unit}, ws ${r.ws.toFixed(1)} ${r.unit}, ratio ${r.ratio.toFixed(2)}x`),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
