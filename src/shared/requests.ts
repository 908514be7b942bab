// Request/reply pairing between the webview and the host, the one helper both sides use: the webview's `Requester`
// numbers each request and settles it from the reply whose `inReplyTo` names it; the host's `answer` sends that reply.
import { errorText } from './errorText';
import type { HostReply, RequestType, Requests, ResultOf, WebviewRequest } from './protocol';

/** Default time a request waits for its reply. */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The request was superseded by a newer one in its lane (or the requester was disposed): its reply, if it comes, is
 * dropped. Callers ignore it; nothing is wrong.
 */
export class StaleRequestError extends Error {
  override readonly name = 'StaleRequestError';
}

export function isStale(err: unknown): err is StaleRequestError {
  return err instanceof StaleRequestError;
}

export interface RequestOptions {
  /**
   * Requests in one lane belong together (a view's subscription and the pages under it). A request that `supersedes`
   * makes every pending one of its lane stale: those reject with StaleRequestError at once, and their replies are
   * dropped when they come.
   */
  lane?: string;
  supersedes?: boolean;
  /** Milliseconds to wait for the reply before the request fails. Default: the requester's `timeoutMs`. */
  timeoutMs?: number;
}

interface Pending {
  type: RequestType;
  lane?: string;
  timer: ReturnType<typeof setTimeout>;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
}

/** The asking side (the webview). */
export class Requester {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly timeoutMs: number;

  /**
   * @param post puts a request on the channel.
   * @param options.timeoutMs default time a request waits for its reply (REQUEST_TIMEOUT_MS).
   */
  constructor(
    private readonly post: (req: WebviewRequest) => void,
    options: { timeoutMs?: number } = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  }

  /** Requests waiting for their reply. */
  get size(): number {
    return this.pending.size;
  }

  /** Sends a request; the promise settles with the host's reply (an Error with the host's message on failure). */
  request<K extends RequestType>(type: K, params: Requests[K]['params'], options: RequestOptions = {}): Promise<ResultOf<K>> {
    if (options.supersedes && options.lane !== undefined) this.supersede(options.lane);
    const requestId = this.nextId++;
    return new Promise<ResultOf<K>>((resolve, reject) => {
      const ms = options.timeoutMs ?? this.timeoutMs;
      const timer = setTimeout(() => {
        if (this.pending.delete(requestId)) reject(new Error(`No answer from the extension to ${type} after ${Math.round(ms / 1000)} s.`));
      }, ms);
      this.pending.set(requestId, { type, lane: options.lane, timer, resolve: resolve as (r: unknown) => void, reject });
      try {
        this.post({ type, requestId, ...params } as WebviewRequest);
      } catch (err) {
        this.settle(requestId);
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  }

  /** Makes every pending request in `lane` stale. */
  supersede(lane: string): void {
    for (const [id, p] of this.pending) {
      if (p.lane !== lane) continue;
      this.settle(id);
      p.reject(new StaleRequestError(`${p.type} was superseded`));
    }
  }

  /**
   * Settles the request a reply answers. Returns false for a reply nothing waits for (stale, timed out, or not
   * ours), which is dropped.
   */
  handleReply(reply: HostReply): boolean {
    const p = this.pending.get(reply.inReplyTo);
    if (!p || p.type !== reply.request) return false;
    this.settle(reply.inReplyTo);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(reply.error));
    return true;
  }

  /** Makes every pending request stale (the channel is gone). */
  dispose(): void {
    for (const [id, p] of this.pending) {
      this.settle(id);
      p.reject(new StaleRequestError(`${p.type} was abandoned`));
    }
  }

  private settle(id: number): void {
    const p = this.pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.pending.delete(id);
  }
}

/**
 * The answering side (the host): runs `handle` on one request and posts its result, or the message of what it
 * threw, as the reply paired with it.
 */
export async function answer<R extends WebviewRequest>(
  req: R,
  handle: (req: R) => Promise<ResultOf<R['type']>> | ResultOf<R['type']>,
  post: (reply: HostReply) => void,
): Promise<void> {
  let reply: HostReply;
  try {
    const result = await handle(req);
    reply = { type: 'reply', request: req.type, inReplyTo: req.requestId, ok: true, result } as HostReply;
  } catch (err) {
    reply = { type: 'reply', request: req.type, inReplyTo: req.requestId, ok: false, error: errorText(err) };
  }
  post(reply);
}
