// The running inspecting proxies as the UI sees them: rows for the connections list and the tree (with the compression
// each proxied connection runs with), and what a held frame's card says of its connection.
import type { CaptureSink } from '../core/capture/events';
import type { BreakpointController, HeldFrame } from '../core/proxy/breakpoints';
import type { ConnectionCompression, ProxyCompression } from '../core/proxy/compressionMode';
import type { PipeCounts } from '../core/proxy/framePipe';
import { InspectingProxy } from '../core/proxy/inspectingProxy';
import type { ProxyConnectionInfo } from '../core/proxy/proxiedConnection';
import { DisposableStore, Emitter } from '../core/util/events';
import type { ProxyCompressionDto } from '../shared/breakpointsProtocol';
import type { ConnectionRow, SourceRow } from '../shared/protocol';
import type { HeldContext } from './breakpointState';
import { watchCounts } from './countsTicker';

export interface ProxyStartOptions {
  target: string;
  port: number;
  tls?: { ca?: string; allowSelfSigned?: boolean };
  /** The debug session that started it: put on both legs' capture events and on the rows. */
  tag?: string;
  /** undefined: automatic (terminate while a proxy rule exists, else passthrough). */
  compression?: ProxyCompression;
  /** Where a set `compression` came from. */
  compressionSetIn?: 'setting' | 'launch.json';
  /** The launch configuration that started it (its name, and its folder's URI). */
  launch?: { name: string; folder?: string };
}

export interface RunningProxy {
  id: string;
  url: string;
  target: string;
  tag?: string;
  proxy: InspectingProxy;
  owner: DisposableStore;
  /** The latest finished connections (the proxy lists only live ones), newest last. */
  closed: ProxyConnectionInfo[];
  /** The mode it was started with; undefined: automatic. */
  compression?: ProxyCompression;
  compressionSetIn?: 'setting' | 'launch.json';
  launch?: { name: string; folder?: string };
}

const NO_TRAFFIC: PipeCounts = { bytesRead: 0, messagesRead: 0, bytesWritten: 0, messagesWritten: 0 };

/** How many finished proxied connections stay listed per proxy (closed rows are history, not clutter). */
const KEEP_CLOSED = 20;

export class ProxyManager {
  private readonly proxies = new Map<string, RunningProxy>();
  private readonly owner = new DisposableStore();
  private readonly _onDidChange = this.owner.add(new Emitter<void>());
  /** Proxies or their connections changed. */
  readonly onDidChange = this._onDidChange.event;
  private readonly _onDidFail = this.owner.add(new Emitter<{ proxy: RunningProxy; info: ProxyConnectionInfo }>());
  /** A proxied connection could not reach its target (refused upgrade, unreachable, TLS). */
  readonly onDidFail = this._onDidFail.event;

  constructor(
    private readonly sink: CaptureSink,
    /** The frame breakpoints every proxy holds frames by (shared with the server and client connections). */
    readonly breakpoints: BreakpointController,
  ) {}

  async start(o: ProxyStartOptions): Promise<RunningProxy> {
    const proxy = new InspectingProxy();
    const owner = new DisposableStore();
    owner.add({ dispose: () => proxy.dispose() });
    // The core names its connections after the proxy (`proxy2-5`): the same name keeps rows and captures in step.
    const id = proxy.name;
    try {
      const meta: Record<string, string> = o.tag ? { debugSession: o.tag } : {};
      const a = await proxy.start({ target: o.target, port: o.port, tls: o.tls, capture: this.sink, meta, breakpoints: this.breakpoints, compression: o.compression });
      const p: RunningProxy = { id, url: a.url, target: o.target, tag: o.tag, proxy, owner, closed: [], compression: o.compression, compressionSetIn: o.compressionSetIn, launch: o.launch };
      owner.add(proxy.onDidOpen(() => this._onDidChange.fire()));
      watchCounts(owner, () => trafficTotal(proxy.connections()), () => this._onDidChange.fire());
      owner.add(
        proxy.onDidClose((info) => {
          p.closed.push(info);
          if (p.closed.length > KEEP_CLOSED) p.closed.splice(0, p.closed.length - KEEP_CLOSED);
          this._onDidChange.fire();
        }),
      );
      owner.add(
        proxy.onDidFail((info) => {
          this._onDidFail.fire({ proxy: p, info });
          this._onDidChange.fire();
        }),
      );
      this.proxies.set(id, p);
      this._onDidChange.fire();
      return p;
    } catch (err) {
      owner.dispose();
      throw err;
    }
  }

  async stop(id: string): Promise<boolean> {
    const p = this.proxies.get(id);
    if (!p) return false;
    this.proxies.delete(id);
    try {
      await p.proxy.stop();
    } finally {
      p.owner.dispose();
      this._onDidChange.fire();
    }
    return true;
  }

  /**
   * The setting wsInspector.proxy.compression changed: the proxies that took theirs from the setting (not from
   * launch.json) use the new mode (undefined: automatic) for the connections that upgrade from now on.
   */
  applyCompressionSetting(mode: ProxyCompression | undefined): void {
    for (const p of this.proxies.values()) {
      if (p.compressionSetIn === 'launch.json') continue;
      p.proxy.setCompression(mode);
      p.compression = mode;
      p.compressionSetIn = mode === undefined ? undefined : 'setting';
    }
    this._onDidChange.fire();
  }

  list(): RunningProxy[] {
    return [...this.proxies.values()];
  }

  /** Headings of the connections list; a compression mode set for the proxy is named (automatic is not). */
  sources(): SourceRow[] {
    return this.list().map((p) => {
      const mode = p.compression;
      return { id: p.id, kind: 'proxy', label: `${p.url} → ${p.target}${mode ? ` · compression: ${mode}` : ''}`, tag: p.tag };
    });
  }

  /** For each proxied connection: its row (both legs) and one row per leg. */
  rows(): ConnectionRow[] {
    const out: ConnectionRow[] = [];
    for (const p of this.proxies.values()) {
      const live = p.proxy.connections();
      const liveIds = new Set(live.map((c) => c.id));
      for (const c of [...p.closed.filter((x) => !liveIds.has(x.id)), ...live]) {
        const state = c.state === 'failed' ? 'failed' : c.state;
        const base = { state, tag: p.tag, connectedAt: c.openedAt } as const;
        const note = c.state === 'failed' ? (c.error ?? (c.status ? `target answered HTTP ${c.status}` : undefined)) : undefined;
        // In and out as each end sees it: the program's (and its leg's) "out" is what it sent, read by the proxy; the
        // target leg's "out" is what the proxy wrote on to the target (they differ when a breakpoint edits or drops).
        const t = c.traffic ?? { c2s: NO_TRAFFIC, s2c: NO_TRAFFIC };
        const programSide = { messagesIn: t.s2c.messagesWritten, messagesOut: t.c2s.messagesRead, bytesIn: t.s2c.bytesWritten, bytesOut: t.c2s.bytesRead };
        const targetSide = { messagesIn: t.s2c.messagesRead, messagesOut: t.c2s.messagesWritten, bytesIn: t.s2c.bytesRead, bytesOut: t.c2s.bytesWritten };
        const compression = c.compression && compressionDto(c.compression, p);
        out.push({ ...base, ...programSide, id: c.id, kind: 'proxy', parentId: p.id, label: `${c.path} → ${c.targetUrl}`, remote: c.remote, note, compression });
        out.push({ ...base, ...programSide, id: c.programSideId, kind: 'proxySide', parentId: c.id, side: 'program', label: `${c.id} program ↔ proxy`, remote: c.remote });
        out.push({ ...base, ...targetSide, id: c.targetSideId, kind: 'proxySide', parentId: c.id, side: 'target', label: `${c.id} proxy ↔ target`, remote: c.targetUrl });
      }
    }
    return out;
  }

  /**
   * What a held frame's card says of its proxied connection: its label, and for a compressed message that passthrough
   * makes uneditable, where `terminate` can be set for next time.
   */
  heldContext(f: HeldFrame): HeldContext {
    for (const p of this.proxies.values()) {
      const c = p.proxy.connections().find((x) => x.id === f.connectionId) ?? p.closed.find((x) => x.id === f.connectionId);
      if (c === undefined) continue;
      const ctx: HeldContext = { label: `${c.path} → ${c.targetUrl}` };
      if (f.suggestedCompression === 'terminate') {
        if (c.compression?.chosen !== 'option') ctx.compressionSwitch = { where: 'automatic' };
        else if (p.compressionSetIn === 'launch.json' && p.launch) ctx.compressionSwitch = { where: 'launch.json', configuration: p.launch.name, folder: p.launch.folder };
        else ctx.compressionSwitch = { where: 'setting' };
      }
      return ctx;
    }
    return { label: f.connectionId };
  }

  async dispose(): Promise<void> {
    await Promise.all(this.list().map((p) => this.stop(p.id).catch(() => undefined)));
    this.owner.dispose();
  }
}

/** A number that moves whenever any count of these connections does. */
function trafficTotal(conns: ProxyConnectionInfo[]): number {
  let n = 0;
  for (const c of conns) {
    const t = c.traffic;
    if (t !== undefined) n += t.c2s.bytesRead + t.c2s.bytesWritten + t.s2c.bytesRead + t.s2c.bytesWritten;
  }
  return n;
}

function compressionDto(c: ConnectionCompression, p: RunningProxy): ProxyCompressionDto {
  return {
    mode: c.mode,
    chosen: c.chosen,
    ...(c.chosen === 'option' && p.compressionSetIn ? { setIn: p.compressionSetIn } : {}),
    programOffered: c.programOffered,
    ...(c.programLeg ? { programLeg: { ...c.programLeg } } : {}),
    ...(c.targetLeg ? { targetLeg: { ...c.targetLeg } } : {}),
  };
}
