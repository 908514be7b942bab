// Per-client limits that run on every message, so each check is O(1) and allocation-free.

export interface RateLimitOptions {
  /** Sustained messages per second a client may send. */
  messagesPerSecond: number;
  /** Messages a client may send at once after being quiet (the bucket's size). */
  burst: number;
  /**
   * `'drop'`: the message is not relayed (counted, reported), and the client is not read until its bucket is half
   * full again (at most a second), so that what it sends meanwhile waits instead of costing the server;
   * `'close'`: close the client with 1008.
   */
  action: 'drop' | 'close';
}

export const DEFAULT_RATE_LIMIT: RateLimitOptions = { messagesPerSecond: 100, burst: 200, action: 'drop' };

/** A token bucket: starts full, refills continuously, one token per message. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perMs: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  /** Takes one token; false when the bucket is empty (the message is over the rate). */
  take(now: number): boolean {
    const refill = (now - this.last) * this.perMs;
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + refill);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds from `now` until the bucket holds `n` tokens (at most `burst`); 0 when it already does. */
  msUntil(n: number, now: number): number {
    const have = Math.min(this.burst, this.tokens + (now - this.last) * this.perMs);
    return Math.max(0, (Math.min(n, this.burst) - have) / this.perMs);
  }
}

export function validateRateLimit(r: RateLimitOptions): RateLimitOptions {
  if (r === null || typeof r !== 'object') throw new TypeError('rateLimit must be an object');
  const o = { ...DEFAULT_RATE_LIMIT, ...r };
  if (!(o.messagesPerSecond > 0) || !Number.isFinite(o.messagesPerSecond)) {
    throw new TypeError(`rateLimit.messagesPerSecond must be a positive number; got ${o.messagesPerSecond}`);
  }
  if (!Number.isInteger(o.burst) || o.burst < 1) throw new TypeError(`rateLimit.burst must be a positive integer; got ${o.burst}`);
  if (o.action !== 'drop' && o.action !== 'close') throw new TypeError(`rateLimit.action must be 'drop' or 'close'; got ${String(o.action)}`);
  return o;
}
