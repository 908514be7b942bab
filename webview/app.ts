// The inspector webview app: builds the views, wires them to the store and the host, and keeps UI state.
import { MAX_PAGE, type HostToWebview, type ViewFilter } from '../src/shared/protocol';
import { filterChanged, ViewStore } from './store';
import { handleReply, loadState, post, request, saveState, type PersistedState } from './vscodeApi';
import { el, tabs } from './ui';
import { FramesTable } from './views/framesTable';
import { DetailPane, HandshakePane } from './views/detail';
import { ClientsTable, ConnectionsList } from './views/connections';
import { Composer } from './views/composer';
import { BreakpointsPane } from './views/breakpoints';
import { Counters, FilterBar } from './views/toolbar';

const FIRST_PAGE = 1000;

const saved = loadState();
const state: PersistedState = {
  filter: saved.filter ?? {},
  floorId: saved.floorId ?? 0,
  timeMode: saved.timeMode ?? 'relative',
  autoScroll: saved.autoScroll ?? true,
  composerMode: saved.composerMode ?? 'text',
  composerText: saved.composerText ?? '',
  target: saved.target ?? 'all',
  history: saved.history ?? [],
  detailTab: saved.detailTab ?? 'detail',
  detailView: saved.detailView ?? 'auto',
  selectedId: saved.selectedId,
};
const save = () => saveState(state);

const store = new ViewStore();
store.filter = state.filter;
store.floorId = state.floorId;

// --- views -------------------------------------------------------------------------------------------------------

const counters = new Counters();
const filterBar = new FilterBar({
  filter: state.filter,
  timeMode: state.timeMode,
  autoScroll: state.autoScroll,
  onFilter: (f) => setFilter(f),
  onPause: (p) => {
    const r = store.setPaused(p);
    if (r === 'reload') void subscribe();
    else if (r === 'merged') table.update();
    renderCounters();
  },
  onClear: () => {
    state.floorId = store.clearView();
    save();
    detail.show(undefined);
    table.select(undefined, false);
    table.update();
    void subscribe();
  },
  onAutoScroll: (on) => {
    state.autoScroll = on;
    save();
    table.setAutoScroll(on);
    // Following the live end from a window paged back away from it: load the newest page again.
    if (on && store.detached) void subscribe();
  },
  onTimeMode: (m) => {
    state.timeMode = m;
    save();
    table.refresh();
  },
});

const table = new FramesTable({
  store,
  timeMode: () => state.timeMode,
  connection: (id) => store.model.connections.find((c) => c.id === id),
  showConnection: () => state.filter.connectionId === undefined,
  onSelect: (id, open) => select(id, open),
  onNeedOlder: () => void loadOlder(),
  onNeedNewer: () => void loadNewer(),
  onAutoScrollChange: (on) => {
    state.autoScroll = on;
    filterBar.setAutoScroll(on);
    save();
    // End pressed in a window paged back away from the live end: load the newest page again.
    if (on && store.detached) void subscribe();
  },
});

const detail = new DetailPane(state.detailView, (v) => {
  state.detailView = v;
  save();
});
const handshake = new HandshakePane();
const clients = new ClientsTable(
  (c) => composer.aimAt({ kind: 'client', clientId: c.id }),
  (c) => {
    request('disconnect', { connectionId: c.id }).catch((err: Error) => showNotice(err.message));
  },
);
const breakpoints = new BreakpointsPane((id, action, edit) =>
  request('resolveHeld', { id, action, ...edit }).then(
    () => undefined,
    (err: Error) => {
      showNotice(err.message);
      throw err;
    },
  ),
);
const bottom = tabs<'detail' | 'handshake' | 'clients' | 'breakpoints'>({
  ariaLabel: 'Details',
  items: [
    { id: 'detail', label: 'Frame', view: detail.el },
    { id: 'handshake', label: 'Handshake', view: handshake.el },
    { id: 'clients', label: 'Clients', view: clients.el },
    { id: 'breakpoints', label: 'Breakpoints', view: breakpoints.el },
  ],
  active: state.detailTab,
  onChange: (id) => {
    state.detailTab = id;
    save();
    if (id === 'handshake') void loadHandshake();
  },
});
const connections = new ConnectionsList(state.filter.connectionId, (id) => {
  setFilter({ ...state.filter, connectionId: id });
  void loadHandshake();
});
const composer = new Composer({
  mode: state.composerMode,
  text: state.composerText,
  target: state.target,
  history: state.history,
  send: (target, payload) => request('send', { target, payload }).then(() => undefined),
  onStateChange: (s) => {
    state.composerMode = s.mode;
    state.composerText = s.text;
    state.target = s.target;
    state.history = s.history;
    save();
  },
});
const notice = el('div', 'notice');
notice.setAttribute('role', 'alert');
notice.hidden = true;

const app = el('div', 'app');
const main = el('main', 'main');
const top = el('header', 'top');
top.append(filterBar.el, counters.el, notice);
main.append(top, table.el, bottom.el, composer.el);
app.append(connections.el, main);
document.getElementById('app')!.replaceWith(app);

// --- behaviour ---------------------------------------------------------------------------------------------------

let noticeTimer: ReturnType<typeof setTimeout> | undefined;
function showNotice(text: string): void {
  notice.textContent = text;
  notice.hidden = false;
  if (noticeTimer) clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => (notice.hidden = true), 6000);
}

function renderCounters(): void {
  counters.update(store, Date.now());
}

/**
 * Live updates come 20 times a second; the counters and the connection lists (number formatting, text) need not
 * follow each one: they are drawn at most this often, the last update always included.
 */
const CHROME_MS = 250;
let chromeTimer: ReturnType<typeof setTimeout> | undefined;
let chromeAt = 0;
let modelDirty = false;
function scheduleChrome(): void {
  if (chromeTimer) return;
  chromeTimer = setTimeout(
    () => {
      chromeTimer = undefined;
      chromeAt = Date.now();
      if (modelDirty) renderModel();
      renderCounters();
    },
    Math.max(0, chromeAt + CHROME_MS - Date.now()),
  );
}

/** Latest subscribe in flight: live events are ignored until its page arrives (they belong to the old filter). */
let subscribing = 0;
let subscribeSeq = 0;

async function subscribe(): Promise<void> {
  const seq = ++subscribeSeq;
  subscribing = seq;
  try {
    const page = await request('subscribe', { filter: state.filter, floorId: state.floorId, limit: FIRST_PAGE });
    if (seq !== subscribeSeq) return;
    filterBar.showError(undefined);
    store.reset(page);
    table.update();
    if (state.selectedId !== undefined && store.get(state.selectedId)) table.select(state.selectedId, false);
  } catch (err) {
    if (seq !== subscribeSeq) return;
    filterBar.showError((err as Error).message);
    store.reset();
    table.update();
  } finally {
    if (seq === subscribeSeq) subscribing = 0;
    renderCounters();
  }
}

async function loadOlder(): Promise<void> {
  if (store.loadingOlder || !store.hasOlder || subscribing) return;
  store.loadingOlder = true;
  const seq = subscribeSeq;
  try {
    const page = await request('getPage', { filter: state.filter, beforeId: store.olderCursor, floorId: state.floorId, limit: MAX_PAGE / 4 });
    if (seq !== subscribeSeq) return;
    store.addOlder(page);
    table.update();
    renderCounters();
  } catch (err) {
    store.loadingOlder = false;
    showNotice((err as Error).message);
  }
}

/** Newer pages asked for in one go while a sparse filter finds too few events to fill the view. */
const MAX_NEWER_REQUESTS = 64;

/** Detached from the live end (paged back past the cap): pages forward towards it as the user scrolls down. */
async function loadNewer(): Promise<void> {
  if (store.loadingNewer || !store.detached || subscribing) return;
  const seq = subscribeSeq;
  try {
    let added = 0;
    for (let i = 0; i < MAX_NEWER_REQUESTS && store.detached && added < MAX_PAGE / 4; i++) {
      store.loadingNewer = true;
      const window = store.newerWindow();
      const page = await request('getPage', { filter: state.filter, beforeId: window.beforeId, floorId: window.afterId, limit: MAX_PAGE });
      if (seq !== subscribeSeq) return;
      const n = store.addNewer(page, window);
      if (n > 0) {
        added += n;
        table.update();
      }
    }
    renderCounters();
  } catch (err) {
    if (seq === subscribeSeq) store.loadingNewer = false;
    showNotice((err as Error).message);
    return;
  }
  // Still at the end of what is held (a sparse filter): keep going; a view that moved away asks again on scroll.
  if (store.detached && table.nearEnd()) setTimeout(() => void loadNewer(), 0);
}

function setFilter(f: ViewFilter): void {
  const changed = filterChanged(state.filter, f);
  state.filter = f;
  store.filter = f;
  save();
  if (changed) void subscribe();
  else table.refresh();
}

let detailSeq = 0;
let detailTimer: ReturnType<typeof setTimeout> | undefined;
function select(id: number, open: boolean): void {
  state.selectedId = id;
  save();
  if (open && bottom.active !== 'detail') bottom.select('detail');
  // Arrow keys move fast: fetch the payload once the selection rests.
  if (detailTimer) clearTimeout(detailTimer);
  detailTimer = setTimeout(() => void loadDetail(id), open ? 0 : 80);
}

async function loadDetail(id: number): Promise<void> {
  const seq = ++detailSeq;
  try {
    const d = await request('getDetail', { id });
    if (seq === detailSeq) detail.show(d);
  } catch (err) {
    if (seq === detailSeq) detail.showError((err as Error).message);
  }
  if (bottom.active === 'handshake') void loadHandshake();
}

/** The handshake of the picked connection, else of the selected row's connection. */
async function loadHandshake(): Promise<void> {
  const sel = state.selectedId !== undefined ? store.get(state.selectedId) : undefined;
  const connectionId = state.filter.connectionId ?? sel?.connectionId;
  if (!connectionId) {
    handshake.show(undefined, 'Pick a connection (or a frame) to see its opening handshake.');
    return;
  }
  try {
    handshake.show(await request('getHandshake', { connectionId }));
  } catch (err) {
    handshake.show(undefined, (err as Error).message);
  }
}

function onModel(m: Extract<HostToWebview, { type: 'init' | 'update' }>): void {
  if (!m.model) return;
  store.model = m.model;
  modelDirty = true;
  // Held frames wait for the user: they are drawn at once, and the first one brings its tab forward, as a debugger
  // shows where it stopped.
  const before = breakpoints.heldCount;
  renderBreakpoints();
  if (before === 0 && breakpoints.heldCount > 0 && bottom.active !== 'breakpoints') {
    bottom.select('breakpoints');
    state.detailTab = 'breakpoints';
    save();
  }
  if (m.type === 'init') renderModel();
  else scheduleChrome();
  table.refresh();
}

function renderBreakpoints(): void {
  const model = store.model;
  breakpoints.update(model.breakpoints, (id) => model.connections.find((c) => c.id === id)?.label ?? id);
  const n = breakpoints.heldCount;
  bottom.setLabel('breakpoints', n ? `Breakpoints (${n} held)` : 'Breakpoints');
}

function renderModel(): void {
  modelDirty = false;
  connections.update(store.model);
  clients.update(store.model);
  composer.updateTargets(store.model);
}

window.addEventListener('message', (ev: MessageEvent<HostToWebview>) => {
  const m = ev.data;
  switch (m.type) {
    case 'init':
      // A reloaded window starts a new store whose ids begin again at 1.
      if (state.floorId > m.counters.lastId) {
        state.floorId = 0;
        store.floorId = 0;
        save();
      }
      store.setCounters(m.counters, Date.now());
      onModel(m);
      void subscribe();
      if (state.selectedId !== undefined) void loadDetail(state.selectedId);
      if (bottom.active === 'handshake') void loadHandshake();
      break;
    case 'update':
      if (m.counters) store.setCounters(m.counters, Date.now());
      onModel(m);
      if (m.firstId !== undefined) store.setFirstId(m.firstId);
      if (m.events && !subscribing && store.addLive(m.events)) table.update();
      scheduleChrome();
      break;
    case 'cleared':
      store.setCounters(m.counters, Date.now());
      store.reset();
      table.update();
      detail.show(undefined);
      renderCounters();
      break;
    case 'focusConnection':
      connections.pick(m.connectionId);
      bottom.select('handshake');
      state.detailTab = 'handshake';
      void loadHandshake();
      break;
    case 'reply':
      handleReply(m);
      break;
  }
});

// The message rate decays while nothing arrives.
setInterval(renderCounters, 1000);
table.setAutoScroll(state.autoScroll);
post({ type: 'ready' });
