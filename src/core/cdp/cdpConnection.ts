// A Chrome DevTools Protocol client over one WebSocket: commands paired with replies by id, events routed with
// their flat-mode `sessionId`, and failures as readable errors. Nothing a peer sends can make it throw.

import type * as http from 'node:http';
import type { ProtocolMapping } from 'devtools-protocol/types/protocol-mapping';
import { WebSocket } from 'ws';
import { DisposableStore, Emitter, type Disposable, type Event } from '../util/events';
import { ConnectionError } from '../util/connectionError';
import { errorText } from '../../shared/errorText';

/** A command the peer answered with an error object. */
export class CdpError extends Error {
  constructor(
    readonly method: string,
    /** The JSON-RPC error code Chromium gives (-32601 method not found, -32000 server error…). */
    readonly code: number,
    message: string,
  ) {
    super(`${method}: ${message}`);
    this.name = 'CdpError';
  }
}

export interface CdpEvent {
  method: string;
  /**
   * Always an object (an event without params gets `{}`). Read it as the protocol's type for `method`
   * (`Protocol.Network.WebSocketCreatedEvent`…), checking each value: the peer is not trusted to follow it.
   */
  params: object;
  /** The flat-mode session the event belongs to; undefined for the connection's own target. */
  sessionId?: string;
}

export interface CdpClose {
  /** The WebSocket close code (1006 when the TCP connection just went away). */
  code: number;
  reason: string;
  /** Set when the socket failed rather than closed. */
  error?: Error;
}

export interface CdpConnectOptions {
  /** Time allowed for the TCP connect and the WebSocket upgrade (ms). Default 5000. */
  timeoutMs?: number;
  /**
   * Largest CDP message accepted (bytes). A page's binary frame arrives base64-encoded inside one message, so
   * this bounds the largest browser frame the inspector can show. A bigger message ends the DevTools connection
   * (1009). Default 256 MiB.
   */
  maxMessageBytes?: number;
}

type Commands = ProtocolMapping.Commands;
/** A command's params; `{}` for one that takes none (it is sent `params: {}` either way). */
type ParamsOf<M extends keyof Commands> = Commands[M]['paramsType'] extends [] ? Record<string, never> : Commands[M]['paramsType'][0];

/** Time a command may take before its promise rejects (ms), unless the caller gives another. */
const DEFAULT_COMMAND_TIMEOUT_MS = 30_000;

const DEFAULT_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

interface Pending {
  method: string;
  resolve(result: Record<string, unknown>): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** Opens a CDP connection to a `ws://…/devtools/…` URL (or any WebSocket that speaks CDP). */
export function connectCdp(url: string, options: CdpConnectOptions = {}): Promise<CdpConnection> {
  const timeoutMs = options.timeoutMs ?? 5000;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return Promise.reject(new ConnectionError('EBADENDPOINT', `Not a valid DevTools WebSocket URL: ${url}`));
  }
  const where = parsed.host;
  return new Promise((resolve, reject) => {
    const store = new DisposableStore();
    let ws: WebSocket;
    try {
      ws = new WebSocket(url, {
        handshakeTimeout: timeoutMs,
        maxPayload: options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
        perMessageDeflate: false,
      });
    } catch (e) {
      reject(new ConnectionError('EBADENDPOINT', `Cannot open ${url}: ${(e as Error).message}`, { cause: e }));
      return;
    }
    const fail = (err: ConnectionError) => {
      store.dispose();
      // An error listener stays so that a late socket error cannot become an uncaught exception.
      ws.on('error', () => {});
      ws.terminate();
      reject(err);
    };
    store.on(ws, 'unexpected-response', (_req: http.ClientRequest, res: http.IncomingMessage) => {
      res.resume();
      fail(new ConnectionError(
        'ENOTDEVTOOLS',
        `${url} answered HTTP ${res.statusCode ?? 0} instead of a DevTools WebSocket. ` +
          'The target id in the URL may be stale (the browser restarted); give http://host:port instead.',
        { status: res.statusCode },
      ));
    });
    store.on(ws, 'error', (err: Error) => fail(endpointError(err, where, timeoutMs)));
    store.on(ws, 'close', () => fail(new ConnectionError('ECONNRESET', `${where} closed the connection before the DevTools WebSocket opened`)));
    store.on(ws, 'open', () => {
      store.dispose();
      resolve(new CdpConnection(ws));
    });
  });
}

/** Node socket and upgrade errors, as a user reads them when attaching to a browser at `where` (host:port). */
export function endpointError(err: unknown, where: string, timeoutMs: number): ConnectionError {
  if (err instanceof ConnectionError) return err;
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const port = where.slice(where.lastIndexOf(':') + 1);
  const hint = `Start Chromium with --remote-debugging-port=${/^\d+$/.test(port) ? port : 9222}`;
  switch (code) {
    case 'ECONNREFUSED':
      return new ConnectionError(code, `Nothing listens at ${where}. ${hint}`, { cause: err });
    case 'ECONNRESET':
      return new ConnectionError(code, `${where} reset the connection; is it a Chromium DevTools port? ${hint}`, { cause: err });
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConnectionError(code, `Cannot resolve the host of ${where} (${code})`, { cause: err });
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ConnectionError(code, `No route to ${where} (${code})`, { cause: err });
    case 'ETIMEDOUT':
      return new ConnectionError(code, `Timed out connecting to ${where}`, { cause: err });
  }
  const text = errorText(err);
  if (code?.startsWith('HPE_') === true || /^Parse Error/.test(text)) {
    return new ConnectionError('ENOTDEVTOOLS', `${where} does not speak HTTP: it is not a Chromium DevTools port. ${hint}`, { cause: err });
  }
  if (text === 'Opening handshake has timed out') {
    return new ConnectionError('ETIMEDOUT', `${where} did not complete the DevTools WebSocket upgrade within ${timeoutMs} ms`, { cause: err });
  }
  return new ConnectionError(code ?? 'ECONNECT', `Cannot reach the DevTools endpoint at ${where}: ${text}`, { cause: err });
}

export class CdpConnection implements Disposable {
  private readonly _onEvent = new Emitter<CdpEvent>();
  private readonly _onClose = new Emitter<CdpClose>();
  /** Every event the peer sends, in order. */
  readonly onEvent: Event<CdpEvent> = this._onEvent.event;
  /** The connection ended, by either side. Fires once. */
  readonly onClose: Event<CdpClose> = this._onClose.event;

  private readonly store = new DisposableStore();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private error: Error | undefined;
  private _malformed = 0;

  constructor(private readonly ws: WebSocket) {
    this.store.on(ws, 'message', (data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean) => this.onMessage(data, isBinary));
    this.store.on(ws, 'error', (err: Error) => {
      this.error ??= err;
    });
    this.store.on(ws, 'close', (code: number, reason: Buffer) => this.onSocketClose(code, reason.toString('utf8')));
    this.store.add(this._onEvent);
    this.store.add(this._onClose);
  }

  /** Messages that were not CDP (not JSON, no id and no method, a reply to no command). They are dropped. */
  get malformedMessages(): number {
    return this._malformed;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Sends a command and resolves with its `result`. Rejects with a CdpError when the peer answers with an error,
   * and with a ConnectionError when the connection ends first or the reply takes longer than `timeoutMs`.
   * A command of the protocol resolves with its reply type, as the peer should send it: values are still to be checked.
   */
  send<M extends keyof Commands>(method: M, params?: ParamsOf<M>, sessionId?: string, timeoutMs?: number): Promise<Commands[M]['returnType']>;
  /** A command the protocol package does not define (a debugger proxy's own, say). */
  send(method: string, params?: object, sessionId?: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  send(method: string, params: object = {}, sessionId?: string, timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new ConnectionError('ECLOSED', `${method}: the DevTools connection is closed`));
    const id = this.nextId++;
    const message = sessionId === undefined ? { id, method, params } : { id, method, params, sessionId };
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ConnectionError('ETIMEDOUT', `${method}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { method, resolve, reject, timer });
      this.ws.send(JSON.stringify(message), (err) => {
        if (err === undefined || err === null) return;
        const p = this.pending.get(id);
        if (p === undefined) return;
        this.pending.delete(id);
        clearTimeout(p.timer);
        reject(new ConnectionError('ECLOSED', `${method}: ${err.message}`, { cause: err }));
      });
    });
  }

  /** Closes the WebSocket (1000); pending commands reject. onClose fires when the close completes. */
  close(): void {
    if (this.closed) return;
    try {
      this.ws.close(1000);
    } catch {
      this.ws.terminate();
    }
  }

  /** Closes and resolves once the connection has closed (at once when it already has); terminates it after `ms`. */
  async closeAndWait(ms = 2000): Promise<void> {
    if (this.closed) return;
    await new Promise<void>((resolve) => {
      const sub = this.onClose(() => {
        clearTimeout(t);
        sub.dispose();
        resolve();
      });
      const t = setTimeout(() => {
        this.ws.terminate();
      }, ms);
      this.close();
    });
  }

  dispose(): void {
    // Stays after the listeners go, so that a late socket error cannot become an uncaught exception.
    this.ws.on('error', () => {});
    if (!this.closed) {
      this.ws.terminate();
      this.onSocketClose(1006, '');
    }
    this.store.dispose();
  }

  private onMessage(data: Buffer | Buffer[] | ArrayBuffer, isBinary: boolean): void {
    let m: unknown;
    try {
      if (isBinary) throw new Error('binary');
      const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8');
      m = JSON.parse(text);
    } catch {
      this._malformed++;
      return;
    }
    if (typeof m !== 'object' || m === null || Array.isArray(m)) {
      this._malformed++;
      return;
    }
    const msg = m as Record<string, unknown>;
    // A reply carries the id and either result or error; anything else with an id (an echo of our own command,
    // say) is not one.
    if (typeof msg.id === 'number' && ('result' in msg || 'error' in msg)) {
      const p = this.pending.get(msg.id);
      if (p === undefined) {
        this._malformed++;
        return;
      }
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if ('error' in msg) {
        const err = (typeof msg.error === 'object' && msg.error !== null ? msg.error : {}) as Record<string, unknown>;
        p.reject(new CdpError(p.method, typeof err.code === 'number' ? err.code : 0, typeof err.message === 'string' ? err.message : 'error'));
      } else {
        const result = msg.result;
        p.resolve(typeof result === 'object' && result !== null ? (result as Record<string, unknown>) : {});
      }
      return;
    }
    if (typeof msg.method === 'string') {
      const params = typeof msg.params === 'object' && msg.params !== null && !Array.isArray(msg.params) ? (msg.params as Record<string, unknown>) : {};
      const sessionId = typeof msg.sessionId === 'string' ? msg.sessionId : undefined;
      this._onEvent.fire({ method: msg.method, params, sessionId });
      return;
    }
    this._malformed++;
  }

  private onSocketClose(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(new ConnectionError('ECLOSED', `${p.method}: the DevTools connection closed (${code})`));
    }
    this._onClose.fire({ code, reason, error: this.error });
  }
}
