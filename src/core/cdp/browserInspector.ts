// The WebSockets of browser pages, read over the Chrome DevTools Protocol and recorded into the capture store as
// synthetic events: one attachment at a time to a browser or a page, whose targets browserTargets.ts tracks and
// whose sockets browserSockets.ts records.

import type { Protocol } from 'devtools-protocol';
import type { CaptureSink } from '../capture/events';
import { ConnectionError } from '../util/connectionError';
import { DisposableStore, Emitter, type Disposable, type Event } from '../util/events';
import { BrowserSockets, type BrowserSocketInfo } from './browserSockets';
import { BrowserTargets, targetInfoOf, type Attachment, type BrowserTargetInfo } from './browserTargets';
import { CdpError, connectCdp, type CdpConnection, type CdpEvent } from './cdpConnection';
import { errorText } from '../../shared/errorText';
import { isNum } from './cdpValues';
import { resolveEndpoint } from './endpoint';

export interface BrowserInspectorOptions {
  /**
   * `http(s)://host:port` (resolved through /json/version to its `webSocketDebuggerUrl`), a bare port or
   * `host:port` (taken as http), or a `ws://` DevTools URL of a browser or of one page.
   */
  endpoint: string;
  /** Where the capture events go. */
  sink: CaptureSink;
  /** Extra labels on the connection events (a debug session name, say). `source`, `url` and `page` are ours. */
  meta?: Record<string, string>;
  /** Time allowed for reaching the endpoint and for the browser to answer the first commands (ms). Default 5000. */
  connectTimeoutMs?: number;
  /** Largest DevTools message accepted (bytes); it bounds the largest page message shown. Default 256 MiB. */
  maxMessageBytes?: number;
  /** Closed sockets kept in `sockets()`; the oldest go first. Default 500. */
  maxClosedSockets?: number;
}

export interface BrowserStartResult {
  /** The browser's product string, e.g. `Chrome/120.0.6099.109`, when it says. */
  browser?: string;
  /** Pages attached when start() returned. */
  targets: number;
  /** Which kind of endpoint it turned out to be. */
  mode: 'browser' | 'page';
}

/** How many warnings one run reports before it only counts them. */
const MAX_WARNINGS = 50;

let lastInstance = 0;

/** What a run reports to its inspector. */
interface RunEvents {
  targetsChanged(): void;
  socketsChanged(): void;
  warn(run: Run, text: string): void;
  /** Unique in the inspector, across its runs: socket ids are `${tag}-${serial}`. */
  nextSocketSerial(): number;
}

/** One attachment, from start() to stop() or disconnect. */
class Run implements Attachment {
  readonly store = new DisposableStore();
  conn: CdpConnection | undefined;
  readonly where: string;
  readonly timeoutMs: number;
  readonly targets: BrowserTargets;
  readonly sockets: BrowserSockets;
  detachReason: string | undefined;
  warnings = 0;
  ended = false;

  constructor(
    readonly tag: string,
    options: BrowserInspectorOptions,
    events: RunEvents,
  ) {
    this.where = options.endpoint.trim();
    this.timeoutMs = options.connectTimeoutMs ?? 5000;
    const warn = (text: string) => events.warn(this, text);
    this.targets = new BrowserTargets(this, {
      changed: () => events.targetsChanged(),
      pageChanged: () => {
        events.targetsChanged();
        events.socketsChanged();
      },
      warn,
    });
    this.sockets = new BrowserSockets(this.targets, {
      sink: options.sink,
      meta: options.meta,
      maxClosedSockets: options.maxClosedSockets ?? 500,
      newId: () => `${tag}-${events.nextSocketSerial()}`,
      changed: () => events.socketsChanged(),
      warn,
    });
  }
}

export class BrowserInspector implements Disposable {
  private readonly _onDidChangeSockets = new Emitter<void>();
  private readonly _onDidChangeTargets = new Emitter<void>();
  private readonly _onDidDisconnect = new Emitter<{ reason: string }>();
  private readonly _onDidWarn = new Emitter<string>();
  /** A socket appeared, changed state, or its page changed title or URL. */
  readonly onDidChangeSockets: Event<void> = this._onDidChangeSockets.event;
  /** A page, frame or worker was attached or went away, or changed title or URL. */
  readonly onDidChangeTargets: Event<void> = this._onDidChangeTargets.event;
  /** The browser went away (exited, closed the page, or dropped the connection); not fired by stop(). */
  readonly onDidDisconnect: Event<{ reason: string }> = this._onDidDisconnect.event;
  /** Problems that did not stop the inspector (a target it could not attach, a malformed event), for the log. */
  readonly onDidWarn: Event<string> = this._onDidWarn.event;

  private run: Run | undefined;
  /** The sockets of the latest attachment: they are listed after it ends, until the next start(). */
  private shown: BrowserSockets | undefined;
  private socketSerial = 0;
  private disposed = false;
  private readonly runEvents: RunEvents = {
    targetsChanged: () => this._onDidChangeTargets.fire(),
    socketsChanged: () => this._onDidChangeSockets.fire(),
    warn: (run, text) => this.warn(run, text),
    nextSocketSerial: () => ++this.socketSerial,
  };

  /** True from a successful start() until stop() or a disconnect. */
  get isAttached(): boolean {
    return this.run !== undefined && this.run.conn !== undefined && !this.run.ended;
  }

  /**
   * Attaches to the endpoint and starts recording. Resolves once the pages already open are attached. Rejects
   * with a ConnectionError whose message can be shown as is (`ECONNREFUSED`, `ENOTDEVTOOLS`, `ETIMEDOUT`,
   * `EBADENDPOINT`…).
   */
  async start(options: BrowserInspectorOptions): Promise<BrowserStartResult> {
    if (this.disposed) throw new ConnectionError('ERR_DISPOSED', 'The browser inspector is disposed');
    if (this.run !== undefined && !this.run.ended) {
      throw new ConnectionError('ERR_ALREADY_STARTED', 'The browser inspector is already attached; stop it first');
    }
    validateOptions(options);
    const timeoutMs = options.connectTimeoutMs ?? 5000;
    const run = new Run(`browser${++lastInstance}`, options, this.runEvents);
    this.run = run;
    // The sockets of an earlier attachment have all ended; their events stay in the store.
    this.shown = run.sockets;
    try {
      const resolved = await resolveEndpoint(options.endpoint, timeoutMs);
      this.checkRun(run);
      const conn = await connectCdp(resolved.wsUrl, { timeoutMs, maxMessageBytes: options.maxMessageBytes });
      run.conn = conn;
      run.store.add(conn);
      if (run.ended) throw new ConnectionError('ERR_STOPPED', 'The browser inspector was stopped while attaching');
      run.store.add(conn.onEvent((e) => this.onEvent(run, e)));
      run.store.add(conn.onClose((c) => this.onConnectionClose(run, c.code, c.reason, c.error)));

      const [version, self] = await Promise.allSettled([
        conn.send('Browser.getVersion', {}, undefined, timeoutMs),
        conn.send('Target.getTargetInfo', {}, undefined, timeoutMs),
      ]);
      this.checkRun(run);
      if (version.status === 'rejected' && self.status === 'rejected' && !(version.reason instanceof CdpError) && !(self.reason instanceof CdpError)) {
        throw new ConnectionError('ENOTDEVTOOLS', `${run.where} accepted a WebSocket but did not answer the DevTools protocol within ${timeoutMs} ms`);
      }
      const product = version.status === 'fulfilled' && typeof version.value.product === 'string' ? version.value.product : resolved.browser;
      const selfInfo = self.status === 'fulfilled' ? targetInfoOf(self.value.targetInfo) : undefined;
      if (selfInfo?.type === 'browser') await run.targets.attachBrowser(conn, timeoutMs);
      else await run.targets.attachPage(conn, selfInfo, timeoutMs);
      this.checkRun(run);
      await run.targets.settle(timeoutMs);
      this.checkRun(run);
      return { browser: product, targets: run.targets.pageCount(), mode: run.targets.mode };
    } catch (e) {
      this.endRun(run);
      if (this.run === run) this.run = undefined;
      throw e instanceof ConnectionError ? e : new ConnectionError('ECONNECT', `Cannot attach to ${run.where}: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Detaches and closes the DevTools connection. Every socket it reported that had not closed gets a 'closed'
   * connection event with `meta.endReason = 'inspector stopped'` (the page's socket itself stays open).
   */
  async stop(): Promise<void> {
    const run = this.run;
    if (run === undefined) return;
    this.run = undefined;
    run.sockets.endAll('inspector stopped');
    const conn = run.conn;
    run.ended = true;
    if (conn !== undefined) await conn.closeAndWait();
    run.store.dispose();
  }

  /** The sockets seen since start(): open ones, and the latest closed ones (see `maxClosedSockets`). */
  sockets(): BrowserSocketInfo[] {
    return this.shown?.list(this.run !== undefined) ?? [];
  }

  /** The pages, frames and workers attached now. */
  targets(): BrowserTargetInfo[] {
    return this.run?.targets.list() ?? [];
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const run = this.run;
    this.run = undefined;
    if (run !== undefined) {
      run.sockets.endAll('inspector stopped');
      this.endRun(run);
    }
    this._onDidChangeSockets.dispose();
    this._onDidChangeTargets.dispose();
    this._onDidDisconnect.dispose();
    this._onDidWarn.dispose();
  }

  // --- events ---

  private onEvent(run: Run, e: CdpEvent): void {
    if (run.ended) return;
    try {
      const session = e.sessionId ?? '';
      if (e.method.startsWith('Network.webSocket')) {
        run.sockets.onEvent(session, e.method, e.params);
        return;
      }
      switch (e.method) {
        case 'Target.attachedToTarget':
          run.targets.onAttached(session, e.params as Protocol.Target.AttachedToTargetEvent);
          return;
        case 'Target.detachedFromTarget': {
          const { sessionId } = e.params as Protocol.Target.DetachedFromTargetEvent;
          if (typeof sessionId === 'string') this.onDetached(run, sessionId, 'target closed');
          return;
        }
        case 'Target.targetInfoChanged':
          if (!run.targets.onTargetInfoChanged(e.params as Protocol.Target.TargetInfoChangedEvent)) return;
          this._onDidChangeTargets.fire();
          if (run.sockets.hasOpen()) this._onDidChangeSockets.fire();
          return;
        case 'Target.targetCrashed': {
          const { targetId } = e.params as Protocol.Target.TargetCrashedEvent;
          if (typeof targetId === 'string') for (const id of run.targets.sessionsOf(targetId)) this.onDetached(run, id, 'target crashed');
          return;
        }
        case 'Page.frameNavigated':
          if (session === '' && run.targets.mode === 'page') run.targets.onPageNavigated(e.params as Protocol.Page.FrameNavigatedEvent);
          return;
        case 'Inspector.detached':
          if (session === '' && run.targets.mode === 'page') {
            run.detachReason = detachText((e.params as Protocol.Inspector.DetachedEvent).reason);
            run.conn?.close();
          }
          return;
      }
    } catch (err) {
      this.warn(run, `Could not record ${e.method}: ${errorText(err)}`);
    }
  }

  /** A session went away, and with it those it attached: their sockets end, then they leave the targets. */
  private onDetached(run: Run, sessionId: string, reason: string): void {
    const gone = run.targets.subtree(sessionId);
    const changed = run.sockets.endSessions(gone, reason);
    run.targets.remove(gone);
    this._onDidChangeTargets.fire();
    if (changed) this._onDidChangeSockets.fire();
  }

  // --- ending ---

  private onConnectionClose(run: Run, code: number, reason: string, error: Error | undefined): void {
    if (run.ended) return;
    const how = error !== undefined ? `dropped the DevTools connection (${error.message})` : `closed the DevTools connection (${code}${reason ? ` ${reason}` : ''})`;
    const text = run.detachReason ?? `The ${run.targets.mode === 'page' ? 'page' : 'browser'} at ${run.where} ${how}: it exited, crashed or was closed`;
    run.sockets.endAll('DevTools connection lost');
    this.endRun(run);
    if (this.run === run) {
      this.run = undefined;
      this._onDidDisconnect.fire({ reason: text });
    }
  }

  private endRun(run: Run): void {
    run.ended = true;
    run.store.dispose();
  }

  private checkRun(run: Run): void {
    if (run.ended || this.run !== run) throw new ConnectionError('ERR_STOPPED', 'The browser inspector was stopped while attaching');
  }

  private warn(run: Run, text: string): void {
    run.warnings++;
    if (run.warnings < MAX_WARNINGS) this._onDidWarn.fire(text);
    else if (run.warnings === MAX_WARNINGS) this._onDidWarn.fire(`${text} (further warnings of this attachment are not shown)`);
  }
}

function validateOptions(o: BrowserInspectorOptions): void {
  if (typeof o !== 'object' || o === null) throw new TypeError('options must be an object');
  if (typeof o.endpoint !== 'string' || o.endpoint.trim() === '') throw new TypeError('options.endpoint must be a non-empty string');
  if (typeof o.sink?.append !== 'function') throw new TypeError('options.sink must be a CaptureSink');
  for (const k of ['connectTimeoutMs', 'maxMessageBytes'] as const) {
    const v = o[k];
    if (v !== undefined && (!isNum(v) || v <= 0)) throw new TypeError(`options.${k} must be a positive number`);
  }
  if (o.maxClosedSockets !== undefined && (!Number.isInteger(o.maxClosedSockets) || o.maxClosedSockets < 0)) {
    throw new TypeError('options.maxClosedSockets must be a non-negative integer');
  }
}

function detachText(reason: unknown): string {
  switch (reason) {
    case 'target_closed':
      return 'The page was closed';
    case 'Render process gone.':
      return 'The page crashed (its renderer process is gone)';
    case 'replaced_with_devtools':
      return 'DevTools was opened on the page and took over the connection';
    default:
      return `The browser detached the inspector from the page${typeof reason === 'string' && reason !== '' ? ` (${reason})` : ''}`;
  }
}
