import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EventStore } from '../../../src/core/capture/eventStore';
import type { CaptureEvent } from '../../../src/core/capture/events';
import { eventToJsonLine, toHar } from '../../../src/core/capture/sessionExport';
import { readNdjson } from '../../../src/core/sessions/ndjsonReader';
import { readSessionFile } from '../../../src/core/sessions/readSession';
import { ArraySink } from '../../support/arraySink';
import { runClient, runOthers, runViolations, startLiveServer } from './liveTraffic';

/** `e` as plain data without its undefined fields (an export leaves them out), ids shifted by `shift`. */
function comparable(e: CaptureEvent, shift: number): unknown {
  const ids = (a: readonly number[]) => a.map((x) => x + shift);
  const copy: Record<string, unknown> = { ...e, id: e.id + shift };
  if (e.kind === 'frame' && e.messageId !== undefined) copy.messageId = e.messageId + shift;
  if (e.kind === 'message') copy.frameIds = ids(e.frameIds);
  if (e.kind === 'connection' && e.unsent) copy.unsent = { ...e.unsent, frameIds: ids(e.unsent.frameIds), messageIds: ids(e.unsent.messageIds) };
  return strip(copy);
}

function strip(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return Buffer.from(v);
  if (Array.isArray(v)) return v.map(strip);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, strip(x)]));
  }
  return v;
}

const ndjson = (events: readonly CaptureEvent[]) => events.map((e) => eventToJsonLine(e)).join('\n') + '\n';

describe('readNdjson: the product\'s NDJSON export read back', () => {
  let live: CaptureEvent[];
  let dir: string;
  before(async () => {
    const sink = new ArraySink();
    const a = await startLiveServer(sink, '127.0.0.1', true);
    await runClient(a.url(), { deflate: true });
    await runClient(a.url(), { deflate: false, big: true, serverCloses: true });
    await runViolations(a);
    await runOthers(a);
    await a.close();
    // A closed connection whose last frames never left: its unsent record names them by id.
    const frames = sink.of('frame').slice(-2);
    const messages = sink.of('message').slice(-1);
    sink.append({
      kind: 'connection',
      connectionId: frames[0].connectionId,
      time: frames[1].time + 1,
      state: 'closed',
      role: 'server',
      clean: false,
      unsent: { bytes: 12, frameIds: frames.map((f) => f.id), messageIds: messages.map((m) => m.id) },
    });
    live = sink.events;
    dir = mkdtempSync(join(tmpdir(), 'ws-ndjson-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('every kind of event comes back equal to the live capture: fragments, control frames, deflate, errors, closes', async () => {
    const kinds = new Set(live.map((e) => (e.kind === 'frame' ? `frame:${e.opcode}:${e.fin}:${e.rsv1}` : e.kind === 'error' ? `error:${e.code}` : e.kind)));
    for (const k of ['frame:0:false:false', 'frame:1:false:true', 'frame:8:true:false', 'frame:9:true:false', 'frame:10:true:false', 'error:WS_ERR_INVALID_UTF8', 'handshake', 'connection']) {
      assert.ok(kinds.has(k), `the live capture has ${k}: ${[...kinds].join(' ')}`);
    }
    assert.ok(live.some((e) => e.kind === 'frame' && e.afterViolation === true));
    const file = join(dir, 'all.ndjson');
    writeFileSync(file, ndjson(live));
    // The sink already holds events: the file's ids are renumbered, and the references with them.
    const sink = new ArraySink();
    for (let i = 0; i < 5; i++) sink.append({ kind: 'connection', connectionId: 'before', time: 1, state: 'open', role: 'server' });
    const r = await readSessionFile(file, sink);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.format, 'ndjson');
    assert.equal(r.events, live.length);
    const got = sink.events.slice(5);
    assert.equal(got.length, live.length);
    for (let i = 0; i < live.length; i++) assert.deepEqual(strip(got[i]), comparable(live[i], 5), `event ${i} (${live[i].kind})`);
  });

  test('into an EventStore, read in chunks of 1 to 17 bytes: the store gives back the live events', async () => {
    const text = Buffer.from(ndjson(live));
    const chunks: Buffer[] = [];
    for (let i = 0, n = 1; i < text.length; i += n, n = (n % 17) + 1) chunks.push(text.subarray(i, i + n));
    const store = new EventStore();
    const r = await readNdjson(chunks, store);
    assert.equal(r.error, undefined);
    const got = store.query({ limit: live.length + 1 }).events;
    // What the live events give in a store of their own (the store marks the frames an unsent record names).
    const expected = new EventStore();
    for (const e of live) expected.append({ ...e } as CaptureEvent);
    const want = expected.query({ limit: live.length + 1 }).events;
    assert.equal(got.length, live.length);
    assert.ok(want.some((e) => e.kind === 'frame' && e.unsentTo !== undefined));
    for (let i = 0; i < live.length; i++) assert.deepEqual(strip(got[i]), comparable(want[i], 0), `event ${i}`);
    store.dispose();
    expected.dispose();
  });

  test('a file cut inside its last line: SESSION_ERR_TRUNCATED, the events before it read', async () => {
    const text = ndjson(live);
    const cut = text.slice(0, text.length - 40);
    const sink = new ArraySink();
    const r = await readNdjson([Buffer.from(cut)], sink);
    assert.equal(r.error?.code, 'SESSION_ERR_TRUNCATED');
    assert.equal(r.error?.line, live.length);
    assert.equal(sink.events.length, live.length - 1);
  });

  test('a bad line in the middle is skipped with a warning; a file that is no export is SESSION_ERR_FORMAT', async () => {
    const lines = ndjson(live.slice(0, 4)).split('\n');
    lines.splice(2, 0, '{"kind":"frame","connectionId":"x","time":1}', 'not json');
    const sink = new ArraySink();
    const r = await readNdjson([Buffer.from(lines.join('\r\n'))], sink);
    assert.equal(r.error, undefined);
    assert.equal(sink.events.length, 4);
    assert.deepEqual(r.warnings.map((w) => [w.code, w.line]), [['SESSION_ERR_FORMAT', 3], ['SESSION_ERR_FORMAT', 4]]);
    assert.match(r.warnings[0].message, /a frame without its header and payload bytes/);

    const har = JSON.stringify(toHar(live), null, 2);
    const notNd = await readNdjson([Buffer.from(har)], new ArraySink());
    assert.equal(notNd.error?.code, 'SESSION_ERR_FORMAT');
    assert.equal(notNd.events, 0);
    assert.equal((await readNdjson([Buffer.from('\n\n')], new ArraySink())).error?.code, 'SESSION_ERR_NO_WEBSOCKETS');
  });

  test('a line over maxLineBytes is skipped with SESSION_ERR_TOO_LARGE, the lines after it read', async () => {
    const big = live.find((e) => e.kind === 'frame' && e.payloadLength > 100_000)!;
    const text = ndjson([live[0], big, live[1]]);
    // In one chunk, and in chunks smaller than the line (held, then dropped as it grows past the limit).
    for (const chunks of [[Buffer.from(text)], splitEvery(Buffer.from(text), 4096)]) {
      const sink = new ArraySink();
      const r = await readNdjson(chunks, sink, { maxLineBytes: 64 * 1024 });
      assert.equal(r.error, undefined);
      assert.deepEqual(r.warnings.map((w) => [w.code, w.line]), [['SESSION_ERR_TOO_LARGE', 2]]);
      assert.equal(sink.events.length, 2);
    }
  });
});

function splitEvery(b: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += n) out.push(b.subarray(i, i + n));
  return out;
}
