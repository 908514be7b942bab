// The one way tests wait (STYLE.md, "One waiting helper"): `waitFor` polls a condition with a bound and names it when
// the bound passes; `sleep` lets real time pass, for the few waits that are about the network (proving that nothing
// arrives within a window) rather than a condition. Time inside the code under test is moved with an injected clock
// or node:test's mock timers instead. Plain Node, so unit, extension-host and e2e tests all use it.

// Taken when this module loads, before any test can enable `t.mock.timers`: a test that mocks setTimeout still
// waits here in real time, and the mocked clock moves only when the test ticks it.
const realSetTimeout = globalThis.setTimeout;
const now = () => performance.now();

/** Resolves after `ms` of real time. Say at the call why time, not a condition, is what is waited for. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, ms));
}

/** What a check returns while its condition does not hold yet. */
type NotYet = undefined | null | false;

/**
 * Polls `check` (sync or async) until it returns something other than undefined, null or false, and resolves with
 * that value; a check that throws fails the wait at once. The polls start 1 ms apart and back off to 20 ms, so a quick
 * condition is seen at once and a slow one costs little. After `timeoutMs` it rejects with "timed out after … waiting
 * for `what`" (`what` may be a function, to describe the state at the time out).
 */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => T | NotYet | Promise<T | NotYet>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = now() + timeoutMs;
  for (let interval = 1; ; interval = Math.min(interval * 2, 20)) {
    const value = await check();
    if (value !== undefined && value !== null && value !== false) return value as T;
    if (now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    }
    await sleep(interval);
  }
}
