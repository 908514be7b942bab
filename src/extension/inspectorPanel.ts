// The protocol inspector webview panel: host side. It owns the CSP, answers the webview's typed requests from the
// event store, and pushes new events in batches (at most one `update` per ~50 ms).
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { setRuleScopes, switchCompression } from './breakpointCommands';
import type { InspectorModel } from './model';
import type { CaptureEvent } from '../core/capture/events';
import {
  MAX_PAGE,
  isWebviewToHost,
  type HostToWebview,
  type ModelSnapshot,
  type RequestOf,
  type RequestType,
  type ResultOf,
  type ViewFilter,
  type WebviewRequest,
} from '../shared/protocol';
import { answer } from '../shared/requests';
import { CaptureCounter, filterQuery, toDetail, toDto } from './inspectorPanelDto';

/** Minimum time between two `update` messages, in ms. */
const UPDATE_INTERVAL_MS = 50;
/** Events one `update` carries at most; the rest follow in the next one. */
const MAX_EVENTS_PER_UPDATE = 5000;

interface Subscription {
  filter: ViewFilter;
  floorId: number;
  /** Every matching event up to this id has been sent. */
  lastSentId: number;
}

export class InspectorPanel implements vscode.Disposable {
  static readonly viewType = 'wsInspector.inspector';
  private static current: InspectorPanel | undefined;

  private readonly disposables: vscode.Disposable[] = [];
  private readonly counter = new CaptureCounter();
  /** Events with ids up to this are already in `counter`. */
  private countedUpTo = 0;
  private ready = false;
  private sub: Subscription | undefined;
  private pendingEvents = false;
  private modelDirty = false;
  private countersDirty = false;
  private firstIdDirty = false;
  private timer: NodeJS.Timeout | undefined;
  private lastUpdate = 0;
  /**
   * An update posted and not yet taken by the window. Live updates wait for it, so that they cannot pile up in the
   * channel ahead of the replies the user is waiting for (a click's detail during a flood); what they would carry
   * stays in the store and goes in the next update.
   */
  private updateInFlight = false;
  private disposed = false;
  private pendingFocus: string | undefined;

  /** Opens the panel, or reveals the one that is open; with `connectionId`, shows that connection. */
  static createOrShow(context: vscode.ExtensionContext, model: InspectorModel, connectionId?: string): InspectorPanel {
    if (InspectorPanel.current) {
      InspectorPanel.current.panel.reveal();
      if (connectionId !== undefined) InspectorPanel.current.focusConnection(connectionId);
      return InspectorPanel.current;
    }
    const panel = vscode.window.createWebviewPanel(
      InspectorPanel.viewType,
      'WebSocket Inspector',
      vscode.ViewColumn.Active,
      InspectorPanel.webviewOptions(context),
    );
    InspectorPanel.current = new InspectorPanel(panel, context, model);
    if (connectionId !== undefined) InspectorPanel.current.focusConnection(connectionId);
    return InspectorPanel.current;
  }

  /** Picks a connection in the webview (after it is ready, if it is not yet). */
  focusConnection(connectionId: string): void {
    if (this.ready) this.post({ type: 'focusConnection', connectionId });
    else this.pendingFocus = connectionId;
  }

  /** Revives the panel after a window reload; its UI state comes back from the webview's own `getState`. */
  static registerSerializer(context: vscode.ExtensionContext, model: InspectorModel): vscode.Disposable {
    return vscode.window.registerWebviewPanelSerializer(InspectorPanel.viewType, {
      async deserializeWebviewPanel(panel: vscode.WebviewPanel): Promise<void> {
        panel.webview.options = InspectorPanel.webviewOptions(context);
        InspectorPanel.current?.dispose();
        InspectorPanel.current = new InspectorPanel(panel, context, model);
      },
    });
  }

  /** The open panel, if any (for tests and commands). */
  static get currentPanel(): InspectorPanel | undefined {
    return InspectorPanel.current;
  }

  private static webviewOptions(context: vscode.ExtensionContext): vscode.WebviewPanelOptions & vscode.WebviewOptions {
    return {
      enableScripts: true,
      // The webview keeps its own state with setState/getState and asks for what it shows again on return.
      retainContextWhenHidden: false,
      localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist'), vscode.Uri.joinPath(context.extensionUri, 'media')],
    };
  }

  private constructor(
    readonly panel: vscode.WebviewPanel,
    private readonly context: vscode.ExtensionContext,
    private readonly model: InspectorModel,
  ) {
    panel.iconPath = vscode.Uri.joinPath(context.extensionUri, 'media', 'inspector.svg');
    const store = model.store;
    this.countAll();
    this.disposables.push(
      panel.onDidDispose(() => this.dispose()),
      panel.onDidChangeViewState(() => {
        // Without retainContextWhenHidden the hidden webview is gone; it says `ready` again when shown.
        if (!panel.visible) this.ready = false;
      }),
      panel.webview.onDidReceiveMessage((m: unknown) => this.onMessage(m)),
      store.onDidAppend((batch) => {
        this.count(batch.events);
        this.pendingEvents = true;
        this.countersDirty = true;
        if (batch.evicted.events > 0) this.firstIdDirty = true;
        this.schedule();
      }),
      store.onDidClear(() => {
        this.counter.reset();
        this.countedUpTo = store.stats().lastId;
        if (this.sub) this.sub.lastSentId = this.countedUpTo;
        if (this.ready) this.post({ type: 'cleared', counters: this.counters() });
      }),
      model.onDidChange(() => {
        this.modelDirty = true;
        this.schedule();
      }),
    );
    panel.webview.html = this.html();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (InspectorPanel.current === this) InspectorPanel.current = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }

  // --- counters -------------------------------------------------------------------------------------------------

  private countAll(): void {
    const store = this.model.store;
    const last = store.stats().lastId;
    let after = this.countedUpTo;
    for (;;) {
      const r = store.query({ afterId: after, beforeId: last + 1, kinds: ['frame', 'message'], limit: 10_000 });
      this.counter.add(r.events);
      if (!r.hasMore) break;
      after = r.resumeId;
    }
    this.countedUpTo = last;
  }

  private count(events: readonly CaptureEvent[]): void {
    let i = 0;
    while (i < events.length && events[i].id <= this.countedUpTo) i++;
    if (i === events.length) return;
    this.counter.add(i === 0 ? events : events.slice(i));
    this.countedUpTo = events[events.length - 1].id;
  }

  private counters() {
    return this.counter.snapshot(this.model.store.stats());
  }

  private snapshot(): ModelSnapshot {
    return { servers: this.model.servers(), connections: this.model.connections(), sources: this.model.sources(), breakpoints: this.model.breakpoints() };
  }

  // --- pushing --------------------------------------------------------------------------------------------------

  private schedule(): void {
    if (this.timer || this.disposed || !this.ready || this.updateInFlight) return;
    const wait = Math.max(0, UPDATE_INTERVAL_MS - (Date.now() - this.lastUpdate));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  private flush(): void {
    if (!this.ready || this.disposed) return;
    this.lastUpdate = Date.now();
    const msg: Extract<HostToWebview, { type: 'update' }> = { type: 'update' };
    let more = false;
    if (this.pendingEvents && this.sub) {
      this.pendingEvents = false;
      const { events, hasMore, resumeId } = this.queryLive(this.sub);
      if (events.length) msg.events = events.map(toDto);
      this.sub.lastSentId = resumeId;
      more = hasMore;
      this.pendingEvents = hasMore;
    }
    if (this.modelDirty) {
      this.modelDirty = false;
      msg.model = this.snapshot();
    }
    if (this.countersDirty) {
      this.countersDirty = false;
      msg.counters = this.counters();
    }
    if (this.firstIdDirty) {
      this.firstIdDirty = false;
      msg.firstId = this.model.store.stats().firstId;
    }
    if (msg.events || msg.model || msg.counters || msg.firstId !== undefined) {
      this.updateInFlight = true;
      const delivered = () => {
        this.updateInFlight = false;
        if (this.pendingEvents || this.modelDirty || this.countersDirty || this.firstIdDirty) this.schedule();
      };
      void this.panel.webview.postMessage(msg).then(delivered, delivered);
    }
    if (more) this.schedule();
  }

  private queryLive(sub: Subscription): { events: CaptureEvent[]; hasMore: boolean; resumeId: number } {
    const store = this.model.store;
    const lastId = store.stats().lastId;
    try {
      const r = store.query({ ...filterQuery(sub.filter), afterId: Math.max(sub.lastSentId, sub.floorId), limit: MAX_EVENTS_PER_UPDATE });
      return { events: r.events, hasMore: r.hasMore, resumeId: r.hasMore ? r.resumeId : lastId };
    } catch {
      // A bad regex was already reported by `subscribe`; send nothing for it.
      return { events: [], hasMore: false, resumeId: lastId };
    }
  }

  private post(msg: HostToWebview): void {
    void this.panel.webview.postMessage(msg).then(undefined, () => undefined);
  }

  // --- requests -------------------------------------------------------------------------------------------------

  private onMessage(m: unknown): void {
    if (this.disposed || !isWebviewToHost(m)) return;
    if (m.type === 'ready') {
      this.ready = true;
      this.sub = undefined;
      this.post({ type: 'init', model: this.snapshot(), counters: this.counters() });
      if (this.pendingFocus !== undefined) this.post({ type: 'focusConnection', connectionId: this.pendingFocus });
      this.pendingFocus = undefined;
      return;
    }
    void answer(m, (req) => this.handle(req), (reply) => this.post(reply));
  }

  private handle(req: WebviewRequest): Promise<ResultOf<RequestType>> | ResultOf<RequestType> {
    switch (req.type) {
      case 'subscribe':
        return this.subscribe(req);
      case 'getPage':
        return this.getPage(req);
      case 'getDetail': {
        const e = this.model.store.get(req.id);
        return e ? toDetail(e) : null;
      }
      case 'getHandshake': {
        const r = this.model.store.query({ connectionId: req.connectionId, kinds: ['handshake'], limit: 1, backward: true });
        const e = r.events[0];
        return e && e.kind === 'handshake' ? toDetail(e) : null;
      }
      case 'send': {
        const p = req.payload;
        const data = p.kind === 'text' ? p.text : Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
        return this.model.send(req.target, data);
      }
      case 'disconnect':
        return this.model.disconnect(req.connectionId).then(() => null);
      case 'resolveHeld':
        return this.model.resolveHeld(req.id, req.action, req.text, req.hex).then(() => null);
      case 'switchCompression':
        return switchCompression(this.model.heldFrameContext(req.heldId)).then((message) => ({ message }));
      case 'setRuleScopes':
        return setRuleScopes(req.ruleId, req.appliesTo).then(() => null);
      case 'addBreakpoint':
        // The questions are VS Code's quick input: the reply does not wait for them.
        void vscode.commands.executeCommand('wsInspector.addBreakpoint');
        return null;
    }
  }

  private subscribe(req: RequestOf<'subscribe'>): ResultOf<'subscribe'> {
    const store = this.model.store;
    const lastId = store.stats().lastId;
    const limit = clampLimit(req.limit);
    // Throws a TypeError with a showable message for a bad regex; the reply carries it.
    const r = store.query({ ...filterQuery(req.filter), afterId: req.floorId, beforeId: lastId + 1, limit, backward: true });
    this.sub = { filter: req.filter, floorId: req.floorId, lastSentId: lastId };
    this.pendingEvents = true;
    this.schedule();
    return { events: r.events.map(toDto), hasMore: r.hasMore, resumeId: r.hasMore ? r.resumeId : req.floorId, lastId };
  }

  private getPage(req: RequestOf<'getPage'>): ResultOf<'getPage'> {
    const r = this.model.store.query({
      ...filterQuery(req.filter),
      afterId: req.floorId,
      beforeId: req.beforeId,
      limit: clampLimit(req.limit),
      backward: true,
    });
    return { events: r.events.map(toDto), hasMore: r.hasMore, resumeId: r.hasMore ? r.resumeId : req.floorId };
  }

  // --- html -----------------------------------------------------------------------------------------------------

  private html(): string {
    const webview = this.panel.webview;
    const nonce = randomBytes(16).toString('base64');
    const asset = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, ...p)).toString();
    const csp = [
      "default-src 'none'",
      `script-src 'nonce-${nonce}'`,
      `style-src ${webview.cspSource} 'nonce-${nonce}'`,
      `font-src ${webview.cspSource}`,
      `img-src ${webview.cspSource}`,
    ].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('media', 'inspector.css')}" nonce="${nonce}">
<title>WebSocket Inspector</title>
</head>
<body>
<div id="app"></div>
<script type="module" nonce="${nonce}" src="${asset('dist', 'webview.js')}"></script>
</body>
</html>`;
  }
}

function clampLimit(n: number): number {
  return Math.max(1, Math.min(MAX_PAGE, Math.floor(n)));
}
