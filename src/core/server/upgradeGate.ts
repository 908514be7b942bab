// The upgrade gate: what an upgrade request must pass before the broadcast server hands it to ws. First the checks
// that need no I/O (path, origin, capacity, the credential's form), then auth. A refusal is an HTTP response before
// the upgrade, which the capture records as a failed handshake.

import * as http from 'node:http';
import type * as net from 'node:net';
import { authenticate, credentialFormProblem, type PreparedAuth } from './auth';
import type { RejectEvent } from './serverEvents';

/** An upgrade refused with an HTTP status: `code` is the RejectEvent's, `reason` goes in the response body. */
export interface Refusal {
  status: number;
  code: string;
  reason: string;
  headers?: Record<string, string>;
}

/** What the gate needs of the server's options. */
export interface GateOptions {
  path?: string;
  maxClients: number;
  allowedOrigins?: string[];
  auth?: PreparedAuth;
}

export class UpgradeGate {
  private held = 0;
  private readonly origins: ReadonlySet<string>;

  constructor(private readonly opts: GateOptions) {
    this.origins = new Set((opts.allowedOrigins ?? []).map(normalizeOrigin));
  }

  /** Upgrades let through and not yet completed (auth running, ws answering): each holds a client slot. */
  get pending(): number {
    return this.held;
  }

  /** True when a request needs a valid token (see `authenticate`). */
  get authenticates(): boolean {
    return this.opts.auth !== undefined;
  }

  /** The checks that need no I/O, in this order: path (404), origin (403), capacity (503), credential form (400). */
  check(req: http.IncomingMessage, connected: number): Refusal | undefined {
    const { path, maxClients } = this.opts;
    if (path !== undefined && pathnameOf(req.url) !== path) {
      return { status: 404, code: 'ERR_NOT_FOUND', reason: `no WebSocket endpoint at ${pathnameOf(req.url)}; try ${path}` };
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !isOriginAllowed(origin, this.origins)) {
      const how = 'add it to wsInspector.server.allowedOrigins to allow it';
      return { status: 403, code: 'ERR_ORIGIN', reason: `origin ${origin} is not allowed; ${how}` };
    }
    if (connected + this.held >= maxClients) {
      return { status: 503, code: 'ERR_MAX_CLIENTS', reason: `too many clients (maxClients is ${maxClients})` };
    }
    const malformed = this.opts.auth && credentialFormProblem(req);
    if (malformed) return { status: 400, code: malformed.code, reason: malformed.reason };
    return undefined;
  }

  /**
   * Holds a client slot until the returned function is called, or the socket closes (ws answers an invalid upgrade
   * itself and destroys the socket). The slot is held while auth runs, so a flood of slow requests cannot overshoot
   * maxClients.
   */
  hold(socket: net.Socket): () => void {
    this.held++;
    let holding = true;
    const release = () => {
      if (!holding) return;
      holding = false;
      this.held--;
      socket.removeListener('close', release);
    };
    socket.once('close', release);
    return release;
  }

  /** Checks the request's token: undefined when auth accepts it, else the 401 to answer with. */
  authenticate(req: http.IncomingMessage): Promise<Refusal | undefined> {
    return authenticate(req, this.opts.auth!).then((r) =>
      r.ok ? undefined : { status: 401, code: r.code, reason: r.reason, headers: { 'WWW-Authenticate': 'Bearer' } },
    );
  }
}

/** Origins compare case-insensitively, without a trailing slash (`https://A.test/` = `https://a.test`). */
export function normalizeOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

// Anchored and exact: `http://localhost.evil.test` and `http://localhost@evil.test` are not local.
const LOCAL_ORIGIN = /^(?:https?:\/\/(?:localhost|127\.0\.0\.1|\[::1\])(?::\d{1,5})?|vscode-webview:\/\/[a-z0-9-]+|vscode-file:\/\/vscode-app)$/;

/**
 * Origins a server accepts without configuration: pages served from this machine (`localhost`, `127.0.0.1`, `[::1]`;
 * any port, http or https) and VS Code's own pages (desktop webviews are `vscode-webview://<id>`, the workbench is
 * `vscode-file://vscode-app`; code-server serves its webviews from its own origin, which is local when it runs here).
 * Any other website is refused, so that a page open in the browser cannot read the broadcasts. `null` (sandboxed
 * frames, `file:`) is not local: any page can make a sandboxed frame.
 */
export function isLocalOrigin(origin: string): boolean {
  return LOCAL_ORIGIN.test(normalizeOrigin(origin));
}

/** An allowlist entry: `scheme://host[:port]` (a trailing slash is ignored) or `null`; a path would never match. */
export function isOrigin(x: unknown): boolean {
  return typeof x === 'string' && (/^[a-z][a-z0-9+.-]*:\/\/[^/?#@\s]+\/?$/i.test(x.trim()) || x.trim() === 'null');
}

/** Whether a browser's `Origin` header may connect: a local origin, or one of `allowed` (normalized). */
export function isOriginAllowed(origin: string, allowed: ReadonlySet<string>): boolean {
  return isLocalOrigin(origin) || allowed.has(normalizeOrigin(origin));
}

function pathnameOf(url: string | undefined): string {
  const s = url ?? '/';
  const q = s.indexOf('?');
  return q === -1 ? s : s.slice(0, q);
}

/** A plain HTTP request (no upgrade): 426, with a body that says what this server is. */
export function onPlainRequest(_req: http.IncomingMessage, res: http.ServerResponse): void {
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
export function rejectUpgrade(socket: net.Socket, status: number, reason: string, headers: Record<string, string> = {}): void {
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

/**
 * An unparseable request (garbage, oversized head): answered like Node does without a listener. Returns what to report,
 * or undefined when there was nobody to answer. `connectionId` is the TCP connection's, undefined for a socket that is
 * not tracked (with `tls`: one that never finished its TLS handshake).
 */
export function answerClientError(
  err: NodeJS.ErrnoException,
  socket: net.Socket,
  connectionId: string | undefined,
  tls: boolean,
): RejectEvent | undefined {
  // https routes TLS handshake failures here too; a socket that never finished TLS has no HTTP to answer with.
  if (err.code === 'ECONNRESET' || !socket.writable || (tls && connectionId === undefined)) {
    socket.destroy();
    return undefined;
  }
  // Node's own answers: 431 for an oversized head, 408 for a request timeout, else 400.
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const code = status === 431 ? 'ERR_HEADERS_TOO_LARGE' : 'ERR_BAD_REQUEST';
  const event = refusalEvent(socket, { status, code, reason: err.message }, connectionId);
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  return event;
}

/** What the server reports of a refused upgrade; `connectionId` is the TCP connection's, when it is tracked. */
export function refusalEvent(socket: net.Socket, r: Refusal, connectionId: string | undefined): RejectEvent {
  return { status: r.status, reason: r.reason, code: r.code, remoteAddress: socket.remoteAddress ?? '', connectionId: connectionId ?? '' };
}
