import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { detectSessionFormat, readSessionFile } from '../../../src/core/sessions/readSession';
import { ArraySink } from '../../support/arraySink';

describe('detectSessionFormat and readSessionFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ws-detect-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('the first bytes tell the format; the extension only when they do not', () => {
    const magic = (v: number, le: boolean) => {
      const b = Buffer.alloc(24);
      if (le) b.writeUInt32LE(v);
      else b.writeUInt32BE(v);
      return b;
    };
    assert.equal(detectSessionFormat(magic(0xa1b2c3d4, true)), 'pcap');
    assert.equal(detectSessionFormat(magic(0xa1b23c4d, false), 'x.har'), 'pcap');
    assert.equal(detectSessionFormat(magic(0x0a0d0d0a, true)), 'pcapng');
    assert.equal(detectSessionFormat(Buffer.from('\ufeff{\n  "log": {\n    "version": "1.2"')), 'har');
    assert.equal(detectSessionFormat(Buffer.from('{"id":1,"kind":"frame","connectionId":"c","time":1}\n{"id":2')), 'ndjson');
    assert.equal(detectSessionFormat(Buffer.from('{"id":1,"kind":"fr'), 'session.ndjson'), 'ndjson');
    assert.equal(detectSessionFormat(Buffer.from('garbage'), 'trace.pcapng'), 'pcapng');
    assert.equal(detectSessionFormat(Buffer.from('garbage'), 'notes.txt'), undefined);
  });

  test('a file that is missing, empty or of no known format is a clear error, never a throw', async () => {
    const missing = await readSessionFile(join(dir, 'nope.har'), new ArraySink());
    assert.equal(missing.error?.code, 'SESSION_ERR_IO');
    assert.equal(missing.format, 'har');
    const empty = join(dir, 'empty.ndjson');
    writeFileSync(empty, '');
    assert.equal((await readSessionFile(empty, new ArraySink())).error?.code, 'SESSION_ERR_NO_WEBSOCKETS');
    const text = join(dir, 'notes.txt');
    writeFileSync(text, 'hello\n');
    const r = await readSessionFile(text, new ArraySink());
    assert.equal(r.error?.code, 'SESSION_ERR_FORMAT');
    assert.equal(r.error?.message, 'not an NDJSON or HAR export, nor a pcap or pcapng capture');
    // Forced: read as NDJSON, it says why.
    const forced = await readSessionFile(text, new ArraySink(), { format: 'ndjson' });
    assert.equal(forced.error?.code, 'SESSION_ERR_FORMAT');
    assert.match(forced.error!.message, /^not a WebSocket Inspector NDJSON export: line 1: /);
  });
});
