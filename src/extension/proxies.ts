// The running inspecting proxies and the frame breakpoints they share, as the UI sees them: rows for the
// connections list and the tree, the held frames, and the latest outcomes.
import type { CaptureSink } from '../core/capture/events';
import { BreakpointController, type BreakpointRule, type HeldFrame, type HeldOutcome } from '../core/proxy/breakpoints';
import type { PipeCounts } from '../core/proxy/framePipe';
import { InspectingProxy } from '../core/proxy/inspectingProxy';
import type { ProxyConnectionInfo } from '../core/proxy/proxiedConnection';
import { DisposableStore, Emitter } from '../core/util/events';
import { parseHexBytes } from '../shared/hex';
import { watchCounts } from './countsTicker';
import { MAX_DETAIL_BYTES, MAX_HEX_EDIT_BYTES, type BreakpointsSnapshot, type ConnectionRow, type HeldFrameDto, type HeldOutcomeDto, type SourceRow } from '../shared/protocol';

export interface ProxyStartOptions {
  target: string;
  port: number;
  tls?: { ca?: string; allowSelfSigned?: boolean };
  /** The debug session that started it: put on both legs' capture events and on the rows. */
  tag?: string;
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
}

const NO_TRAFFIC: PipeCounts = { bytesRead: 0, messagesRead: 0, bytesWritten: 0, messagesWritten: 0 };

/** How many finished proxied connections stay listed per proxy (closed rows are history, not clutter). */
const KEEP_CLOSED = 20;
const RECENT_OUTCOMES = 50;

export class ProxyManager {
  readonly breakpoints: BreakpointController;
  private readonly proxies = new Map<string, RunningProxy>();
  private readonly owner = new DisposableStore();
  private readonly recent: HeldOutcomeDto[] = [];
  private readonly _onDidChange = this.owner.add(new Emitter<void>());
  /** Proxies, their connections, the rules or the held frames changed. */
  readonly onDidChange = this._onDidChange.event;
  private readonly _onDidResolve = this.owner.add(new Emitter<{ frame: HeldFrame; outcome: HeldOutcome }>());
  readonly onDidResolveHeld = this._onDidResolve.event;
  private readonly _onDidFail = this.owner.add(new Emitter<{ proxy: RunningProxy; info: ProxyConnectionInfo }>());
  /** A proxied connection could not reach its target (refused upgrade, unreachable, TLS). */
  readonly onDidFail = this._onDidFail.event;

  constructor(
    private readonly sink: CaptureSink,
    timeoutMs: number,
  ) {
    this.breakpoints = new BreakpointController({ timeoutMs });
    this.owner.add(this.breakpoints.onDidHold(() => this._onDidChange.fire()));
    this.owner.add(
      this.breakpoints.onDidResolve((e) => {
        this.recent.push({
          id: e.frame.id,
          connectionId: e.frame.connectionId,
          direction: e.frame.direction,
          ruleId: e.frame.ruleId,
          outcome: e.outcome,
          time: Date.now(),
        });
        if (this.recent.length > RECENT_OUTCOMES) this.recent.splice(0, this.recent.length - RECENT_OUTCOMES);
        this._onDidResolve.fire(e);
        this._onDidChange.fire();
      }),
    );
  }

  async start(o: ProxyStartOptions): Promise<RunningProxy> {
    const proxy = new InspectingProxy();
    const owner = new DisposableStore();
    owner.add({ dispose: () => proxy.dispose() });
    // The core names its connections after the proxy (`proxy2-5`): the same name keeps rows and captures in step.
    const id = proxy.name;
    try {
      const meta: Record<string, string> = o.tag ? { debugSession: o.tag } : {};
      const a = await proxy.start({ target: o.target, port: o.port, tls: o.tls, capture: this.sink, meta, breakpoints: this.breakpoints });
      const p: RunningProxy = { id, url: a.url, target: o.target, tag: o.tag, proxy, owner, closed: [] };
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

  list(): RunningProxy[] {
    return [...this.proxies.values()];
  }

  setRules(rules: BreakpointRule[]): void {
    this.breakpoints.setRules(rules);
    this._onDidChange.fire();
  }

  sources(): SourceRow[] {
    return this.list().map((p) => ({ id: p.id, kind: 'proxy', label: `${p.url} → ${p.target}`, tag: p.tag }));
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
        out.push({ ...base, ...programSide, id: c.id, kind: 'proxy', parentId: p.id, label: `${c.path} → ${c.targetUrl}`, remote: c.remote, note });
        out.push({ ...base, ...programSide, id: c.programSideId, kind: 'proxySide', parentId: c.id, side: 'program', label: `${c.id} program ↔ proxy`, remote: c.remote });
        out.push({ ...base, ...targetSide, id: c.targetSideId, kind: 'proxySide', parentId: c.id, side: 'target', label: `${c.id} proxy ↔ target`, remote: c.targetUrl });
      }
    }
    return out;
  }

  snapshot(): BreakpointsSnapshot {
    return {
      rules: this.breakpoints.rules.map((r) => ({ id: r.id, enabled: r.enabled, description: describeRule(r) })),
      held: this.breakpoints.held().map(heldToDto),
      recent: [...this.recent],
      timeoutMs: this.breakpoints.timeoutMs,
    };
  }

  /** Throws an Error fit to show when the edit cannot be made (not hex, too long for a control frame…). */
  resolve(id: number, action: 'forward' | 'edit' | 'drop', text?: string, hex?: string): void {
    if (action === 'forward') this.breakpoints.forward(id);
    else if (action === 'drop') this.breakpoints.drop(id);
    else if (hex !== undefined) {
      const bytes = parseHexBytes(hex);
      if (!(bytes instanceof Uint8Array)) throw new Error(`The edited payload is not hex: ${bytes.error}.`);
      this.breakpoints.edit(id, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
    } else this.breakpoints.edit(id, text ?? '');
  }

  async dispose(): Promise<void> {
    await Promise.all(this.list().map((p) => this.stop(p.id).catch(() => undefined)));
    this.owner.dispose();
  }
}

/** One line a user can read: `c2s text /error/ $.type == "chat"`. */
function describeRule(r: BreakpointRule): string {
  const parts: string[] = [];
  if (r.direction) parts.push(r.direction === 'c2s' ? 'program → target' : 'target → program');
  if (r.opcode !== undefined) parts.push(({ 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' } as Record<number, string>)[r.opcode] ?? `opcode ${r.opcode}`);
  if (r.textPattern) parts.push(`/${r.textPattern}/`);
  if (r.jsonPath) parts.push(`${r.jsonPath} == ${r.jsonEquals ?? '(any)'}`);
  return parts.length ? parts.join(' · ') : 'every frame';
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

function heldToDto(h: HeldFrame): HeldFrameDto {
  const bytes = h.payload.subarray(0, MAX_DETAIL_BYTES);
  const text = h.text ?? (isText(h) ? bytes.toString('utf8') : undefined);
  const whole = text === undefined && h.payload.length <= MAX_HEX_EDIT_BYTES;
  return {
    id: h.id,
    connectionId: h.connectionId,
    direction: h.direction,
    opcode: h.opcode,
    text,
    hex: text === undefined ? (whole ? h.payload : bytes.subarray(0, 256)).toString('hex') : undefined,
    hexComplete: text === undefined ? whole : undefined,
    size: h.payload.length,
    compressed: h.compressed,
    ruleId: h.ruleId,
    heldAt: h.heldAt,
    deadline: h.deadline,
    editable: h.editable,
    notEditableReason: h.notEditableReason,
  };
}

function isText(h: HeldFrame): boolean {
  return h.opcode === 1;
}
