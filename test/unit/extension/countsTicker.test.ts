import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DisposableStore } from '../../../src/core/util/events';
import { COUNTS_TICK_MS, watchCounts } from '../../../src/extension/countsTicker';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('watchCounts', () => {
  test('one change per tick in which the total moved, none while it stays, none after dispose', async () => {
    const owner = new DisposableStore();
    let total = 10;
    let changes = 0;
    watchCounts(owner, () => total, () => changes++);
    await sleep(COUNTS_TICK_MS * 1.5);
    assert.equal(changes, 0, 'the total has not moved since the start');
    total = 11;
    total = 12;
    await sleep(COUNTS_TICK_MS);
    assert.equal(changes, 1, 'two moves within one tick: one change');
    owner.dispose();
    total = 13;
    await sleep(COUNTS_TICK_MS * 1.2);
    assert.equal(changes, 1, 'disposed: no more ticks');
  });
});
