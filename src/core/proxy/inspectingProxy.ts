// A local WebSocket proxy in front of a real backend: the user's program connects here, every connection is forwarded
// to the target byte for byte, and both legs (program↔proxy, proxy↔target) are captured.
import * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { CaptureSink, DeflateParams, Direction, HttpHead } from '../capture/events';
import { toConnectionError } from '../client/connectionError';
import { attachCapture } from '../server/attachCapture';
import { DEFAULT_MAX_PAYLOAD } from '../wire/constants';
import { negotiatedDeflate } from '../wire/deflate';
import type { WireError } from '../wire/errors';
import { HttpHeadParser, getHeader, parseStatusLine } from '../wire/handshake';
import { DisposableStore, Emitter, type Event } from '../util/events';
import type { BreakpointController } from './breakpoints';
import { FramePipe, type PipeCounts } from './framePipe';
import { listen } from '../util/listen';

export interface InspectingProxyOptions {
  /** ws:// or wss:// URL of the real backend. Its path and query combine with the program's (see `targetUrlFor`). */
  target: string;
  /** Local port; 0 picks a free one. Default 0. */
  port?: number;
  /** Local address. Default '127.0.0.1'. A non-loopback address is refused (`ERR_REMOTE_NOT_ALLOWED`) unless allowRemote. */
  host?: string;
  /** Allow listening on a non-loopback address: anyone on the network could then reach the target through you. Default false. */
  allowRemote?: boolean;
  /** Upstream TLS (wss targets). */
  tls?: {
    /** PEM CA certificate(s) to trust besides Node's bundled roots. */
    ca?: string | Buffer;
    /** Accept any certificate (self-signed, expired, wrong name): no verification at all. Unsafe. Default false. */
    allowSelfSigned?: boolean;
  };
  /** Where both legs' capture events go; undefined = no capture. */
  capture?: CaptureSink;
  /** Labels put on both legs' connection events (the extension puts the debug session name here). */
  meta?: Record<string, string>;
  /** Rules that hold frames in the proxy; undefined = every frame goes straight through. */
  breakpoints?: BreakpointController;
  /**
   * Largest frame payload the proxy decodes, and largest message it matches against breakpoints, in bytes. A bigger
   * frame is not refused: from there on that direction is forwarded raw (see FramePipeOptions.onDecodeError), and the
   * captures record the 1009. Default 100 MiB.
   */
  maxPayload?: number;
  /** From connecting to the target until its response head has arrived, in ms; then the program gets 504. Default 10000. */
  handshakeTimeoutMs?: number;
  /** TCP connect plus TLS handshake with the target, in ms; then the program gets 504. Default 10000. */
  connectTimeoutMs?: number;
  /** After the proxy ends a socket (a side closed, or stop()), it is destroyed if still open this many ms later. Default 3000. */
  closeTimeoutMs?: number;
  /** Concurrent proxied connections; more get HTTP 503. Default 1000. */
  maxConnections?: number;
}

export interface ProxyConnectionInfo {
  /** Unique in the process, e.g. 'proxy1-3'. */
  id: string;
  /** Capture connectionId of the program↔proxy leg: `${id}/program`. */
  programSideId: string;
  /** Capture connectionId of the proxy↔target leg: `${id}/target`. */
  targetSideId: string;
  /** The request target as the program sent it (path and query). */
  path: string;
  /** The URL actually dialled. */
  targetUrl: string;
  /** The program's address:port. */
  remote: string;
  state: 'connecting' | 'open' | 'closed' | 'failed';
  /** Epoch ms of the upgrade request. */
  openedAt: number;
  /** HTTP status the target answered (101 once open); absent when it never answered. */
  status?: number;
  /** Why it failed, readable. */
  error?: string;
  /** Stable code for `error`: `ERR_UPGRADE_REJECTED`, `ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT`, TLS codes… */
  errorCode?: string;
  /** What each direction carried once open (c2s = program → target): see PipeCounts. Absent before a 101. */
  traffic?: { c2s: PipeCounts; s2c: PipeCounts };
}

export interface ProxyAddress {
  /** `ws://host:port` (IPv6 hosts in brackets), where the program should connect. */
  url: string;
  host: string;
  port: number;
}

/** A proxy-level failure with a stable code (`ERR_INVALID_TARGET`, `ERR_REMOTE_NOT_ALLOWED`, `EADDRINUSE`…). */
export class ProxyError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProxyError';
  }
}

interface ResolvedOptions {
  target: URL;
  port: number;
  host: string;
  ca?: string | Buffer;
  allowSelfSigned: boolean;
  capture?: CaptureSink;
  meta: Record<string, string>;
  breakpoints?: BreakpointController;
  maxPayload: number;
  handshakeTimeoutMs: number;
  connectTimeoutMs: number;
  closeTimeoutMs: number;
  maxConnections: number;
}

/** The phases of one TCP connection from the program. */
type Phase = 'request' | 'dialing' | 'handshake' | 'open' | 'refused' | 'failed' | 'stopping';

interface Conn {
  id: string;
  program: net.Socket;
  programMeta: Record<string, string>;
  store: DisposableStore;
  info?: ProxyConnectionInfo;
  phase: Phase;
  upstream?: net.Socket;
  /** `host:port` of the target, for messages. */
  where: string;
  host: string;
  /** Program bytes that arrived before the target's response: frames sent early, forwarded after a 101. */
  early: Buffer[];
  earlyBytes: number;
  responseParser?: HttpHeadParser;
  responseChunks: Buffer[];
  /** Body bytes of a refused upgrade still to pass (undefined = until the target closes). */
  bodyLeft?: number;
  chunkedBody: boolean;
  bodyTail: string;
  c2s?: FramePipe;
  s2c?: FramePipe;
  programClosed: boolean;
  upstreamClosed: boolean;
  done: boolean;
  closedWaiters: Array<() => void>;
}

const DEFAULTS = {
  port: 0,
  host: '127.0.0.1',
  maxPayload: DEFAULT_MAX_PAYLOAD,
  handshakeTimeoutMs: 10_000,
  connectTimeoutMs: 10_000,
  closeTimeoutMs: 3_000,
  maxConnections: 1000,
};

/** Program bytes buffered while the target has not answered; beyond this the program is not read until it has. */
const MAX_EARLY_BYTES = 1024 * 1024;

let proxySerial = 0;

/**
 * The URL dialled for a program's request target (its path and query).
 *
 * The program's path is appended to the target's path (`ws://h/base` + `/ws?x=1` → `ws://h/base/ws?x=1`); a program
 * path of `/` leaves the target's path as it is (`wss://api/ws` + `/` → `wss://api/ws`). The program's query wins when
 * it has one, else the target's is kept. Throws a ProxyError (`ERR_BAD_REQUEST_TARGET`) for a request target that is
 * neither origin-form (`/path?q`) nor an absolute URL.
 */
export function targetUrlFor(target: URL, requestTarget: string): string {
  const { pathAndQuery } = splitTarget(target, requestTarget);
  return `${target.protocol}//${target.host}${pathAndQuery}`;
}

/** targetUrlFor's path and query, built as text: the program's bytes are not re-encoded or normalised by a URL parser. */
function splitTarget(target: URL, requestTarget: string): { pathAndQuery: string } {
  let path: string;
  let query: string;
  if (requestTarget.startsWith('/')) {
    const q = requestTarget.indexOf('?');
    path = q === -1 ? requestTarget : requestTarget.slice(0, q);
    query = q === -1 ? '' : requestTarget.slice(q);
  } else {
    let u: URL;
    try {
      u = new URL(requestTarget);
    } catch {
      throw new ProxyError('ERR_BAD_REQUEST_TARGET', `Cannot proxy the request target ${JSON.stringify(requestTarget)}`);
    }
    path = u.pathname;
    query = u.search;
  }
  const base = target.pathname;
  let joined: string;
  if (path === '/' || path === '') joined = base;
  else if (base === '/' || base === '') joined = path;
  else joined = base.replace(/\/+$/, '') + path;
  if (query === '?') query = '';
  return { pathAndQuery: `${joined}${query || target.search}` };
}

/**
 * Listens locally and forwards each WebSocket connection to the target.
 *
 * - The upgrade request goes to the target with its headers in their order and case; only `Host` is rewritten and the
 *   request target combined with the target URL (`targetUrlFor`). Origin, the key, subprotocols and extensions go end
 *   to end, so permessage-deflate is negotiated by the two endpoints (the captures still inflate it).
 * - The target's response goes back raw. A refusal (any status but 101) reaches the program with its body, and fires
 *   onDidFail. A target that can't be reached (DNS, refused, TLS) gives the program 502, a timeout 504, each with a
 *   one-line text body, and fires onDidFail.
 * - After a 101 each frame's exact wire bytes are forwarded in order (same fragmentation, masks, opcodes, close codes),
 *   unless a breakpoint holds, edits or drops a message. A side that ends or closes is ended on the other side once
 *   what it sent was forwarded; a socket the proxy ended is destroyed after closeTimeoutMs.
 * - Plain HTTP requests get 426; non-WebSocket upgrades 400.
 */
export class InspectingProxy {
  /** `proxy1`, `proxy2`…: the prefix of this proxy's connection ids. */
  readonly name = `proxy${++proxySerial}`;
  private opts: ResolvedOptions | undefined;
  private server: http.Server | undefined;
  private run: DisposableStore | undefined;
  private serial = 0;
  private readonly conns = new Map<net.Socket, Conn>();
  /** Sockets the proxy has ended, with a destroy timer running. */
  private readonly ending = new WeakSet<net.Socket>();
  private _address: ProxyAddress | undefined;
  private stopping: Promise<void> | undefined;
  private disposed = false;

  private readonly _onDidOpen = new Emitter<ProxyConnectionInfo>();
  /** The target accepted (101) and the response reached the program. */
  readonly onDidOpen: Event<ProxyConnectionInfo> = this._onDidOpen.event;
  private readonly _onDidClose = new Emitter<ProxyConnectionInfo>();
  /**
   * A connection is gone (both sockets closed) and left connections(). Fires for every upgrade attempt, after
   * onDidOpen or onDidFail: state 'closed' when it had opened, else 'failed'.
   */
  readonly onDidClose: Event<ProxyConnectionInfo> = this._onDidClose.event;
  private readonly _onDidFail = new Emitter<ProxyConnectionInfo>();
  /** The upgrade did not go through: refused by the target, unreachable, TLS error, timeout, program gone first. */
  readonly onDidFail: Event<ProxyConnectionInfo> = this._onDidFail.event;

  /** Where the proxy listens, while it runs. */
  get address(): ProxyAddress | undefined {
    return this._address;
  }

  /**
   * Starts listening. Rejects with a ProxyError: `ERR_ALREADY_RUNNING`, `ERR_INVALID_TARGET`, `ERR_REMOTE_NOT_ALLOWED`,
   * `EADDRINUSE`…; with a TypeError for an option of the wrong type or range.
   */
  async start(options: InspectingProxyOptions): Promise<ProxyAddress> {
    if (this.disposed) throw new ProxyError('ERR_DISPOSED', 'The proxy is disposed');
    if (this.server !== undefined) throw new ProxyError('ERR_ALREADY_RUNNING', `The proxy already listens on ${this._address?.url ?? '…'}`);
    const opts = resolveOptions(options);
    const server = http.createServer();
    const run = new DisposableStore();
    this.server = server;
    this.run = run;
    this.opts = opts;
    run.on(server, 'connection', (socket: net.Socket) => this.onConnection(socket));
    run.on(server, 'upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    run.on(server, 'request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const body = `This is a WebSocket inspecting proxy for ${opts.target.href}: connect with a WebSocket client.\n`;
      res.writeHead(426, { 'Content-Type': 'text/plain; charset=utf-8', Upgrade: 'websocket', Connection: 'close' });
      res.end(body);
      req.resume();
    });
    run.on(server, 'clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    });
    run.on(server, 'error', () => {}); // listen errors are reported below; later ones have nothing to act on
    try {
      await listen(server, opts.host, opts.port, (f) => new ProxyError(f.code, f.message, { cause: f.cause }));
    } catch (err) {
      run.dispose();
      this.server = undefined;
      this.run = undefined;
      throw err;
    }
    const bound = server.address() as net.AddressInfo;
    const urlHost = bound.family === 'IPv6' || bound.address.includes(':') ? `[${bound.address}]` : bound.address;
    this._address = { host: bound.address, port: bound.port, url: `ws://${urlHost}:${bound.port}` };
    return this._address;
  }

  /**
   * Stops listening and closes every connection: open ones get a 1001 close frame both ways (held frames resolve
   * `connectionClosed`), then are ended and destroyed after closeTimeoutMs; connections still in their handshake are
   * destroyed. Resolves when every socket is closed.
   */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    const server = this.server;
    if (!server) return Promise.resolve();
    this.stopping = (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      const waits: Promise<void>[] = [closed];
      for (const c of [...this.conns.values()]) {
        waits.push(new Promise<void>((resolve) => (c.done ? resolve() : c.closedWaiters.push(resolve))));
        this.shutdown(c);
      }
      await Promise.all(waits);
      this.run?.dispose();
      this.server = undefined;
      this.run = undefined;
      this._address = undefined;
      this.stopping = undefined;
    })();
    return this.stopping;
  }

  /** Snapshots of the connections that made an upgrade request and are not gone yet. */
  connections(): ProxyConnectionInfo[] {
    const out: ProxyConnectionInfo[] = [];
    for (const c of this.conns.values()) if (c.info && !c.done) out.push(this.snapshot(c, c.info));
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.stop();
    this._onDidOpen.dispose();
    this._onDidClose.dispose();
    this._onDidFail.dispose();
  }

  private onConnection(program: net.Socket): void {
    const opts = this.opts!;
    const id = `${this.name}-${++this.serial}`;
    const store = new DisposableStore();
    const c: Conn = {
      id,
      program,
      programMeta: {},
      store,
      phase: 'request',
      where: '',
      host: '',
      early: [],
      earlyBytes: 0,
      responseChunks: [],
      chunkedBody: false,
      bodyTail: '',
      programClosed: false,
      upstreamClosed: true,
      done: false,
      closedWaiters: [],
    };
    this.conns.set(program, c);
    program.setNoDelay(true);
    store.on(program, 'error', () => {}); // 'close' follows and does the work
    if (opts.capture) {
      // The capture keeps this object: the dialled URL is filled in from the request, before the response.
      Object.assign(c.programMeta, {
        proxy: id,
        side: 'program',
        target: opts.target.href,
        remote: remoteOf(program),
        ...opts.meta,
      });
      store.add(attachCapture(program, { connectionId: `${id}/program`, role: 'server', sink: opts.capture, meta: c.programMeta, maxPayload: opts.maxPayload }));
    }
    program.once('close', () => {
      c.programClosed = true;
      this.onProgramClosed(c);
    });
  }

  private onUpgrade(req: http.IncomingMessage, program: net.Socket, head: Buffer): void {
    const c = this.conns.get(program);
    const opts = this.opts!;
    if (c === undefined || c.phase !== 'request') return void program.destroy();
    const requestTarget = req.url ?? '/';
    let pathAndQuery: string;
    try {
      pathAndQuery = splitTarget(opts.target, requestTarget).pathAndQuery;
    } catch (e) {
      return this.answer(c, 400, (e as Error).message);
    }
    const targetUrl = `${opts.target.protocol}//${opts.target.host}${pathAndQuery}`;
    c.info = {
      id: c.id,
      programSideId: `${c.id}/program`,
      targetSideId: `${c.id}/target`,
      path: requestTarget,
      targetUrl,
      remote: remoteOf(program),
      state: 'connecting',
      openedAt: Date.now(),
    };
    if (opts.capture && !(opts.meta && 'target' in opts.meta)) c.programMeta.target = targetUrl;
    if (this.stopping) return this.fail(c, 503, 'ERR_STOPPING', 'The proxy is stopping');
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      return this.fail(c, 400, 'ERR_NOT_WEBSOCKET', `Only WebSocket upgrades are proxied (Upgrade: ${req.headers.upgrade ?? ''})`);
    }
    let active = 0;
    for (const o of this.conns.values()) if (o.info && (o.phase === 'dialing' || o.phase === 'handshake' || o.phase === 'open')) active++;
    if (active >= opts.maxConnections) {
      return this.fail(c, 503, 'ERR_MAX_CONNECTIONS', `Too many proxied connections (maxConnections is ${opts.maxConnections})`);
    }

    // Until the target answers, the program's bytes wait: after a 101 they are frames, after a refusal nothing.
    // Reading goes on (up to MAX_EARLY_BYTES) so that a program leaving is noticed: a paused socket sees no FIN.
    if (head.length > 0) c.early.push(head);
    c.earlyBytes = head.length;
    c.store.on(program, 'data', (chunk: Buffer) => this.onProgramData(c, chunk));
    c.store.on(program, 'end', () => this.onProgramEnd(c));
    this.dial(c, req, targetUrl, pathAndQuery);
  }

  private dial(c: Conn, req: http.IncomingMessage, targetUrl: string, pathAndQuery: string): void {
    const opts = this.opts!;
    const url = opts.target;
    const secure = url.protocol === 'wss:';
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(url.port) || (secure ? 443 : 80);
    const where = (c.where = `${url.hostname}:${port}`);
    c.host = host;
    c.phase = 'dialing';
    let upstream: net.Socket;
    try {
      upstream = secure
        ? tls.connect({
            host,
            port,
            servername: net.isIP(host) ? undefined : host,
            ca: opts.ca,
            rejectUnauthorized: !opts.allowSelfSigned,
            ALPNProtocols: ['http/1.1'],
            // Honoured by tls.connect (it builds the socket with it), though the typings leave it out.
            allowHalfOpen: true,
          } as tls.ConnectionOptions)
        : net.connect({ host, port, allowHalfOpen: true });
    } catch (e) {
      return this.upstreamFailed(c, e);
    }
    c.upstream = upstream;
    c.upstreamClosed = false;
    upstream.setNoDelay(true);
    if (opts.capture) {
      const meta = { proxy: c.id, side: 'target', target: targetUrl, ...opts.meta };
      c.store.add(attachCapture(upstream, { connectionId: `${c.id}/target`, role: 'client', sink: opts.capture, meta, maxPayload: opts.maxPayload }));
    }
    const timers = new DisposableStore();
    c.store.add(timers);
    timers.timeout(() => {
      const err = Object.assign(new Error(`Timed out connecting to ${where} (${opts.connectTimeoutMs} ms)`), { code: 'ETIMEDOUT' });
      this.upstreamFailed(c, err);
    }, opts.connectTimeoutMs);
    c.store.on(upstream, 'error', (err: Error) => this.upstreamFailed(c, err));
    c.store.on(upstream, secure ? 'secureConnect' : 'connect', () => {
      timers.dispose();
      if (c.phase !== 'dialing') return;
      c.phase = 'handshake';
      c.responseParser = new HttpHeadParser();
      c.store.timeout(() => {
        if (c.phase !== 'handshake') return;
        const err = Object.assign(new Error(`No upgrade response from ${where} within ${opts.handshakeTimeoutMs} ms`), {
          code: 'EHANDSHAKETIMEOUT',
        });
        this.upstreamFailed(c, err);
      }, opts.handshakeTimeoutMs);
      upstream.write(requestHead(req, url.host, pathAndQuery));
    });
    c.store.on(upstream, 'data', (chunk: Buffer) => this.onUpstreamData(c, chunk));
    c.store.on(upstream, 'end', () => this.onUpstreamEnd(c));
    upstream.once('close', () => {
      c.upstreamClosed = true;
      this.onUpstreamClosed(c);
    });
  }

  private onProgramData(c: Conn, chunk: Buffer): void {
    if (c.phase === 'open') c.c2s!.push(chunk);
    else if (c.phase === 'dialing' || c.phase === 'handshake') {
      c.early.push(chunk);
      c.earlyBytes += chunk.length;
      if (c.earlyBytes > MAX_EARLY_BYTES) c.program.pause();
    }
    // After a refusal or a failure the program's bytes go nowhere.
  }

  private onUpstreamData(c: Conn, chunk: Buffer): void {
    switch (c.phase) {
      case 'open':
        c.s2c!.push(chunk);
        return;
      case 'handshake':
        return this.onResponseBytes(c, chunk);
      case 'refused':
        return this.passBody(c, chunk);
      default:
        return;
    }
  }

  private onResponseBytes(c: Conn, chunk: Buffer): void {
    c.responseChunks.push(chunk);
    let r: ReturnType<HttpHeadParser['push']>;
    try {
      r = c.responseParser!.push(chunk);
    } catch (e) {
      const err = Object.assign(new Error(`Invalid response from ${c.where}: ${(e as Error).message}`), { code: 'EBADRESPONSE' });
      return this.upstreamFailed(c, err);
    }
    if (r === undefined) return;
    const all = c.responseChunks.length === 1 ? c.responseChunks[0] : Buffer.concat(c.responseChunks);
    c.responseChunks = [];
    const headBytes = all.subarray(0, all.length - r.rest.length);
    const status = parseStatusLine(r.head.startLine)?.status ?? 0;
    const info = c.info!;
    info.status = status;
    if (status === 101) this.open(c, r.head, headBytes, r.rest);
    else this.refused(c, r.head, status, headBytes, r.rest);
  }

  private open(c: Conn, head: HttpHead, headBytes: Buffer, rest: Buffer): void {
    const opts = this.opts!;
    const program = c.program;
    const upstream = c.upstream!;
    c.phase = 'open';
    let deflate: DeflateParams | undefined;
    try {
      deflate = negotiatedDeflate(getHeader(head, 'sec-websocket-extensions'));
    } catch {
      // An invalid header: the program will refuse it, and its capture records why.
      deflate = undefined;
    }
    program.write(headBytes);
    const pipe = (direction: Direction, source: net.Socket, dest: net.Socket, legId: string) =>
      new FramePipe({
        direction,
        connectionId: c.id,
        source,
        dest,
        maxPayload: opts.maxPayload,
        deflate,
        breakpoints: opts.breakpoints,
        onDecodeError: (err) => this.recordPassThrough(legId, direction, err),
        onFinished: () => this.endSocket(dest),
      });
    c.c2s = c.store.add(pipe('c2s', program, upstream, `${c.id}/program`));
    c.s2c = c.store.add(pipe('s2c', upstream, program, `${c.id}/target`));
    c.info!.state = 'open';
    this._onDidOpen.fire({ ...c.info! });
    if (rest.length > 0) c.s2c.push(rest);
    const early = c.early;
    c.early = [];
    for (const b of early) c.c2s.push(b);
    program.resume();
    // The target went away right after its 101 (its 'end' came before this).
    if (upstream.readableEnded || c.upstreamClosed) this.upstreamGone(c);
  }

  private refused(c: Conn, head: HttpHead, status: number, headBytes: Buffer, rest: Buffer): void {
    c.phase = 'refused';
    c.early = [];
    const cl = getHeader(head, 'content-length');
    const te = getHeader(head, 'transfer-encoding');
    c.chunkedBody = te !== undefined && /chunked/i.test(te);
    c.bodyLeft = !c.chunkedBody && cl !== undefined && /^\d+$/.test(cl.trim()) ? Number(cl) : undefined;
    if ((status >= 100 && status < 200) || status === 204 || status === 304) c.bodyLeft = 0;
    const reason = parseStatusLine(head.startLine)?.reason ?? '';
    const info = c.info!;
    info.state = 'failed';
    info.errorCode = 'ERR_UPGRADE_REJECTED';
    info.error = `The target refused the upgrade: ${status} ${reason}`.trimEnd();
    c.program.write(headBytes);
    c.program.resume();
    this._onDidFail.fire({ ...info });
    this.passBody(c, rest);
  }

  /** The body of a refused upgrade goes to the program as it comes; when it is complete both sides are ended. */
  private passBody(c: Conn, chunk: Buffer): void {
    if (c.bodyLeft !== undefined && chunk.length > c.bodyLeft) chunk = chunk.subarray(0, c.bodyLeft);
    if (chunk.length > 0 && c.program.writable) c.program.write(chunk);
    let complete = false;
    if (c.bodyLeft !== undefined) {
      c.bodyLeft -= chunk.length;
      complete = c.bodyLeft <= 0;
    } else if (c.chunkedBody) {
      c.bodyTail = (c.bodyTail + chunk.toString('latin1')).slice(-7);
      complete = /(^|\r\n)0\r\n\r\n$/.test(c.bodyTail);
    }
    if (complete) {
      this.endSocket(c.program);
      if (c.upstream) this.endSocket(c.upstream);
    }
  }

  /** Dialling or the handshake failed: 502 (504 for timeouts) to the program, and the reason on the target leg. */
  private upstreamFailed(c: Conn, err: unknown): void {
    if (c.phase !== 'dialing' && c.phase !== 'handshake') return;
    const e = describeUpstreamError(err, c.where, c.host, this.opts!.handshakeTimeoutMs);
    c.phase = 'failed';
    c.early = [];
    const info = c.info!;
    info.state = 'failed';
    info.error = e.message;
    info.errorCode = e.code;
    const sink = this.opts!.capture;
    if (sink && c.upstream) {
      try {
        sink.append({
          kind: 'error',
          connectionId: `${c.id}/target`,
          time: performance.timeOrigin + performance.now(),
          code: e.code,
          closeCode: 1014,
          message: e.message,
        });
      } catch {
        // A failing sink must not stop the answer.
      }
    }
    c.upstream?.destroy();
    const timeout = e.code === 'ETIMEDOUT' || e.code === 'EHANDSHAKETIMEOUT';
    this.writeAnswer(c, timeout ? 504 : 502, e.message);
    this._onDidFail.fire({ ...info });
  }

  /** A refusal made by the proxy itself (bad request, limits): the connection fails without dialling. */
  private fail(c: Conn, status: number, code: string, message: string): void {
    const info = c.info!;
    c.phase = 'failed';
    info.state = 'failed';
    info.error = message;
    info.errorCode = code;
    this.writeAnswer(c, status, message);
    this._onDidFail.fire({ ...info });
  }

  /** Answers a request that never becomes a proxied connection. */
  private answer(c: Conn, status: number, message: string): void {
    c.phase = 'failed';
    this.writeAnswer(c, status, message);
  }

  private writeAnswer(c: Conn, status: number, message: string): void {
    const body = Buffer.from(message + '\n', 'utf8');
    const head =
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${body.length}\r\n` +
      'Connection: close\r\n\r\n';
    if (c.program.writable) c.program.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
    // Read (and ignore) what the program still sends, so that its FIN is seen.
    c.program.resume();
    this.endSocket(c.program);
  }

  private onProgramEnd(c: Conn): void {
    if (c.phase === 'open') this.programGone(c);
    else if (c.phase === 'dialing' || c.phase === 'handshake') {
      this.programLeft(c);
      this.endSocket(c.program);
    } else if (c.phase !== 'request') this.endSocket(c.program);
  }

  /** The program ended or closed before the target answered: the attempt fails and the target is dropped. */
  private programLeft(c: Conn): void {
    const info = c.info!;
    c.phase = 'failed';
    c.early = [];
    info.state = 'failed';
    info.errorCode = 'ERR_PROGRAM_CLOSED';
    info.error = 'The program closed the connection before the target answered';
    c.upstream?.destroy();
    this._onDidFail.fire({ ...info });
  }

  private onUpstreamEnd(c: Conn): void {
    if (c.phase === 'open') this.upstreamGone(c);
    else if (c.phase === 'refused') {
      this.endSocket(c.program);
      this.endSocket(c.upstream!);
    }
  }

  private onProgramClosed(c: Conn): void {
    switch (c.phase) {
      case 'open':
      case 'stopping':
        this.programGone(c);
        break;
      case 'dialing':
      case 'handshake':
        this.programLeft(c);
        break;
      default:
        if (c.upstream && !c.upstreamClosed) this.endSocket(c.upstream);
    }
    this.maybeDone(c);
  }

  private onUpstreamClosed(c: Conn): void {
    switch (c.phase) {
      case 'open':
      case 'stopping':
        this.upstreamGone(c);
        break;
      case 'dialing':
      case 'handshake': {
        const err = Object.assign(new Error(`${c.where} closed the connection without answering the upgrade`), { code: 'ECONNRESET' });
        this.upstreamFailed(c, err);
        break;
      }
      case 'refused':
        this.endSocket(c.program);
        break;
    }
    this.maybeDone(c);
  }

  /**
   * The program ended (FIN) or closed. What it sent still goes on to the target, then the target is ended. Frames held
   * on their way to it resolve `connectionClosed`: a WebSocket endpoint that has ended reads no more frames.
   */
  private programGone(c: Conn): void {
    c.c2s?.end();
    c.s2c?.abandon();
  }

  /** The same for the target. */
  private upstreamGone(c: Conn): void {
    c.s2c?.end();
    c.c2s?.abandon();
  }

  /** Ends `socket` (it flushes first) and destroys it if it is still open after closeTimeoutMs. */
  private endSocket(socket: net.Socket): void {
    if (socket.destroyed || this.ending.has(socket)) return;
    this.ending.add(socket);
    if (!socket.writableEnded) socket.end();
    const t = setTimeout(() => socket.destroy(), this.opts!.closeTimeoutMs);
    t.unref();
    socket.once('close', () => clearTimeout(t));
  }

  private shutdown(c: Conn): void {
    if (c.done) return;
    if (c.phase === 'open') {
      c.phase = 'stopping';
      // The close frames go first; abandoning then drops what was queued and ends both sockets.
      c.s2c!.sendClose(1001, 'Proxy stopping');
      c.c2s!.sendClose(1001, 'Proxy stopping');
      c.c2s!.abandon();
      c.s2c!.abandon();
    } else if (c.phase !== 'stopping') {
      if (c.info && (c.phase === 'dialing' || c.phase === 'handshake')) {
        c.upstream?.destroy();
        this.fail(c, 503, 'ERR_STOPPING', 'The proxy is stopping');
      }
      c.program.destroy();
      c.upstream?.destroy();
    }
  }

  private maybeDone(c: Conn): void {
    if (c.done || !c.programClosed || !c.upstreamClosed) return;
    c.done = true;
    this.conns.delete(c.program);
    c.store.dispose();
    const info = c.info;
    if (info) {
      if (info.state === 'open' || info.state === 'connecting') info.state = info.state === 'open' ? 'closed' : 'failed';
      this._onDidClose.fire(this.snapshot(c, info));
    }
    for (const w of c.closedWaiters.splice(0)) w();
  }

  /** A copy of a connection's info with its traffic so far. */
  private snapshot(c: Conn, info: ProxyConnectionInfo): ProxyConnectionInfo {
    const out = { ...info };
    if (c.c2s !== undefined && c.s2c !== undefined) out.traffic = { c2s: c.c2s.counts, s2c: c.s2c.counts };
    return out;
  }

  private recordPassThrough(connectionId: string, direction: Direction, err: WireError): void {
    const sink = this.opts?.capture;
    if (!sink) return;
    sink.append({
      kind: 'error',
      connectionId,
      time: performance.timeOrigin + performance.now(),
      direction,
      code: 'WS_ERR_PROXY_PASSTHROUGH',
      closeCode: err.closeCode,
      message: `The proxy cannot delimit frames from here on (${err.code}: ${err.message}); the rest of this direction is forwarded raw, without breakpoints`,
    });
  }
}

/** The upgrade request for the target: the program's head with the request target rewritten and Host replaced. */
export function requestHead(req: http.IncomingMessage, hostHeader: string, pathAndQuery: string): Buffer {
  let s = `${req.method ?? 'GET'} ${pathAndQuery} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  let host = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    if (name.toLowerCase() === 'host') {
      if (host) continue;
      host = true;
      s += `${name}: ${hostHeader}\r\n`;
    } else {
      s += `${name}: ${raw[i + 1]}\r\n`;
    }
  }
  if (!host) s = s.replace('\r\n', `\r\nHost: ${hostHeader}\r\n`);
  // Node hands header bytes over as latin1, so this writes them back unchanged.
  return Buffer.from(s + '\r\n', 'latin1');
}

function resolveOptions(o: InspectingProxyOptions): ResolvedOptions {
  if (typeof o !== 'object' || o === null) throw new TypeError('options must be an object');
  let target: URL;
  try {
    target = new URL(o.target);
  } catch {
    throw new ProxyError('ERR_INVALID_TARGET', `The target ${JSON.stringify(o.target)} is not a URL (expected ws://host[:port]/path or wss://…)`);
  }
  if (target.protocol !== 'ws:' && target.protocol !== 'wss:') {
    throw new ProxyError('ERR_INVALID_TARGET', `The target must be a ws:// or wss:// URL, not ${target.protocol}//`);
  }
  if (target.username || target.password) {
    throw new ProxyError('ERR_INVALID_TARGET', 'The target URL must not carry credentials; the program’s own headers are forwarded');
  }
  const port = o.port ?? DEFAULTS.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError('port must be an integer 0..65535');
  const host = o.host ?? DEFAULTS.host;
  if (typeof host !== 'string' || host === '') throw new TypeError('host must be a non-empty string');
  if (!isLoopback(host) && o.allowRemote !== true) {
    throw new ProxyError(
      'ERR_REMOTE_NOT_ALLOWED',
      `Listening on ${host} lets anyone on your network use the proxy to reach ${target.host}; set allowRemote: true to do it anyway`,
    );
  }
  const positive = (name: string, v: number | undefined, d: number): number => {
    if (v === undefined) return d;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TypeError(`${name} must be a positive number`);
    return v;
  };
  const meta = o.meta ?? {};
  if (typeof meta !== 'object' || Object.values(meta).some((v) => typeof v !== 'string')) throw new TypeError('meta must map names to strings');
  return {
    target,
    port,
    host,
    ca: o.tls?.ca,
    allowSelfSigned: o.tls?.allowSelfSigned === true,
    capture: o.capture,
    meta,
    breakpoints: o.breakpoints,
    maxPayload: positive('maxPayload', o.maxPayload, DEFAULTS.maxPayload),
    handshakeTimeoutMs: positive('handshakeTimeoutMs', o.handshakeTimeoutMs, DEFAULTS.handshakeTimeoutMs),
    connectTimeoutMs: positive('connectTimeoutMs', o.connectTimeoutMs, DEFAULTS.connectTimeoutMs),
    closeTimeoutMs: positive('closeTimeoutMs', o.closeTimeoutMs, DEFAULTS.closeTimeoutMs),
    maxConnections: positive('maxConnections', o.maxConnections, DEFAULTS.maxConnections),
  };
}

const TLS_HINT = 'pass its CA certificate in tls.ca, or set tls.allowSelfSigned for a local test server';

/** A readable error with a stable code for a failure to reach the target. */
function describeUpstreamError(err: unknown, where: string, host: string, handshakeTimeoutMs: number): { code: string; message: string } {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : 'ECONNECT';
  switch (code) {
    case 'ETIMEDOUT':
    case 'EHANDSHAKETIMEOUT':
    case 'EBADRESPONSE':
    case 'ECONNRESET':
      return { code, message: e.message };
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return { code, message: `TLS: ${where} presented a self-signed certificate that is not trusted; ${TLS_HINT}` };
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
      return { code, message: `TLS: cannot verify the certificate chain of ${where} (unknown issuer); ${TLS_HINT}` };
  }
  const ce = toConnectionError(err, { where, host, handshakeTimeoutMs });
  return { code: ce.code, message: ce.message };
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(host);
}

function remoteOf(socket: net.Socket): string {
  const a = socket.remoteAddress ?? '?';
  return `${a.includes(':') ? `[${a}]` : a}:${socket.remotePort ?? 0}`;
}

