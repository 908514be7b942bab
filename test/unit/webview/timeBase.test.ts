import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { EventDto } from '../../../src/shared/protocol';
import { effectiveMode, formatElapsed, TimeBase, toTimeMode } from '../../../webview/timeBase';

const ev = (id: number, connectionId: string, time: number): EventDto =>
  ({ kind: 'handshake', id, connectionId, time, requestLine: 'GET / HTTP/1.1', ok: true, status: 101 }) as unknown as EventDto;

const seconds = (t: string): number => Number(t.replace(/^\+| s$/g, ''));

describe('time base', () => {
  test('auto is since the session under All connections, since the handshake with one picked', () => {
    assert.equal(effectiveMode('auto', undefined), 'session');
    assert.equal(effectiveMode('auto', 'c1'), 'connection');
    assert.equal(effectiveMode('absolute', 'c1'), 'absolute');
    assert.equal(toTimeMode('relative'), 'auto');
    assert.equal(toTimeMode('absolute'), 'absolute');
  });

  test('never negative: a handshake stamped before the connect shows +0.000 s, not a minus', () => {
    assert.equal(formatElapsed(1000, 1500), '+0.000 s');
    const t = new TimeBase();
    const hs = ev(1, 'c1', 10_000);
    t.note(hs);
    // connectedAt (the upgrade's end) is after the handshake's first byte: the base is the earlier one.
    assert.equal(t.text(hs, 'connection', 'c1', 10_050), '+0.000 s');
  });

  test('under All connections the times never go backwards down the list, whatever the connections', () => {
    const t = new TimeBase();
    const list = [ev(1, 'c1', 1000), ev(2, 'c1', 1200), ev(3, 'c2', 5000), ev(4, 'c1', 5100), ev(5, 'c2', 5300), ev(6, 'c3', 9000)];
    for (const e of list) t.note(e);
    for (const mode of ['auto', 'session'] as const) {
      const shown = list.map((e) => seconds(t.text(e, mode, undefined)));
      assert.deepEqual(shown, [0, 0.2, 4, 4.1, 4.3, 8], mode);
    }
  });

  test('one connection picked: since its own handshake; clock time stays clock time', () => {
    const t = new TimeBase();
    for (const e of [ev(1, 'c1', 1000), ev(2, 'c2', 3000), ev(3, 'c2', 3500)]) t.note(e);
    assert.equal(t.text(ev(3, 'c2', 3500), 'auto', 'c2'), '+0.500 s');
    assert.match(t.text(ev(3, 'c2', 3500), 'absolute', 'c2'), /^\d\d:\d\d:\d\d\.\d{3}$/);
    assert.equal(t.heading('auto', undefined), 'Since start');
    assert.equal(t.heading('auto', 'c2'), 'Since handshake');
    assert.equal(t.heading('absolute', undefined), 'Time');
  });

  test('an older page that arrives later moves the session base back: still nothing negative', () => {
    const t = new TimeBase();
    t.note(ev(10, 'c1', 5000));
    t.note(ev(2, 'c1', 2000));
    assert.equal(t.text(ev(10, 'c1', 5000), 'session', undefined), '+3.000 s');
    assert.equal(t.text(ev(2, 'c1', 2000), 'session', undefined), '+0.000 s');
  });
});
