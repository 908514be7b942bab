// The WebSockets of browser pages, read over the Chrome DevTools Protocol and recorded into the capture store as
// synthetic events (`meta.source = 'browser'`). Chromium reports whole messages, not wire frames, so each message
// becomes one final frame; it reports no control frames and no close codes.
//
// Two kinds of endpoint:
// - a browser (ws://…/devtools/browser/…, or http://host:port resolved through /json/version): every tab, its
//   frames and workers, and tabs opened later, are attached in flat mode (one socket, events carry a sessionId);
// - one page (ws://…/devtools/page/…, or the CDP proxy of a VS Code debug session): only `Network` (and `Page`, for
//   its URL) is enabled on it. The `Target` domain is left alone there: a debugger's proxy shares its session with us.
// Payloads are as the page sent and received them: a permessage-deflate the handshake negotiated is already undone.

import type { CaptureSink, ErrorEvent } from '../capture/events';
import { recordSyntheticConnection, recordSyntheticFrame, recordSyntheticHandshake } from '../capture/syntheticCapture';
import { ConnectionError } from '../client/connectionError';
import { DisposableStore, Emitter, type Disposable, type Event } from '../util/events';
import { OPCODE_BINARY, OPCODE_CLOSE, OPCODE_TEXT } from '../wire/constants';
import { parseHttpHead, parseRequestLine } from '../wire/handshake';
import { CdpError, connectCdp, type CdpConnection, type CdpEvent } from './cdpConnection';
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

export interface BrowserSocketInfo {
  /** The capture connectionId of its events, e.g. `browser1-2`. */
  id: string;
  /** The URL the page opened; '' when the socket was already open when the inspector attached. */
  url: string;
  /** `failed`: it ended without a 101 response. */
  state: 'connecting' | 'open' | 'closed' | 'failed';
  /** The page that owns it (for a socket of a frame or worker: the nearest page), as the browser names it now. */
  pageTitle?: string;
  pageUrl?: string;
  /** Epoch ms. */
  openedAt: number;
  /**
   * Text and binary messages the page sent (out) and received (in), and their payload bytes: DevTools reports
   * messages, not the frames on the wire, so headers and control frames are not in these counts.
   */
  messagesOut: number;
  messagesIn: number;
  bytesOut: number;
  bytesIn: number;
}

export interface BrowserTargetInfo {
  targetId: string;
  /** `page`, `iframe`, `worker`, `shared_worker`, `service_worker`, `tab`… */
  type: string;
  title: string;
  url: string;
}

export interface BrowserStartResult {
  /** The browser's product string, e.g. `Chrome/120.0.6099.109`, when it says. */
  browser?: string;
  /** Pages attached when start() returned. */
  targets: number;
  /** Which kind of endpoint it turned out to be. */
  mode: 'browser' | 'page';
}

/** Capture error code of a `Network.webSocketFrameError` after the upgrade. */
export const ERR_BROWSER_FRAME = 'WS_ERR_BROWSER_FRAME';
/** Capture error code of a `Network.webSocketFrameError` before any 101 (refused connection, bad upgrade). */
export const ERR_BROWSER_HANDSHAKE = 'WS_ERR_BROWSER_HANDSHAKE';

/** Targets that can own WebSockets. Others (the browser's own UI, worklets) are let go at once. */
const WEB_TARGETS = new Set(['page', 'iframe', 'worker', 'shared_worker', 'service_worker', 'webview', 'background_page']);
/** The events a page endpoint needs; a debugger's proxy sends only those subscribed to (JsDebug.subscribe). */
const PAGE_EVENTS = ['Network.webSocket*', 'Page.frameNavigated', 'Inspector.detached'];
/** How many warnings one run reports before it only counts them. */
const MAX_WARNINGS = 50;

const timeOrigin = performance.timeOrigin;
const now = (): number => timeOrigin + performance.now();

let lastInstance = 0;

interface SessionInfo {
  targetId: string;
  type: string;
  title: string;
  url: string;
  /** The session that attached it ('' for the connection's own target). */
  parent?: string;
  /** A Target.getTargetInfo for it is in flight / when the last one ended (see refreshPageInfo). */
  refreshing?: boolean;
  refreshedAt?: number;
}

interface HeadParts {
  startLine: string;
  headers: Array<[string, string]>;
}

interface SocketRecord {
  id: string;
  requestId: string;
  /** The session whose events describe this socket; others that report it too are ignored. */
  session: string;
  url: string;
  state: BrowserSocketInfo['state'];
  openedAt: number;
  /** See BrowserSocketInfo. */
  messagesOut: number;
  messagesIn: number;
  bytesOut: number;
  bytesIn: number;
  /** Page as it was when the socket was first seen, for when its session is gone. */
  pageTitle?: string;
  pageUrl?: string;
  request?: HeadParts;
  /** Monotonic seconds of the handshake request. */
  requestTs?: number;
  handshakeRecorded: boolean;
  /** The 'open' connection event was appended. */
  opened: boolean;
  /** Anything was appended for it (so a 'closed' event makes sense). */
  recorded: boolean;
  ended: boolean;
  meta?: Record<string, string>;
  closeC2s?: { code?: number; reason?: string };
  closeS2c?: { code?: number; reason?: string };
}

/** Maps the browser's monotonic `timestamp` (seconds) to epoch ms, using the `wallTime` of handshake requests. */
class BrowserClock {
  private offset: number | undefined;

  calibrate(wallTimeSec: unknown, timestampSec: unknown): void {
    if (isNum(wallTimeSec) && isNum(timestampSec)) this.offset = wallTimeSec * 1000 - timestampSec * 1000;
  }

  toEpochMs(timestampSec: unknown): number {
    if (!isNum(timestampSec)) return now();
    // Until a handshake gives the wall time, the first event's arrival stands in for it.
    this.offset ??= now() - timestampSec * 1000;
    return timestampSec * 1000 + this.offset;
  }
}

/** One attachment, from start() to stop() or disconnect. */
class Run {
  readonly store = new DisposableStore();
  conn: CdpConnection | undefined;
  mode: 'browser' | 'page' = 'browser';
  readonly sessions = new Map<string, SessionInfo>();
  /** Initialisations of attached targets in flight (start() waits for those of the targets already open). */
  readonly pending = new Set<Promise<void>>();
  /** For a tab being initialised: the initialisations of the targets it attached (its page). */
  readonly childInits = new Map<string, Set<Promise<void>>>();
  readonly clock = new BrowserClock();
  detachReason: string | undefined;
  warnings = 0;
  ended = false;
  /** Where a page endpoint's title and URL come from (see readPageInfo). */
  pageInfoSource: 'target' | 'history' | 'none' = 'target';

  constructor(
    readonly tag: string,
    readonly options: BrowserInspectorOptions,
    readonly where: string,
  ) {}
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
  private readonly records = new Map<string, SocketRecord>();
  private closedOrder: string[] = [];
  private socketSerial = 0;
  private disposed = false;

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
    const run = new Run(`browser${++lastInstance}`, options, options.endpoint.trim());
    this.run = run;
    // The sockets of an earlier attachment have all ended; their events stay in the store.
    this.records.clear();
    this.closedOrder = [];
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
      if (selfInfo?.type === 'browser') await this.attachBrowser(run, conn, timeoutMs);
      else await this.attachPage(run, conn, selfInfo, timeoutMs);
      this.checkRun(run);
      await settle(run, timeoutMs);
      this.checkRun(run);
      let pages = 0;
      for (const s of run.sessions.values()) if (s.type === 'page') pages++;
      return { browser: product, targets: pages, mode: run.mode };
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
    this.endSockets(run, 'inspector stopped');
    const conn = run.conn;
    run.ended = true;
    if (conn !== undefined) await conn.closeAndWait();
    run.store.dispose();
  }

  /** The sockets seen since start(): open ones, and the latest closed ones (see `maxClosedSockets`). */
  sockets(): BrowserSocketInfo[] {
    const run = this.run;
    const out: BrowserSocketInfo[] = [];
    for (const r of this.records.values()) {
      const page = run === undefined ? undefined : pageOf(run, r.session);
      out.push(stripUndefined({
        id: r.id,
        url: r.url,
        state: r.state,
        pageTitle: page?.title || r.pageTitle,
        pageUrl: page?.url || r.pageUrl,
        openedAt: r.openedAt,
        messagesOut: r.messagesOut,
        messagesIn: r.messagesIn,
        bytesOut: r.bytesOut,
        bytesIn: r.bytesIn,
      }));
    }
    return out;
  }

  /** The pages, frames and workers attached now. */
  targets(): BrowserTargetInfo[] {
    const run = this.run;
    if (run === undefined) return [];
    const out: BrowserTargetInfo[] = [];
    for (const s of run.sessions.values()) {
      if (s.type === 'tab' || s.type === 'browser') continue;
      out.push({ targetId: s.targetId, type: s.type, title: s.title, url: s.url });
    }
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const run = this.run;
    this.run = undefined;
    if (run !== undefined) {
      this.endSockets(run, 'inspector stopped');
      this.endRun(run);
    }
    this._onDidChangeSockets.dispose();
    this._onDidChangeTargets.dispose();
    this._onDidDisconnect.dispose();
    this._onDidWarn.dispose();
  }

  // --- attaching ---

  private async attachBrowser(run: Run, conn: CdpConnection, timeoutMs: number): Promise<void> {
    run.mode = 'browser';
    run.sessions.set('', { targetId: '', type: 'browser', title: '', url: '' });
    // Discovery keeps titles and URLs current (targetInfoChanged).
    await conn.send('Target.setDiscoverTargets', { discover: true }, undefined, timeoutMs).catch((e) => this.warn(run, `Target.setDiscoverTargets failed: ${msg(e)}`));
    // Chromium since about 112 puts each page under a 'tab' target and refuses to auto-attach pages directly next
    // to tabs; older ones attach pages directly. Ask which kind this is.
    let hasTabs = false;
    try {
      const all = await conn.send('Target.getTargets', { filter: [{}] }, undefined, timeoutMs);
      hasTabs = Array.isArray(all.targetInfos) && all.targetInfos.some((t) => targetInfoOf(t)?.type === 'tab');
    } catch (e) {
      this.warn(run, `Target.getTargets failed: ${msg(e)}`);
    }
    const autoAttach = { autoAttach: true, waitForDebuggerOnStart: true, flatten: true };
    const filter = [{ type: 'tab' }, { type: 'shared_worker' }, { type: 'service_worker' }];
    try {
      await conn.send('Target.setAutoAttach', hasTabs ? { ...autoAttach, filter } : autoAttach, undefined, timeoutMs);
    } catch (e) {
      if (!hasTabs || !(e instanceof CdpError)) throw asNotDevtools(run, e);
      this.warn(run, `Target.setAutoAttach with a tab filter failed (${msg(e)}); attaching pages directly`);
      await conn.send('Target.setAutoAttach', autoAttach, undefined, timeoutMs).catch((e2) => {
        throw asNotDevtools(run, e2);
      });
    }
  }

  private async attachPage(run: Run, conn: CdpConnection, self: SessionInfo | undefined, timeoutMs: number): Promise<void> {
    run.mode = 'page';
    run.sessions.set('', self ?? { targetId: '', type: 'page', title: '', url: '' });
    if (self === undefined) {
      run.pageInfoSource = 'history';
      const info = await this.readPageInfo(run, undefined);
      if (info !== undefined) Object.assign(run.sessions.get('')!, info);
    }
    // js-debug's CDP proxy forwards only the events a client subscribes to. A browser answers "not found".
    await conn.send('JsDebug.subscribe', { events: PAGE_EVENTS }, undefined, timeoutMs).catch(() => undefined);
    try {
      await conn.send('Network.enable', {}, undefined, timeoutMs);
    } catch (e) {
      throw asNotDevtools(run, e);
    }
    // frameNavigated keeps the page URL current (a page endpoint gets no targetInfoChanged). Without it the page
    // label is only refreshed when a socket appears, which can be too late for the socket's own records.
    await conn.send('Page.enable', {}, undefined, timeoutMs).catch((e) => this.warn(run, `Page.enable failed, page URLs may lag: ${msg(e)}`));
    this._onDidChangeTargets.fire();
  }

  /** A target was attached (flat mode): enable Network on it, let it auto-attach its frames and workers, resume it. */
  private onAttached(run: Run, parent: string, params: Record<string, unknown>): void {
    const sessionId = params.sessionId;
    const info = targetInfoOf(params.targetInfo);
    if (typeof sessionId !== 'string' || info === undefined) {
      this.warn(run, 'Target.attachedToTarget without a sessionId or targetInfo');
      return;
    }
    const conn = run.conn!;
    const waiting = params.waitingForDebugger === true;
    const parentSession = parent === '' ? undefined : parent;
    if (info.type !== 'tab' && !WEB_TARGETS.has(info.type)) {
      // Not a web target (the browser's own UI, a worklet): let it run and let it go.
      if (waiting) conn.send('Runtime.runIfWaitingForDebugger', {}, sessionId).catch(() => undefined);
      conn.send('Target.detachFromTarget', { sessionId }, parentSession).catch(() => undefined);
      return;
    }
    run.sessions.set(sessionId, { ...info, parent });
    this._onDidChangeTargets.fire();
    const attachChildren = { autoAttach: true, waitForDebuggerOnStart: true, flatten: true };
    const init = (async () => {
      if (info.type === 'tab') {
        // The tab's page attaches while this command runs; resume the tab only once the page records.
        const children = new Set<Promise<void>>();
        run.childInits.set(sessionId, children);
        try {
          await conn.send('Target.setAutoAttach', attachChildren, sessionId);
          await Promise.allSettled([...children]);
        } finally {
          run.childInits.delete(sessionId);
        }
      } else {
        const [network] = await Promise.allSettled([
          conn.send('Network.enable', {}, sessionId),
          conn.send('Target.setAutoAttach', attachChildren, sessionId),
        ]);
        if (network.status === 'rejected' && info.type !== 'service_worker' && info.type !== 'shared_worker') {
          this.warn(run, `Network.enable failed on ${info.type} ${info.url}: ${msg(network.reason)}`);
        }
      }
      if (waiting) await conn.send('Runtime.runIfWaitingForDebugger', {}, sessionId);
    })().catch((e) => {
      if (!run.ended && !conn.isClosed) this.warn(run, `Could not attach to ${info.type} ${info.url}: ${msg(e)}`);
    });
    run.pending.add(init);
    run.childInits.get(parent)?.add(init);
    void init.finally(() => run.pending.delete(init));
  }

  private onDetached(run: Run, sessionId: string, reason: string): void {
    // The session and those it attached (a tab's page, a page's frames and workers).
    const gone = new Set([sessionId]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [id, s] of run.sessions) {
        if (s.parent !== undefined && gone.has(s.parent) && !gone.has(id)) {
          gone.add(id);
          grew = true;
        }
      }
    }
    let changed = false;
    for (const r of this.records.values()) {
      if (!r.ended && gone.has(r.session)) {
        this.finish(run, r, now(), reason);
        changed = true;
      }
    }
    for (const id of gone) run.sessions.delete(id);
    this._onDidChangeTargets.fire();
    if (changed) this._onDidChangeSockets.fire();
  }

  // --- events ---

  private onEvent(run: Run, e: CdpEvent): void {
    if (run.ended) return;
    try {
      const session = e.sessionId ?? '';
      if (e.method.startsWith('Network.webSocket')) {
        this.onNetworkEvent(run, session, e.method, e.params);
        return;
      }
      switch (e.method) {
        case 'Target.attachedToTarget':
          this.onAttached(run, session, e.params);
          return;
        case 'Target.detachedFromTarget':
          if (typeof e.params.sessionId === 'string') this.onDetached(run, e.params.sessionId, 'target closed');
          return;
        case 'Target.targetInfoChanged':
          this.onTargetInfoChanged(run, e.params);
          return;
        case 'Target.targetCrashed':
          if (typeof e.params.targetId === 'string') {
            for (const [id, s] of [...run.sessions]) if (s.targetId === e.params.targetId && id !== '') this.onDetached(run, id, 'target crashed');
          }
          return;
        case 'Page.frameNavigated':
          if (session === '' && run.mode === 'page') this.onPageNavigated(run, e.params);
          return;
        case 'Inspector.detached':
          if (session === '' && run.mode === 'page') {
            run.detachReason = detachText(e.params.reason);
            run.conn?.close();
          }
          return;
      }
    } catch (err) {
      this.warn(run, `Could not record ${e.method}: ${msg(err)}`);
    }
  }

  private onPageNavigated(run: Run, params: Record<string, unknown>): void {
    const frame = asRecord(params.frame);
    const self = run.sessions.get('');
    // Only the main frame (no parentId) names the page.
    if (frame === undefined || frame.parentId !== undefined || typeof frame.url !== 'string' || self === undefined) return;
    const url = frame.url + (typeof frame.urlFragment === 'string' ? frame.urlFragment : '');
    if (self.url === url) return;
    self.url = url;
    // The old title belongs to the old document; the new one is read when a socket appears.
    self.title = '';
    self.refreshedAt = undefined;
    this._onDidChangeTargets.fire();
  }

  private onTargetInfoChanged(run: Run, params: Record<string, unknown>): void {
    const info = targetInfoOf(params.targetInfo);
    if (info === undefined) return;
    let changed = false;
    for (const s of run.sessions.values()) {
      if (s.targetId !== info.targetId || (s.title === info.title && s.url === info.url)) continue;
      s.title = info.title;
      s.url = info.url;
      changed = true;
    }
    if (!changed) return;
    this._onDidChangeTargets.fire();
    for (const r of this.records.values()) {
      if (!r.ended) {
        this._onDidChangeSockets.fire();
        return;
      }
    }
  }

  private onNetworkEvent(run: Run, session: string, method: string, p: Record<string, unknown>): void {
    const requestId = p.requestId;
    if (typeof requestId !== 'string' || requestId === '') {
      this.warn(run, `${method} without a requestId`);
      return;
    }
    const existing = this.records.get(requestId);
    // A socket can be reported by more than one attached target; the first one to report it describes it.
    if (existing !== undefined && existing.session !== session) return;
    if (existing?.ended === true && method !== 'Network.webSocketCreated') return;
    switch (method) {
      case 'Network.webSocketCreated': {
        if (existing !== undefined && !existing.ended) return;
        this.newRecord(run, session, requestId, typeof p.url === 'string' ? p.url : '', now());
        this._onDidChangeSockets.fire();
        return;
      }
      case 'Network.webSocketWillSendHandshakeRequest': {
        run.clock.calibrate(p.wallTime, p.timestamp);
        const r = existing ?? this.newRecord(run, session, requestId, '', run.clock.toEpochMs(p.timestamp));
        const request = asRecord(p.request);
        r.requestTs = isNum(p.timestamp) ? p.timestamp : undefined;
        r.request = { startLine: `GET ${pathOf(r.url)} HTTP/1.1`, headers: headerPairs(request?.headers) };
        if (existing === undefined) this._onDidChangeSockets.fire();
        return;
      }
      case 'Network.webSocketHandshakeResponseReceived': {
        const response = asRecord(p.response);
        if (response === undefined) {
          this.warn(run, `${method} without a response`);
          return;
        }
        const time = run.clock.toEpochMs(p.timestamp);
        const r = existing ?? this.newRecord(run, session, requestId, '', time);
        this.recordHandshake(run, r, response, time, p.timestamp);
        this._onDidChangeSockets.fire();
        return;
      }
      case 'Network.webSocketFrameSent':
      case 'Network.webSocketFrameReceived': {
        const frame = asRecord(p.response);
        const opcode = frame?.opcode;
        if (frame === undefined || !isNum(opcode) || !Number.isInteger(opcode) || opcode < 0 || opcode > 15 || typeof frame.payloadData !== 'string') {
          this.warn(run, `${method} with a malformed frame`);
          return;
        }
        const time = run.clock.toEpochMs(p.timestamp);
        const r = existing ?? this.newRecord(run, session, requestId, '', time);
        this.ensureOpen(run, r, time);
        // Chromium sends a text message as a string and everything else as base64.
        const payload = opcode === OPCODE_TEXT ? Buffer.from(frame.payloadData, 'utf8') : Buffer.from(frame.payloadData, 'base64');
        const direction = method === 'Network.webSocketFrameSent' ? 'c2s' : 's2c';
        recordSyntheticFrame(run.options.sink, { connectionId: r.id, direction, opcode, payload, time, masked: frame.mask === true });
        r.recorded = true;
        if (opcode === OPCODE_TEXT || opcode === OPCODE_BINARY) {
          if (direction === 'c2s') {
            r.messagesOut++;
            r.bytesOut += payload.length;
          } else {
            r.messagesIn++;
            r.bytesIn += payload.length;
          }
        }
        if (opcode === OPCODE_CLOSE) {
          const close = payload.length >= 2 ? { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') } : {};
          if (direction === 'c2s') r.closeC2s = close;
          else r.closeS2c = close;
        }
        return;
      }
      case 'Network.webSocketFrameError': {
        const time = run.clock.toEpochMs(p.timestamp);
        const r = existing ?? this.newRecord(run, session, requestId, '', time);
        const text = typeof p.errorMessage === 'string' && p.errorMessage !== '' ? p.errorMessage : 'WebSocket error';
        const beforeOpen = !r.opened;
        if (beforeOpen && !r.handshakeRecorded && r.request !== undefined) {
          // A refused upgrade: Chromium reports no response head, only "Unexpected response code: 403".
          const status = /response code: (\d{3})\b/.exec(text);
          recordSyntheticHandshake(run.options.sink, { connectionId: r.id, request: r.request, status: status ? Number(status[1]) : 0, time });
          r.handshakeRecorded = true;
        }
        const ev: Omit<ErrorEvent, 'id'> = {
          kind: 'error',
          connectionId: r.id,
          time,
          direction: beforeOpen ? undefined : 's2c',
          code: beforeOpen ? ERR_BROWSER_HANDSHAKE : ERR_BROWSER_FRAME,
          closeCode: beforeOpen ? 1006 : closeCodeFor(text),
          message: `Browser: ${text}`,
        };
        run.options.sink.append(ev);
        r.recorded = true;
        return;
      }
      case 'Network.webSocketClosed': {
        if (existing === undefined) return;
        this.finish(run, existing, run.clock.toEpochMs(p.timestamp));
        this._onDidChangeSockets.fire();
        return;
      }
    }
  }

  private newRecord(run: Run, session: string, requestId: string, url: string, openedAt: number): SocketRecord {
    const page = pageOf(run, session);
    const r: SocketRecord = {
      id: `${run.tag}-${++this.socketSerial}`,
      requestId,
      session,
      url,
      state: 'connecting',
      openedAt,
      messagesOut: 0,
      messagesIn: 0,
      bytesOut: 0,
      bytesIn: 0,
      pageTitle: page?.title || undefined,
      pageUrl: page?.url || undefined,
      handshakeRecorded: false,
      opened: false,
      recorded: false,
      ended: false,
    };
    // A requestId seen again after its socket closed starts a new record.
    this.records.delete(requestId);
    this.records.set(requestId, r);
    this.refreshPageInfo(run, session);
    return r;
  }

  private recordHandshake(run: Run, r: SocketRecord, response: Record<string, unknown>, time: number, timestamp: unknown): void {
    if (r.handshakeRecorded) return;
    // The response repeats the request as sent (requestHeadersText: start line and headers in wire order).
    const requestText = typeof response.requestHeadersText === 'string' ? parseHeadText(response.requestHeadersText) : undefined;
    if (requestText !== undefined) {
      const line = parseRequestLine(requestText.startLine);
      if (line !== undefined && /^wss?:\/\//i.test(line.target)) {
        if (r.url === '') r.url = line.target;
        // Chromium prints the absolute URL; on the wire the request line had the path.
        requestText.startLine = `${line.method} ${pathOf(line.target)} ${line.version}`;
      }
      r.request = requestText;
    } else if (r.request === undefined && response.requestHeaders !== undefined) {
      r.request = { startLine: `GET ${pathOf(r.url)} HTTP/1.1`, headers: headerPairs(response.requestHeaders) };
    }
    const status = isNum(response.status) ? response.status : 0;
    const statusText = typeof response.statusText === 'string' ? response.statusText : '';
    const head = (typeof response.headersText === 'string' ? parseHeadText(response.headersText) : undefined) ?? {
      startLine: `HTTP/1.1 ${status}${statusText === '' ? '' : ` ${statusText}`}`,
      headers: headerPairs(response.headers),
    };
    recordSyntheticHandshake(run.options.sink, {
      connectionId: r.id,
      request: r.request ?? { startLine: `GET ${pathOf(r.url)} HTTP/1.1`, headers: [] },
      response: head,
      status,
      time,
      openMs: r.requestTs !== undefined && isNum(timestamp) ? Math.max(0, (timestamp - r.requestTs) * 1000) : undefined,
    });
    r.handshakeRecorded = true;
    r.recorded = true;
    if (status === 101) this.ensureOpen(run, r, time);
  }

  private ensureOpen(run: Run, r: SocketRecord, time: number): void {
    if (r.opened) return;
    r.opened = true;
    r.state = 'open';
    r.meta = this.metaFor(run, r);
    recordSyntheticConnection(run.options.sink, { connectionId: r.id, state: 'open', role: 'client', meta: r.meta, time });
    r.recorded = true;
    this._onDidChangeSockets.fire();
  }

  /** The socket is gone: a request that got no response is recorded as such, then the 'closed' event. */
  private finish(run: Run, r: SocketRecord, time: number, endReason?: string): void {
    if (r.ended) return;
    r.ended = true;
    r.state = r.opened ? 'closed' : 'failed';
    // Its page as last known, for sockets() once the session is gone.
    const page = pageOf(run, r.session);
    r.pageTitle = page?.title || r.pageTitle;
    r.pageUrl = page?.url || r.pageUrl;
    try {
      if (!r.handshakeRecorded && r.request !== undefined) {
        recordSyntheticHandshake(run.options.sink, { connectionId: r.id, request: r.request, status: 0, time });
        r.handshakeRecorded = true;
        r.recorded = true;
      }
      if (r.recorded) {
        // The browser is the client: the peer's close frame is the one it received.
        const close = r.closeS2c ?? r.closeC2s;
        const meta = r.meta ?? this.metaFor(run, r);
        recordSyntheticConnection(run.options.sink, {
          connectionId: r.id,
          state: 'closed',
          role: 'client',
          meta: endReason === undefined ? meta : { ...meta, endReason },
          code: close?.code,
          reason: close?.reason,
          clean: r.closeC2s !== undefined && r.closeS2c !== undefined,
          time,
        });
      }
    } finally {
      this.closedOrder.push(r.requestId);
      const cap = run.options.maxClosedSockets ?? 500;
      while (this.closedOrder.length > cap) {
        const old = this.closedOrder.shift()!;
        const rec = this.records.get(old);
        if (rec?.ended === true) this.records.delete(old);
      }
    }
  }

  private metaFor(run: Run, r: SocketRecord): Record<string, string> {
    const page = pageOf(run, r.session);
    const own = run.sessions.get(r.session);
    const meta: Record<string, string> = { ...run.options.meta, source: 'browser', url: r.url };
    // The title is left out: Chromium does not report title changes, so a recorded one could be stale.
    const pageUrl = page?.url || r.pageUrl;
    if (pageUrl) meta.page = pageUrl;
    if (own !== undefined && own.type !== 'page' && own.type !== 'browser') meta.target = own.type;
    return meta;
  }

  /**
   * Chromium sends no targetInfoChanged when a page sets its title, so the page of a new socket is asked for its
   * title and URL (at most once a second per page).
   */
  private refreshPageInfo(run: Run, session: string): void {
    const page = pageOf(run, session);
    if (page === undefined || page.type === 'browser' || run.pageInfoSource === 'none' || page.refreshing === true) return;
    if (page.refreshedAt !== undefined && now() - page.refreshedAt < 1000) return;
    page.refreshing = true;
    // On a page endpoint the connection's own target is the page; on a browser endpoint the page is named.
    const own = run.mode === 'page' && page === run.sessions.get('');
    void this.readPageInfo(run, own ? undefined : page.targetId)
      .then((info) => {
        if (run.ended || info === undefined || (page.title === info.title && page.url === info.url)) return;
        page.title = info.title;
        page.url = info.url;
        this._onDidChangeTargets.fire();
        this._onDidChangeSockets.fire();
      })
      .finally(() => {
        page.refreshing = false;
        page.refreshedAt = now();
      });
  }

  /**
   * A page's title and URL: from Target.getTargetInfo, or, where a debugger's proxy refuses the Target domain,
   * from the page's navigation history (which runs no script in the page). Undefined when neither answers.
   */
  private async readPageInfo(run: Run, targetId: string | undefined): Promise<{ title: string; url: string } | undefined> {
    const conn = run.conn;
    if (conn === undefined) return undefined;
    const timeoutMs = run.options.connectTimeoutMs ?? 5000;
    if (run.pageInfoSource === 'target' || targetId !== undefined) {
      try {
        const res = await conn.send('Target.getTargetInfo', targetId === undefined ? {} : { targetId }, undefined, timeoutMs);
        return targetInfoOf(res.targetInfo);
      } catch {
        if (targetId !== undefined) return undefined;
        run.pageInfoSource = 'history';
      }
    }
    if (run.pageInfoSource !== 'history') return undefined;
    try {
      const res = await conn.send('Page.getNavigationHistory', {}, undefined, timeoutMs);
      const entries = Array.isArray(res.entries) ? res.entries : [];
      const entry = asRecord(entries[isNum(res.currentIndex) ? res.currentIndex : entries.length - 1]);
      if (entry === undefined || typeof entry.url !== 'string') return undefined;
      return { url: entry.url, title: typeof entry.title === 'string' ? entry.title : '' };
    } catch {
      run.pageInfoSource = 'none';
      return undefined;
    }
  }

  // --- ending ---

  private onConnectionClose(run: Run, code: number, reason: string, error: Error | undefined): void {
    if (run.ended) return;
    const how = error !== undefined ? `dropped the DevTools connection (${error.message})` : `closed the DevTools connection (${code}${reason ? ` ${reason}` : ''})`;
    const text = run.detachReason ?? `The ${run.mode === 'page' ? 'page' : 'browser'} at ${run.where} ${how}: it exited, crashed or was closed`;
    this.endSockets(run, 'DevTools connection lost');
    this.endRun(run);
    if (this.run === run) {
      this.run = undefined;
      this._onDidDisconnect.fire({ reason: text });
    }
  }

  private endSockets(run: Run, endReason: string): void {
    let changed = false;
    for (const r of [...this.records.values()]) {
      if (r.ended) continue;
      try {
        this.finish(run, r, now(), endReason);
      } catch (e) {
        this.warn(run, `Could not record the end of ${r.id}: ${msg(e)}`);
      }
      changed = true;
    }
    if (changed) this._onDidChangeSockets.fire();
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

// --- helpers ---

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

/** Waits (bounded) for the initialisation of the targets attached so far, including those they attach meanwhile. */
async function settle(run: Run, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let round = 0; round < 20 && run.pending.size > 0 && !run.ended; round++) {
    const left = deadline - Date.now();
    if (left <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...run.pending]),
      new Promise<void>((r) => {
        timer = setTimeout(r, left);
      }),
    ]);
    clearTimeout(timer);
  }
}

function pageOf(run: Run, session: string): SessionInfo | undefined {
  let s = run.sessions.get(session);
  const first = s;
  for (let i = 0; i < 16 && s !== undefined; i++) {
    if (s.type === 'page') return s;
    s = s.parent === undefined ? undefined : run.sessions.get(s.parent);
  }
  return first;
}

function targetInfoOf(x: unknown): SessionInfo | undefined {
  const t = asRecord(x);
  if (t === undefined || typeof t.targetId !== 'string' || typeof t.type !== 'string') return undefined;
  return { targetId: t.targetId, type: t.type, title: typeof t.title === 'string' ? t.title : '', url: typeof t.url === 'string' ? t.url : '' };
}

/** CDP `Headers` (an object; repeated headers joined by newlines) as name/value pairs. */
function headerPairs(x: unknown): Array<[string, string]> {
  const h = asRecord(x);
  if (h === undefined) return [];
  const out: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(h)) {
    if (typeof v !== 'string') continue;
    for (const one of v.split('\n')) out.push([k, one]);
  }
  return out;
}

/** A head Chromium printed (start line, CRLF-separated headers); undefined when it does not look like one. */
function parseHeadText(text: string): HeadParts | undefined {
  if (text === '') return undefined;
  const full = text.endsWith('\r\n\r\n') ? text : `${text.replace(/(\r\n)*$/, '')}\r\n\r\n`;
  // Chromium builds these strings from the header bytes one char per byte, so latin1 gives the bytes back.
  const head = parseHttpHead(Buffer.from(full, 'latin1'));
  if (head.startLine === '') return undefined;
  return { startLine: head.startLine, headers: head.headers };
}

function pathOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.pathname || '/'}${u.search}`;
  } catch {
    return '/';
  }
}

/** The close status a browser frame error calls for, from Chromium's message. */
function closeCodeFor(message: string): number {
  if (/utf-?8/i.test(message)) return 1007;
  if (/too (big|large)|exceed/i.test(message)) return 1009;
  return 1002;
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

function asNotDevtools(run: Run, e: unknown): ConnectionError {
  if (e instanceof ConnectionError) return e;
  return new ConnectionError('ENOTDEVTOOLS', `${run.where} does not let the inspector watch network traffic: ${msg(e)}`, { cause: e });
}

function asRecord(x: unknown): Record<string, unknown> | undefined {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined;
}

function isNum(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

function msg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function stripUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as Array<keyof T>) if (o[k] === undefined) delete o[k];
  return o;
}
