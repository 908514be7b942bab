// A local WebSocket proxy in front of a real backend: the user's program connects here, every connection is forwarded
// to the target byte for byte, and both legs (program↔proxy, proxy↔target) are captured.
import * as http from 'node:http';
import type * as net from 'node:net';
import { DisposableStore, Emitter, type Event } from '../util/events';
import { listen } from '../util/listen';
import { ProxiedConnection, type ConnectionOwner, type ProxyConnectionInfo } from './proxiedConnection';
import { ProxyError, checkCompression, resolveOptions, type InspectingProxyOptions, type ResolvedOptions } from './proxyOptions';
import type { ProxyCompression } from './compressionMode';

export interface ProxyAddress {
  /** `ws://host:port` (IPv6 hosts in brackets), where the program should connect. */
  url: string;
  host: string;
  port: number;
}

let proxySerial = 0;

/**
 * Listens locally and forwards each WebSocket connection to the target.
 *
 * - The upgrade request goes to the target with its headers in their order and case; only `Host` is rewritten and the
 *   request target combined with the target URL (`targetUrlFor`). Origin, the key and subprotocols go end to end.
 *   permessage-deflate depends on the connection's compression mode (option `compression`): in `passthrough` the two
 *   endpoints negotiate it; in `terminate` the proxy answers the program's offer itself and makes its own to the
 *   target, so that it can edit or drop any message; in `strip` it removes it from the offer (see
 *   ProxyConnectionInfo.compression). Both legs' captures inflate what they carry.
 * - The target's response goes back raw. A refusal (any status but 101) reaches the program with its body, and fires
 *   onDidFail. A target that can't be reached (DNS, refused, TLS) gives the program 502, a timeout 504, each with a
 *   one-line text body, and fires onDidFail.
 * - After a 101 each frame's exact wire bytes are forwarded in order (same fragmentation, masks, opcodes, close codes),
 *   unless a breakpoint holds, edits or drops a message, or the proxy terminates compression (a compressed message is
 *   then deflated again for the other leg, in as many frames, masked with fresh keys). Control frames pass a held or
 *   incomplete message, so keepalives go on while a message is held. A side that ends or closes is ended on the other side once
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
  private readonly conns = new Map<net.Socket, ProxiedConnection>();
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

  /** How each connection reaches back: the proxy's events and its list of connections. */
  private readonly owner: ConnectionOwner = {
    isStopping: () => this.stopping !== undefined,
    activeConnections: () => {
      let active = 0;
      for (const c of this.conns.values()) if (c.active) active++;
      return active;
    },
    opened: (info) => this._onDidOpen.fire(info),
    failed: (info) => this._onDidFail.fire(info),
    forget: (c) => this.conns.delete(c.program),
    closed: (info) => this._onDidClose.fire(info),
  };

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
   * Changes the compression mode (undefined: the default) for the connections that upgrade from now on; the open ones
   * keep the mode they negotiated with. Throws a TypeError for an unknown mode, and when the proxy is not running.
   */
  setCompression(mode: ProxyCompression | undefined): void {
    checkCompression(mode);
    if (this.opts === undefined) throw new TypeError('the proxy is not running');
    // Each connection reads the options it was given when its program's upgrade request arrives (compressionFor).
    this.opts.compression = mode;
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
        waits.push(c.closed());
        c.shutdown();
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
    for (const c of this.conns.values()) {
      const info = c.snapshot();
      if (info) out.push(info);
    }
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
    const id = `${this.name}-${++this.serial}`;
    this.conns.set(program, new ProxiedConnection(id, program, this.opts!, this.owner));
  }

  private onUpgrade(req: http.IncomingMessage, program: net.Socket, head: Buffer): void {
    const c = this.conns.get(program);
    if (c === undefined || !c.awaitingUpgrade) return void program.destroy();
    c.upgrade(req, head);
  }
}
