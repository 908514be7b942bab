// The extension's live state: one capture store, the embedded server and the outgoing connections.
// It implements the InspectorModel the UI reads, and owns every core object it creates.
import { EventStore } from '../core/capture/eventStore';
import { BroadcastServer, type ServerAddress } from '../core/server/broadcastServer';
import { DisposableStore, Emitter } from '../core/util/events';
import type { ConnectionSummary, InspectorModel, OutgoingData, SendTarget, ServerSummary } from './model';
import type { CaptureSettings, ServerSettings } from './settings';

export class Session implements InspectorModel {
  readonly store: EventStore;
  private readonly owner = new DisposableStore();
  private readonly _onDidChange = this.owner.add(new Emitter<void>());
  readonly onDidChange = this._onDidChange.event;
  private server: BroadcastServer | undefined;
  private serverOwner: DisposableStore | undefined;
  private serverSettings: ServerSettings | undefined;
  private changeQueued = false;

  constructor(capture: CaptureSettings) {
    this.store = this.owner.add(new EventStore({ maxEvents: capture.maxEvents, maxBytes: capture.maxBytes }));
  }

  /** Coalesces bursts (a hundred clients connecting) into one change notification per tick. */
  private changed(): void {
    if (this.changeQueued) return;
    this.changeQueued = true;
    setImmediate(() => {
      this.changeQueued = false;
      if (!this.owner.isDisposed) this._onDidChange.fire();
    });
  }

  get serverAddress(): ServerAddress | undefined {
    return this.server?.state === 'running' ? this.server.address : undefined;
  }

  get runningServerSettings(): ServerSettings | undefined {
    return this.server ? this.serverSettings : undefined;
  }

  get clientCount(): number {
    return this.server?.clients().length ?? 0;
  }

  async startServer(settings: ServerSettings): Promise<ServerAddress> {
    if (this.server) throw new Error(`The server is already running at ${this.server.address?.url}. Stop it first.`);
    const server = new BroadcastServer();
    const owner = new DisposableStore();
    owner.add(server.onDidConnect(() => this.changed()));
    owner.add(server.onDidDisconnect(() => this.changed()));
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
      });
      this.server = server;
      this.serverOwner = owner;
      this.serverSettings = settings;
      this.changed();
      return address;
    } catch (err) {
      owner.dispose();
      throw err;
    }
  }

  async stopServer(): Promise<boolean> {
    const server = this.server;
    if (!server) return false;
    this.server = undefined;
    try {
      await server.stop();
    } finally {
      this.serverOwner?.dispose();
      this.serverOwner = undefined;
      this.changed();
    }
    return true;
  }

  sendToAll(data: OutgoingData): number {
    if (!this.server) throw new Error('No server is running. Start one with "WebSocket: Start Broadcast Server".');
    return this.server.sendToAll(data);
  }

  servers(): ServerSummary[] {
    const s = this.server;
    const a = s?.address;
    if (!s || !a) return [];
    return [{ id: 'server', url: a.url, host: a.host, port: a.port, relay: s.relayMode, clientCount: s.clients().length }];
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
        connectedAt: c.connectedAt,
        messagesIn: c.messagesIn,
        messagesOut: c.messagesOut,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
      });
    }
    return out;
  }

  async send(target: SendTarget, data: OutgoingData): Promise<void> {
    switch (target.kind) {
      case 'allClients':
        this.sendToAll(data);
        return;
      case 'client':
        if (!this.server) throw new Error('No server is running.');
        this.server.sendTo(target.clientId, data);
        return;
      case 'connection':
        throw new Error(`No outgoing connection ${target.connectionId}.`);
    }
  }

  async disconnect(connectionId: string, code = 1000, reason = ''): Promise<void> {
    if (this.server?.client(connectionId)) {
      this.server.disconnect(connectionId, code, reason);
      return;
    }
    throw new Error(`No connection ${connectionId}.`);
  }

  async dispose(): Promise<void> {
    await this.stopServer().catch(() => undefined);
    this.owner.dispose();
  }
}
