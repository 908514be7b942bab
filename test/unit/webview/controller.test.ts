import { afterEach, describe, mock, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { PanelController, restoreState, FIRST_PAGE, type DetailTab, type PanelView, type PersistedState } from '../../../webview/controller';
import { ViewStore } from '../../../webview/store';
import { Requester, answer } from '../../../src/shared/requests';
import type { SendResult } from '../../../src/shared/breakpointsProtocol';
import {
  MAX_PAGE,
  isWebviewToHost,
  type CaptureCounters,
  type EventDetail,
  type HandshakeDetail,
  type HostReply,
  type HostToWebview,
  type RequestType,
  type ResultOf,
  type WebviewRequest,
} from '../../../src/shared/protocol';
import { EventStore } from '../../../src/core/capture/eventStore';
import { recordSyntheticFrame, recordSyntheticHandshake } from '../../../src/core/capture/syntheticCapture';
import { filterQuery, toDetail, toDto } from '../../../src/extension/inspectorPanelDto';

/**
 * The host's side over a real EventStore, answered through the shared `answer` as InspectorPanel answers (that file
 * needs vscode). Requests wait in `inbox` until the test delivers their replies, in the order it chooses.
 */
class Host {
  readonly store = new EventStore({ maxEvents: 1_000_000 });
  readonly inbox: WebviewRequest[] = [];
  /** Requests to fail, by type, with this message. */
  readonly failing = new Map<RequestType, string>();
  /** What a `send` answers. */
  sendResult: SendResult = { status: 'sent', delivered: 2 };
  private lastSentId = 0;
  private filter = {};
  private n = 0;
  controller!: PanelController;

  /** What the webview posts: checked as the host checks it, then held. */
  receive(req: WebviewRequest): void {
    assert.ok(isWebviewToHost(req), `a valid request: ${JSON.stringify(req)}`);
    this.inbox.push(req);
  }

  /** `count` text messages on connection c1 (a frame and a message each). */
  send(count: number, text: (i: number) => string = (i) => `msg-${i}`): void {
    for (let k = 0; k < count; k++, this.n++) {
      recordSyntheticFrame(this.store, { connectionId: 'c1', direction: this.n % 2 ? 's2c' : 'c2s', opcode: 1, payload: Buffer.from(text(this.n)), time: 1000 });
    }
  }

  counters(): CaptureCounters {
    const s = this.store.stats();
    return { frames: 0, frameBytes: 0, messages: 0, storedEvents: s.count, evictedEvents: 0, evictedBytes: 0, firstId: s.firstId, lastId: s.lastId };
  }

  init(): void {
    this.deliver({ type: 'init', model: { servers: [], connections: [] }, counters: this.counters() });
  }

  /** A live update with what matches the subscription since the last one. */
  update(): void {
    const r = this.store.query({ ...filterQuery(this.filter), afterId: this.lastSentId, limit: 100_000 });
    this.lastSentId = this.store.stats().lastId;
    this.deliver({ type: 'update', events: r.events.map(toDto), counters: this.counters() });
  }

  /** Answers the waiting request at `index` (the oldest by default) and lets the webview take the reply. */
  async reply(index = 0): Promise<WebviewRequest> {
    const [req] = this.inbox.splice(index, 1);
    assert.ok(req, 'a request is waiting');
    await answer(req, (r) => this.handle(r), (reply: HostReply) => this.deliver(reply));
    await settle();
    return req;
  }

  async replyAll(): Promise<void> {
    while (this.inbox.length) await this.reply();
  }

  deliver(m: HostToWebview): void {
    // postMessage clones: the webview never shares an object with the host.
    this.controller.onMessage(structuredClone(m));
  }

  private handle(req: WebviewRequest): ResultOf<RequestType> {
    const failure = this.failing.get(req.type);
    if (failure) throw new Error(failure);
    const store = this.store;
    switch (req.type) {
      case 'subscribe': {
        const lastId = store.stats().lastId;
        const r = store.query({ ...filterQuery(req.filter), afterId: req.floorId, beforeId: lastId + 1, limit: req.limit, backward: true });
        this.filter = req.filter;
        this.lastSentId = lastId;
        return { events: r.events.map(toDto), hasMore: r.hasMore, resumeId: r.hasMore ? r.resumeId : req.floorId, lastId };
      }
      case 'getPage': {
        const limit = Math.max(1, Math.min(MAX_PAGE, req.limit));
        const r = store.query({ ...filterQuery(req.filter), afterId: req.floorId, beforeId: req.beforeId, limit, backward: true });
        return { events: r.events.map(toDto), hasMore: r.hasMore, resumeId: r.hasMore ? r.resumeId : req.floorId };
      }
      case 'getDetail': {
        const e = store.get(req.id);
        return e ? toDetail(e) : null;
      }
      case 'getHandshake': {
        const e = store.query({ connectionId: req.connectionId, kinds: ['handshake'], limit: 1, backward: true }).events[0];
        return e?.kind === 'handshake' ? toDetail(e) : null;
      }
      case 'send':
        return this.sendResult;
      case 'switchCompression':
        return { message: `switched for held frame ${req.heldId}` };
      default:
        return null;
    }
  }
}

/** What the views were told, as a user would see it. */
class View implements PanelView {
  rowsDrawn = 0;
  selected: number | undefined;
  notices: string[] = [];
  filterErrorText: string | undefined;
  detail: EventDetail | null | undefined;
  detailErrorText: string | undefined;
  handshake: HandshakeDetail | null | undefined;
  handshakeNote: string | undefined;
  tab: DetailTab = 'detail';
  picked: string | undefined;
  atEnd = false;
  controller!: PanelController;

  rowsChanged(): void {
    this.rowsDrawn++;
  }
  repaintRows(): void {}
  selectRow(id: number | undefined): void {
    this.selected = id;
  }
  nearEnd(): boolean {
    return this.atEnd;
  }
  countersChanged(): void {}
  liveChanged(): void {}
  modelChanged(): void {}
  filterError(message: string | undefined): void {
    this.filterErrorText = message;
  }
  notice(message: string): void {
    this.notices.push(message);
  }
  showDetail(d: EventDetail | null | undefined): void {
    this.detail = d;
    this.detailErrorText = undefined;
  }
  detailError(message: string): void {
    this.detailErrorText = message;
  }
  showHandshake(d: HandshakeDetail | null | undefined, message?: string): void {
    this.handshake = d;
    this.handshakeNote = message;
  }
  activeTab(): DetailTab {
    return this.tab;
  }
  selectTab(tab: DetailTab): void {
    this.tab = tab;
  }
  pickConnection(id: string): void {
    // As the connections list does: a pick that changes calls back.
    if (id === this.picked) return;
    this.picked = id;
    this.controller.pickConnection(id);
  }
}

/** Lets the controller's awaits run. */
function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

function panel(o: { saved?: Partial<PersistedState>; maxHeld?: number; timeoutMs?: number } = {}) {
  const host = new Host();
  const view = new View();
  const saves: PersistedState[] = [];
  const store = new ViewStore(o.maxHeld);
  const requests = new Requester((req) => host.receive(req), { timeoutMs: o.timeoutMs });
  const controller = new PanelController({ store, state: restoreState(o.saved ?? {}), requests, view, save: (s) => saves.push({ ...s }) });
  host.controller = controller;
  view.controller = controller;
  return { host, view, store, controller, requests, saves };
}

const previews = (store: ViewStore) => store.rows().map((r) => (store.get(r.id) as { preview?: string }).preview);

describe('PanelController', () => {
  afterEach(() => mock.timers.reset());

  test('init subscribes; the newest page shows, and live events follow it', async () => {
    const { host, store, controller } = panel();
    host.send(3);
    host.init();
    assert.deepEqual(host.inbox.map((r) => r.type), ['subscribe']);
    assert.equal((host.inbox[0] as { limit: number }).limit, FIRST_PAGE);
    await host.replyAll();
    assert.deepEqual(previews(store), ['msg-0', 'msg-1', 'msg-2']);
    host.send(1);
    host.update();
    assert.deepEqual(previews(store), ['msg-0', 'msg-1', 'msg-2', 'msg-3']);
    assert.equal(controller.store.hasOlder, false);
  });

  test("a filter changed before the first subscribe's reply: the old reply is dropped, live events wait for the new one", async () => {
    const { host, store, controller } = panel();
    const text = (i: number) => (i % 2 ? `odd-${i}` : `even-${i}`);
    host.send(4, text);
    host.init();
    controller.setFilter({ search: 'odd' });
    assert.deepEqual(host.inbox.map((r) => r.type), ['subscribe', 'subscribe']);
    // The first reply comes first; it is for the old filter and must not show.
    await host.reply();
    assert.equal(store.size, 0);
    host.send(2, text);
    host.update(); // live events meanwhile belong to the old filter
    assert.equal(store.size, 0);
    await host.reply();
    assert.deepEqual(previews(store), ['odd-1', 'odd-3', 'odd-5']);
  });

  test('an older page asked for under the old filter is dropped when the filter changes', async () => {
    const { host, store, controller } = panel();
    host.send(1500);
    host.init();
    await host.replyAll();
    assert.equal(store.size, FIRST_PAGE);
    assert.equal(store.hasOlder, true);
    void controller.loadOlder();
    assert.deepEqual(host.inbox.map((r) => r.type), ['getPage']);
    controller.setFilter({ search: 'msg-1499' });
    // The new subscription's page arrives first, then the old filter's older page, which must not be merged.
    await host.reply(1);
    await host.reply(0);
    assert.deepEqual(previews(store), ['msg-1499']);
    assert.equal(store.loadingOlder, false);
    assert.equal(host.inbox.length, 0);
  });

  test('scrolling up pages older events in; paged back past the cap, scrolling down pages forward to the live end', async () => {
    const { host, store, view, controller } = panel({ maxHeld: 2400 });
    host.send(3000);
    host.init();
    await host.replyAll();
    for (let i = 0; i < 4; i++) await Promise.all([controller.loadOlder(), host.replyAll()]);
    assert.equal(store.detached, true, 'the newest rows were dropped for older ones');
    assert.equal(previews(store)[0], 'msg-1500', 'four older pages of 250 messages (a frame and a message each)');
    assert.notEqual(previews(store).at(-1), 'msg-2999');
    host.send(10); // live while detached: not shown, not lost
    host.update();
    assert.notEqual(previews(store).at(-1), 'msg-3009');
    for (let i = 0; i < 50 && store.detached; i++) await Promise.all([controller.loadNewer(), host.replyAll()]);
    assert.equal(store.detached, false, 'back at the live end');
    assert.equal(previews(store).at(-1), 'msg-3009');
    assert.deepEqual(view.notices, []);
  });

  test('only the latest selection shows its detail, whatever order the replies come in', async () => {
    const { host, view, controller } = panel();
    host.send(3, (i) => `payload ${i}`);
    host.init();
    await host.replyAll();
    const [a, b] = controller.store.rows().map((r) => r.id);
    const first = controller.loadDetail(a);
    const second = controller.loadDetail(b);
    await host.reply(1); // b's reply first
    await host.reply(0); // then a's, which is stale
    await Promise.all([first, second]);
    assert.equal(view.detail?.kind, 'frame');
    assert.equal(view.detail?.kind === 'frame' && Buffer.from(view.detail.payload).toString(), 'payload 1');
    assert.equal(controller.state.selectedId, undefined, 'loading a detail is not a selection');
  });

  test('arrow keys: the detail is fetched once the selection rests, for the row it rests on', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const { host, view, controller, saves } = panel();
    host.send(3, (i) => `payload ${i}`);
    host.init();
    await host.replyAll();
    const ids = controller.store.rows().map((r) => r.id);
    for (const id of ids) controller.select(id, false);
    mock.timers.tick(79);
    assert.equal(host.inbox.length, 0);
    mock.timers.tick(1);
    assert.deepEqual(host.inbox.map((r) => r.type), ['getDetail']);
    await host.reply();
    assert.equal(view.detail?.kind === 'frame' && Buffer.from(view.detail.payload).toString(), 'payload 2');
    assert.equal(saves.at(-1)?.selectedId, ids[2]);
    // Opening a row (Enter, a click) brings the detail tab forward and fetches at once.
    view.tab = 'clients';
    controller.select(ids[0], true);
    mock.timers.tick(0);
    assert.equal(view.tab, 'detail');
    assert.equal(saves.at(-1)?.detailTab, 'detail');
    await host.reply();
    assert.equal(view.detail?.kind === 'frame' && Buffer.from(view.detail.payload).toString(), 'payload 0');
  });

  test('a restored selection is selected again and its detail shown', async () => {
    const { host, view } = panel({ saved: { selectedId: 1 } });
    host.send(2, (i) => `payload ${i}`);
    host.init();
    assert.deepEqual(host.inbox.map((r) => r.type), ['subscribe', 'getDetail']);
    await host.replyAll();
    assert.equal(view.selected, 1);
    assert.equal(view.detail?.kind === 'frame' && Buffer.from(view.detail.payload).toString(), 'payload 0');
  });

  test('a bad regex is shown at the filter, and the table is empty', async () => {
    const { host, view, store, controller } = panel();
    host.send(2);
    host.init();
    await host.replyAll();
    controller.setFilter({ search: '(', regex: true });
    await host.replyAll();
    assert.match(view.filterErrorText ?? '', /regular expression|regex|Unterminated|Invalid/i);
    assert.equal(store.size, 0);
    controller.setFilter({ search: 'msg-1' });
    await host.replyAll();
    assert.equal(view.filterErrorText, undefined);
    assert.deepEqual(previews(store), ['msg-1']);
  });

  test("a page the host cannot give is a notice, and scrolling up can ask again", async () => {
    const { host, view, store, controller } = panel();
    host.send(1200);
    host.init();
    await host.replyAll();
    host.failing.set('getPage', 'The capture was cleared.');
    await Promise.all([controller.loadOlder(), host.replyAll()]);
    assert.deepEqual(view.notices, ['The capture was cleared.']);
    assert.equal(store.loadingOlder, false);
    host.failing.clear();
    await Promise.all([controller.loadOlder(), host.replyAll()]);
    assert.equal(store.size, FIRST_PAGE + MAX_PAGE / 4);
  });

  test('a request the host never answers fails after the timeout; its late reply is dropped', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const { host, view, store, requests } = panel({ timeoutMs: 5000 });
    host.send(2);
    host.init();
    mock.timers.tick(5000);
    await settle();
    assert.match(view.filterErrorText ?? '', /No answer from the extension to subscribe after 5 s/);
    assert.equal(requests.size, 0);
    await host.reply();
    assert.equal(store.size, 0, 'the late page is not shown');
  });

  test('the host shows a connection: it is picked, and its handshake shows in the handshake tab', async () => {
    const { host, view, controller } = panel();
    recordSyntheticHandshake(host.store, {
      connectionId: 'c1',
      request: { startLine: 'GET /chat HTTP/1.1', headers: [['Host', 'example.test']] },
      response: { startLine: 'HTTP/1.1 101 Switching Protocols', headers: [['Upgrade', 'websocket']] },
      status: 101,
    });
    host.send(1);
    host.init();
    await host.replyAll();
    host.deliver({ type: 'focusConnection', connectionId: 'c1' });
    assert.equal(view.tab, 'handshake');
    assert.equal(controller.state.filter.connectionId, 'c1');
    await host.replyAll();
    assert.equal(view.handshake?.request.startLine, 'GET /chat HTTP/1.1');
    assert.equal(view.handshakeNote, undefined);
    controller.pickConnection(undefined);
    await host.replyAll();
    assert.equal(view.handshake, undefined);
    assert.match(view.handshakeNote ?? '', /Pick a connection/);
  });

  test('clear hides what is there; a reloaded host with fewer ids brings the floor down again', async () => {
    const { host, view, store, controller, saves } = panel();
    host.send(3);
    host.init();
    await host.replyAll();
    controller.clearView();
    await host.replyAll();
    assert.equal(store.size, 0);
    assert.equal(view.selected, undefined);
    assert.equal(saves.at(-1)?.floorId, 6);
    host.send(1);
    host.update();
    assert.deepEqual(previews(store), ['msg-3']);

    // The window reloads with a new host whose ids begin at 1 again: the saved floor would hide everything.
    const again = panel({ saved: { floorId: 6 } });
    again.host.send(2);
    again.host.init();
    await again.host.replyAll();
    assert.equal(again.controller.state.floorId, 0);
    assert.deepEqual(previews(again.store), ['msg-0', 'msg-1']);
  });

  test('the selected frame never left: when its connection’s closed event comes, its detail is fetched again and says so', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    const { host, view, controller } = panel();
    host.send(2, (i) => `payload ${i}`);
    host.init();
    await host.replyAll();
    const [sent, lost] = controller.store.rows().map((r) => r.id);
    controller.select(lost, true);
    mock.timers.tick(0);
    await host.reply();
    assert.equal(view.detail?.kind === 'frame' && view.detail.frame.unsentTo, undefined);
    host.store.append({
      kind: 'connection', connectionId: 'c1', time: 2000, state: 'closed', role: 'server', clean: false,
      unsent: { bytes: 11, frameIds: [lost], messageIds: [lost + 1] },
    });
    host.update();
    assert.deepEqual(host.inbox.map((r) => r.type), ['getDetail'], 'the detail is asked for again');
    await host.reply();
    assert.deepEqual(view.detail?.kind === 'frame' && view.detail.frame.unsentTo, ['c1']);
    const unsentTo = (id: number) => (controller.store.get(id) as { unsentTo?: string[] } | undefined)?.unsentTo;
    assert.deepEqual(unsentTo(lost), ['c1'], 'its row is marked');
    assert.equal(unsentTo(sent), undefined);
    // Another connection's close does not refetch it.
    host.store.append({ kind: 'connection', connectionId: 'c2', time: 2001, state: 'closed', role: 'server', clean: true });
    host.update();
    assert.equal(host.inbox.length, 0);
  });

  test('pause holds live events back and shows them on resume', async () => {
    const { host, store, controller } = panel();
    host.init();
    await host.replyAll();
    controller.setPaused(true);
    host.send(2);
    host.update();
    assert.equal(store.size, 0);
    assert.equal(store.pausedCount, 4);
    controller.setPaused(false);
    assert.deepEqual(previews(store), ['msg-0', 'msg-1']);
  });

  test("commands: a failed disconnect is a notice; a failed resolve is a notice and the pane's error", async () => {
    const { host, view, controller } = panel();
    host.failing.set('disconnect', 'No such connection.');
    host.failing.set('resolveHeld', 'That frame was already forwarded.');
    controller.disconnect('c9');
    const resolved = assert.rejects(controller.resolveHeld(3, 'edit', { text: 'new' }), /already forwarded/);
    assert.deepEqual(host.inbox.at(-1), { type: 'resolveHeld', requestId: 2, id: 3, action: 'edit', text: 'new' });
    await host.replyAll();
    await resolved;
    assert.deepEqual(view.notices, ['No such connection.', 'That frame was already forwarded.']);
    const sent = controller.send({ kind: 'allClients' }, { kind: 'text', text: 'hi' });
    await host.replyAll();
    assert.deepEqual(await sent, { status: 'sent', delivered: 2 });
  });

  test('breakpoints: a Send to all a rule holds says so; hold longer, the compression switch and the places of a rule are requests', async () => {
    const { host, view, controller } = panel();
    host.sendResult = { status: 'held', delivered: 0, heldId: 7, ruleId: 'bp1' };
    const sent = controller.send({ kind: 'allClients' }, { kind: 'text', text: 'hi' });
    await host.replyAll();
    assert.deepEqual(await sent, { status: 'held', delivered: 0, heldId: 7, ruleId: 'bp1' });

    const longer = controller.resolveHeld(7, 'holdLonger');
    assert.deepEqual(host.inbox.at(-1), { type: 'resolveHeld', requestId: 2, id: 7, action: 'holdLonger' });
    await host.replyAll();
    await longer;
    const switched = controller.switchCompression(7);
    assert.deepEqual(host.inbox.at(-1), { type: 'switchCompression', requestId: 3, heldId: 7 });
    await host.replyAll();
    assert.equal(await switched, 'switched for held frame 7');

    host.failing.set('setRuleScopes', 'No breakpoint rule "bp9" in wsInspector.breakpoints.rules.');
    const scoped = assert.rejects(controller.setRuleScopes('bp9', ['proxy', 'server']), /No breakpoint rule/);
    assert.deepEqual(host.inbox.at(-1), { type: 'setRuleScopes', requestId: 4, ruleId: 'bp9', appliesTo: ['proxy', 'server'] });
    await host.replyAll();
    await scoped;
    assert.deepEqual(view.notices, ['No breakpoint rule "bp9" in wsInspector.breakpoints.rules.']);
  });
});
