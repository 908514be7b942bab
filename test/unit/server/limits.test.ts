import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../../src/core/server/limits';

describe('TokenBucket', () => {
  test('the bucket allows a burst, then the sustained rate', () => {
    const b = new TokenBucket(10 / 1000, 5, 0);
    let ok = 0;
    for (let i = 0; i < 10; i++) if (b.take(0)) ok++;
    assert.equal(ok, 5);
    assert.equal(b.take(50), false); // half a token
    assert.equal(b.take(100), true); // one token after 100 ms at 10/s
    assert.equal(b.take(100), false);
    assert.equal(b.take(100_000), true); // capped at burst, not 1000 tokens
    for (let i = 0; i < 4; i++) assert.equal(b.take(100_000), true);
    assert.equal(b.take(100_000), false);
  });

  test('TokenBucket.msUntil: the time until n tokens, at most a full bucket', () => {
    const b = new TokenBucket(10 / 1000, 6, 0);
    for (let i = 0; i < 6; i++) assert.equal(b.take(0), true);
    assert.equal(b.msUntil(3, 0), 300);
    assert.equal(b.msUntil(3, 100), 200);
    assert.equal(b.msUntil(100, 0), 600);
    assert.equal(b.msUntil(1, 1000), 0);
  });
});
