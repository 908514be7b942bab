// Traffic counts change with every message, and nothing fires an event for them (a proxied connection's frames, a
// browser socket's messages): a tick notices when they did, so the Connections view and the panel stay current.
import type { DisposableStore } from '../core/util/events';

/** How often the counts are compared: often enough to watch, rare enough to cost nothing while idle. */
export const COUNTS_TICK_MS = 1000;

/**
 * Calls `onChange` at most once per COUNTS_TICK_MS, when `total()` (any number that moves with the counts, such as
 * their sum) differs from the last tick's. The timer belongs to `owner` and does not keep the process alive.
 */
export function watchCounts(owner: DisposableStore, total: () => number, onChange: () => void): void {
  let last = total();
  const timer = setInterval(() => {
    const now = total();
    if (now === last) return;
    last = now;
    onChange();
  }, COUNTS_TICK_MS);
  timer.unref();
  owner.add({ dispose: () => clearInterval(timer) });
}
