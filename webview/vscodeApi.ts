// The one place that calls acquireVsCodeApi(): typed posting, the request/reply pairing and persisted UI state.
import type { WebviewToHost } from '../src/shared/protocol';
import { Requester } from '../src/shared/requests';
import type { PersistedState } from './controller';

interface VsCodeApi<S> {
  postMessage(msg: WebviewToHost): void;
  getState(): S | undefined;
  setState(state: S): void;
}
declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

const api = acquireVsCodeApi<PersistedState>();

export function post(msg: WebviewToHost): void {
  api.postMessage(msg);
}

/** Requests to the host; hand it every `reply`. */
export const requests = new Requester(post);

export function loadState(): Partial<PersistedState> {
  return api.getState() ?? {};
}

let saveTimer: ReturnType<typeof setTimeout> | undefined;
let latest: PersistedState | undefined;
/**
 * Saves at once, then at most every 200 ms while changes keep coming: typing in the composer or holding an arrow key
 * should not write state per key, and a single change (a filter) must be saved before a reload can come.
 */
export function saveState(s: PersistedState): void {
  latest = s;
  if (saveTimer) return;
  api.setState(s);
  latest = undefined;
  saveTimer = setTimeout(function flush() {
    saveTimer = undefined;
    if (latest === undefined) return;
    api.setState(latest);
    latest = undefined;
    saveTimer = setTimeout(flush, 200);
  }, 200);
}
