import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DisposableStore } from '../../../src/core/util/events';
import { COUNTS_TICK_MS, watchCounts } from '../../../src/extension/countsTicker';

describe('watchCounts', () => {
  test('one change per tick in which the total moved, none while it stays, none after dispose', (t) => {
    // The ticker's setInterval is mocked: the test moves time, so no tick is missed or early on a busy machine.
    t.mock.timers.enable({ apis: ['setInterval'] });
    const owner = new DisposableStore();
    let total = 10;
    let changes = 0;
    watchCounts(owner, () => total, () => changes++);
    t.mock.timers.tick(COUNTS_TICK_MS * 1.5);
    assert.equal(changes, 0, 'the total has not moved since the start');
    total = 11;
    total = 12;
    t.mock.timers.tick(COUNTS_TICK_MS * 0.5 - 1);
    assert.equal(changes, 0, 'not before the tick');
    t.mock.timers.tick(1);
    assert.equal(changes, 1, 'two moves within one tick: one change');
    t.mock.timers.tick(COUNTS_TICK_MS * 3);
    assert.equal(changes, 1, 'the total stays: no change');
    total = 13;
    t.mock.timers.tick(COUNTS_TICK_MS);
    assert.equal(changes, 2, 'it moved again: one more change');
    owner.dispose();
    total = 14;
    t.mock.timers.tick(COUNTS_TICK_MS * 2);
    assert.equal(changes, 2, 'disposed: no more ticks');
  });
});
