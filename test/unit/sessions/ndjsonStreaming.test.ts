import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, test } from 'node:test';
import type { CaptureSink, NewCaptureEvent } from '../../../src/core/capture/events';
import { readSessionFile } from '../../../src/core/sessions/readSession';
import { writeLargeNdjson } from './ndjsonFile';

/** A full collection: --expose-gc when the runner passed it, else the flag set now and gc taken from a new context. */
function gcFunction(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g !== undefined) return g;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Counts and drops: what is measured is the reader's own memory, not a store's. */
class DroppingSink implements CaptureSink {
  events = 0;
  frames = 0;
  append(e: NewCaptureEvent): number {
    if (e.kind === 'frame') this.frames++;
    return ++this.events;
  }
}

const MB = 1024 * 1024;
/**
 * The bound on the heap a read keeps. The reader holds one chunk (1 MiB, outside the heap), the end of a line it
 * has not seen whole (a line here is under 16 KB), the id map (one run: the file's ids are consecutive) and its
 * counts: well under a megabyte. 24 MB leaves room for V8's own growth (code, feedback, the young generation's
 * survivors) and is an order of magnitude below the file: a reader that held the file, its lines or its events would
 * keep 200 MB or more.
 */
const HEAP_BOUND = 24 * MB;

describe('readNdjson streams: a 200 MB file', () => {
  let dir: string;
  let file: string;
  let written: { events: number; bytes: number };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ws-ndjson-big-'));
    file = join(dir, 'big.ndjson');
    written = await writeLargeNdjson(file, 200 * MB);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('is read whole with the heap it keeps growing by less than 24 MB (measured after full collections)', async () => {
    const gc = gcFunction();
    gc();
    const base = process.memoryUsage();
    let peakHeap = 0;
    let peakBuffers = 0;
    let nextSample = 0;
    const sink = new DroppingSink();
    const t0 = performance.now();
    const r = await readSessionFile(file, sink, {
      onProgress: (n) => {
        if (n < nextSample) return;
        nextSample = n + 16 * MB;
        gc();
        const m = process.memoryUsage();
        peakHeap = Math.max(peakHeap, m.heapUsed - base.heapUsed);
        peakBuffers = Math.max(peakBuffers, m.arrayBuffers - base.arrayBuffers);
      },
    });
    const ms = performance.now() - t0;
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.bytesRead, written.bytes);
    assert.equal(sink.events, written.events);
    assert.ok(written.bytes >= 200 * MB);
    const report = `heap +${(peakHeap / MB).toFixed(1)} MB, buffers +${(peakBuffers / MB).toFixed(1)} MB, ${written.events} events in ${(ms / 1000).toFixed(1)} s`;
    process.stdout.write(`# ndjson streaming: ${report}\n`);
    assert.ok(peakHeap < HEAP_BOUND, report);
    assert.ok(peakBuffers < 48 * MB, report);
  });
});
