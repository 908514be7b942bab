// The embedded broadcast server: ws in noServer mode behind a plain http server, relaying every
// message a client sends according to the relay mode, with optional frame-level capture. Its options are in
// serverOptions.ts, the checks before an upgrade in upgradeGate.ts, the limits on each client in clientLimits.ts, and
// the way a message goes out to the clients in broadcastFastPath.ts.

import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { isLoopback } from '../util/address';
import { DisposableStore, Emitter, type Event } from '../util/events';
import { listen } from '../util/listen';
import { isValidCloseCode } from '../wire/constants';
import { BreakpointController } from '../proxy/breakpoints';
import { sentAtOnce, type CheckedSend } from '../client/heldQueue';
import { prepareAuth, selectSubprotocol } from './auth';
import { fanOut, type SendBufferGuard } from './broadcastFastPath';
import { ClientLimits, readNow } from './clientLimits';
import { ClientRegistry, newClientRecord, nextClientId, type ClientInfo, type ClientRecord } from './clientRegistry';
import { reachesOthers, RELAY_MODES, relayTargets, type RelayMode } from './relay';
import {
  ServerError,
  statusCodeOf,
  type BackplaneHook,
  type DisconnectEvent,
  type LimitBreachEvent,
  type ReceiveEvent,
  type RejectEvent,
  type ServerAddress,
  type ServerState,
  type ServerStateChange,
} from './serverEvents';
import { createServer, DEFAULTS, resolveOptions, tlsTimeoutMs, type BroadcastServerOptions, type ResolvedOptions } from './serverOptions';
import { ServerBreakpoints } from './serverBreakpoints';
import { ServerSockets } from './serverSockets';
import { answerClientError, onPlainRequest, refusalEvent, rejectUpgrade, UpgradeGate, type Refusal } from './upgradeGate';

export type { ClientInfo } from './clientRegistry';
export type { RelayMode } from './relay';
export type { AuthOptions, JwtOptions, TokenLocation } from './auth';
export type { RateLimitOptions } from './limits';
export type { BroadcastServerOptions } from './serverOptions';
export { ServerError } from './serverEvents';
export type {
  BackplaneHook,
  DisconnectEvent,
  LimitBreachEvent,
  LimitName,
  ReceiveEvent,
  RejectEvent,
  ServerAddress,
  ServerState,
  ServerStateChange,
} from './serverEvents';

const STOPPING: Refusal = { status: 503, code: 'ERR_STOPPING', reason: 'server is stopping' };

export class BroadcastServer {
  private readonly _onDidConnect = new Emitter<ClientInfo>();
  private readonly _onDidDisconnect = new Emitter<DisconnectEvent>();
  private readonly _onDidReceive = new Emitter<ReceiveEvent>();
  private readonly _onDidError = new Emitter<Error>();
  private readonly _onDidChangeState = new Emitter<ServerStateChange>();
  readonly onDidConnect: Event<ClientInfo> = this._onDidConnect.event;
  readonly onDidDisconnect: Event<DisconnectEvent> = this._onDidDisconnect.event;
  readonly onDidReceive: Event<ReceiveEvent> = this._onDidReceive.event;
  /** Server-level problems (a failing socket before upgrade, a listener error); never one client's protocol error. */
  readonly onDidError: Event<Error> = this._onDidError.event;
  readonly onDidChangeState: Event<ServerStateChange> = this._onDidChangeState.event;
  private readonly _onDidReject = new Emitter<RejectEvent>();
  private readonly _onDidBreachLimit = new Emitter<LimitBreachEvent>();
  /** An upgrade refused with an HTTP status (auth, origin, path, capacity). */
  readonly onDidReject: Event<RejectEvent> = this._onDidReject.event;
  /** A client went over a limit; `drop` breaches are reported at most once a second per client (`droppedIn`/`droppedOut` have the totals). */
  readonly onDidBreachLimit: Event<LimitBreachEvent> = this._onDidBreachLimit.event;

  private _state: ServerState = 'stopped';
  private _address: ServerAddress | undefined;
  private opts: ResolvedOptions | undefined;
  private relay: RelayMode = DEFAULTS.relay;
  private http: http.Server | https.Server | undefined;
  private gate: UpgradeGate | undefined;
  private limits: ClientLimits | undefined;
  /** The limits' slow-consumer check, as the fan-out takes it. */
  private guard: SendBufferGuard | undefined;
  private wss: WebSocketServer | undefined;
  /** Owns the listeners and timers of one run (start → stop). */
  private run: DisposableStore | undefined;
  private readonly registry = new ClientRegistry();
  /** The TCP connections, from accept to close. */
  private readonly sockets = new ServerSockets((e) => this._onDidBreachLimit.fire(e));
  private starting: Promise<ServerAddress> | undefined;
  private stopping: Promise<void> | undefined;
  private backplane: BackplaneHook | undefined;
  private breakpoints: BreakpointController | undefined;
  /** The run's holds, while running with breakpoints. */
  private holds: ServerBreakpoints | undefined;

  get state(): ServerState {
    return this._state;
  }

  get address(): ServerAddress | undefined {
    return this._address;
  }

  /** True while bound to a non-loopback address: reachable from the network (the UI warns). */
  get exposed(): boolean {
    return this._address !== undefined && !isLoopback(this._address.host);
  }

  get relayMode(): RelayMode {
    return this.relay;
  }

  /**
   * Binds and listens. Rejects with a `ServerError` (code `EADDRINUSE` etc.) when the port cannot be bound, with
   * `ERR_EXPOSED_WITHOUT_AUTH` for a non-loopback host without `auth` or `allowRemote`, and with a TypeError for
   * invalid options.
   */
  async start(options: BroadcastServerOptions = {}): Promise<ServerAddress> {
    if (this._state !== 'stopped') throw new ServerError('ERR_ALREADY_RUNNING', `Server is ${this._state}`);
    const p = this.doStart(options);
    this.starting = p;
    try {
      return await p;
    } finally {
      this.starting = undefined;
    }
  }

  private async doStart(options: BroadcastServerOptions): Promise<ServerAddress> {
    const opts = resolveOptions(options);
    const auth = opts.auth ? prepareAuth(opts.auth) : undefined;
    if (!isLoopback(opts.host) && !opts.allowRemote && !auth) {
      throw new ServerError(
        'ERR_EXPOSED_WITHOUT_AUTH',
        `Binding ${opts.host} exposes the server to the network: turn on auth, or set allowRemote: true to expose it without`,
      );
    }
    const server = createServer(opts);
    this.opts = opts;
    this.gate = new UpgradeGate({ path: opts.path, maxClients: opts.maxClients, allowedOrigins: opts.allowedOrigins, auth });
    this.limits = new ClientLimits(opts, (e) => this._onDidBreachLimit.fire(e));
    this.guard = this.limits.guard;
    this.relay = opts.relay;
    this.breakpoints = opts.breakpoints ?? this.breakpoints;
    this.holds = this.breakpoints && this.newHolds(this.breakpoints);
    this.setState({ state: 'starting' });

    const run = (this.run = new DisposableStore());
    this.http = server;
    const wss = (this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxPayload,
      perMessageDeflate: opts.perMessageDeflate,
      clientTracking: false,
      handleProtocols: (protocols) => selectSubprotocol(protocols),
    }));
    this.listenTo(run, server, wss, opts);
    try {
      await listen(server, opts.host, opts.port, (f) => new ServerError(f.code, f.message, { cause: f.cause }));
    } catch (err) {
      run.dispose();
      this.holds?.dispose('stop');
      this.http = this.wss = this.run = this.holds = undefined;
      this.setState({ state: 'stopped', error: err as Error });
      throw err;
    }
    run.on(server, 'error', (err: Error) => this._onDidError.fire(err));

    const bound = server.address() as net.AddressInfo;
    const urlHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    const scheme = opts.tls ? 'wss' : 'ws';
    this._address = { host: bound.address, port: bound.port, url: `${scheme}://${urlHost}:${bound.port}${opts.path ?? '/'}` };
    const limits = this.limits;
    if (opts.heartbeatIntervalMs > 0) run.interval(() => limits.heartbeat(this.registry.records()), opts.heartbeatIntervalMs);
    if (opts.idleTimeoutMs > 0) {
      const every = Math.min(1000, Math.max(10, Math.floor(opts.idleTimeoutMs / 4)));
      run.interval(() => limits.sweepIdle(this.registry.records()), every);
    }
    this.setState({ state: 'running', address: this._address });
    return this._address;
  }

  /** The run's listeners on the http(s) server and on ws: accepted sockets, plain requests, upgrades, errors. */
  private listenTo(run: DisposableStore, server: http.Server | https.Server, wss: WebSocketServer, opts: ResolvedOptions): void {
    if (opts.tls) {
      // Capture and the handshake timer need the decrypted socket; the raw one is only tracked so stop() can end it.
      run.on(server, 'connection', (socket: net.Socket) => this.sockets.acceptRaw(socket));
      run.on(server, 'secureConnection', (socket: net.Socket) => this.sockets.accept(socket, opts, this.sockets.rawId(socket)));
      run.on(server, 'tlsClientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
        if (err.code !== 'ERR_TLS_HANDSHAKE_TIMEOUT') return;
        this._onDidBreachLimit.fire({
          clientId: this.sockets.rawId(socket) ?? '',
          limit: 'handshakeTimeout',
          action: 'terminate',
          detail: `no complete TLS handshake within ${tlsTimeoutMs(opts)} ms`,
        });
      });
    } else {
      run.on(server, 'connection', (socket: net.Socket) => this.sockets.accept(socket, opts));
    }
    run.on(server, 'request', (req: http.IncomingMessage, res: http.ServerResponse) => onPlainRequest(req, res));
    run.on(server, 'upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
    run.on(server, 'clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      const refused = answerClientError(err, socket, this.sockets.get(socket)?.id, opts.tls !== undefined);
      if (refused) this._onDidReject.fire(refused);
    });
    run.on(wss, 'error', (err: Error) => this._onDidError.fire(err));
    // With a listener, ws leaves the answer to an invalid upgrade to us, so it is reported like the other refusals.
    run.on(wss, 'wsClientError', (err: Error, socket: net.Socket) => {
      const status = err.message === 'Invalid HTTP method' ? 405 : 400;
      const headers: Record<string, string> = /Sec-WebSocket-Version/.test(err.message) ? { 'Sec-WebSocket-Version': '13, 8' } : {};
      this.reject(socket, { status, code: 'ERR_BAD_HANDSHAKE', reason: err.message, headers });
    });
  }

  /**
   * Closes every client with 1001 ("server stopping"), waits up to `closeTimeoutMs` for the close
   * handshakes, terminates the rest, and frees the port. Resolves once the port can be bound again.
   */
  async stop(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    if (this.stopping) return this.stopping;
    if (this._state !== 'running') return;
    this.stopping = this.doStop();
    try {
      await this.stopping;
    } finally {
      this.stopping = undefined;
    }
  }

  private async doStop(): Promise<void> {
    this.setState({ state: 'stopping' });
    this.holds?.dispose('stop');
    this.holds = undefined;
    const server = this.http!;
    const run = this.run!;
    const timeoutMs = this.opts!.closeTimeoutMs;

    const closed = [...this.registry.records()].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          c.ws.once('close', () => resolve());
          c.ws.close(1001, 'server stopping');
          readNow(c);
        }),
    );
    const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closed),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    for (const c of this.registry.records()) c.ws.terminate();
    this.sockets.destroyAll();
    await serverClosed;
    this.wss!.close();
    run.dispose();
    this.http = this.wss = this.run = undefined;
    this._address = undefined;
    this.setState({ state: 'stopped' });
  }

  /** Changes who receives relayed messages, effective for the next message. */
  setRelay(mode: RelayMode): void {
    if (!RELAY_MODES.includes(mode)) throw new TypeError(`relay must be one of ${RELAY_MODES.join(', ')}; got ${String(mode)}`);
    this.relay = mode;
  }

  /**
   * Frame breakpoints from now on (`undefined`: none), kept across restarts unless `start()` is given others. Taking
   * them off or changing them forwards what the old ones held and relays what waited behind it.
   */
  setBreakpoints(controller: BreakpointController | undefined): void {
    if (controller !== undefined && !(controller instanceof BreakpointController)) throw new TypeError('breakpoints must be a BreakpointController');
    if (controller === this.breakpoints) return;
    this.breakpoints = controller;
    if (this._state !== 'running' && this._state !== 'starting') return;
    this.holds?.dispose('detach');
    this.holds = controller && this.newHolds(controller);
  }

  clients(): ClientInfo[] {
    return this.registry.snapshot();
  }

  client(id: string): ClientInfo | undefined {
    const r = this.registry.get(id);
    return r && { ...r.info };
  }

  /**
   * Sends to every connected client: a string as a text message, a Buffer as binary. With a backplane, other
   * servers' clients get it too. Returns the number of local deliveries.
   */
  sendToAll(data: string | Buffer): number {
    return this.broadcast(toBuffer(data), typeof data !== 'string');
  }

  /**
   * `sendToAll` through the breakpoints (the composer's Send to all): a rule applying to `'server'` with direction
   * `s2c` holds it, and a later checked send waits behind a held one. Says at once whether it was sent, held or
   * queued; `settled` resolves with the outcome and the deliveries. Without breakpoints it is `sendToAll`.
   */
  sendToAllChecked(data: string | Buffer): CheckedSend {
    return this.holds?.sendToAll(toBuffer(data), typeof data !== 'string') ?? sentAtOnce(this.sendToAll(data));
  }

  private broadcast(data: Buffer, isBinary: boolean): number {
    const n = fanOut(this.registry.records(), data, isBinary, this.guard, this.registry.version);
    if (this.backplane !== undefined) this.toBackplane(data, isBinary);
    return n;
  }

  /** Relays a client's message to the targets of the relay mode, and to the backplane. */
  private relayFrom(record: ClientRecord, data: Buffer, isBinary: boolean): void {
    // Every client, in the registry's order, only for `broadcast`: the others' targets depend on the sender.
    const key = this.relay === 'broadcast' ? this.registry.version : undefined;
    fanOut(relayTargets(this.relay, record, this.registry.records()), data, isBinary, this.guard, key);
    if (this.backplane !== undefined && reachesOthers(this.relay)) this.toBackplane(data, isBinary, record.info.id);
  }

  private newHolds(controller: BreakpointController): ServerBreakpoints {
    return new ServerBreakpoints(controller, {
      relay: (from, data, isBinary) => this.relayFrom(from, data, isBinary),
      sendToAll: (data, isBinary) => this.broadcast(data, isBinary),
      relaysToOthers: () => reachesOthers(this.relay),
    });
  }

  /**
   * Connects a backplane: from now on, what this server relays to all clients (and `sendToAll`) also goes to
   * `hook.publish`. `undefined` disconnects it. A server has at most one backplane.
   */
  setBackplane(hook: BackplaneHook | undefined): void {
    this.backplane = hook;
  }

  /**
   * A message from another server, sent to every local client and not published again. Returns the number of
   * deliveries (0 while stopped).
   */
  deliverFromBackplane(data: Buffer, isBinary: boolean): number {
    return fanOut(this.registry.records(), data, isBinary, this.guard, this.registry.version);
  }

  /** Sends to one client: a string as text, a Buffer as binary. Throws `ERR_UNKNOWN_CLIENT` for an unknown id. */
  sendTo(clientId: string, data: string | Buffer): void {
    const c = this.requireClient(clientId);
    if (c.ws.readyState !== WebSocket.OPEN) {
      throw new ServerError('ERR_CLIENT_CLOSING', `Client ${clientId} is closing; nothing was sent`);
    }
    fanOut([c], toBuffer(data), typeof data !== 'string');
  }

  /** Starts the close handshake with one client. Throws `ERR_UNKNOWN_CLIENT` for an unknown id, TypeError for an invalid code. */
  disconnect(clientId: string, code = 1000, reason = ''): void {
    const c = this.requireClient(clientId);
    if (!Number.isInteger(code) || !isValidCloseCode(code)) {
      throw new TypeError(`Close code must be 1000, 1001, 1002, 1003, 1007–1014 or 3000–4999; got ${code}`);
    }
    if (Buffer.byteLength(reason) > 123) throw new TypeError('Close reason must be at most 123 bytes of UTF-8');
    c.ws.close(code, reason);
    readNow(c);
  }

  /** Stops the server (without awaiting) and releases the emitters. */
  dispose(): void {
    void this.stop().finally(() => {
      this._onDidConnect.dispose();
      this._onDidDisconnect.dispose();
      this._onDidReceive.dispose();
      this._onDidError.dispose();
      this._onDidChangeState.dispose();
      this._onDidReject.dispose();
      this._onDidBreachLimit.dispose();
    });
  }

  private toBackplane(data: Buffer, isBinary: boolean, fromClientId?: string): void {
    try {
      this.backplane!.publish(data, isBinary, fromClientId);
    } catch (err) {
      // The hook promises not to throw; if it does, the relay must go on regardless.
      this._onDidError.fire(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private requireClient(clientId: string): ClientRecord {
    const c = this.registry.get(clientId);
    if (!c) throw new ServerError('ERR_UNKNOWN_CLIENT', `No connected client with id "${clientId}"`);
    return c;
  }

  private setState(change: ServerStateChange): void {
    this._state = change.state;
    this._onDidChangeState.fire(change);
  }

  /** Answers with an HTTP status before the upgrade and reports it; the capture records it as a failed handshake. */
  private reject(socket: net.Socket, r: Refusal): void {
    this._onDidReject.fire(refusalEvent(socket, r, this.sockets.get(socket)?.id));
    rejectUpgrade(socket, r.status, r.reason, r.headers);
  }

  private onUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    const meta = this.sockets.get(socket)?.meta;
    if (meta) {
      // Nothing has been written yet, so the capture's 'open' event will carry these.
      if (req.headers['user-agent']) meta.userAgent = req.headers['user-agent'];
      if (req.headers.origin) meta.origin = req.headers.origin;
    }
    if (this._state !== 'running') return this.reject(socket, STOPPING);
    const gate = this.gate!;
    const refusal = gate.check(req, this.registry.size);
    if (refusal) return this.reject(socket, refusal);
    const release = gate.hold(socket);
    const upgrade = () =>
      this.wss!.handleUpgrade(req, socket, head, (ws) => {
        release();
        this.onClient(ws, req, socket);
      });
    if (!gate.authenticates) return upgrade();
    void gate.authenticate(req).then((refused) => {
      if (socket.destroyed) return;
      if (this._state !== 'running' || this.wss === undefined) return socket.destroy();
      if (!refused) return upgrade();
      release();
      this.reject(socket, refused);
    });
  }

  private onClient(ws: WebSocket, req: http.IncomingMessage, socket: net.Socket): void {
    const limits = this.limits!;
    const st = this.sockets.upgraded(socket);
    const id = st?.id ?? nextClientId();
    // The fan-out writes past this socket's tap and records the write itself (see broadcastFastPath.ts).
    const record = newClientRecord(id, ws, req, socket, this.opts!.rateLimit, st?.capture?.shared?.fanOutSlot());
    if (this._state !== 'running') {
      ws.on('error', () => {});
      ws.terminate();
      return;
    }
    this.registry.add(record);
    let error: DisconnectEvent['error'];
    let closeSent: number | undefined;

    ws.on('error', (err: Error & { code?: string }) => {
      // Protocol errors: ws has already sent the close frame with the RFC status.
      error = { code: err.code ?? 'ERR_UNKNOWN', message: err.message };
      closeSent = statusCodeOf(err);
      if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        this._onDidBreachLimit.fire({ clientId: id, limit: 'maxPayload', action: 'close', detail: err.message });
      }
    });
    ws.on('pong', () => {
      record.alive = true;
    });
    ws.on('ping', () => {
      record.lastSeen = Date.now();
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!limits.admit(record, data.length, Date.now())) return;
      record.info.messagesIn++;
      record.info.bytesIn += data.length;
      this._onDidReceive.fire({ clientId: id, data, isBinary });
      // One field read unless the server has breakpoints (see serverBreakpoints.ts).
      if (this.holds !== undefined && this.holds.takes(record, data, isBinary)) return;
      this.relayFrom(record, data, isBinary);
    });
    ws.once('close', (code: number, reason: Buffer) => {
      this.registry.delete(id);
      clearTimeout(record.closeTimer);
      clearTimeout(record.resumeTimer);
      // ws's private flags: pinned and asserted by test/unit/server/wsInternals.test.ts.
      const internals = ws as unknown as { _closeFrameReceived?: boolean; _closeFrameSent?: boolean };
      const clean = !!internals._closeFrameReceived && !!internals._closeFrameSent;
      const reported = code === 1006 ? (closeSent ?? record.closingFor ?? code) : code;
      this._onDidDisconnect.fire({ client: { ...record.info }, code: reported, reason: reason.toString(), clean, error });
      this.holds?.clientLeft(record, reported, reason.toString());
    });
    this._onDidConnect.fire({ ...record.info });
  }
}


function toBuffer(data: string | Buffer): Buffer {
  if (typeof data === 'string') return Buffer.from(data);
  if (Buffer.isBuffer(data)) return data;
  throw new TypeError('data must be a string or a Buffer');
}
