// The extension's live state: one capture store, the embedded server and the outgoing connections.
// It implements the InspectorModel the UI reads, and owns every core object it creates.
import { EventStore } from '../core/capture/eventStore';
import { ClientConnection, type ClientConnectionOptions, type ClientState, type ConnectionError } from '../core/client/clientConnection';
import {
  BroadcastServer,
  type BroadcastServerOptions,
  type LimitBreachEvent,
  type RejectEvent,
  type ServerAddress,
} from '../core/server/broadcastServer';
import { SEND_TO_ALL_CONNECTION_ID } from '../core/server/serverBreakpoints';
import type { CheckedSend } from '../core/client/heldQueue';
import type { HeldFrame } from '../core/proxy/breakpoints';
import { RedisBackplane } from '../core/scale/redisBackplane';
import { DisposableStore, Emitter } from '../core/util/events';
import type { BreakpointsSnapshot, HeldAction, SendResult } from '../shared/breakpointsProtocol';
import type { SourceRow } from '../shared/protocol';
import { BreakpointState, type HeldContext } from './breakpointState';
import { BrowserManager } from './browsers';
import { ClosedConnections } from './closedConnections';
import type { ConnectionSummary, InspectorModel, OutgoingData, SendTarget, ServerSummary } from './model';
import { ProxyManager } from './proxies';
import type { CaptureSettings, ScaleSettings, ServerSettings } from './settings';

/** An outgoing connection and the counters the panel and tree show for it. */
interface Outgoing {
  conn: ClientConnection;
  url: string;
  options: ClientConnectionOptions;
  owner: DisposableStore;
  state: ClientState | 'failed';
  lastError?: ConnectionError;
  connectedAt?: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

/** The security options of BroadcastServer.start, as plain values: file contents and secrets already read. */
export type ServerSecurityOptions = Pick<
  BroadcastServerOptions,
  | 'tls'
  | 'auth'
  | 'allowedOrigins'
  | 'allowRemote'
  | 'rateLimit'
  | 'maxBufferedBytes'
  | 'slowConsumerAction'
  | 'handshakeTimeoutMs'
  | 'idleTimeoutMs'
>;

export type { LimitBreachEvent, RejectEvent };

/** Longest wait between a change and its notification (see `changed`). */
const CHANGE_MS = 100;

export class Session implements InspectorModel {
  readonly store: EventStore;
  private readonly owner = new DisposableStore();
  private readonly _onDidChange = this.owner.add(new Emitter<void>());
  readonly onDidChange = this._onDidChange.event;
  private server: BroadcastServer | undefined;
  private serverOwner: DisposableStore | undefined;
  private serverSettings: ServerSettings | undefined;
  private serverSecurity: { tls: boolean; auth: boolean } | undefined;
  private readonly _onDidReject = this.owner.add(new Emitter<RejectEvent>());
  private readonly _onDidBreachLimit = this.owner.add(new Emitter<LimitBreachEvent>());
  /** The running server refused an upgrade (bad or missing token, origin, too many clients…). */
  readonly onDidReject = this._onDidReject.event;
  /** A client of the running server breached a per-client limit. */
  readonly onDidBreachLimit = this._onDidBreachLimit.event;
  private changeQueued = false;
  private readonly outgoing = new Map<string, Outgoing>();
  /** Closed server clients, kept in the lists until cleared or evicted. */
  private readonly closed = new ClosedConnections();
  /** The frame breakpoints: one controller for the proxies, the server and the client connections, and what they hold. */
  readonly holds: BreakpointState;
  /** The inspecting proxies. */
  readonly proxies: ProxyManager;
  /** Browser tabs inspected over the DevTools protocol. */
  readonly browsers: BrowserManager;
  /** The debug session that started the running server, if one did. */
  private serverTag: string | undefined;
  private backplane: RedisBackplane | undefined;
  private backplaneOwner: DisposableStore | undefined;

  constructor(capture: CaptureSettings, breakpointTimeoutMs: number) {
    this.store = this.owner.add(new EventStore({ maxEvents: capture.maxEvents, maxBytes: capture.maxBytes }));
    this.holds = new BreakpointState(breakpointTimeoutMs, (f) => this.contextOfHeld(f));
    this.proxies = new ProxyManager(this.store, this.holds.controller);
    this.browsers = new BrowserManager(this.store);
    this.owner.add(this.holds.onDidChange(() => this.changed()));
    this.owner.add(this.proxies.onDidChange(() => this.changed()));
    this.owner.add(this.browsers.onDidChange(() => this.changed()));
  }

  sources(): SourceRow[] {
    return [...this.proxies.sources(), ...this.browsers.sources()];
  }

  breakpoints(): BreakpointsSnapshot {
    return this.holds.snapshot();
  }

  async resolveHeld(id: number, action: HeldAction, text?: string, hex?: string): Promise<void> {
    this.holds.act(id, action, text, hex);
  }

  heldFrameContext(id: number): HeldContext | undefined {
    return this.holds.context(id);
  }

  /** What a held frame's card says of its connection (asked when it is held). */
  private contextOfHeld(f: HeldFrame): HeldContext {
    if (f.source === 'proxy') return this.proxies.heldContext(f);
    if (f.source === 'server') {
      if (f.connectionId === SEND_TO_ALL_CONNECTION_ID) return { label: 'Send to all' };
      const c = this.server?.client(f.connectionId);
      return { label: c ? `${c.remoteAddress}:${c.remotePort}` : f.connectionId };
    }
    return { label: this.findOutgoing(f.connectionId)?.url ?? f.connectionId };
  }

  /**
   * Coalesces bursts (a hundred clients connecting, a flood of messages counted) into at most one change
   * notification per CHANGE_MS: the tree, the status bar and the panel's model all redraw on it, and during a flood
   * a notification per message turn kept the extension host too busy to answer the panel (seconds per click).
   */
  private changed(): void {
    if (this.changeQueued) return;
    this.changeQueued = true;
    setTimeout(() => {
      this.changeQueued = false;
      if (!this.owner.isDisposed) this._onDidChange.fire();
    }, CHANGE_MS);
  }

  get serverAddress(): ServerAddress | undefined {
    return this.server?.state === 'running' ? this.server.address : undefined;
  }

  get runningServerSettings(): ServerSettings | undefined {
    return this.server ? this.serverSettings : undefined;
  }

  /**
   * True while the server listens on a non-loopback address (reachable from the network). The status bar warns
   * while this is true.
   */
  get serverExposed(): boolean {
    return this.serverAddress !== undefined && this.server?.exposed === true;
  }

  /** What protects the running server: TLS (wss://) and token auth; undefined when none runs. */
  get serverProtection(): { tls: boolean; auth: boolean } | undefined {
    return this.serverAddress ? this.serverSecurity : undefined;
  }

  /** The running embedded server, for the features that drive it (a scenario file's mock). */
  get broadcastServer(): BroadcastServer | undefined {
    return this.server?.state === 'running' ? this.server : undefined;
  }

  get clientCount(): number {
    return this.server?.clients().length ?? 0;
  }

  /** `tag`: the debug session that starts it; its clients' rows carry the name. */
  async startServer(settings: ServerSettings, security: ServerSecurityOptions = {}, tag?: string): Promise<ServerAddress> {
    if (this.server) throw new Error(`The server is already running at ${this.server.address?.url}. Stop it first.`);
    const server = new BroadcastServer();
    const owner = new DisposableStore();
    owner.add(server.onDidReject((e) => this._onDidReject.fire(e)));
    owner.add(server.onDidBreachLimit((e) => this._onDidBreachLimit.fire(e)));
    owner.add(server.onDidConnect(() => this.changed()));
    owner.add(
      server.onDidDisconnect((e) => {
        this.closed.clientClosed(e, 'server', this.serverTag, this.store.stats().lastId);
        this.changed();
      }),
    );
    owner.add(server.onDidReceive(() => this.changed()));
    owner.add(server.onDidChangeState(() => this.changed()));
    owner.add({ dispose: () => server.dispose() });
    try {
      const address = await server.start({
        host: settings.host,
        port: settings.port,
        relay: settings.relay,
        maxPayload: settings.maxPayload,
        maxClients: settings.maxClients,
        perMessageDeflate: settings.perMessageDeflate,
        heartbeatIntervalMs: settings.heartbeatIntervalMs,
        capture: this.store,
        breakpoints: this.holds.controller,
        ...security,
      });
      this.server = server;
      // A new server, new clients: the last one's closed clients would be listed under it.
      this.closed.clear();
      this.serverOwner = owner;
      this.serverSettings = settings;
      this.serverTag = tag;
      this.serverSecurity = {
        tls: security.tls !== undefined,
        auth: security.auth !== undefined,
      };
      this.changed();
      return address;
    } catch (err) {
      owner.dispose();
      throw err;
    }
  }

  /**
   * The running server joins a Redis pub/sub channel: it publishes what it relays and delivers what other servers
   * publish. Rejects with a readable error when Redis cannot be reached now (the server goes on without it).
   */
  async startBackplane(scale: ScaleSettings): Promise<RedisBackplane> {
    if (!this.server) throw new Error('Start the broadcast server first: the backplane joins it to a Redis channel.');
    if (this.backplane) throw new Error(`The server is already on the backplane ${this.backplane.displayUrl} (${scale.channel}).`);
    const bp = new RedisBackplane(this.server, { url: scale.redisUrl, channel: scale.channel, envelope: scale.envelope, capture: this.store });
    const owner = new DisposableStore();
    owner.add(bp.onDidChangeState(() => this.changed()));
    owner.add({ dispose: () => bp.dispose() });
    this.backplane = bp;
    this.backplaneOwner = owner;
    this.backplaneChannel = scale.channel;
    this.changed();
    try {
      await bp.start();
      return bp;
    } catch (err) {
      if (this.backplane === bp) {
        this.backplane = undefined;
        this.backplaneOwner = undefined;
      }
      owner.dispose();
      this.changed();
      throw err;
    }
  }

  async stopBackplane(): Promise<boolean> {
    const bp = this.backplane;
    if (!bp) return false;
    this.backplane = undefined;
    const owner = this.backplaneOwner;
    this.backplaneOwner = undefined;
    try {
      await bp.stop();
    } finally {
      owner?.dispose();
      this.changed();
    }
    return true;
  }

  get backplaneState(): { state: string; url: string; channel: string; lastError?: string } | undefined {
    const bp = this.backplane;
    return bp ? { state: bp.state, url: bp.displayUrl, channel: this.backplaneChannel, lastError: bp.lastError } : undefined;
  }

  private backplaneChannel = '';

  async stopServer(): Promise<boolean> {
    const server = this.server;
    if (!server) return false;
    await this.stopBackplane().catch(() => undefined);
    this.server = undefined;
    this.serverTag = undefined;
    try {
      await server.stop();
    } finally {
      this.serverOwner?.dispose();
      this.serverOwner = undefined;
      this.changed();
    }
    return true;
  }

  /** Send to all through the breakpoints: a rule for the server (s2c) may hold it; the result says so. */
  sendToAll(data: OutgoingData): CheckedSend {
    if (!this.server) throw new Error('No server is running. Start one with "WebSocket: Start Broadcast Server".');
    const r = this.server.sendToAllChecked(data);
    this.changed();
    return r;
  }

  /** A connection's label (its address or URL) for prompts and notifications; the id itself when unknown. */
  labelOf(id: string): string {
    const c = this.server?.client(id);
    if (c) return `${c.remoteAddress}:${c.remotePort}`;
    return this.closed.get(id)?.label ?? this.findOutgoing(id)?.url ?? id;
  }

  servers(): ServerSummary[] {
    const s = this.server;
    const a = s?.address;
    if (!s || !a) return [];
    const bp = this.backplane;
    const backplane = bp
      ? { state: bp.state, channel: this.backplaneChannel, detail: bp.lastError ?? `${bp.stats.published} out, ${bp.stats.delivered} in` }
      : undefined;
    return [{ id: 'server', url: a.url, host: a.host, port: a.port, relay: s.relayMode, clientCount: s.clients().length, tag: this.serverTag, backplane }];
  }

  connections(): ConnectionSummary[] {
    const out: ConnectionSummary[] = [];
    for (const c of this.server?.clients() ?? []) {
      out.push({
        id: c.id,
        kind: 'serverClient',
        serverId: 'server',
        label: `${c.remoteAddress}:${c.remotePort}`,
        state: 'open',
        remote: `${c.remoteAddress}:${c.remotePort}`,
        userAgent: c.userAgent,
        origin: c.origin,
        subprotocol: c.subprotocol,
        tag: this.serverTag,
        connectedAt: c.connectedAt,
        messagesIn: c.messagesIn,
        messagesOut: c.messagesOut,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
      });
    }
    out.push(...this.closed.list(this.store.stats().firstId));
    for (const o of this.outgoing.values()) {
      out.push({
        id: o.conn.connectionId ?? o.conn.id,
        kind: 'outgoing',
        label: o.url,
        state: o.state,
        remote: o.url,
        subprotocol: o.conn.protocol || undefined,
        connectedAt: o.connectedAt,
        messagesIn: o.messagesIn,
        messagesOut: o.messagesOut,
        bytesIn: o.bytesIn,
        bytesOut: o.bytesOut,
      });
    }
    const bp = this.backplane;
    if (bp && this.server) {
      const st = bp.stats;
      out.push({
        id: bp.connectionId,
        kind: 'backplane',
        serverId: 'server',
        label: `Redis backplane ${bp.displayUrl} · ${this.backplaneChannel}`,
        state: bp.state === 'connected' ? 'open' : bp.state === 'reconnecting' ? 'reconnecting' : bp.state === 'connecting' ? 'connecting' : 'closed',
        note: bp.state === 'connected' ? undefined : (bp.lastError ?? bp.state),
        remote: bp.displayUrl,
        messagesIn: st.delivered,
        messagesOut: st.published,
        bytesIn: 0,
        bytesOut: 0,
      });
    }
    out.push(...this.proxies.rows(), ...this.browsers.rows());
    return out;
  }

  /**
   * Opens an outgoing connection, captured into the store. Resolves when it is open; rejects with the
   * ConnectionError (readable message, captured handshake) when the first attempt fails.
   */
  connect(url: string, options: ClientConnectionOptions = {}): Promise<ClientConnection> {
    const conn = new ClientConnection(url, { ...options, capture: this.store, breakpoints: this.holds.controller });
    const owner = new DisposableStore();
    const o: Outgoing = { conn, url, options, owner, state: 'connecting', messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 };
    this.outgoing.set(conn.id, o);
    owner.add(conn);
    owner.add(
      conn.onDidReceive((m) => {
        o.messagesIn++;
        o.bytesIn += m.data.length;
        this.changed();
      }),
    );
    const opened = new Promise<ClientConnection>((resolve, reject) => {
      owner.add(
        conn.onDidChangeState((e) => {
          o.state = e.state === 'closed' && e.error ? 'failed' : e.state;
          if (e.error) o.lastError = e.error;
          if (e.state === 'open') {
            o.connectedAt = Date.now();
            resolve(conn);
          } else if ((e.state === 'closed' || e.state === 'reconnecting') && e.error) {
            reject(e.error);
          }
          this.changed();
        }),
      );
    });
    this.changed();
    conn.open();
    return opened;
  }

  /** Opens a new connection with the same URL and options as a closed one. */
  reconnect(id: string): Promise<ClientConnection> {
    const o = this.findOutgoing(id);
    if (!o) throw new Error(`No outgoing connection ${id}.`);
    this.removeOutgoing(o);
    return this.connect(o.url, o.options);
  }

  /** Closes an outgoing connection (1000) and removes it from the list. */
  closeOutgoing(id: string, code = 1000, reason = ''): boolean {
    const o = this.findOutgoing(id);
    if (!o) return false;
    o.conn.close(code, reason);
    this.removeOutgoing(o);
    return true;
  }

  outgoingConnections(): Array<{ id: string; url: string; state: string }> {
    return [...this.outgoing.values()].map((o) => ({ id: o.conn.connectionId ?? o.conn.id, url: o.url, state: o.state }));
  }

  /** Accepts the connection's own id (`o1`) or one of its capture ids (`o1.2`). */
  private findOutgoing(id: string): Outgoing | undefined {
    return this.outgoing.get(id) ?? this.outgoing.get(id.split('.')[0]);
  }

  private removeOutgoing(o: Outgoing): void {
    this.outgoing.delete(o.conn.id);
    // Let the close handshake finish before the listeners go.
    setTimeout(() => o.owner.dispose(), 2000).unref();
    this.changed();
  }

  async send(target: SendTarget, data: OutgoingData): Promise<SendResult> {
    switch (target.kind) {
      case 'allClients':
        return sendResult(this.sendToAll(data));
      case 'client':
        if (!this.server) throw new Error('No server is running.');
        // Named by its address: a closed client is still listed, and its id means nothing to the user.
        if (!this.server.client(target.clientId)) throw new Error(`Client ${this.labelOf(target.clientId)} is closed: nothing was sent.`);
        this.server.sendTo(target.clientId, data);
        // Its messages out and bytes out moved: the lists redraw.
        this.changed();
        return { status: 'sent', delivered: 1 };
      case 'connection': {
        const o = this.findOutgoing(target.connectionId);
        if (!o) throw new Error(`No outgoing connection ${target.connectionId}.`);
        const r = o.conn.send(data);
        const count = (delivered: number) => {
          if (delivered === 0) return;
          o.messagesOut++;
          o.bytesOut += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
          this.changed();
        };
        if (r.status === 'sent') count(r.delivered);
        else void r.settled.then((settled) => count(settled.delivered));
        return sendResult(r);
      }
    }
  }

  async disconnect(connectionId: string, code = 1000, reason = ''): Promise<void> {
    if (this.server?.client(connectionId)) {
      this.server.disconnect(connectionId, code, reason);
      return;
    }
    if (this.closeOutgoing(connectionId, code, reason)) return;
    throw new Error(`No connection ${connectionId}.`);
  }

  async dispose(): Promise<void> {
    for (const o of this.outgoing.values()) o.owner.dispose();
    this.outgoing.clear();
    await Promise.all([
      this.stopServer().catch(() => undefined),
      this.proxies.dispose().catch(() => undefined),
      this.browsers.dispose().catch(() => undefined),
    ]);
    this.holds.dispose();
    this.owner.dispose();
  }
}

/** A checked send as the panel's reply: sent now, held (with its frame's id and rule), or queued behind a held one. */
export function sendResult(r: CheckedSend): SendResult {
  if (r.status === 'held' && r.frame) return { status: 'held', delivered: 0, heldId: r.frame.id, ruleId: r.frame.ruleId };
  return { status: r.status, delivered: r.delivered };
}
