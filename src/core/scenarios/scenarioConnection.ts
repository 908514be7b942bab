// One named connection of a running scenario: the project's ClientConnection, the messages it received and has not yet
// matched (its inbox), and how it closed.

import { connect, type ClientConnection, type ClientConnectionOptions, type ClientStateChange } from '../client/clientConnection';
import type { ConnectionError } from '../util/connectionError';
import type { Disposable } from '../util/events';
import type { Received } from './match';

export interface CloseInfo {
  /** The peer's close code (1006 when none came). */
  code: number;
  reason: string;
  error?: ConnectionError;
}

/** How an opening ended. */
export type OpenOutcome =
  | { ok: true; protocol: string }
  | { ok: false; error?: ConnectionError; status?: number; message: string };

export class ScenarioConnection implements Disposable {
  readonly client: ClientConnection;
  /** The last message an expect matched (what a capture step reads). */
  lastMatched: Received | undefined;
  /** Set once the connection is closed for good (no reconnect follows). */
  closed: CloseInfo | undefined;
  private readonly inbox: Received[] = [];
  private head = 0;
  private seq = 0;
  /** Closes seen and not yet taken by an expectClose (a reconnecting endpoint can close more than once). */
  private readonly closes: CloseInfo[] = [];
  private opening: OpenOutcome | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly subscriptions: Disposable[];

  constructor(
    readonly name: string,
    url: string,
    options: ClientConnectionOptions,
  ) {
    this.client = connect(url, options);
    this.subscriptions = [
      this.client.onDidReceive((e) => {
        this.inbox.push({ data: e.data, isBinary: e.isBinary, seq: ++this.seq });
        this.notify();
      }),
      this.client.onDidChangeState((s) => this.onState(s)),
    ];
  }

  private onState(s: ClientStateChange): void {
    if (s.state === 'open') {
      this.opening ??= { ok: true, protocol: this.client.protocol };
    } else if (s.state === 'closed' || s.state === 'reconnecting') {
      const wasOpen = s.code !== undefined;
      if (wasOpen) this.closes.push({ code: s.code!, reason: s.reason ?? '', error: s.error });
      if (!this.opening && (s.state === 'closed' || s.error)) {
        if (s.state === 'closed' || s.error?.status !== undefined) {
          this.opening = { ok: false, error: s.error, status: s.error?.status, message: s.error?.message ?? 'the connection closed before it opened' };
        }
      }
      if (s.state === 'closed') this.closed = { code: s.code ?? 1006, reason: s.reason ?? '', error: s.error };
    } else {
      return;
    }
    this.notify();
  }

  private notify(): void {
    if (this.waiters.size === 0) return;
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** Resolves on the next message or state change, or after `ms`; `signal` ends it early too. */
  changed(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }

  /** How the opening ended, once it has. */
  get openOutcome(): OpenOutcome | undefined {
    return this.opening;
  }

  /** The oldest message not yet taken. */
  take(): Received | undefined {
    if (this.head >= this.inbox.length) return undefined;
    const m = this.inbox[this.head];
    this.inbox[this.head++] = undefined as unknown as Received;
    if (this.head > 1024 && this.head * 2 > this.inbox.length) {
      this.inbox.splice(0, this.head);
      this.head = 0;
    }
    return m;
  }

  /** The oldest close not yet taken by an expectClose. */
  takeClose(): CloseInfo | undefined {
    return this.closes.shift();
  }

  /** Messages not yet taken. */
  get pending(): number {
    return this.inbox.length - this.head;
  }

  /** Closes (code 1000 unless given) and waits up to `ms` for the socket to be gone; then drops the listeners. */
  async shutdown(ms: number, code = 1000, reason = ''): Promise<void> {
    if (!this.closed) {
      try {
        this.client.close(code, reason);
      } catch {
        // Closing an unopened or failed connection has nothing to send.
      }
      const deadline = performance.now() + ms;
      while (!this.closed && this.client.state !== 'closed' && performance.now() < deadline) await this.changed(deadline - performance.now());
    }
    this.dispose();
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.client.dispose();
    this.notify();
  }
}
