// An outgoing WebSocket connection with readable errors, optional capture, and reconnect with backoff.

import { isUtf8 } from 'node:buffer';
import type * as http from 'node:http';
import type * as net from 'node:net';
import { WebSocket } from 'ws';
import type { CaptureSink } from '../capture/events';
import { onClientSocket } from '../capture/socketTap';
import { DisposableStore, Emitter, type Disposable, type Event } from '../util/events';
import { attachCapture, type CaptureHandle } from '../capture/attachCapture';
import { toConnectionError, type Target } from './connectionError';
import { ConnectionError } from '../util/connectionError';
import { backoffDelay } from '../util/backoff';
import { stripUndefined } from '../util/objects';
import { BreakpointController } from '../proxy/breakpoints';
import { ClientBreakpoints } from './clientBreakpoints';
import { SENT_ONE, type CheckedSend } from './heldQueue';

export { ConnectionError } from '../util/connectionError';

export interface ReconnectOptions {
  /** Reconnect after an unexpected close or a failed attempt. Default `false`. */
  enabled?: boolean;
  /** Delay before the first reconnect attempt (ms); it doubles on each failure. Default 500. */
  initialDelayMs?: number;
  /** Cap on the delay (ms). Default 30000. */
  maxDelayMs?: number;
  /** Fraction 0..1 taken off each delay at random, so many clients do not retry in step. Default 0.2. */
  jitter?: number;
  /**
   * Consecutive failed attempts before giving up. Default `Infinity`: a developer restarting a server expects
   * the client to come back, and the capped delay keeps the cost small. A connection that opened but closed
   * before `stableAfterMs` counts as a failed attempt.
   */
  maxAttempts?: number;
  /**
   * How long a connection must stay open (ms) before it counts as good and the delays start over from
   * `initialDelayMs`. Without it, a server that completes the upgrade and then closes at once (a crash loop, a
   * policy close, a proxy whose target is down) would be retried at the initial delay forever: the storm the cap is
   * there to prevent. Default 5000.
   */
  stableAfterMs?: number;
}

export interface ClientTlsOptions {
  /** Extra trusted CA(s), PEM. Default: Node's bundled roots. */
  ca?: string | Buffer | Array<string | Buffer>;
  /** Verify the server certificate. Default `true`. */
  rejectUnauthorized?: boolean;
  /** SNI and certificate host name. Default: the URL's host (none for an IP address). */
  servername?: string;
}

export interface ClientConnectionOptions {
  /** Extra request headers for the upgrade request. Default none. */
  headers?: Record<string, string>;
  /** Offered subprotocols, in order of preference. Default none. */
  subprotocols?: string[];
  /** For `wss://`. */
  tls?: ClientTlsOptions;
  /** Offer permessage-deflate. Default `false`: frames stay readable on the wire. */
  perMessageDeflate?: boolean;
  /** Time allowed from connect to the 101 response (ms). Default 10000. */
  handshakeTimeout?: number;
  /** Largest message accepted (bytes); a bigger one closes with 1009. Default 16 MiB. */
  maxPayload?: number;
  /** Reconnect policy. Default: off. */
  reconnect?: ReconnectOptions;
  /** Where capture events go. Default `undefined`: capture off. */
  capture?: CaptureSink;
  /**
   * Frame breakpoints: a rule applying to `'client'` holds what this connection sends (`c2s`) before it is written,
   * and what it receives (`s2c`) before `onDidReceive` hands it on (see clientBreakpoints.ts). Default `undefined`.
   */
  breakpoints?: BreakpointController;
}

export type ClientState = 'connecting' | 'open' | 'closing' | 'closed' | 'reconnecting';

export interface ClientStateChange {
  state: ClientState;
  /**
   * 'connecting': 0 for the first connect, n for the n-th reconnect attempt since the last connection that stayed
   * open `stableAfterMs`. 'reconnecting': the attempt to come.
   */
  attempt?: number;
  /** 'reconnecting': the wait before the next attempt. */
  delayMs?: number;
  /** What went wrong ('reconnecting' and 'closed'). */
  error?: ConnectionError;
  /** 'closed' / 'reconnecting' after an open connection: the peer's close code (1006 when none) and reason. */
  code?: number;
  reason?: string;
}

/** A message from the server, as the listeners get it: with `breakpoints`, after a hold (the edit, if edited). */
export interface ClientReceiveEvent {
  data: Buffer;
  isBinary: boolean;
}

const DEFAULT_RECONNECT: Required<ReconnectOptions> = {
  enabled: false,
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  jitter: 0.2,
  maxAttempts: Infinity,
  stableAfterMs: 5000,
};

const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024;

/** Bound on the body of a rejected upgrade that is kept for the error. */
const MAX_FAILED_BODY = 8 * 1024;

let lastId = 0;

/**
 * Creates a connection and opens it in a microtask, so listeners added right after this call see the
 * first 'connecting'. Watch `onDidChangeState` for 'open' or the error. Bad URLs and options throw here.
 */
export function connect(url: string, options: ClientConnectionOptions = {}): ClientConnection {
  const c = new ClientConnection(url, options);
  queueMicrotask(() => {
    if (c.state === 'closed' && !c.isClosedByUser) c.open();
  });
  return c;
}

export class ClientConnection implements Disposable {
  /** Short and unique within this process (`o1`, `o2`…). Each TCP connection's capture id is `<id>.<n>`. */
  readonly id = `o${++lastId}`;
  readonly url: string;

  private readonly _onDidChangeState = new Emitter<ClientStateChange>();
  private readonly _onDidReceive = new Emitter<ClientReceiveEvent>();
  readonly onDidChangeState: Event<ClientStateChange> = this._onDidChangeState.event;
  readonly onDidReceive: Event<ClientReceiveEvent> = this._onDidReceive.event;

  private readonly opts: ClientConnectionOptions;
  private readonly backoff: Required<ReconnectOptions>;
  private readonly target: Target;
  private readonly secure: boolean;
  private _state: ClientState = 'closed';
  private ws: WebSocket | undefined;
  /** Failed attempts (short-lived opens included) since the last connection that stayed open `stableAfterMs`. */
  private attempt = 0;
  private tcpSerial = 0;
  private userClosed = false;
  private disposed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private _connectionId: string | undefined;
  private readonly holds: ClientBreakpoints | undefined;

  constructor(url: string, options: ClientConnectionOptions = {}) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new SyntaxError(`Invalid URL: ${url}`);
    }
    if (!['ws:', 'wss:', 'ws+unix:'].includes(parsed.protocol)) {
      throw new SyntaxError(`URL must start with ws://, wss:// or ws+unix://; got ${url}`);
    }
    this.url = url;
    this.opts = validate(options);
    this.backoff = { ...DEFAULT_RECONNECT, ...stripUndefined(options.reconnect ?? {}) };
    this.secure = parsed.protocol === 'wss:';
    const handshakeTimeoutMs = options.handshakeTimeout ?? 10_000;
    if (parsed.protocol === 'ws+unix:') {
      const p = parsed.pathname;
      const i = p.indexOf(':');
      const socketPath = i === -1 ? p : p.slice(0, i);
      this.target = { where: socketPath, host: socketPath, handshakeTimeoutMs };
    } else {
      const host = parsed.hostname.replace(/^\[|\]$/g, '');
      const port = parsed.port || (this.secure ? '443' : '80');
      this.target = { where: `${parsed.hostname}:${port}`, host, handshakeTimeoutMs };
    }
    if (options.breakpoints !== undefined) {
      this.holds = new ClientBreakpoints(options.breakpoints, this.id, (data, isBinary) => this._onDidReceive.fire({ data, isBinary }));
    }
  }

  get state(): ClientState {
    return this._state;
  }

  /** The capture connection id of the current (or last) TCP connection. */
  get connectionId(): string | undefined {
    return this._connectionId;
  }

  /** The negotiated subprotocol, '' when none or not open. */
  get protocol(): string {
    return this.ws?.protocol ?? '';
  }

  /** close() or dispose() was called. */
  get isClosedByUser(): boolean {
    return this.userClosed || this.disposed;
  }

  /** Starts connecting (again, after it settled in 'closed' on its own). Throws after close() or dispose(). */
  open(): void {
    if (this.disposed) throw new ConnectionError('ERR_DISPOSED', 'Connection is disposed');
    if (this.ws || this.retryTimer || this.userClosed) throw new ConnectionError('ERR_ALREADY_OPENED', 'open() was already called');
    this.openAttempt();
  }

  /**
   * Sends a string as a text message or a Buffer as binary. Throws when not open. With `breakpoints` a message can be
   * held, and later ones wait behind it: the result says so, and its `settled` the outcome.
   */
  send(data: string | Buffer): CheckedSend {
    const ws = this.requireOpen('send');
    if (typeof data !== 'string' && !Buffer.isBuffer(data)) throw new TypeError('data must be a string or a Buffer');
    if (this.holds !== undefined) return this.holds.send(ws, data);
    ws.send(data, { binary: typeof data !== 'string' });
    return SENT_ONE;
  }

  ping(payload?: string | Buffer): void {
    this.requireOpen('ping').ping(payload);
  }

  /** Closes for good: no reconnect follows. A pending reconnect is cancelled. */
  close(code = 1000, reason = ''): void {
    this.userClosed = true;
    if (this.retryTimer) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      this.setState({ state: 'closed' });
      return;
    }
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    if (ws.readyState === WebSocket.CONNECTING) {
      ws.terminate();
    } else if (ws.readyState === WebSocket.OPEN) {
      // What is held can no longer go out before the close frame.
      this.holds?.closed(ws, { code, reason, by: 'client' });
      this.setState({ state: 'closing' });
      ws.close(code, reason);
    }
  }

  /** Closes without waiting and drops all listeners; the socket still completes its close handshake. */
  dispose(): void {
    if (this.disposed) return;
    this.close(1001, '');
    this.disposed = true;
    this.holds?.dispose();
    this._onDidChangeState.dispose();
    this._onDidReceive.dispose();
  }

  private requireOpen(what: string): WebSocket {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      throw new ConnectionError('ERR_NOT_OPEN', `Cannot ${what}: the connection is ${this._state}`);
    }
    return this.ws;
  }

  private setState(change: ClientStateChange): void {
    this._state = change.state;
    this._onDidChangeState.fire(change);
  }

  private openAttempt(): void {
    this.retryTimer = undefined;
    const attemptStore = new DisposableStore();
    let socket: net.Socket | undefined;
    let capture: CaptureHandle | undefined;
    let error: ConnectionError | undefined;
    let socketError: Error | undefined; // a reset after the upgrade: ws closes with 1006 and does not report it
    let rejected: { status: number; statusText: string; body: Buffer } | undefined;
    let opened = false;
    let openedAt = 0;
    const connectionId = `${this.id}.${++this.tcpSerial}`;
    this._connectionId = connectionId;
    const sink = this.opts.capture;

    this.setState({ state: 'connecting', attempt: this.attempt });
    let ws: WebSocket;
    try {
      ws = this.newWebSocket();
    } catch (err) {
      // Bad subprotocol names and the like: nothing was sent.
      this.finish(toConnectionError(err, this.target), false);
      return;
    }
    this.ws = ws;
    // Tap the socket the upgrade request gets, before its head is written. ws's `createConnection` option would
    // be simpler, but an agent ignores it, and VS Code's extension host puts its proxy agent on every request.
    onClientSocket(ws, (s) => {
      socket = s;
      s.on('error', (err) => (socketError ??= err)); // before the upgrade ws reports it through the request
      if (sink) {
        capture = attachCapture(s, {
          connectionId,
          role: 'client',
          sink,
          meta: { url: this.url, connection: this.id },
          maxPayload: this.opts.maxPayload ?? DEFAULT_MAX_PAYLOAD,
        });
      }
    });

    attemptStore.on(ws, 'error', (err: Error) => {
      error ??= toConnectionError(err, this.target);
    });
    attemptStore.on(ws, 'open', () => {
      opened = true;
      // The count starts over only once this connection proves stable (see finish()).
      openedAt = performance.now();
      this.setState({ state: 'open' });
    });
    attemptStore.on(ws, 'message', (data: Buffer, isBinary: boolean) => {
      if (this.holds === undefined || !this.holds.received(data, isBinary)) this._onDidReceive.fire({ data, isBinary });
    });
    attemptStore.on(ws, 'unexpected-response', (_req: http.ClientRequest, res: http.IncomingMessage) =>
      readRejection(res, (r) => {
        rejected ??= r;
        ws.terminate();
      }),
    );
    attemptStore.on(ws, 'close', (code: number, reasonBuf: Buffer) => {
      attemptStore.dispose();
      const reason = reasonBuf.toString();
      this.holds?.closed(ws, { code, reason, by: this.isClosedByUser ? 'client' : 'server' });
      if (opened && performance.now() - openedAt >= this.backoff.stableAfterMs) this.attempt = 0;
      // The capture sees the last bytes when the socket closes; wait for that before reading its handshake.
      const settle = () => {
        if (rejected) {
          const { status, statusText, body } = rejected;
          error = new ConnectionError('ERR_UPGRADE_REJECTED', `Server rejected the upgrade: ${status} ${statusText}`.trimEnd(), {
            status,
            body,
            handshake: capture?.handshake,
          });
        }
        this.ws = undefined;
        if (opened && code === 1006 && socketError) error ??= toConnectionError(socketError, this.target); // its cause
        this.finish(error, opened, code, reason);
      };
      afterSocketClosed(socket, settle);
    });
  }

  /** The attempt's ws client, with the connection's options. Throws on bad subprotocol names and the like. */
  private newWebSocket(): WebSocket {
    return new WebSocket(this.url, this.opts.subprotocols ?? [], {
      headers: this.opts.headers,
      perMessageDeflate: this.opts.perMessageDeflate ?? false,
      handshakeTimeout: this.opts.handshakeTimeout ?? 10_000,
      maxPayload: this.opts.maxPayload ?? DEFAULT_MAX_PAYLOAD,
      followRedirects: false,
      ca: this.opts.tls?.ca,
      rejectUnauthorized: this.opts.tls?.rejectUnauthorized ?? true,
      // ws passes unknown options through to tls.connect.
      ...(this.opts.tls?.servername !== undefined ? { servername: this.opts.tls.servername } : {}),
    });
  }

  /** After an attempt ends: reconnect (with backoff) or settle in 'closed'. */
  private finish(error: ConnectionError | undefined, wasOpen: boolean, code?: number, reason?: string): void {
    const closeInfo = wasOpen ? { code, reason } : {};
    if (this.userClosed || this.disposed) {
      this.setState({ state: 'closed', ...closeInfo });
      return;
    }
    const b = this.backoff;
    if (b.enabled && this.attempt < b.maxAttempts) {
      this.attempt++;
      const delayMs = backoffDelay(this.attempt, b);
      this.setState({ state: 'reconnecting', attempt: this.attempt, delayMs, error, ...closeInfo });
      this.retryTimer = setTimeout(() => this.openAttempt(), delayMs);
      return;
    }
    this.setState({ state: 'closed', error, ...closeInfo });
  }
}

function validate(o: ClientConnectionOptions): ClientConnectionOptions {
  if (o === null || typeof o !== 'object') throw new TypeError('options must be an object');
  const r = o.reconnect ?? {};
  const nonNeg = (v: unknown, name: string) => {
    if (v !== undefined && (typeof v !== 'number' || !(v >= 0) || Number.isNaN(v))) throw new TypeError(`${name} must be a non-negative number; got ${String(v)}`);
  };
  nonNeg(o.handshakeTimeout, 'handshakeTimeout');
  nonNeg(r.initialDelayMs, 'reconnect.initialDelayMs');
  nonNeg(r.maxDelayMs, 'reconnect.maxDelayMs');
  nonNeg(r.maxAttempts, 'reconnect.maxAttempts');
  nonNeg(r.stableAfterMs, 'reconnect.stableAfterMs');
  if (r.jitter !== undefined && !(r.jitter >= 0 && r.jitter <= 1)) throw new TypeError(`reconnect.jitter must be within 0..1; got ${r.jitter}`);
  if (r.initialDelayMs !== undefined && r.maxDelayMs !== undefined && r.initialDelayMs > r.maxDelayMs) {
    throw new TypeError('reconnect.initialDelayMs must not exceed reconnect.maxDelayMs');
  }
  if (o.maxPayload !== undefined && (!Number.isInteger(o.maxPayload) || o.maxPayload < 1)) throw new TypeError('maxPayload must be a positive integer');
  if (o.capture !== undefined && typeof o.capture?.append !== 'function') throw new TypeError('capture must be a CaptureSink (with append())');
  if (o.breakpoints !== undefined && !(o.breakpoints instanceof BreakpointController)) throw new TypeError('breakpoints must be a BreakpointController');
  return o;
}

/** Reads a refused upgrade's status and up to MAX_FAILED_BODY bytes of its body; `done` is called once. */
function readRejection(res: http.IncomingMessage, done: (r: { status: number; statusText: string; body: Buffer }) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let called = false;
  const finish = () => {
    if (called) return;
    called = true;
    done({ status: res.statusCode ?? 0, statusText: utf8OfLatin1(res.statusMessage ?? ''), body: Buffer.concat(chunks) });
  };
  res.on('data', (chunk: Buffer) => {
    if (size < MAX_FAILED_BODY) chunks.push(chunk.subarray(0, MAX_FAILED_BODY - size));
    size += chunk.length;
    if (size >= MAX_FAILED_BODY) finish();
  });
  res.on('end', finish);
  res.on('error', finish);
}

/** Calls `settle` once `socket` has closed (at most 1 s from now), destroying it if need be; at once without one. */
function afterSocketClosed(socket: net.Socket | undefined, settle: () => void): void {
  if (!socket || (socket.destroyed && socket.closed)) return settle();
  const t = setTimeout(settle, 1000);
  socket.once('close', () => {
    clearTimeout(t);
    setImmediate(settle);
  });
  if (!socket.destroyed) socket.destroy();
}

/**
 * Node reads a status line as latin1, one character a byte: a reason a server wrote in UTF-8 is decoded as UTF-8 when
 * its bytes are valid UTF-8, so that it reads as written (and its bidi controls can be shown as such).
 */
function utf8OfLatin1(s: string): string {
  if (/[\u0100-\uffff]/.test(s)) return s;
  const bytes = Buffer.from(s, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : s;
}
