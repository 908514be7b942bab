// The inspector webview app: builds the views and wires them to the controller, which does the rest.
import type { HostToWebview } from '../src/shared/protocol';
import { PanelController, restoreState, type DetailTab } from './controller';
import { ViewStore } from './store';
import { loadState, post, requests, saveState } from './vscodeApi';
import { el, tabs } from './ui';
import { FramesTable } from './views/framesTable';
import { DetailPane, HandshakePane } from './views/detail';
import { ClientsTable, ConnectionsList } from './views/connections';
import { Composer } from './views/composer';
import { BreakpointsPane } from './views/breakpoints';
import { Counters, FilterBar } from './views/toolbar';
import { proxyCompressionOf } from './compressionText';
import { emptyStateText, shownModel } from './emptyState';

const store = new ViewStore();
const controller: PanelController = new PanelController({
  store,
  state: restoreState(loadState()),
  requests,
  save: saveState,
  view: {
    rowsChanged: () => table.update(),
    repaintRows: () => table.refresh(),
    selectRow: (id) => table.select(id, false),
    nearEnd: () => table.nearEnd(),
    countersChanged: () => renderCounters(),
    liveChanged: () => scheduleChrome(),
    modelChanged: (first) => onModel(first),
    filterError: (message) => filterBar.showError(message),
    notice: (message) => showNotice(message),
    showDetail: (d) => detail.show(d),
    detailError: (message) => detail.showError(message),
    showHandshake: (d, message) => handshake.show(d, message),
    activeTab: () => bottom.active,
    selectTab: (tab) => bottom.select(tab),
    pickConnection: (id) => connections.pick(id),
  },
});
const state = controller.state;

// --- views -------------------------------------------------------------------------------------------------------

const counters = new Counters();
const filterBar = new FilterBar({
  filter: state.filter,
  timeMode: state.timeMode,
  autoScroll: state.autoScroll,
  onFilter: (f) => {
    controller.setFilter(f);
    renderEmpty();
  },
  onPause: (p) => controller.setPaused(p),
  onClear: () => {
    controller.clearView();
    renderModel();
  },
  onAutoScroll: (on) => {
    table.setAutoScroll(on);
    controller.followLive(on);
  },
  onTimeMode: (m) => {
    controller.remember({ timeMode: m });
    table.refresh();
  },
});

const table = new FramesTable({
  store,
  timeMode: () => state.timeMode,
  connection: (id) => store.model.connections.find((c) => c.id === id),
  picked: () => state.filter.connectionId,
  onSelect: (id, open) => controller.select(id, open),
  onNeedOlder: () => void controller.loadOlder(),
  onNeedNewer: () => void controller.loadNewer(),
  onAutoScrollChange: (on) => {
    filterBar.setAutoScroll(on);
    // End pressed in a window paged back away from the live end: the newest page is loaded again.
    controller.followLive(on);
  },
});

const label = (id: string): string => store.model.connections.find((c) => c.id === id)?.label ?? store.labelOf(id);
const detail = new DetailPane(state.detailView, (v) => controller.remember({ detailView: v }), label);
const handshake = new HandshakePane((id) => proxyCompressionOf(store.model.connections, id));
const clients = new ClientsTable(
  (c) => composer.aimAt({ kind: 'client', clientId: c.id }),
  (c) => controller.disconnect(c.id),
);
const breakpoints = new BreakpointsPane({
  resolve: (id, action, edit) => controller.resolveHeld(id, action, edit),
  switchCompression: (id) => controller.switchCompression(id),
  setRuleScopes: (id, scopes) => controller.setRuleScopes(id, scopes),
  addRule: () => controller.addBreakpoint(),
});
const bottom = tabs<DetailTab>({
  ariaLabel: 'Details',
  items: [
    { id: 'detail', label: 'Frame', view: detail.el },
    { id: 'handshake', label: 'Handshake', view: handshake.el },
    { id: 'clients', label: 'Clients', view: clients.el },
    { id: 'breakpoints', label: 'Breakpoints', view: breakpoints.el },
  ],
  active: state.detailTab,
  onChange: (id) => controller.tabShown(id),
});
const connections = new ConnectionsList(state.filter.connectionId, (id) => {
  controller.pickConnection(id);
  // Selecting a connection aims the composer at it (issue 19, point 10).
  if (id !== undefined) composer.aimAtConnection(store.model.connections.find((c) => c.id === id));
  else composer.aimAtAll();
});
const composer = new Composer({
  mode: state.composerMode,
  text: state.composerText,
  target: state.target,
  history: state.history,
  send: (target, payload) => controller.send(target, payload),
  onStateChange: (s) => controller.remember({ composerMode: s.mode, composerText: s.text, target: s.target, history: s.history }),
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

// --- drawing -----------------------------------------------------------------------------------------------------

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

function onModel(first: boolean): void {
  modelDirty = true;
  // Held frames wait for the user: they are drawn at once, and the first one brings its tab forward, as a debugger
  // shows where it stopped.
  const before = breakpoints.heldCount;
  renderBreakpoints();
  if (before === 0 && breakpoints.heldCount > 0 && bottom.active !== 'breakpoints') controller.showTab('breakpoints');
  if (first) renderModel();
  else scheduleChrome();
  table.refresh();
}

function renderBreakpoints(): void {
  breakpoints.update(store.model.breakpoints);
  const n = breakpoints.heldCount;
  bottom.setLabel('breakpoints', n ? `Breakpoints (${n} held)` : 'Breakpoints');
}

function renderModel(): void {
  modelDirty = false;
  // Closed connections stay listed until a Clear passes them.
  const m = shownModel(store.model, state.floorId);
  connections.update(m);
  clients.update(m);
  composer.updateTargets(store.model);
  renderEmpty();
}

function renderEmpty(): void {
  table.setEmptyText(emptyStateText(store.model, state.floorId > 0, state.filter));
}

window.addEventListener('message', (ev: MessageEvent<HostToWebview>) => controller.onMessage(ev.data));

// The message rate decays while nothing arrives.
setInterval(renderCounters, 1000);
table.setAutoScroll(state.autoScroll);
post({ type: 'ready' });
