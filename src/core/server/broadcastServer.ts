// The embedded broadcast server: ws in noServer mode behind a plain http server, relaying every
// message a client sends according to the relay mode, with optional frame-level capture.

import * as http from 'node:http';
import * as https from 'node:https';
import type * as net from 'node:net';
import { WebSocket, WebSocketServer, type PerMessageDeflateOptions } from 'ws';
import type { CaptureSink } from '../capture/events';
import { DisposableStore, Emitter, type Event } from '../util/events';
import { attachCapture, type CaptureHandle } from './attachCapture';
import { authenticate, credentialFormProblem, prepareAuth, selectSubprotocol, type AuthOptions, type PreparedAuth } from './auth';
import { ClientRegistry, nextClientId, type ClientInfo, type ClientRecord } from './clientRegistry';
import { DEFAULT_RATE_LIMIT, isOrigin, isOriginAllowed, normalizeOrigin, TokenBucket, validateRateLimit, type RateLimitOptions } from './limits';
import { fanOut, RELAY_MODES, relayTargets, type RelayMode, type SendBufferGuard } from './relay';
import { listen } from '../util/listen';

export type { ClientInfo } from './clientRegistry';
export type { RelayMode } from './relay';
export type { AuthOptions, JwtOptions, TokenLocation } from './auth';
export type { RateLimitOptions } from './limits';

export interface BroadcastServerOptions {
  /**
   * Interface to bind. Default `'127.0.0.1'`. A non-loopback address (e.g. `0.0.0.0`) exposes the server to the
   * network, so `start()` refuses it (`ERR_EXPOSED_WITHOUT_AUTH`) unless `auth` is set or `allowRemote` is true.
   */
  host?: string;
  /** TCP port. Default `8765`; `0` picks a free port (see the address `start()` resolves to). */
  port?: number;
  /**
   * Allow binding a non-loopback address without `auth`. Default `false`: the server is for this machine only.
   * The UI should warn while `exposed` is true.
   */
  allowRemote?: boolean;
  /** Only upgrade requests for this exact pathname are accepted (others get 404). Default: any path. */
  path?: string;
  /** Who receives a client's message. Default `'broadcast'`; changeable later with `setRelay()`. */
  relay?: RelayMode;
  /**
   * Largest message accepted, in bytes; a bigger one closes that client with 1009. Default 1 MiB,
   * far below ws's 100 MiB, because a dev tool keeps payloads in memory for the inspector.
   */
  maxPayload?: number;
  /** Offer permessage-deflate (`true` or ws's options). Default `false`: frames stay readable on the wire. */
  perMessageDeflate?: boolean | PerMessageDeflateOptions;
  /** Ping every client this often (ms) and terminate those that did not pong since the last ping. Default 30000; 0 = off. */
  heartbeatIntervalMs?: number;
  /** Upgrades beyond this many connected clients get HTTP 503. Default 1000. */
  maxClients?: number;
  /** How long `stop()` waits for clients to answer the 1001 close before terminating them (ms). Default 2000. */
  closeTimeoutMs?: number;
  /** Where capture events go. Default `undefined`: capture off, no per-byte cost. */
  capture?: CaptureSink;
  /** Serve `wss://` with this certificate and key (PEM). Default `undefined`: plain `ws://`. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /**
   * Require a bearer token (fixed tokens and/or JWTs) on the upgrade request; a request without a valid one gets
   * HTTP 401 before the upgrade. Default `undefined`: no authentication.
   */
  auth?: AuthOptions;
  /**
   * Origins (`scheme://host[:port]`, case-insensitive; `'null'` for sandboxed frames) a browser client may connect from,
   * besides the local ones that are always allowed (`localhost`, `127.0.0.1`, `[::1]` on any port, and VS Code's
   * webviews: see `isLocalOrigin`). A request with any other `Origin` gets 403, so that a website open in the browser
   * cannot read the broadcasts. Requests without `Origin` (non-browser clients) are not checked. Default `[]`.
   */
  allowedOrigins?: string[];
  /** Per-client token bucket on received messages. Default `{ messagesPerSecond: 100, burst: 200, action: 'drop' }`. */
  rateLimit?: RateLimitOptions;
  /**
   * Per-client send-buffer high-water mark in bytes (what ws and the socket hold, not yet taken by the kernel).
   * A client over it does not get broadcasts until it drains (see `slowConsumerAction`). Default 4 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * What happens to a client over `maxBufferedBytes`: `'drop'` skips messages for that client until its buffer
   * drains; `'close'` closes it with 1013. Default `'drop'`: a slow viewer (a paused debugger, a busy tab) should
   * not lose its connection over a burst; the drops are counted (`droppedOut`) and reported (`onDidBreachLimit`).
   */
  slowConsumerAction?: 'drop' | 'close';
  /** A TCP connection without a complete upgrade request after this many ms is destroyed. Default 10000; 0 = off. */
  handshakeTimeoutMs?: number;
  /**
   * A client that sends no message or ping for this many ms is closed with 1001 "idle". Pongs to the server's
   * heartbeat do not count, else the heartbeat would keep every client busy. Default 0 = off.
   */
  idleTimeoutMs?: number;
}

type OptionalKeys = 'path' | 'capture' | 'tls' | 'auth' | 'allowedOrigins';
type ResolvedOptions = Required<Omit<BroadcastServerOptions, OptionalKeys>> & Pick<BroadcastServerOptions, OptionalKeys>;

const DEFAULTS = {
  host: '127.0.0.1',
  port: 8765,
  allowRemote: false,
  relay: 'broadcast' as RelayMode,
  maxPayload: 1024 * 1024,
  perMessageDeflate: false,
  heartbeatIntervalMs: 30_000,
  maxClients: 1000,
  closeTimeoutMs: 2000,
  rateLimit: DEFAULT_RATE_LIMIT,
  maxBufferedBytes: 4 * 1024 * 1024,
  slowConsumerAction: 'drop' as const,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 0,
};

export interface ServerAddress {
  host: string;
  port: number;
  /** `ws://host:port/path` (`wss://` with TLS), ready to paste into a client. */
  url: string;
}

export type ServerState = 'stopped' | 'starting' | 'running' | 'stopping';

export interface ServerStateChange {
  state: ServerState;
  address?: ServerAddress;
  error?: Error;
}

export interface DisconnectEvent {
  client: ClientInfo;
  /** The code of the close frame the client sent; for a protocol error, the code we closed with; else 1006. */
  code: number;
  reason: string;
  /** True when close frames were exchanged both ways; false for an abrupt end (reset, terminate, timeout). */
  clean: boolean;
  /** The ws error that ended the connection (a `WS_ERR_*` code for protocol violations). */
  error?: { code: string; message: string };
}

export interface ReceiveEvent {
  clientId: string;
  data: Buffer;
  isBinary: boolean;
}

/** An upgrade request refused before the upgrade; the capture records the same response as a failed handshake. */
export interface RejectEvent {
  /** HTTP status sent: 401 auth, 403 origin, 404 path, 503 max clients or stopping, 400/405/431 malformed requests. */
  status: number;
  /** The short reason, as in the response body (`token expired`). */
  reason: string;
  /**
   * `ERR_AUTH_MISSING`, `ERR_AUTH_INVALID`, `ERR_AUTH_EXPIRED`, `ERR_AUTH_MALFORMED`, `ERR_ORIGIN`, `ERR_NOT_FOUND`, `ERR_MAX_CLIENTS`,
   * `ERR_STOPPING`; `ERR_BAD_HANDSHAKE` (ws refused the upgrade: 400/405), `ERR_BAD_REQUEST`, `ERR_HEADERS_TOO_LARGE` (431).
   */
  code: string;
  remoteAddress: string;
  /** The TCP connection's id: the capture's connectionId of the failed handshake. */
  connectionId: string;
}

export type LimitName = 'maxPayload' | 'rate' | 'slowConsumer' | 'idle' | 'handshakeTimeout';

/** A client that stays over a 'drop' limit is reported at most this often; its counters keep the exact totals. */
const REPORT_INTERVAL_MS = 1000;
/** What one client's messages may take of a turn of the event loop before it waits for the next turn. */
const TURN_SHARE_BYTES = 64 * 1024;
/** The longest a client over its rate stays unread at a time, so that its pongs and close frame are not held long. */
const RATE_PAUSE_MAX_MS = 1000;

export interface LimitBreachEvent {
  /** The client's id (for `handshakeTimeout`, the TCP connection's id; it never became a client). */
  clientId: string;
  limit: LimitName;
  /** `drop`: messages are skipped (reported at most once a second per client); `close`: closed with a code; `terminate`: socket destroyed. */
  action: 'drop' | 'close' | 'terminate';
  detail: string;
}

/** A server-level failure with a stable code (`EADDRINUSE`, `ERR_UNKNOWN_CLIENT`, `ERR_EXPOSED_WITHOUT_AUTH`…). */
export class ServerError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ServerError';
  }
}

/**
 * Takes what this server relays to all clients, to share it with other servers (see `scale/redisBackplane`).
 * `publish` is called synchronously on the relay path, after the local fan-out: it must return at once and
 * never throw.
 */
export interface BackplaneHook {
  /** A client's message relayed in `broadcast`/`broadcastOthers` mode (`fromClientId` set), or a `sendToAll`. */
  publish(data: Buffer, isBinary: boolean, fromClientId?: string): void;
}

/** Per-TCP-connection state, from accept to close. */
interface SocketState {
  id: string;
  capture?: CaptureHandle;
  /** The capture's labels; completed from the upgrade request before the response is written. */
  meta?: Record<string, string>;
  /** Destroys the socket if no upgrade completes in time. */
  timer?: NodeJS.Timeout;
}

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
  private auth: PreparedAuth | undefined;
  private origins: ReadonlySet<string> = new Set();
  private guard: SendBufferGuard | undefined;
  /** TLS only: the TCP sockets under the TLS ones, with the connection id given at accept. */
  private readonly rawSockets = new Map<net.Socket, string>();
  private wss: WebSocketServer | undefined;
  /** Owns the listeners and timers of one run (start → stop). */
  private run: DisposableStore | undefined;
  private readonly registry = new ClientRegistry();
  private readonly sockets = new Map<net.Socket, SocketState>();
  private pendingUpgrades = 0;
  private starting: Promise<ServerAddress> | undefined;
  private stopping: Promise<void> | undefined;
  private backplane: BackplaneHook | undefined;

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
    let server: http.Server | https.Server;
    try {
      server = opts.tls
        ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key, handshakeTimeout: tlsTimeoutMs(opts) })
        : http.createServer();
    } catch (err) {
      throw new ServerError('ERR_TLS_CONFIG', `The TLS certificate or key cannot be used: ${(err as Error).message}`, { cause: err });
    }
    this.opts = opts;
    this.auth = auth;
    this.origins = new Set((opts.allowedOrigins ?? []).map(normalizeOrigin));
    this.guard = { maxBufferedBytes: opts.maxBufferedBytes, onOver: (c) => this.onSlowConsumer(c) };
    this.relay = opts.relay;
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
    if (opts.tls) {
      // Capture and the handshake timer need the decrypted socket; the raw one is only tracked so stop() can end it.
      run.on(server, 'connection', (socket: net.Socket) => {
        this.rawSockets.set(socket, nextClientId());
        socket.once('close', () => this.rawSockets.delete(socket));
      });
      const rawId = (tlsSocket: net.Socket) => this.rawSockets.get((tlsSocket as unknown as { _parent: net.Socket })._parent);
      run.on(server, 'secureConnection', (socket: net.Socket) => this.onSocket(socket, rawId(socket)));
      run.on(server, 'tlsClientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
        if (err.code !== 'ERR_TLS_HANDSHAKE_TIMEOUT') return;
        this._onDidBreachLimit.fire({
          clientId: rawId(socket) ?? '',
          limit: 'handshakeTimeout',
          action: 'terminate',
          detail: `no complete TLS handshake within ${tlsTimeoutMs(opts)} ms`,
        });
      });
    } else {
      run.on(server, 'connection', (socket: net.Socket) => this.onSocket(socket));
    }
    run.on(server, 'request', (req: http.IncomingMessage, res: http.ServerResponse) => onPlainRequest(req, res));
    run.on(server, 'upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
    run.on(server, 'clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => this.onClientError(err, socket));
    run.on(wss, 'error', (err: Error) => this._onDidError.fire(err));
    // With a listener, ws leaves the answer to an invalid upgrade to us, so it is reported like the other refusals.
    run.on(wss, 'wsClientError', (err: Error, socket: net.Socket) => {
      const status = err.message === 'Invalid HTTP method' ? 405 : 400;
      const headers: Record<string, string> = /Sec-WebSocket-Version/.test(err.message) ? { 'Sec-WebSocket-Version': '13, 8' } : {};
      this.reject(socket, status, 'ERR_BAD_HANDSHAKE', err.message, headers);
    });

    try {
      await listen(server, opts.host, opts.port, (f) => new ServerError(f.code, f.message, { cause: f.cause }));
    } catch (err) {
      run.dispose();
      this.http = this.wss = this.run = undefined;
      this.setState({ state: 'stopped', error: err as Error });
      throw err;
    }
    run.on(server, 'error', (err: Error) => this._onDidError.fire(err));

    const bound = server.address() as net.AddressInfo;
    const urlHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    const scheme = opts.tls ? 'wss' : 'ws';
    this._address = { host: bound.address, port: bound.port, url: `${scheme}://${urlHost}:${bound.port}${opts.path ?? '/'}` };
    if (opts.heartbeatIntervalMs > 0) run.interval(() => this.heartbeat(), opts.heartbeatIntervalMs);
    if (opts.idleTimeoutMs > 0) {
      run.interval(() => this.sweepIdle(), Math.min(1000, Math.max(10, Math.floor(opts.idleTimeoutMs / 4))));
    }
    this.setState({ state: 'running', address: this._address });
    return this._address;
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
    // Sockets that never upgraded (keep-alive, half-sent requests) would hold the port open.
    for (const socket of this.sockets.keys()) socket.destroy();
    for (const socket of this.rawSockets.keys()) socket.destroy();
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
    const isBinary = typeof data !== 'string';
    const buf = toBuffer(data);
    const n = fanOut(this.registry.records(), buf, isBinary, this.guard, this.registry.version);
    if (this.backplane !== undefined) this.toBackplane(buf, isBinary);
    return n;
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
    if (!isSendableCloseCode(code)) {
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

  /** Every TCP connection gets its id (and capture) here, before any byte is parsed, so a failed upgrade is captured too. */
  private onSocket(socket: net.Socket, id = nextClientId()): void {
    const st: SocketState = { id };
    this.sockets.set(socket, st);
    const sink = this.opts?.capture;
    if (sink) {
      st.meta = { remote: `${socket.remoteAddress}:${socket.remotePort}` };
      st.capture = attachCapture(socket, {
        connectionId: st.id,
        role: 'server',
        sink,
        meta: st.meta,
        maxPayload: this.opts?.maxPayload,
      });
    }
    const timeoutMs = this.opts?.handshakeTimeoutMs ?? 0;
    if (timeoutMs > 0) {
      st.timer = setTimeout(() => {
        st.timer = undefined;
        this._onDidBreachLimit.fire({
          clientId: st.id,
          limit: 'handshakeTimeout',
          action: 'terminate',
          detail: `no complete upgrade request within ${timeoutMs} ms`,
        });
        socket.destroy();
      }, timeoutMs);
    }
    // A reset peer must not crash the host; the close listener does the bookkeeping.
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(st.timer);
      this.sockets.delete(socket);
      st.capture?.dispose();
    });
  }

  /** An unparseable request (garbage, oversized head): answered like Node does without a listener, and reported. */
  private onClientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
    // https routes TLS handshake failures here too; a socket not yet in `sockets` never finished TLS: no HTTP to answer with.
    if (err.code === 'ECONNRESET' || !socket.writable || (this.opts?.tls && !this.sockets.has(socket))) {
      socket.destroy();
      return;
    }
    // Node's own answers: 431 for an oversized head, 408 for a request timeout, else 400.
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    this._onDidReject.fire({
      status,
      reason: err.message,
      code: status === 431 ? 'ERR_HEADERS_TOO_LARGE' : 'ERR_BAD_REQUEST',
      remoteAddress: socket.remoteAddress ?? '',
      connectionId: this.sockets.get(socket)?.id ?? '',
    });
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  }

  /** Answers with an HTTP status before the upgrade and reports it; the capture records it as a failed handshake. */
  private reject(socket: net.Socket, status: number, code: string, reason: string, headers?: Record<string, string>): void {
    this._onDidReject.fire({
      status,
      reason,
      code,
      remoteAddress: socket.remoteAddress ?? '',
      connectionId: this.sockets.get(socket)?.id ?? '',
    });
    rejectUpgrade(socket, status, reason, headers);
  }

  private onUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    const opts = this.opts!;
    const meta = this.sockets.get(socket)?.meta;
    if (meta) {
      // Nothing has been written yet, so the capture's 'open' event will carry these.
      if (req.headers['user-agent']) meta.userAgent = req.headers['user-agent'];
      if (req.headers.origin) meta.origin = req.headers.origin;
    }
    if (this._state !== 'running') return this.reject(socket, 503, 'ERR_STOPPING', 'server is stopping');
    if (opts.path !== undefined && pathnameOf(req.url) !== opts.path) {
      return this.reject(socket, 404, 'ERR_NOT_FOUND', `no WebSocket endpoint at ${pathnameOf(req.url)}; try ${opts.path}`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !isOriginAllowed(origin, this.origins)) {
      const how = 'add it to wsInspector.server.allowedOrigins to allow it';
      return this.reject(socket, 403, 'ERR_ORIGIN', `origin ${origin} is not allowed; ${how}`);
    }
    if (this.registry.size + this.pendingUpgrades >= opts.maxClients) {
      return this.reject(socket, 503, 'ERR_MAX_CLIENTS', `too many clients (maxClients is ${opts.maxClients})`);
    }
    const malformed = this.auth && credentialFormProblem(req);
    if (malformed) return this.reject(socket, 400, malformed.code, malformed.reason);
    // The slot is held while auth runs, so a flood of slow requests cannot overshoot maxClients.
    this.pendingUpgrades++;
    let settled = false;
    const settle = () => {
      if (!settled) {
        settled = true;
        this.pendingUpgrades--;
      }
    };
    // ws answers invalid upgrades itself (400 and friends) and destroys the socket.
    socket.once('close', settle);
    const upgrade = () =>
      this.wss!.handleUpgrade(req, socket, head, (ws) => {
        socket.removeListener('close', settle);
        settle();
        this.onClient(ws, req, socket);
      });
    const auth = this.auth;
    if (!auth) return upgrade();
    void authenticate(req, auth).then((r) => {
      if (socket.destroyed) return;
      if (this._state !== 'running' || this.wss === undefined) return socket.destroy();
      if (r.ok) return upgrade();
      socket.removeListener('close', settle);
      settle();
      this.reject(socket, 401, r.code, r.reason, { 'WWW-Authenticate': 'Bearer' });
    });
  }

  private onClient(ws: WebSocket, req: http.IncomingMessage, socket: net.Socket): void {
    const opts = this.opts!;
    const st = this.sockets.get(socket);
    if (st) {
      clearTimeout(st.timer);
      st.timer = undefined;
    }
    const id = st?.id ?? nextClientId();
    // The fan-out writes past this socket's tap and records the write itself (see relay.ts fanOut).
    const fanOutSlot = st?.capture?.shared?.fanOutSlot();
    const record: ClientRecord = {
      info: {
        id,
        remoteAddress: socket.remoteAddress ?? '',
        remotePort: socket.remotePort ?? 0,
        userAgent: req.headers['user-agent'] ?? '',
        origin: req.headers.origin ?? '',
        subprotocol: ws.protocol,
        connectedAt: Date.now(),
        messagesIn: 0,
        messagesOut: 0,
        bytesIn: 0,
        bytesOut: 0,
        droppedIn: 0,
        droppedOut: 0,
      },
      ws,
      socket,
      deflate: ws.extensions !== '',
      captureSlot: fanOutSlot?.slot ?? -1,
      captureGeneration: fanOutSlot?.generation ?? 0,
      alive: true,
      bucket: new TokenBucket(opts.rateLimit.messagesPerSecond / 1000, opts.rateLimit.burst, Date.now()),
      turnBytes: 0,
      lastSeen: Date.now(),
      slowReportedAt: -Infinity,
      rateReportedAt: -Infinity,
    };
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
    // Every message read costs, dropped or not: ws parses it and the capture records it. So the server stops reading a
    // client rather than read and discard. One over its rate is paused (onOverRate) until half its burst has refilled,
    // so that each resume relays that many messages for at most a chunk dropped. One that has read TURN_SHARE_BYTES in
    // this turn of the event loop waits for the next (setImmediate), so that the other sockets are read in between.
    // Only the rest of the chunk ws is parsing still comes here; the kernel holds the rest, and TCP slows the sender.
    const endTurn = () => {
      record.turnBytes = 0;
      if (ws.isPaused && record.resumeTimer === undefined) ws.resume();
    };
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      const now = Date.now();
      record.lastSeen = now;
      if (record.turnBytes === 0) setImmediate(endTurn);
      // + 2, a frame header at the least, so that an empty message counts too.
      record.turnBytes += data.length + 2;
      if (record.turnBytes > TURN_SHARE_BYTES) ws.pause();
      if (!record.bucket.take(now)) return this.onOverRate(record);
      record.info.messagesIn++;
      record.info.bytesIn += data.length;
      this._onDidReceive.fire({ clientId: id, data, isBinary });
      // Every client, in the registry's order, only for `broadcast`: the others' targets depend on the sender.
      const key = this.relay === 'broadcast' ? this.registry.version : undefined;
      fanOut(relayTargets(this.relay, record, this.registry.records()), data, isBinary, this.guard, key);
      if (this.backplane !== undefined && (this.relay === 'broadcast' || this.relay === 'broadcastOthers')) {
        this.toBackplane(data, isBinary, id);
      }
    });
    ws.once('close', (code: number, reason: Buffer) => {
      this.registry.delete(id);
      clearTimeout(record.closeTimer);
      clearTimeout(record.resumeTimer);
      const internals = ws as unknown as { _closeFrameReceived?: boolean; _closeFrameSent?: boolean };
      const clean = !!internals._closeFrameReceived && !!internals._closeFrameSent;
      const reported = code === 1006 ? (closeSent ?? record.closingFor ?? code) : code;
      this._onDidDisconnect.fire({ client: { ...record.info }, code: reported, reason: reason.toString(), clean, error });
    });
    this._onDidConnect.fire({ ...record.info });
  }

  /** Closes a client over a limit; one that cannot take the close frame (a full buffer) is terminated after closeTimeoutMs. */
  private closeFor(c: ClientRecord, code: number, reason: string): boolean {
    if (c.closingFor !== undefined || c.ws.readyState !== WebSocket.OPEN) return false;
    c.closingFor = code;
    c.ws.close(code, reason);
    readNow(c);
    c.closeTimer = setTimeout(() => c.ws.terminate(), this.opts!.closeTimeoutMs);
    return true;
  }

  private onOverRate(c: ClientRecord): void {
    const r = this.opts!.rateLimit;
    const detail = `over ${r.messagesPerSecond} messages/s (burst ${r.burst})`;
    if (r.action === 'close') {
      if (!this.closeFor(c, 1008, 'rate limit exceeded')) return;
      this._onDidBreachLimit.fire({ clientId: c.info.id, limit: 'rate', action: 'close', detail });
      return;
    }
    c.info.droppedIn++;
    const now = Date.now();
    // A closing client is read on, so that its close frame, queued behind what it sent, is not held up.
    if (c.resumeTimer === undefined && c.ws.readyState === WebSocket.OPEN) {
      c.ws.pause();
      c.resumeTimer = setTimeout(
        () => {
          c.resumeTimer = undefined;
          c.ws.resume();
        },
        Math.min(RATE_PAUSE_MAX_MS, c.bucket.msUntil(Math.ceil(r.burst / 2), now)),
      );
    }
    if (now - c.rateReportedAt < REPORT_INTERVAL_MS) return;
    c.rateReportedAt = now;
    this._onDidBreachLimit.fire({
      clientId: c.info.id,
      limit: 'rate',
      action: 'drop',
      detail: `${detail}; dropping its messages (${c.info.droppedIn} so far)`,
    });
  }

  private onSlowConsumer(c: ClientRecord): void {
    const max = this.opts!.maxBufferedBytes;
    const detail = `send buffer ${c.ws.bufferedAmount} bytes, over maxBufferedBytes ${max}`;
    if (this.opts!.slowConsumerAction === 'close') {
      if (!this.closeFor(c, 1013, 'slow consumer')) return;
      this._onDidBreachLimit.fire({ clientId: c.info.id, limit: 'slowConsumer', action: 'close', detail });
      return;
    }
    c.info.droppedOut++;
    const now = Date.now();
    if (now - c.slowReportedAt < REPORT_INTERVAL_MS) return;
    c.slowReportedAt = now;
    this._onDidBreachLimit.fire({
      clientId: c.info.id,
      limit: 'slowConsumer',
      action: 'drop',
      detail: `${detail}; dropping messages for it until it drains (${c.info.droppedOut} so far)`,
    });
  }

  private sweepIdle(): void {
    const limit = this.opts!.idleTimeoutMs;
    const now = Date.now();
    for (const c of this.registry.records()) {
      if (now - c.lastSeen < limit || !this.closeFor(c, 1001, 'idle')) continue;
      this._onDidBreachLimit.fire({ clientId: c.info.id, limit: 'idle', action: 'close', detail: `no message for ${limit} ms` });
    }
  }

  private heartbeat(): void {
    for (const c of this.registry.records()) {
      if (c.ws.readyState !== WebSocket.OPEN) continue;
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }
}

function resolveOptions(options: BroadcastServerOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const o = { ...DEFAULTS, ...stripUndefined(options) } as ResolvedOptions;
  if (typeof o.host !== 'string' || o.host === '') throw new TypeError('host must be a non-empty string');
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) throw new TypeError(`port must be an integer 0–65535; got ${o.port}`);
  if (typeof o.allowRemote !== 'boolean') throw new TypeError('allowRemote must be a boolean');
  if (o.path !== undefined && (typeof o.path !== 'string' || !o.path.startsWith('/'))) {
    throw new TypeError(`path must start with "/"; got ${String(o.path)}`);
  }
  if (!RELAY_MODES.includes(o.relay)) throw new TypeError(`relay must be one of ${RELAY_MODES.join(', ')}; got ${String(o.relay)}`);
  if (!Number.isInteger(o.maxPayload) || o.maxPayload < 1) throw new TypeError(`maxPayload must be a positive integer; got ${o.maxPayload}`);
  if (typeof o.perMessageDeflate !== 'boolean' && (typeof o.perMessageDeflate !== 'object' || o.perMessageDeflate === null)) {
    throw new TypeError('perMessageDeflate must be a boolean or an options object');
  }
  if (!Number.isInteger(o.heartbeatIntervalMs) || o.heartbeatIntervalMs < 0) {
    throw new TypeError(`heartbeatIntervalMs must be a non-negative integer (0 = off); got ${o.heartbeatIntervalMs}`);
  }
  if (!Number.isInteger(o.maxClients) || o.maxClients < 1) throw new TypeError(`maxClients must be a positive integer; got ${o.maxClients}`);
  if (!Number.isInteger(o.closeTimeoutMs) || o.closeTimeoutMs < 0) throw new TypeError(`closeTimeoutMs must be a non-negative integer; got ${o.closeTimeoutMs}`);
  if (o.capture !== undefined && typeof o.capture?.append !== 'function') throw new TypeError('capture must be a CaptureSink (with append())');
  if (o.tls !== undefined) {
    const pem = (v: unknown) => (typeof v === 'string' || Buffer.isBuffer(v)) && v.length > 0;
    if (o.tls === null || typeof o.tls !== 'object' || !pem(o.tls.cert) || !pem(o.tls.key)) {
      throw new TypeError('tls must be { cert, key } with non-empty PEM strings or Buffers');
    }
  }
  if (o.allowedOrigins !== undefined && (!Array.isArray(o.allowedOrigins) || !o.allowedOrigins.every(isOrigin))) {
    throw new TypeError('allowedOrigins must be an array of origins like "https://app.example" or "http://localhost:3000"');
  }
  o.rateLimit = validateRateLimit(o.rateLimit);
  if (!Number.isInteger(o.maxBufferedBytes) || o.maxBufferedBytes < 1) {
    throw new TypeError(`maxBufferedBytes must be a positive integer; got ${o.maxBufferedBytes}`);
  }
  if (o.slowConsumerAction !== 'drop' && o.slowConsumerAction !== 'close') {
    throw new TypeError(`slowConsumerAction must be 'drop' or 'close'; got ${String(o.slowConsumerAction)}`);
  }
  for (const k of ['handshakeTimeoutMs', 'idleTimeoutMs'] as const) {
    if (!Number.isInteger(o[k]) || o[k] < 0) throw new TypeError(`${k} must be a non-negative integer (0 = off); got ${o[k]}`);
  }
  return o;
}

/** The TLS handshake's own timeout; with `handshakeTimeoutMs` off, Node's default (120 s) still applies. */
function tlsTimeoutMs(opts: ResolvedOptions): number {
  return opts.handshakeTimeoutMs || 120_000;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(host);
}

function toBuffer(data: string | Buffer): Buffer {
  if (typeof data === 'string') return Buffer.from(data);
  if (Buffer.isBuffer(data)) return data;
  throw new TypeError('data must be a string or a Buffer');
}

function pathnameOf(url: string | undefined): string {
  const s = url ?? '/';
  const q = s.indexOf('?');
  return q === -1 ? s : s.slice(0, q);
}

function isSendableCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999))
  );
}

/** ws puts the RFC close status of a protocol error under a private symbol; read it by description. */
function statusCodeOf(err: Error): number | undefined {
  for (const sym of Object.getOwnPropertySymbols(err)) {
    if (sym.description === 'status-code') {
      const v = (err as unknown as Record<symbol, unknown>)[sym];
      if (typeof v === 'number') return v;
    }
  }
  return undefined;
}

function onPlainRequest(_req: http.IncomingMessage, res: http.ServerResponse): void {
  const body = 'This is a WebSocket server: connect with a WebSocket client (Upgrade: websocket).\n';
  // `close` too: with a plain `Upgrade`, Node would keep the connection open even for a client that asked to close.
  res.writeHead(426, {
    Upgrade: 'websocket',
    Connection: 'Upgrade, close',
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}


/** Writes the refusal; the body names the reason, e.g. `401 Unauthorized: token expired`. */
function rejectUpgrade(socket: net.Socket, status: number, reason: string, headers: Record<string, string> = {}): void {
  const text = http.STATUS_CODES[status] ?? '';
  const body = `${status} ${text}: ${reason}\n`;
  const head =
    `HTTP/1.1 ${status} ${text}\r\n` +
    'Connection: close\r\n' +
    Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('') +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  if (socket.writable) {
    socket.once('finish', () => socket.destroy());
    socket.end(head + body);
  } else {
    socket.destroy();
  }
}

/** A closing client is read at once, not after a rate-limit pause: its close frame is queued behind what it sent. */
function readNow(c: ClientRecord): void {
  clearTimeout(c.resumeTimer);
  c.resumeTimer = undefined;
  c.ws.resume();
}
