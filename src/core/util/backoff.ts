// Reconnect delays shared by the client connections and the Redis backplane: exponential, capped, with jitter so
// that many peers that lost the same server do not all retry in step.
import { randomInt } from 'node:crypto';

export interface Backoff {
  initialDelayMs: number;
  maxDelayMs: number;
  /** Fraction 0..1 taken off each delay at random. */
  jitter: number;
}

/** Attempt n (from 1): initial·2^(n-1), capped at maxDelayMs, minus up to `jitter` of it (from crypto). */
export function backoffDelay(attempt: number, b: Backoff): number {
  const base = Math.min(b.maxDelayMs, b.initialDelayMs * 2 ** Math.min(attempt - 1, 30));
  if (b.jitter === 0) return base;
  const r = randomInt(0, 1_000_000) / 1_000_000;
  return Math.round(base * (1 - b.jitter * r));
}
