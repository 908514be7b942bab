// One proxied connection and its state, from the program's upgrade request until both of its sockets are closed.
import * as http from 'node:http';
import type * as net from 'node:net';
import type { HttpHead } from '../capture/events';
import { attachCapture } from '../capture/attachCapture';
import { parseStatusLine } from '../wire/handshake';
import { DisposableStore } from '../util/events';
import { CompressionHandshake } from './compressionHandshake';
import type { ConnectionCompression } from './compressionMode';
import type { FramePipe, PipeCounts } from './framePipe';
import { openPipePair } from './pipePair';
import { recordUpstreamError } from './proxyCapture';
import { compressionFor, type ResolvedOptions } from './proxyOptions';
import { RefusedBody, ResponseHeadReader, connectUpstream, describeUpstreamError, requestHead, splitTarget, upstreamAddress, watchUpstream } from './upstream';

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
  /** The compression mode in effect and what each leg negotiated; set once the target answered 101. */
  compression?: ConnectionCompression;
}

/** The phases of one TCP connection from the program. */
type Phase = 'request' | 'dialing' | 'handshake' | 'open' | 'refused' | 'failed' | 'stopping';

/** What a connection needs of the proxy that accepted it. */
export interface ConnectionOwner {
  /** stop() has begun: an upgrade is refused with 503. */
  isStopping(): boolean;
  /** Connections dialling, in their handshake or open: what maxConnections bounds. */
  activeConnections(): number;
  opened(info: ProxyConnectionInfo): void;
  failed(info: ProxyConnectionInfo): void;
  /** Both sockets are closed: the connection leaves the proxy's list, then `closed` fires if it made an upgrade request. */
  forget(c: ProxiedConnection): void;
  closed(info: ProxyConnectionInfo): void;
}

/** Program bytes buffered while the target has not answered; beyond this the program is not read until it has. */
const MAX_EARLY_BYTES = 1024 * 1024;

export class ProxiedConnection {
  /** Set by the upgrade request; a connection without it never asked for one. */
  private info?: ProxyConnectionInfo;
  private phase: Phase = 'request';
  private readonly store = new DisposableStore();
  /** The program leg's capture labels. The capture keeps this object: the dialled URL is filled in from the request. */
  private readonly programMeta: Record<string, string> = {};
  private upstream?: net.Socket;
  /** `host:port` of the target, for messages. */
  private where = '';
  private host = '';
  /** Program bytes that arrived before the target's response: frames sent early, forwarded after a 101. */
  private early: Buffer[] = [];
  private earlyBytes = 0;
  private response?: ResponseHeadReader;
  private compression?: CompressionHandshake;
  private body?: RefusedBody;
  private c2s?: FramePipe;
  private s2c?: FramePipe;
  private programClosed = false;
  private upstreamClosed = true;
  private done = false;
  private readonly closedWaiters: Array<() => void> = [];
  /** Sockets this connection has ended, with a destroy timer running. */
  private readonly ending = new WeakSet<net.Socket>();

  constructor(
    readonly id: string,
    readonly program: net.Socket,
    private readonly opts: ResolvedOptions,
    private readonly owner: ConnectionOwner,
  ) {
    program.setNoDelay(true);
    this.store.on(program, 'error', () => {}); // 'close' follows and does the work
    if (opts.capture) {
      Object.assign(this.programMeta, { proxy: id, side: 'program', target: opts.target.href, remote: remoteOf(program), ...opts.meta });
      this.store.add(attachCapture(program, { connectionId: `${id}/program`, role: 'server', sink: opts.capture, meta: this.programMeta, maxPayload: opts.maxPayload }));
    }
    program.once('close', () => {
      this.programClosed = true;
      this.onProgramClosed();
    });
  }

  /** No upgrade request has come yet: the only state in which one is taken. */
  get awaitingUpgrade(): boolean {
    return this.phase === 'request';
  }

  /** Dialling, in the handshake or open: counted against maxConnections. */
  get active(): boolean {
    return this.info !== undefined && (this.phase === 'dialing' || this.phase === 'handshake' || this.phase === 'open');
  }

  /** Resolves once both sockets are closed. */
  closed(): Promise<void> {
    return new Promise<void>((resolve) => (this.done ? resolve() : this.closedWaiters.push(resolve)));
  }

  /** A copy of the connection's info with its traffic so far; undefined before the upgrade request. */
  snapshot(): ProxyConnectionInfo | undefined {
    if (this.info === undefined) return undefined;
    const out = { ...this.info };
    if (this.c2s !== undefined && this.s2c !== undefined) out.traffic = { c2s: this.c2s.counts, s2c: this.s2c.counts };
    return out;
  }

  /** The proxy is stopping: an open connection gets 1001 both ways, one still in its handshake is dropped. */
  shutdown(): void {
    if (this.done) return;
    if (this.phase === 'open') {
      this.phase = 'stopping';
      // The close frames go first; abandoning then drops what was queued and ends both sockets.
      this.s2c!.sendClose(1001, 'Proxy stopping');
      this.c2s!.sendClose(1001, 'Proxy stopping');
      const closed = { code: 1001, reason: 'Proxy stopping', by: 'proxy' as const };
      this.c2s!.abandon(closed);
      this.s2c!.abandon(closed);
    } else if (this.phase !== 'stopping') {
      if (this.info && (this.phase === 'dialing' || this.phase === 'handshake')) {
        this.upstream?.destroy();
        this.fail(503, 'ERR_STOPPING', 'The proxy is stopping');
      }
      this.program.destroy();
      this.upstream?.destroy();
    }
  }

  /** The program's upgrade request: checked, then the target is dialled with it. */
  upgrade(req: http.IncomingMessage, head: Buffer): void {
    const opts = this.opts;
    const program = this.program;
    const requestTarget = req.url ?? '/';
    let pathAndQuery: string;
    try {
      pathAndQuery = splitTarget(opts.target, requestTarget).pathAndQuery;
    } catch (e) {
      return this.answer(400, (e as Error).message);
    }
    const targetUrl = `${opts.target.protocol}//${opts.target.host}${pathAndQuery}`;
    this.info = {
      id: this.id,
      programSideId: `${this.id}/program`,
      targetSideId: `${this.id}/target`,
      path: requestTarget,
      targetUrl,
      remote: remoteOf(program),
      state: 'connecting',
      openedAt: Date.now(),
    };
    if (opts.capture && !(opts.meta && 'target' in opts.meta)) this.programMeta.target = targetUrl;
    if (this.owner.isStopping()) return this.fail(503, 'ERR_STOPPING', 'The proxy is stopping');
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      return this.fail(400, 'ERR_NOT_WEBSOCKET', `Only WebSocket upgrades are proxied (Upgrade: ${req.headers.upgrade ?? ''})`);
    }
    if (this.owner.activeConnections() >= opts.maxConnections) {
      return this.fail(503, 'ERR_MAX_CONNECTIONS', `Too many proxied connections (maxConnections is ${opts.maxConnections})`);
    }
    const { mode, chosen } = compressionFor(opts);
    this.compression = new CompressionHandshake(mode, chosen, req.headers['sec-websocket-extensions']);

    // Until the target answers, the program's bytes wait: after a 101 they are frames, after a refusal nothing.
    // Reading goes on (up to MAX_EARLY_BYTES) so that a program leaving is noticed: a paused socket sees no FIN.
    if (head.length > 0) this.early.push(head);
    this.earlyBytes = head.length;
    this.store.on(program, 'data', (chunk: Buffer) => this.onProgramData(chunk));
    this.store.on(program, 'end', () => this.onProgramEnd());
    this.dial(req, targetUrl, pathAndQuery);
  }

  private dial(req: http.IncomingMessage, targetUrl: string, pathAndQuery: string): void {
    const opts = this.opts;
    const address = upstreamAddress(opts.target);
    this.where = address.where;
    this.host = address.host;
    this.phase = 'dialing';
    let upstream: net.Socket;
    try {
      upstream = connectUpstream(address, opts);
    } catch (e) {
      return this.upstreamFailed(e);
    }
    this.upstream = upstream;
    this.upstreamClosed = false;
    upstream.setNoDelay(true);
    if (opts.capture) {
      const meta = { proxy: this.id, side: 'target', target: targetUrl, ...opts.meta };
      this.store.add(attachCapture(upstream, { connectionId: `${this.id}/target`, role: 'client', sink: opts.capture, meta, maxPayload: opts.maxPayload }));
    }
    watchUpstream(upstream, address, opts.connectTimeoutMs, this.store, {
      connected: () => this.onUpstreamConnect(req, pathAndQuery),
      failed: (err) => this.upstreamFailed(err),
      data: (chunk) => this.onUpstreamData(chunk),
      end: () => this.onUpstreamEnd(),
      closed: () => {
        this.upstreamClosed = true;
        this.onUpstreamClosed();
      },
    });
  }

  private onUpstreamConnect(req: http.IncomingMessage, pathAndQuery: string): void {
    if (this.phase !== 'dialing') return;
    this.phase = 'handshake';
    this.response = new ResponseHeadReader();
    const { handshakeTimeoutMs, target } = this.opts;
    this.store.timeout(() => {
      if (this.phase !== 'handshake') return;
      const err = Object.assign(new Error(`No upgrade response from ${this.where} within ${handshakeTimeoutMs} ms`), {
        code: 'EHANDSHAKETIMEOUT',
      });
      this.upstreamFailed(err);
    }, handshakeTimeoutMs);
    this.upstream!.write(requestHead(req, target.host, pathAndQuery, this.compression!.requestExtensions));
  }

  private onProgramData(chunk: Buffer): void {
    if (this.phase === 'open') this.c2s!.push(chunk);
    else if (this.phase === 'dialing' || this.phase === 'handshake') {
      this.early.push(chunk);
      this.earlyBytes += chunk.length;
      if (this.earlyBytes > MAX_EARLY_BYTES) this.program.pause();
    }
    // After a refusal or a failure the program's bytes go nowhere.
  }

  private onUpstreamData(chunk: Buffer): void {
    switch (this.phase) {
      case 'open':
        this.s2c!.push(chunk);
        return;
      case 'handshake':
        return this.onResponseBytes(chunk);
      case 'refused':
        return this.passBody(chunk);
      default:
        return;
    }
  }

  private onResponseBytes(chunk: Buffer): void {
    let r: ReturnType<ResponseHeadReader['push']>;
    try {
      r = this.response!.push(chunk);
    } catch (e) {
      const err = Object.assign(new Error(`Invalid response from ${this.where}: ${(e as Error).message}`), { code: 'EBADRESPONSE' });
      return this.upstreamFailed(err);
    }
    if (r === undefined) return;
    const status = parseStatusLine(r.head.startLine)?.status ?? 0;
    const info = this.info!;
    info.status = status;
    if (status === 101) this.open(r.head, r.headBytes, r.rest);
    else this.refused(r.head, status, r.headBytes, r.rest);
  }

  private open(head: HttpHead, headBytes: Buffer, rest: Buffer): void {
    const opts = this.opts;
    const program = this.program;
    const upstream = this.upstream!;
    let answer: ReturnType<CompressionHandshake['answer']>;
    try {
      answer = this.compression!.answer(head, headBytes);
    } catch (e) {
      return this.upstreamFailed(e);
    }
    this.phase = 'open';
    program.write(answer.headBytes);
    const pipes = openPipePair({
      id: this.id,
      program,
      upstream,
      compression: answer.compression,
      maxPayload: opts.maxPayload,
      breakpoints: opts.breakpoints,
      capture: opts.capture,
      finished: (dest) => this.endSocket(dest),
    });
    this.c2s = this.store.add(pipes.c2s);
    this.s2c = this.store.add(pipes.s2c);
    this.info!.state = 'open';
    this.info!.compression = answer.compression;
    this.owner.opened({ ...this.info! });
    if (rest.length > 0) this.s2c.push(rest);
    const early = this.early;
    this.early = [];
    for (const b of early) this.c2s.push(b);
    program.resume();
    // The target went away right after its 101 (its 'end' came before this).
    if (upstream.readableEnded || this.upstreamClosed) this.upstreamGone();
  }

  private refused(head: HttpHead, status: number, headBytes: Buffer, rest: Buffer): void {
    this.phase = 'refused';
    this.early = [];
    this.body = new RefusedBody(head, status);
    const reason = parseStatusLine(head.startLine)?.reason ?? '';
    const info = this.info!;
    info.state = 'failed';
    info.errorCode = 'ERR_UPGRADE_REJECTED';
    info.error = `The target refused the upgrade: ${status} ${reason}`.trimEnd();
    this.program.write(headBytes);
    this.program.resume();
    this.owner.failed({ ...info });
    this.passBody(rest);
  }

  /** The body of a refused upgrade goes to the program as it comes; when it is complete both sides are ended. */
  private passBody(chunk: Buffer): void {
    const { bytes, complete } = this.body!.take(chunk);
    if (bytes.length > 0 && this.program.writable) this.program.write(bytes);
    if (complete) {
      this.endSocket(this.program);
      if (this.upstream) this.endSocket(this.upstream);
    }
  }

  /** Dialling or the handshake failed: 502 (504 for timeouts) to the program, and the reason on the target leg. */
  private upstreamFailed(err: unknown): void {
    if (this.phase !== 'dialing' && this.phase !== 'handshake') return;
    const e = describeUpstreamError(err, this.where, this.host, this.opts.handshakeTimeoutMs);
    this.phase = 'failed';
    this.early = [];
    const info = this.info!;
    info.state = 'failed';
    info.error = e.message;
    info.errorCode = e.code;
    if (this.opts.capture && this.upstream) recordUpstreamError(this.opts.capture, `${this.id}/target`, e);
    this.upstream?.destroy();
    const timeout = e.code === 'ETIMEDOUT' || e.code === 'EHANDSHAKETIMEOUT';
    this.writeAnswer(timeout ? 504 : 502, e.message);
    this.owner.failed({ ...info });
  }

  /** A refusal made by the proxy itself (bad request, limits): the connection fails without dialling. */
  private fail(status: number, code: string, message: string): void {
    const info = this.info!;
    this.phase = 'failed';
    info.state = 'failed';
    info.error = message;
    info.errorCode = code;
    this.writeAnswer(status, message);
    this.owner.failed({ ...info });
  }

  /** Answers a request that never becomes a proxied connection. */
  private answer(status: number, message: string): void {
    this.phase = 'failed';
    this.writeAnswer(status, message);
  }

  private writeAnswer(status: number, message: string): void {
    const body = Buffer.from(message + '\n', 'utf8');
    const head =
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${body.length}\r\n` +
      'Connection: close\r\n\r\n';
    if (this.program.writable) this.program.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
    // Read (and ignore) what the program still sends, so that its FIN is seen.
    this.program.resume();
    this.endSocket(this.program);
  }

  private onProgramEnd(): void {
    if (this.phase === 'open') this.programGone();
    else if (this.phase === 'dialing' || this.phase === 'handshake') {
      this.programLeft();
      this.endSocket(this.program);
    } else if (this.phase !== 'request') this.endSocket(this.program);
  }

  /** The program ended or closed before the target answered: the attempt fails and the target is dropped. */
  private programLeft(): void {
    const info = this.info!;
    this.phase = 'failed';
    this.early = [];
    info.state = 'failed';
    info.errorCode = 'ERR_PROGRAM_CLOSED';
    info.error = 'The program closed the connection before the target answered';
    this.upstream?.destroy();
    this.owner.failed({ ...info });
  }

  private onUpstreamEnd(): void {
    if (this.phase === 'open') this.upstreamGone();
    else if (this.phase === 'refused') {
      this.endSocket(this.program);
      this.endSocket(this.upstream!);
    }
  }

  private onProgramClosed(): void {
    switch (this.phase) {
      case 'open':
      case 'stopping':
        this.programGone();
        break;
      case 'dialing':
      case 'handshake':
        this.programLeft();
        break;
      default:
        if (this.upstream && !this.upstreamClosed) this.endSocket(this.upstream);
    }
    this.maybeDone();
  }

  private onUpstreamClosed(): void {
    switch (this.phase) {
      case 'open':
      case 'stopping':
        this.upstreamGone();
        break;
      case 'dialing':
      case 'handshake': {
        const err = Object.assign(new Error(`${this.where} closed the connection without answering the upgrade`), { code: 'ECONNRESET' });
        this.upstreamFailed(err);
        break;
      }
      case 'refused':
        this.endSocket(this.program);
        break;
    }
    this.maybeDone();
  }

  /**
   * The program ended (FIN) or closed. What it sent still goes on to the target, then the target is ended. Frames held
   * on their way to it resolve `connectionClosed`: a WebSocket endpoint that has ended reads no more frames.
   */
  private programGone(): void {
    this.c2s?.end();
    this.s2c?.abandon({ code: 1006, reason: 'The program closed the connection', by: 'program' });
  }

  /** The same for the target. */
  private upstreamGone(): void {
    this.s2c?.end();
    this.c2s?.abandon({ code: 1006, reason: 'The target closed the connection', by: 'target' });
  }

  /** Ends `socket` (it flushes first) and destroys it if it is still open after closeTimeoutMs. */
  private endSocket(socket: net.Socket): void {
    if (socket.destroyed || this.ending.has(socket)) return;
    this.ending.add(socket);
    if (!socket.writableEnded) socket.end();
    const t = setTimeout(() => socket.destroy(), this.opts.closeTimeoutMs);
    t.unref();
    socket.once('close', () => clearTimeout(t));
  }

  private maybeDone(): void {
    if (this.done || !this.programClosed || !this.upstreamClosed) return;
    this.done = true;
    this.owner.forget(this);
    this.store.dispose();
    const info = this.info;
    if (info) {
      if (info.state === 'open' || info.state === 'connecting') info.state = info.state === 'open' ? 'closed' : 'failed';
      this.owner.closed(this.snapshot()!);
    }
    for (const w of this.closedWaiters.splice(0)) w();
  }

}

function remoteOf(socket: net.Socket): string {
  const a = socket.remoteAddress ?? '?';
  return `${a.includes(':') ? `[${a}]` : a}:${socket.remotePort ?? 0}`;
}
