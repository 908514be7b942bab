// The embedded broadcast server: ws in noServer mode behind a plain http server, relaying every
// message a client sends according to the relay mode, with optional frame-level capture.

import * as http from 'node:http';
import type * as net from 'node:net';
import { WebSocket, WebSocketServer, type PerMessageDeflateOptions } from 'ws';
import type { CaptureSink } from '../capture/events';
import { DisposableStore, Emitter, type Event } from '../util/events';
import { attachCapture, type CaptureHandle } from './attachCapture';
import { ClientRegistry, nextClientId, type ClientInfo, type ClientRecord } from './clientRegistry';
import { fanOut, RELAY_MODES, relayTargets, type RelayMode } from './relay';

export type { ClientInfo } from './clientRegistry';
export type { RelayMode } from './relay';

export interface BroadcastServerOptions {
  /** Interface to bind. Default `'127.0.0.1'`; any non-loopback address also needs `allowRemote: true`. */
  host?: string;
  /** TCP port. Default `8765`; `0` picks a free port (see the address `start()` resolves to). */
  port?: number;
  /** Allow binding a non-loopback address. Default `false`: the server is for this machine only. */
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
}

type ResolvedOptions = Required<Omit<BroadcastServerOptions, 'path' | 'capture'>> &
  Pick<BroadcastServerOptions, 'path' | 'capture'>;

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
};

export interface ServerAddress {
  host: string;
  port: number;
  /** `ws://host:port/path`, ready to paste into a client. */
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

/** A server-level failure with a stable code (`EADDRINUSE`, `ERR_UNKNOWN_CLIENT`, `ERR_NOT_RUNNING`…). */
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

/** Per-TCP-connection state, from accept to close. */
interface SocketState {
  id: string;
  capture?: CaptureHandle;
  /** The capture's labels; completed from the upgrade request before the response is written. */
  meta?: Record<string, string>;
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

  private _state: ServerState = 'stopped';
  private _address: ServerAddress | undefined;
  private opts: ResolvedOptions | undefined;
  private relay: RelayMode = DEFAULTS.relay;
  private http: http.Server | undefined;
  private wss: WebSocketServer | undefined;
  /** Owns the listeners and timers of one run (start → stop). */
  private run: DisposableStore | undefined;
  private readonly registry = new ClientRegistry();
  private readonly sockets = new Map<net.Socket, SocketState>();
  private pendingUpgrades = 0;
  private starting: Promise<ServerAddress> | undefined;
  private stopping: Promise<void> | undefined;

  get state(): ServerState {
    return this._state;
  }

  get address(): ServerAddress | undefined {
    return this._address;
  }

  get relayMode(): RelayMode {
    return this.relay;
  }

  /** Binds and listens. Rejects with a `ServerError` (code `EADDRINUSE` etc.) when the port cannot be bound. */
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
    this.opts = opts;
    this.relay = opts.relay;
    this.setState({ state: 'starting' });

    const run = (this.run = new DisposableStore());
    const server = (this.http = http.createServer());
    const wss = (this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: opts.maxPayload,
      perMessageDeflate: opts.perMessageDeflate,
      clientTracking: false,
    }));
    run.on(server, 'connection', (socket: net.Socket) => this.onSocket(socket));
    run.on(server, 'request', (req: http.IncomingMessage, res: http.ServerResponse) => onPlainRequest(req, res));
    run.on(server, 'upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) =>
      this.onUpgrade(req, socket, head),
    );
    run.on(server, 'clientError', (err: Error, socket: net.Socket) => onClientError(err, socket));
    run.on(wss, 'error', (err: Error) => this._onDidError.fire(err));

    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException) => {
          server.removeListener('listening', onListening);
          reject(listenError(err, opts.host, opts.port));
        };
        const onListening = () => {
          server.removeListener('error', onError);
          resolve();
        };
        server.once('error', onError);
        server.once('listening', onListening);
        server.listen(opts.port, opts.host);
      });
    } catch (err) {
      run.dispose();
      this.http = this.wss = this.run = undefined;
      this.setState({ state: 'stopped', error: err as Error });
      throw err;
    }
    run.on(server, 'error', (err: Error) => this._onDidError.fire(err));

    const bound = server.address() as net.AddressInfo;
    const urlHost = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
    this._address = { host: bound.address, port: bound.port, url: `ws://${urlHost}:${bound.port}${opts.path ?? '/'}` };
    if (opts.heartbeatIntervalMs > 0) run.interval(() => this.heartbeat(), opts.heartbeatIntervalMs);
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

  /** Sends to every connected client: a string as a text message, a Buffer as binary. Returns the number of deliveries. */
  sendToAll(data: string | Buffer): number {
    const isBinary = typeof data !== 'string';
    return fanOut(this.registry.records(), toBuffer(data), isBinary);
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
  }

  /** Stops the server (without awaiting) and releases the emitters. */
  dispose(): void {
    void this.stop().finally(() => {
      this._onDidConnect.dispose();
      this._onDidDisconnect.dispose();
      this._onDidReceive.dispose();
      this._onDidError.dispose();
      this._onDidChangeState.dispose();
    });
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
  private onSocket(socket: net.Socket): void {
    const st: SocketState = { id: nextClientId() };
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
    // A reset peer must not crash the host; the close listener does the bookkeeping.
    socket.on('error', () => {});
    socket.once('close', () => {
      this.sockets.delete(socket);
      st.capture?.dispose();
    });
  }

  private onUpgrade(req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
    const opts = this.opts!;
    const meta = this.sockets.get(socket)?.meta;
    if (meta) {
      // Nothing has been written yet, so the capture's 'open' event will carry these.
      if (req.headers['user-agent']) meta.userAgent = req.headers['user-agent'];
      if (req.headers.origin) meta.origin = req.headers.origin;
    }
    if (this._state !== 'running') return rejectUpgrade(socket, 503, 'Server is stopping');
    if (opts.path !== undefined && pathnameOf(req.url) !== opts.path) {
      return rejectUpgrade(socket, 404, `No WebSocket endpoint at ${pathnameOf(req.url)}; try ${opts.path}`);
    }
    if (this.registry.size + this.pendingUpgrades >= opts.maxClients) {
      return rejectUpgrade(socket, 503, `Too many clients (maxClients is ${opts.maxClients})`);
    }
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
    this.wss!.handleUpgrade(req, socket, head, (ws) => {
      socket.removeListener('close', settle);
      settle();
      this.onClient(ws, req, socket);
    });
  }

  private onClient(ws: WebSocket, req: http.IncomingMessage, socket: net.Socket): void {
    const st = this.sockets.get(socket);
    const id = st?.id ?? nextClientId();
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
      },
      ws,
      socket,
      deflate: ws.extensions !== '',
      alive: true,
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
    });
    ws.on('pong', () => {
      record.alive = true;
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      record.info.messagesIn++;
      record.info.bytesIn += data.length;
      this._onDidReceive.fire({ clientId: id, data, isBinary });
      fanOut(relayTargets(this.relay, record, this.registry.records()), data, isBinary);
    });
    ws.once('close', (code: number, reason: Buffer) => {
      this.registry.delete(id);
      const internals = ws as unknown as { _closeFrameReceived?: boolean; _closeFrameSent?: boolean };
      const clean = !!internals._closeFrameReceived && !!internals._closeFrameSent;
      const reported = code === 1006 && closeSent !== undefined ? closeSent : code;
      this._onDidDisconnect.fire({ client: { ...record.info }, code: reported, reason: reason.toString(), clean, error });
    });
    this._onDidConnect.fire({ ...record.info });
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
  if (!isLoopback(o.host) && !o.allowRemote) {
    throw new TypeError(`host ${o.host} is not a loopback address: binding it exposes the server to the network; set allowRemote: true to do so`);
  }
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
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function listenError(err: NodeJS.ErrnoException, host: string, port: number): ServerError {
  const code = err.code ?? 'ERR_LISTEN';
  const message =
    code === 'EADDRINUSE'
      ? `Port ${port} on ${host} is already in use; stop the other program or choose another port`
      : code === 'EACCES'
        ? `Not allowed to listen on ${host}:${port} (ports below 1024 need privileges)`
        : code === 'EADDRNOTAVAIL'
          ? `Address ${host} is not available on this machine`
          : `Cannot listen on ${host}:${port}: ${err.message}`;
  return new ServerError(code, message, { cause: err });
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
  res.writeHead(426, {
    Upgrade: 'websocket',
    Connection: 'Upgrade',
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

function onClientError(err: NodeJS.ErrnoException, socket: net.Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
}

function rejectUpgrade(socket: net.Socket, status: number, message: string): void {
  const body = `${message}\n`;
  const head =
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n` +
    'Connection: close\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  if (socket.writable) {
    socket.once('finish', () => socket.destroy());
    socket.end(head + body);
  } else {
    socket.destroy();
  }
}
