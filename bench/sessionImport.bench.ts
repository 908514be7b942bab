// Opening a large NDJSON export (issue 21): a 1 GB file read into an EventStore with its default caps, as the
// session editor will, its heap sampled after full collections every 64 MB read. Baseline, same run and same file:
// splitting the lines and JSON.parse of each, nothing else (the floor of any NDJSON reader). Goal: the heap grows by
// less than 300 MB.
// Run: `npm run bench -- sessionImport` (scripts/run-bench.mjs runs it alone, with --expose-gc). Knobs:
// SESSION_IMPORT_MB (file size, default 1024), SESSION_IMPORT_KEEP=1 (keep the file and print its path).
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventStore } from '../src/core/capture/eventStore';
import { readSessionFile } from '../src/core/sessions/readSession';
import { writeLargeNdjson } from '../test/unit/sessions/ndjsonFile';
import type { BenchRow } from './row';

const MB = 1024 * 1024;
const SIZE_MB = Number(process.env.SESSION_IMPORT_MB) || 1024;
const HEAP_GOAL_MB = 300;

function gc(): void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g === undefined) throw new Error('run with --expose-gc (npm run bench does)');
  g();
}

/** The baseline: every line parsed, nothing kept. */
async function parseLines(file: string): Promise<{ ms: number; lines: number }> {
  const t0 = performance.now();
  let lines = 0;
  let rest: Buffer = Buffer.alloc(0);
  for await (const raw of createReadStream(file, { highWaterMark: MB })) {
    const chunk = rest.length > 0 ? Buffer.concat([rest, raw as Buffer]) : (raw as Buffer);
    let from = 0;
    for (let lf = chunk.indexOf(10, from); lf !== -1; lf = chunk.indexOf(10, from)) {
      JSON.parse(chunk.toString('utf8', from, lf));
      lines++;
      from = lf + 1;
    }
    rest = chunk.subarray(from);
  }
  return { ms: performance.now() - t0, lines };
}

export async function benchSessionImport(): Promise<BenchRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'session-import-'));
  const file = join(dir, 'session.ndjson');
  try {
    const written = await writeLargeNdjson(file, SIZE_MB * MB);
    const base = await parseLines(file);
    const store = new EventStore();
    gc();
    const m0 = process.memoryUsage();
    let peakHeap = 0;
    let peakRss = 0;
    let next = 0;
    const t0 = performance.now();
    const r = await readSessionFile(file, store, {
      onProgress: (n) => {
        if (n < next) return;
        next = n + 64 * MB;
        gc();
        const m = process.memoryUsage();
        peakHeap = Math.max(peakHeap, m.heapUsed - m0.heapUsed);
        peakRss = Math.max(peakRss, m.rss - m0.rss);
      },
    });
    const ms = performance.now() - t0;
    if (r.error !== undefined) throw new Error(`import failed: ${r.error.code} ${r.error.message}`);
    if (r.events !== written.events || base.lines !== written.events) throw new Error(`read ${r.events} events of ${written.events}`);
    gc();
    const m1 = process.memoryUsage();
    peakHeap = Math.max(peakHeap, m1.heapUsed - m0.heapUsed);
    const stats = store.stats();
    store.dispose();
    const heapMb = peakHeap / MB;
    const size = `${(written.bytes / MB).toFixed(0)} MB, ${written.events.toLocaleString('en-US')} events`;
    return [
      { name: `session import: NDJSON ${size} into an EventStore`, value: ms / 1000, unit: 's', ratio: ms / base.ms, baseline: 'x JSON.parse of each line' },
      { name: 'session import: throughput', value: written.bytes / MB / (ms / 1000), unit: 'MB/s' },
      { name: 'session import: heap growth (peak after full GCs)', value: heapMb, unit: 'MB', goal: `< ${HEAP_GOAL_MB} MB`, met: heapMb < HEAP_GOAL_MB },
      { name: 'session import: RSS growth (peak)', value: peakRss / MB, unit: 'MB' },
      { name: `session import: store kept (default caps)`, value: stats.count, unit: `events, ${(stats.bytes / MB).toFixed(0)} MB of payload` },
    ];
  } finally {
    if (process.env.SESSION_IMPORT_KEEP === '1') console.log(`kept ${file}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

// Runs alone (`node --expose-gc out/bench/sessionImport.bench.js`, as scripts/run-bench.mjs does).
if (require.main === module && /sessionImport\.bench/.test(process.argv[1] ?? '')) {
  benchSessionImport().then(
    (rows) =>
      console.table(
        rows.map((r) => ({
          name: r.name,
          value: `${r.value.toLocaleString('en-US', { maximumFractionDigits: 1 })} ${r.unit}`,
          ratio: r.ratio === undefined ? '' : `${r.ratio.toFixed(2)}${r.baseline ?? ''}`,
          goal: r.goal ?? '',
          met: r.met === undefined ? '' : r.met ? 'yes' : 'NO',
        })),
      ),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
