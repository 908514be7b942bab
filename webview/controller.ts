// The panel's orchestration, beside the store it drives: what the host's messages do, the requests for pages,
// details and handshakes, and which replies are stale. No DOM: the views sit behind `PanelView`, and node tests drive
// it with a host of their own.
import { MAX_PAGE, type EventDetail, type EventDto, type HandshakeDetail, type HostToWebview, type SendPayload, type SendTarget, type ViewFilter } from '../src/shared/protocol';
import type { BreakpointScopeDto, HeldAction, SendResult } from '../src/shared/breakpointsProtocol';
import { errorText } from '../src/shared/errorText';
import { isStale, type Requester } from '../src/shared/requests';
import type { ComposerMode, HistoryEntry } from './composerModel';
import { filterChanged, type ViewStore } from './store';
import { toTimeMode, type TimeMode } from './timeBase';

/** Events the first page of a subscription holds. */
export const FIRST_PAGE = 1000;
/** Events an older page holds (scrolling up). */
const OLDER_PAGE = MAX_PAGE / 4;
/** Newer pages asked for in one go while a sparse filter finds too few events to fill the view. */
const MAX_NEWER_REQUESTS = 64;
/** The rest a selection must take before its payload is fetched (arrow keys move fast). */
const SELECT_SETTLE_MS = 80;

/**
 * Request lanes (see RequestOptions): a subscription supersedes the pages of the one before it; a detail or a
 * handshake supersedes the one asked for before it.
 */
const VIEW = 'view';
const DETAIL = 'detail';
const HANDSHAKE = 'handshake';

export type DetailTab = 'detail' | 'handshake' | 'clients' | 'breakpoints';

/** The panel's UI state, kept across reloads and hides with the webview's setState/getState. */
export interface PersistedState {
  filter: ViewFilter;
  floorId: number;
  timeMode: TimeMode;
  autoScroll: boolean;
  composerMode: ComposerMode;
  composerText: string;
  target: string;
  history: HistoryEntry[];
  detailTab: DetailTab;
  detailView: 'auto' | 'text' | 'json' | 'hex';
  selectedId?: number;
}

/** Saved state with defaults for what it lacks. */
export function restoreState(saved: Partial<PersistedState>): PersistedState {
  return {
    filter: saved.filter ?? {},
    floorId: saved.floorId ?? 0,
    timeMode: toTimeMode(saved.timeMode),
    autoScroll: saved.autoScroll ?? true,
    composerMode: saved.composerMode ?? 'text',
    composerText: saved.composerText ?? '',
    target: saved.target ?? 'all',
    history: saved.history ?? [],
    detailTab: saved.detailTab ?? 'detail',
    detailView: saved.detailView ?? 'auto',
    selectedId: saved.selectedId,
  };
}

/** What the controller asks of the views. */
export interface PanelView {
  /** The held rows changed (a page, live events, a reset): re-render the frames table. */
  rowsChanged(): void;
  /** Same rows, shown differently (a filter change that needs no new page): repaint them. */
  repaintRows(): void;
  /** Selects a row without opening it (a selection restored), or clears the selection. */
  selectRow(id: number | undefined): void;
  /** The table's bottom is near its last held row. */
  nearEnd(): boolean;
  /** Draw the counters now. */
  countersChanged(): void;
  /** A live update came: counters and lists may be drawn a little later (updates come 20 times a second). */
  liveChanged(): void;
  /** The connections, servers and breakpoints changed; `first` (init) wants them drawn at once. */
  modelChanged(first: boolean): void;
  filterError(message: string | undefined): void;
  notice(message: string): void;
  showDetail(d: EventDetail | null | undefined): void;
  detailError(message: string): void;
  showHandshake(d: HandshakeDetail | null | undefined, message?: string): void;
  activeTab(): DetailTab;
  selectTab(tab: DetailTab): void;
  /** Picks a connection in the list as a click would (which calls `pickConnection` when it changes). */
  pickConnection(connectionId: string): void;
}

export interface ControllerDeps {
  store: ViewStore;
  state: PersistedState;
  requests: Requester;
  view: PanelView;
  /** Persists the state (debounced by the caller). */
  save: (state: PersistedState) => void;
}

export class PanelController {
  readonly store: ViewStore;
  readonly state: PersistedState;
  private readonly requests: Requester;
  private readonly view: PanelView;
  /** A subscribe is in flight: live events belong to the old filter until its page arrives, and paging waits. */
  private subscribing = false;
  private detailTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly deps: ControllerDeps) {
    ({ store: this.store, state: this.state, requests: this.requests, view: this.view } = deps);
    this.store.filter = this.state.filter;
    this.store.floorId = this.state.floorId;
  }

  /** Changes some of the state and saves it. */
  remember(patch: Partial<PersistedState>): void {
    Object.assign(this.state, patch);
    this.deps.save(this.state);
  }

  onMessage(m: HostToWebview): void {
    const { store, view, state } = this;
    switch (m.type) {
      case 'init':
        // A reloaded window starts a new store whose ids begin again at 1.
        if (state.floorId > m.counters.lastId) {
          store.floorId = 0;
          this.remember({ floorId: 0 });
        }
        store.setCounters(m.counters, Date.now());
        this.onModel(m);
        void this.subscribe();
        if (state.selectedId !== undefined) void this.loadDetail(state.selectedId);
        if (view.activeTab() === 'handshake') void this.loadHandshake();
        break;
      case 'update':
        if (m.counters) store.setCounters(m.counters, Date.now());
        this.onModel(m);
        if (m.firstId !== undefined) store.setFirstId(m.firstId);
        if (m.events && !this.subscribing && store.addLive(m.events)) {
          view.rowsChanged();
          // The selected frame's detail came before its connection closed without sending it: now it says so.
          if (state.selectedId !== undefined && unsentIn(m.events, state.selectedId)) void this.loadDetail(state.selectedId);
        }
        view.liveChanged();
        break;
      case 'cleared':
        store.setCounters(m.counters, Date.now());
        store.reset();
        view.rowsChanged();
        view.showDetail(undefined);
        view.countersChanged();
        break;
      case 'focusConnection':
        view.pickConnection(m.connectionId);
        this.showTab('handshake');
        break;
      case 'reply':
        this.requests.handleReply(m);
        break;
    }
  }

  private onModel(m: Extract<HostToWebview, { type: 'init' | 'update' }>): void {
    if (!m.model) return;
    this.store.model = m.model;
    this.view.modelChanged(m.type === 'init');
  }

  // --- the held window ---------------------------------------------------------------------------------------------

  /** Asks for the newest page under the filter; what was asked for before under the old one is stale. */
  async subscribe(): Promise<void> {
    const { store, view, state } = this;
    this.subscribing = true;
    try {
      const page = await this.requests.request(
        'subscribe',
        { filter: state.filter, floorId: state.floorId, limit: FIRST_PAGE },
        { lane: VIEW, supersedes: true },
      );
      view.filterError(undefined);
      store.reset(page);
      view.rowsChanged();
      if (state.selectedId !== undefined && store.get(state.selectedId)) view.selectRow(state.selectedId);
    } catch (err) {
      if (isStale(err)) return;
      view.filterError(errorText(err));
      store.reset();
      view.rowsChanged();
    }
    this.subscribing = false;
    view.countersChanged();
  }

  /** The view scrolled near the top of the held window: pages in older events. */
  async loadOlder(): Promise<void> {
    const { store, view, state } = this;
    if (store.loadingOlder || !store.hasOlder || this.subscribing) return;
    store.loadingOlder = true;
    try {
      const page = await this.requests.request(
        'getPage',
        { filter: state.filter, beforeId: store.olderCursor, floorId: state.floorId, limit: OLDER_PAGE },
        { lane: VIEW },
      );
      store.addOlder(page);
      view.rowsChanged();
      view.countersChanged();
    } catch (err) {
      if (isStale(err)) return;
      store.loadingOlder = false;
      view.notice(errorText(err));
    }
  }

  /** Detached from the live end (paged back past the cap): pages forward towards it as the user scrolls down. */
  async loadNewer(): Promise<void> {
    const { store, view, state } = this;
    if (store.loadingNewer || !store.detached || this.subscribing) return;
    try {
      let added = 0;
      for (let i = 0; i < MAX_NEWER_REQUESTS && store.detached && added < OLDER_PAGE; i++) {
        store.loadingNewer = true;
        const window = store.newerWindow();
        const page = await this.requests.request(
          'getPage',
          { filter: state.filter, beforeId: window.beforeId, floorId: window.afterId, limit: MAX_PAGE },
          { lane: VIEW },
        );
        const n = store.addNewer(page, window);
        if (n > 0) {
          added += n;
          view.rowsChanged();
        }
      }
      view.countersChanged();
    } catch (err) {
      if (isStale(err)) return;
      store.loadingNewer = false;
      view.notice(errorText(err));
      return;
    }
    // Still at the end of what is held (a sparse filter): keep going; a view that moved away asks again on scroll.
    if (store.detached && view.nearEnd()) setTimeout(() => void this.loadNewer(), 0);
  }

  setFilter(f: ViewFilter): void {
    const changed = filterChanged(this.state.filter, f);
    this.store.filter = f;
    this.remember({ filter: f });
    if (changed) void this.subscribe();
    else this.view.repaintRows();
  }

  /** A connection picked in the list (undefined: all of them). */
  pickConnection(connectionId: string | undefined): void {
    this.setFilter({ ...this.state.filter, connectionId });
    void this.loadHandshake();
  }

  setPaused(paused: boolean): void {
    const r = this.store.setPaused(paused);
    if (r === 'reload') void this.subscribe();
    else if (r === 'merged') this.view.rowsChanged();
    this.view.countersChanged();
  }

  /** Hides what is there now (the host keeps its history). */
  clearView(): void {
    this.remember({ floorId: this.store.clearView() });
    this.view.showDetail(undefined);
    this.view.selectRow(undefined);
    this.view.rowsChanged();
    void this.subscribe();
  }

  /** Auto-scroll turned on or off; following the live end from a window paged back away from it loads the newest page. */
  followLive(on: boolean): void {
    this.remember({ autoScroll: on });
    if (on && this.store.detached) void this.subscribe();
  }

  // --- selection, detail, handshake --------------------------------------------------------------------------------

  select(id: number, open: boolean): void {
    this.remember({ selectedId: id });
    if (open && this.view.activeTab() !== 'detail') this.showTab('detail');
    // Arrow keys move fast: fetch the payload once the selection rests.
    if (this.detailTimer) clearTimeout(this.detailTimer);
    this.detailTimer = setTimeout(() => void this.loadDetail(id), open ? 0 : SELECT_SETTLE_MS);
  }

  async loadDetail(id: number): Promise<void> {
    try {
      this.view.showDetail(await this.requests.request('getDetail', { id }, { lane: DETAIL, supersedes: true }));
    } catch (err) {
      if (isStale(err)) return;
      this.view.detailError(errorText(err));
    }
    if (this.view.activeTab() === 'handshake') void this.loadHandshake();
  }

  /** The handshake of the picked connection, else of the selected row's connection. */
  async loadHandshake(): Promise<void> {
    const { state, view } = this;
    const sel = state.selectedId !== undefined ? this.store.get(state.selectedId) : undefined;
    const connectionId = state.filter.connectionId ?? sel?.connectionId;
    if (!connectionId) {
      this.requests.supersede(HANDSHAKE);
      view.showHandshake(undefined, 'Pick a connection (or a frame) to see its opening handshake.');
      return;
    }
    try {
      view.showHandshake(await this.requests.request('getHandshake', { connectionId }, { lane: HANDSHAKE, supersedes: true }));
    } catch (err) {
      if (!isStale(err)) view.showHandshake(undefined, errorText(err));
    }
  }

  /** Brings a tab forward (the host showed a connection, a frame was opened, a frame is held). */
  showTab(tab: DetailTab): void {
    this.view.selectTab(tab);
    this.tabShown(tab);
  }

  /** A tab came forward (the user switched, or `showTab`). */
  tabShown(tab: DetailTab): void {
    this.remember({ detailTab: tab });
    if (tab === 'handshake') void this.loadHandshake();
  }

  // --- commands ----------------------------------------------------------------------------------------------------

  /** Sends from the composer, which shows the outcome (sent, or held by a breakpoint). */
  send(target: SendTarget, payload: SendPayload): Promise<SendResult> {
    return this.requests.request('send', { target, payload });
  }

  disconnect(connectionId: string): void {
    this.requests.request('disconnect', { connectionId }).catch((err: unknown) => this.view.notice(errorText(err)));
  }

  /** Acts on a held frame (forward, edit, drop, hold longer, dismiss); a failure is shown and rethrown (the card stays). */
  resolveHeld(id: number, action: HeldAction, edit?: { text?: string; hex?: string }): Promise<void> {
    return this.shown(this.requests.request('resolveHeld', { id, action, ...edit })).then(() => undefined);
  }

  /** Sets `terminate` for next time where the held frame's proxy took its compression; resolves to what changed. */
  switchCompression(heldId: number): Promise<string> {
    return this.shown(this.requests.request('switchCompression', { heldId })).then((r) => r.message);
  }

  setRuleScopes(ruleId: string, appliesTo: BreakpointScopeDto[]): Promise<void> {
    return this.shown(this.requests.request('setRuleScopes', { ruleId, appliesTo })).then(() => undefined);
  }

  /** Opens VS Code's questions for a new rule. */
  addBreakpoint(): void {
    void this.shown(this.requests.request('addBreakpoint', {})).catch(() => undefined);
  }

  /** A failed request's reason goes to the notice line; the promise still rejects. */
  private shown<T>(p: Promise<T>): Promise<T> {
    return p.catch((err: unknown) => {
      this.view.notice(errorText(err));
      throw err;
    });
  }
}

/** Whether a closed connection among `events` never sent the frame or message `id`. */
function unsentIn(events: EventDto[], id: number): boolean {
  return events.some((e) => e.kind === 'connection' && e.unsent !== undefined && (e.unsent.frameIds.includes(id) || e.unsent.messageIds.includes(id)));
}
