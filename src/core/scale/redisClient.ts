// The Redis connections of the backplane (node-redis): how they are made and closed, and how their URL and errors
// are shown.

import { createClient } from 'redis';

/** How long closing lets in-flight publishes finish before dropping the connection. */
const STOP_GRACE_MS = 1000;

export type RedisClient = ReturnType<typeof newRedisClient>;

/** `redis://user:secret@host` → `redis://user:***@host`; a string that is not a URL is cut before any `@`. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === '') return url;
    u.password = '***';
    return u.toString();
  } catch {
    const at = url.lastIndexOf('@');
    return at === -1 ? url : `***${url.slice(at)}`;
  }
}

/** A node-redis client for the backplane; `retryDelay` is its reconnect strategy. */
export function newRedisClient(url: string, maxPending: number, retryDelay: (retries: number) => number | false) {
  return createClient({
    url,
    // RESP2 (no HELLO) works with every Redis and Redis-compatible server; pub/sub uses its own connection anyway.
    RESP: 2,
    // A publish made while Redis is away would be sent after the reconnect, out of order with the live traffic.
    disableOfflineQueue: true,
    commandsQueueMaxLength: maxPending,
    socket: { reconnectStrategy: (retries: number) => retryDelay(retries) },
  });
}

export async function closeClient(client: RedisClient): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    if (!client.isReady) return;
    await Promise.race([client.close(), new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_GRACE_MS)))]);
  } catch {
    // Already closed or never connected: destroy() below is all that is left.
  } finally {
    clearTimeout(timer);
    client.destroy();
  }
}

/** A readable one-line message; Node's connect errors to `localhost` are AggregateErrors with an empty message. */
export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return [...new Set(err.errors.map((e) => describeError(e)))].join('; ');
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return err.message || code || err.name;
  }
  return String(err);
}
