import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IdMap } from '../../../src/core/sessions/idMap';

describe('IdMap', () => {
  test('consecutive ids are one run; gaps start runs; ids out of order still map; unknown ids are left out', () => {
    const m = new IdMap();
    for (let i = 1; i <= 1000; i++) m.set(i, i + 41);
    assert.equal(m.runs, 1);
    m.set(2000, 1042);
    m.set(2001, 1043);
    m.set(1500, 1044);
    assert.equal(m.runs, 2);
    assert.deepEqual([m.get(1), m.get(1000), m.get(2001), m.get(1500), m.get(1001), m.get(0)], [42, 1041, 1043, 1044, undefined, undefined]);
    assert.deepEqual(m.mapAll([999, 1001, 2000, 1500]), [1040, 1042, 1044]);
  });
});
