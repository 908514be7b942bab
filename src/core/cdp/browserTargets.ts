// The pages, frames and workers the browser inspector is attached to: attaching them, their DevTools sessions, and
// their titles and URLs.
//
// Two kinds of endpoint:
// - a browser (ws://…/devtools/browser/…, or http://host:port resolved through /json/version): every tab, its
//   frames and workers, and tabs opened later, are attached in flat mode (one socket, events carry a sessionId);
// - one page (ws://…/devtools/page/…, or the CDP proxy of a VS Code debug session): only `Network` (and `Page`, for
//   its URL) is enabled on it. The `Target` domain is left alone there: a debugger's proxy shares its session with us.

import type { Protocol } from 'devtools-protocol';
import { ConnectionError } from '../util/connectionError';
import { CdpError, type CdpConnection } from './cdpConnection';
import { errorText } from '../../shared/errorText';
import { isNum, now, objectOr } from './cdpValues';

export interface BrowserTargetInfo {
  targetId: string;
  /** `page`, `iframe`, `worker`, `shared_worker`, `service_worker`, `tab`… */
  type: string;
  title: string;
  url: string;
}

/** An attached target ('' is the connection's own: the browser, or the page of a page endpoint). */
export interface SessionInfo {
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

/** The attachment the targets belong to, as the inspector keeps it. */
export interface Attachment {
  /** Set once the DevTools connection is open. */
  readonly conn: CdpConnection | undefined;
  /** Stopped, disconnected, or its start() failed: late replies change nothing. */
  readonly ended: boolean;
  /** The endpoint as the user gave it, for messages. */
  readonly where: string;
  /** Time the browser has to answer a command (ms). */
  readonly timeoutMs: number;
}

export interface TargetEvents {
  /** A target was attached or went away, or changed title or URL. */
  changed(): void;
  /** A page's title or URL was read anew: the sockets it owns show them too. */
  pageChanged(): void;
  /** A problem that did not stop the inspector. */
  warn(text: string): void;
}

/** Targets that can own WebSockets. Others (the browser's own UI, worklets) are let go at once. */
const WEB_TARGETS = new Set(['page', 'iframe', 'worker', 'shared_worker', 'service_worker', 'webview', 'background_page']);
/** The events a page endpoint needs; a debugger's proxy sends only those subscribed to (JsDebug.subscribe). */
const PAGE_EVENTS = ['Network.webSocket*', 'Page.frameNavigated', 'Inspector.detached'];

/** The targets of one attachment, by flat-mode session id. */
export class BrowserTargets {
  /** Which kind of endpoint it turned out to be. */
  mode: 'browser' | 'page' = 'browser';
  private readonly sessions = new Map<string, SessionInfo>();
  /** Initialisations of attached targets in flight (start() waits for those of the targets already open). */
  private readonly pending = new Set<Promise<void>>();
  /** For a tab being initialised: the initialisations of the targets it attached (its page). */
  private readonly childInits = new Map<string, Set<Promise<void>>>();
  /** Where a page endpoint's title and URL come from (see readPageInfo). */
  private pageInfoSource: 'target' | 'history' | 'none' = 'target';

  constructor(
    private readonly run: Attachment,
    private readonly on: TargetEvents,
  ) {}

  // --- attaching ---

  async attachBrowser(conn: CdpConnection, timeoutMs: number): Promise<void> {
    this.mode = 'browser';
    this.sessions.set('', { targetId: '', type: 'browser', title: '', url: '' });
    // Discovery keeps titles and URLs current (targetInfoChanged).
    await conn.send('Target.setDiscoverTargets', { discover: true }, undefined, timeoutMs).catch((e) => this.on.warn(`Target.setDiscoverTargets failed: ${errorText(e)}`));
    // Chromium since about 112 puts each page under a 'tab' target and refuses to auto-attach pages directly next
    // to tabs; older ones attach pages directly. Ask which kind this is.
    let hasTabs = false;
    try {
      const all = await conn.send('Target.getTargets', { filter: [{}] }, undefined, timeoutMs);
      hasTabs = Array.isArray(all.targetInfos) && all.targetInfos.some((t) => targetInfoOf(t)?.type === 'tab');
    } catch (e) {
      this.on.warn(`Target.getTargets failed: ${errorText(e)}`);
    }
    const autoAttach = { autoAttach: true, waitForDebuggerOnStart: true, flatten: true };
    const filter = [{ type: 'tab' }, { type: 'shared_worker' }, { type: 'service_worker' }];
    try {
      await conn.send('Target.setAutoAttach', hasTabs ? { ...autoAttach, filter } : autoAttach, undefined, timeoutMs);
    } catch (e) {
      if (!hasTabs || !(e instanceof CdpError)) throw this.notDevtools(e);
      this.on.warn(`Target.setAutoAttach with a tab filter failed (${errorText(e)}); attaching pages directly`);
      await conn.send('Target.setAutoAttach', autoAttach, undefined, timeoutMs).catch((e2) => {
        throw this.notDevtools(e2);
      });
    }
  }

  async attachPage(conn: CdpConnection, self: SessionInfo | undefined, timeoutMs: number): Promise<void> {
    this.mode = 'page';
    this.sessions.set('', self ?? { targetId: '', type: 'page', title: '', url: '' });
    if (self === undefined) {
      this.pageInfoSource = 'history';
      const info = await this.readPageInfo(undefined);
      if (info !== undefined) Object.assign(this.sessions.get('')!, info);
    }
    // js-debug's CDP proxy forwards only the events a client subscribes to. A browser answers "not found".
    await conn.send('JsDebug.subscribe', { events: PAGE_EVENTS }, undefined, timeoutMs).catch(() => undefined);
    try {
      await conn.send('Network.enable', {}, undefined, timeoutMs);
    } catch (e) {
      throw this.notDevtools(e);
    }
    // frameNavigated keeps the page URL current (a page endpoint gets no targetInfoChanged). Without it the page
    // label is only refreshed when a socket appears, which can be too late for the socket's own records.
    await conn.send('Page.enable', {}, undefined, timeoutMs).catch((e) => this.on.warn(`Page.enable failed, page URLs may lag: ${errorText(e)}`));
    this.on.changed();
  }

  /** A target was attached (flat mode): enable Network on it, let it auto-attach its frames and workers, resume it. */
  onAttached(parent: string, params: Protocol.Target.AttachedToTargetEvent): void {
    const sessionId = params.sessionId;
    const info = targetInfoOf(params.targetInfo);
    if (typeof sessionId !== 'string' || info === undefined) {
      this.on.warn('Target.attachedToTarget without a sessionId or targetInfo');
      return;
    }
    const conn = this.run.conn!;
    const waiting = params.waitingForDebugger === true;
    const parentSession = parent === '' ? undefined : parent;
    if (info.type !== 'tab' && !WEB_TARGETS.has(info.type)) {
      // Not a web target (the browser's own UI, a worklet): let it run and let it go.
      if (waiting) conn.send('Runtime.runIfWaitingForDebugger', {}, sessionId).catch(() => undefined);
      conn.send('Target.detachFromTarget', { sessionId }, parentSession).catch(() => undefined);
      return;
    }
    this.sessions.set(sessionId, { ...info, parent });
    this.on.changed();
    const init = this.initTarget(conn, sessionId, info, waiting).catch((e) => {
      if (!this.run.ended && !conn.isClosed) this.on.warn(`Could not attach to ${info.type} ${info.url}: ${errorText(e)}`);
    });
    this.pending.add(init);
    this.childInits.get(parent)?.add(init);
    void init.finally(() => this.pending.delete(init));
  }

  private async initTarget(conn: CdpConnection, sessionId: string, info: SessionInfo, waiting: boolean): Promise<void> {
    const attachChildren = { autoAttach: true, waitForDebuggerOnStart: true, flatten: true };
    if (info.type === 'tab') {
      // The tab's page attaches while this command runs; resume the tab only once the page records.
      const children = new Set<Promise<void>>();
      this.childInits.set(sessionId, children);
      try {
        await conn.send('Target.setAutoAttach', attachChildren, sessionId);
        await Promise.allSettled([...children]);
      } finally {
        this.childInits.delete(sessionId);
      }
    } else {
      const [network] = await Promise.allSettled([
        conn.send('Network.enable', {}, sessionId),
        conn.send('Target.setAutoAttach', attachChildren, sessionId),
      ]);
      if (network.status === 'rejected' && info.type !== 'service_worker' && info.type !== 'shared_worker') {
        this.on.warn(`Network.enable failed on ${info.type} ${info.url}: ${errorText(network.reason)}`);
      }
    }
    if (waiting) await conn.send('Runtime.runIfWaitingForDebugger', {}, sessionId);
  }

  /** Waits (bounded) for the initialisation of the targets attached so far, including those they attach meanwhile. */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let round = 0; round < 20 && this.pending.size > 0 && !this.run.ended; round++) {
      const left = deadline - Date.now();
      if (left <= 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.pending]),
        new Promise<void>((r) => {
          timer = setTimeout(r, left);
        }),
      ]);
      clearTimeout(timer);
    }
  }

  // --- going away ---

  /** The session and those it attached (a tab's page, a page's frames and workers). */
  subtree(sessionId: string): Set<string> {
    const gone = new Set([sessionId]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [id, s] of this.sessions) {
        if (s.parent !== undefined && gone.has(s.parent) && !gone.has(id)) {
          gone.add(id);
          grew = true;
        }
      }
    }
    return gone;
  }

  remove(sessions: Iterable<string>): void {
    for (const id of sessions) this.sessions.delete(id);
  }

  /** The attached sessions of a target (not the connection's own). */
  sessionsOf(targetId: string): string[] {
    const out: string[] = [];
    for (const [id, s] of this.sessions) if (s.targetId === targetId && id !== '') out.push(id);
    return out;
  }

  // --- titles and URLs ---

  /** Target.targetInfoChanged: returns whether an attached target changed title or URL. */
  onTargetInfoChanged(params: Protocol.Target.TargetInfoChangedEvent): boolean {
    const info = targetInfoOf(params.targetInfo);
    if (info === undefined) return false;
    let changed = false;
    for (const s of this.sessions.values()) {
      if (s.targetId !== info.targetId || (s.title === info.title && s.url === info.url)) continue;
      s.title = info.title;
      s.url = info.url;
      changed = true;
    }
    return changed;
  }

  /** Page.frameNavigated on a page endpoint. */
  onPageNavigated(params: Protocol.Page.FrameNavigatedEvent): void {
    const frame = objectOr(params.frame);
    const self = this.sessions.get('');
    // Only the main frame (no parentId) names the page.
    if (frame === undefined || frame.parentId !== undefined || typeof frame.url !== 'string' || self === undefined) return;
    const url = frame.url + (typeof frame.urlFragment === 'string' ? frame.urlFragment : '');
    if (self.url === url) return;
    self.url = url;
    // The old title belongs to the old document; the new one is read when a socket appears.
    self.title = '';
    self.refreshedAt = undefined;
    this.on.changed();
  }

  /**
   * Chromium sends no targetInfoChanged when a page sets its title, so the page of a new socket is asked for its
   * title and URL (at most once a second per page).
   */
  refreshPageInfo(session: string): void {
    const page = this.pageOf(session);
    if (page === undefined || page.type === 'browser' || this.pageInfoSource === 'none' || page.refreshing === true) return;
    if (page.refreshedAt !== undefined && now() - page.refreshedAt < 1000) return;
    page.refreshing = true;
    // On a page endpoint the connection's own target is the page; on a browser endpoint the page is named.
    const own = this.mode === 'page' && page === this.sessions.get('');
    void this.readPageInfo(own ? undefined : page.targetId)
      .then((info) => {
        if (this.run.ended || info === undefined || (page.title === info.title && page.url === info.url)) return;
        page.title = info.title;
        page.url = info.url;
        this.on.pageChanged();
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
  private async readPageInfo(targetId: string | undefined): Promise<{ title: string; url: string } | undefined> {
    const conn = this.run.conn;
    if (conn === undefined) return undefined;
    const timeoutMs = this.run.timeoutMs;
    if (this.pageInfoSource === 'target' || targetId !== undefined) {
      try {
        const res = await conn.send('Target.getTargetInfo', targetId === undefined ? {} : { targetId }, undefined, timeoutMs);
        return targetInfoOf(res.targetInfo);
      } catch {
        if (targetId !== undefined) return undefined;
        this.pageInfoSource = 'history';
      }
    }
    if (this.pageInfoSource !== 'history') return undefined;
    try {
      const res = await conn.send('Page.getNavigationHistory', {}, undefined, timeoutMs);
      const entries = Array.isArray(res.entries) ? res.entries : [];
      const entry = objectOr(entries[isNum(res.currentIndex) ? res.currentIndex : entries.length - 1]);
      if (entry === undefined || typeof entry.url !== 'string') return undefined;
      return { url: entry.url, title: typeof entry.title === 'string' ? entry.title : '' };
    } catch {
      this.pageInfoSource = 'none';
      return undefined;
    }
  }

  // --- lookups ---

  session(id: string): SessionInfo | undefined {
    return this.sessions.get(id);
  }

  /** The page a session belongs to (itself, or the nearest page above a frame or worker); else the session itself. */
  pageOf(session: string): SessionInfo | undefined {
    let s = this.sessions.get(session);
    const first = s;
    for (let i = 0; i < 16 && s !== undefined; i++) {
      if (s.type === 'page') return s;
      s = s.parent === undefined ? undefined : this.sessions.get(s.parent);
    }
    return first;
  }

  /** The pages, frames and workers (not tabs, not the browser). */
  list(): BrowserTargetInfo[] {
    const out: BrowserTargetInfo[] = [];
    for (const s of this.sessions.values()) {
      if (s.type === 'tab' || s.type === 'browser') continue;
      out.push({ targetId: s.targetId, type: s.type, title: s.title, url: s.url });
    }
    return out;
  }

  pageCount(): number {
    let pages = 0;
    for (const s of this.sessions.values()) if (s.type === 'page') pages++;
    return pages;
  }

  private notDevtools(e: unknown): ConnectionError {
    if (e instanceof ConnectionError) return e;
    return new ConnectionError('ENOTDEVTOOLS', `${this.run.where} does not let the inspector watch network traffic: ${errorText(e)}`, { cause: e });
  }
}

export function targetInfoOf(x: Protocol.Target.TargetInfo | undefined): SessionInfo | undefined {
  const t = objectOr(x);
  if (t === undefined || typeof t.targetId !== 'string' || typeof t.type !== 'string') return undefined;
  return { targetId: t.targetId, type: t.type, title: typeof t.title === 'string' ? t.title : '', url: typeof t.url === 'string' ? t.url : '' };
}
