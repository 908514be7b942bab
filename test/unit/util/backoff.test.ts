// Reconnect delays (src/core/util/backoff.ts), as the client connection and the Redis backplane wait them.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../../../src/core/util/backoff';

describe('backoffDelay', () => {
  test('without jitter: the initial delay, doubled each attempt, up to the cap, also after many attempts', () => {
    const b = { initialDelayMs: 100, maxDelayMs: 1000, jitter: 0 };
    const cases: Array<[attempt: number, delayMs: number]> = [
      [1, 100],
      [2, 200],
      [3, 400],
      [4, 800],
      [5, 1000],
      [6, 1000],
      [1000, 1000],
    ];
    for (const [attempt, delayMs] of cases) assert.equal(backoffDelay(attempt, b), delayMs, `attempt ${attempt}`);
  });

  test('backoff jitter stays within bounds and uses the cap', () => {
    const b = { enabled: true, initialDelayMs: 100, maxDelayMs: 1000, jitter: 0.5, maxAttempts: Infinity };
    for (let attempt = 1; attempt <= 10; attempt++) {
      const base = Math.min(1000, 100 * 2 ** (attempt - 1));
      for (let i = 0; i < 50; i++) {
        const d = backoffDelay(attempt, b);
        assert.ok(d >= base * 0.5 && d <= base, `${attempt}: ${d}`);
      }
    }
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(3, b)));
    assert.ok(seen.size > 5, 'jitter varies');
  });
});
