// Browser tabs inspected over the DevTools protocol, as the UI sees them: one heading per attached endpoint and a
// row per page WebSocket.
import type { CaptureSink } from '../core/capture/events';
import { BrowserInspector } from '../core/cdp/browserInspector';
import { DisposableStore, Emitter } from '../core/util/events';
import type { ConnectionRow, SourceRow } from '../shared/protocol';
import { watchCounts } from './countsTicker';

export interface RunningInspection {
  id: string;
  endpoint: string;
  browser?: string;
  tag?: string;
  inspector: BrowserInspector;
  owner: DisposableStore;
}

export class BrowserManager {
  private readonly inspections = new Map<string, RunningInspection>();
  private readonly owner = new DisposableStore();
  private nextId = 1;
  private readonly _onDidChange = this.owner.add(new Emitter<void>());
  readonly onDidChange = this._onDidChange.event;
  private readonly _onDidDisconnect = this.owner.add(new Emitter<{ inspection: RunningInspection; reason: string }>());
  /** The browser went away (closed, crashed, debug session ended). */
  readonly onDidDisconnect = this._onDidDisconnect.event;
  private readonly _onDidWarn = this.owner.add(new Emitter<string>());
  /** For the log: targets that could not be attached, malformed DevTools events. */
  readonly onDidWarn = this._onDidWarn.event;

  constructor(private readonly sink: CaptureSink) {}

  /**
   * Attaches to a DevTools endpoint; rejects with a readable error when nothing (or no DevTools) answers there. `tag`
   * names the rows; a function is read each time, since js-debug renames a page's session once it knows the page.
   */
  async start(endpoint: string, tag?: string | (() => string)): Promise<RunningInspection> {
    const tagNow = typeof tag === 'function' ? tag : () => tag;
    const inspector = new BrowserInspector();
    const owner = new DisposableStore();
    owner.add({ dispose: () => inspector.dispose() });
    const id = `browser${this.nextId++}`;
    try {
      const first = tagNow();
      const r = await inspector.start({ endpoint, sink: this.sink, meta: first ? { debugSession: first } : undefined });
      const i: RunningInspection = {
        id,
        endpoint,
        browser: r.browser,
        get tag() {
          return tagNow();
        },
        inspector,
        owner,
      };
      owner.add(inspector.onDidChangeSockets(() => this._onDidChange.fire()));
      watchCounts(
        owner,
        () => inspector.sockets().reduce((n, s) => n + s.bytesIn + s.bytesOut + s.messagesIn + s.messagesOut, 0),
        () => this._onDidChange.fire(),
      );
      owner.add(inspector.onDidWarn((w) => this._onDidWarn.fire(`${id}: ${w}`)));
      owner.add(
        inspector.onDidDisconnect((e) => {
          this._onDidDisconnect.fire({ inspection: i, reason: e.reason });
          void this.stop(id);
        }),
      );
      this.inspections.set(id, i);
      this._onDidChange.fire();
      return i;
    } catch (err) {
      owner.dispose();
      throw err;
    }
  }

  async stop(id: string): Promise<boolean> {
    const i = this.inspections.get(id);
    if (!i) return false;
    this.inspections.delete(id);
    try {
      await i.inspector.stop();
    } finally {
      i.owner.dispose();
      this._onDidChange.fire();
    }
    return true;
  }

  list(): RunningInspection[] {
    return [...this.inspections.values()];
  }

  sources(): SourceRow[] {
    return this.list().map((i) => ({ id: i.id, kind: 'browser', label: `${i.browser ?? 'DevTools'} at ${i.endpoint}`, tag: i.tag }));
  }

  rows(): ConnectionRow[] {
    const out: ConnectionRow[] = [];
    for (const i of this.inspections.values()) {
      for (const s of i.inspector.sockets()) {
        out.push({
          id: s.id,
          kind: 'browser',
          parentId: i.id,
          label: s.url,
          state: s.state,
          note: s.pageTitle || s.pageUrl || undefined,
          tag: i.tag,
          remote: s.url,
          connectedAt: s.openedAt,
          messagesIn: s.messagesIn,
          messagesOut: s.messagesOut,
          bytesIn: s.bytesIn,
          bytesOut: s.bytesOut,
        });
      }
    }
    return out;
  }

  async dispose(): Promise<void> {
    await Promise.all(this.list().map((i) => this.stop(i.id).catch(() => undefined)));
    this.owner.dispose();
  }
}
