// The one place that calls acquireVsCodeApi(): typed posting, request/reply pairing and persisted UI state.
import type { HostReply, RequestType, Requests, ResultOf, WebviewToHost } from '../src/shared/protocol';

interface VsCodeApi<S> {
  postMessage(msg: WebviewToHost): void;
  getState(): S | undefined;
  setState(state: S): void;
}
declare function acquireVsCodeApi<S>(): VsCodeApi<S>;

export interface PersistedState {
  filter: import('../src/shared/protocol').ViewFilter;
  floorId: number;
  timeMode: 'relative' | 'absolute';
  autoScroll: boolean;
  composerMode: import('./composerModel').ComposerMode;
  composerText: string;
  target: string;
  history: import('./composerModel').HistoryEntry[];
  detailTab: 'detail' | 'handshake' | 'clients' | 'breakpoints';
  detailView: 'auto' | 'text' | 'json' | 'hex';
  selectedId?: number;
}

const api = acquireVsCodeApi<PersistedState>();

export function post(msg: WebviewToHost): void {
  api.postMessage(msg);
}

export function loadState(): Partial<PersistedState> {
  return api.getState() ?? {};
}

let saveTimer: ReturnType<typeof setTimeout> | undefined;
let latest: PersistedState | undefined;
/** Saves on the next tick at most every 200 ms: typing in the composer should not write state per key. */
export function saveState(s: PersistedState): void {
  latest = s;
  if (saveTimer) return;
  saveTimer = setTimeout(() => {
    saveTimer = undefined;
    if (latest) api.setState(latest);
  }, 200);
}

let nextRequestId = 1;
const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

/** Sends a request; the promise settles with the host's reply (an Error carrying the host's message on failure). */
export function request<K extends RequestType>(type: K, params: Requests[K]['params']): Promise<ResultOf<K>> {
  const requestId = nextRequestId++;
  return new Promise<ResultOf<K>>((resolve, reject) => {
    pending.set(requestId, { resolve: resolve as (v: unknown) => void, reject });
    post({ type, requestId, ...params } as WebviewToHost);
  });
}

/** The id the next request will get (to tell stale replies from current ones). */
export function lastRequestId(): number {
  return nextRequestId - 1;
}

export function handleReply(r: HostReply): void {
  const p = pending.get(r.inReplyTo);
  if (!p) return;
  pending.delete(r.inReplyTo);
  if (r.ok) p.resolve(r.result);
  else p.reject(new Error(r.error));
}
