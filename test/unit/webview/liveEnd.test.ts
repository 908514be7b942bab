import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { newRowsText, rowsAfter } from '../../../webview/views/liveEnd';
import { nextAutoScroll, type Row } from '../../../webview/store';
import { sendStatusText } from '../../../webview/composerModel';

const rows = (ids: number[]): Row[] => ids.map((id) => ({ id, depth: 0 }) as Row);

describe('following the live end', () => {
  test('"N new ↓" counts the rows after the newest one when Auto-scroll paused', () => {
    assert.equal(rowsAfter(rows([1, 2, 3, 4, 5]), 3), 2);
    assert.equal(rowsAfter(rows([1, 2, 3]), 3), 0);
    assert.equal(newRowsText(2), '2 new ↓');
    assert.equal(newRowsText(12_000), '10,000+ new ↓');
    assert.equal(rowsAfter(rows(Array.from({ length: 20_000 }, (_, i) => i + 1)), 0), 10_000);
  });

  test('scrolling up pauses; reaching the bottom follows again', () => {
    assert.equal(nextAutoScroll(true, 500, 400, 500), false);
    assert.equal(nextAutoScroll(false, 400, 500, 500), true);
  });
});

describe('the composer after Send to all', () => {
  test('nobody received it: says so, not "Sent"', () => {
    const t = sendStatusText({ status: 'sent', delivered: 0 }, { kind: 'text', text: 'hi' }, { kind: 'allClients' });
    assert.doesNotMatch(t, /^Sent/);
    assert.match(t, /nobody received it/);
  });

  test('the count agrees with its noun', () => {
    const payload = { kind: 'text' as const, text: 'hi' };
    assert.equal(sendStatusText({ status: 'sent', delivered: 1 }, payload, { kind: 'allClients' }), 'Sent 2 chars to 1 client.');
    assert.equal(sendStatusText({ status: 'sent', delivered: 3 }, payload, { kind: 'allClients' }), 'Sent 2 chars to 3 clients.');
  });
});
