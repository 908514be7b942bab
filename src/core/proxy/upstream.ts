// The proxy's side towards the target: the URL and head it sends, the socket it dials (TCP or TLS), the answer it reads.
import type * as http from 'node:http';
import * as net from 'node:net';
import * as tls from 'node:tls';
import type { HttpHead } from '../capture/events';
import { toConnectionError } from '../client/connectionError';
import { DisposableStore } from '../util/events';
import { HttpHeadParser, getHeader } from '../wire/handshake';
import { ProxyError } from './proxyOptions';

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
export function splitTarget(target: URL, requestTarget: string): { pathAndQuery: string } {
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
 * The upgrade request for the target: the program's head with the request target rewritten and Host replaced, and
 * Sec-WebSocket-Extensions set to `extensions` when given ('' removes it; see CompressionHandshake).
 */
export function requestHead(req: http.IncomingMessage, hostHeader: string, pathAndQuery: string, extensions?: string): Buffer {
  let s = `${req.method ?? 'GET'} ${pathAndQuery} HTTP/${req.httpVersion}\r\n`;
  const raw = req.rawHeaders;
  let host = false;
  let ext = extensions === undefined;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i];
    const lower = name.toLowerCase();
    if (lower === 'host') {
      if (host) continue;
      host = true;
      s += `${name}: ${hostHeader}\r\n`;
    } else if (lower === 'sec-websocket-extensions' && extensions !== undefined) {
      if (!ext && extensions !== '') s += `${name}: ${extensions}\r\n`;
      ext = true;
    } else {
      s += `${name}: ${raw[i + 1]}\r\n`;
    }
  }
  if (!host) s = s.replace('\r\n', `\r\nHost: ${hostHeader}\r\n`);
  // Node hands header bytes over as latin1, so this writes them back unchanged.
  return Buffer.from(s + '\r\n', 'latin1');
}

/** Where the target is reached. */
export interface UpstreamAddress {
  /** wss: the socket is TLS, and is ready on 'secureConnect' rather than 'connect'. */
  secure: boolean;
  /** The host name or address to dial (an IPv6 address without its brackets). */
  host: string;
  port: number;
  /** `host:port`, for messages. */
  where: string;
}

export function upstreamAddress(target: URL): UpstreamAddress {
  const secure = target.protocol === 'wss:';
  const host = target.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(target.port) || (secure ? 443 : 80);
  return { secure, host, port, where: `${target.hostname}:${port}` };
}

/**
 * Dials the target, half-open so that each side's end is passed on on its own. Throws for options Node refuses at
 * once; failures to connect come as the socket's 'error'.
 */
export function connectUpstream(a: UpstreamAddress, o: { ca?: string | Buffer; allowSelfSigned: boolean }): net.Socket {
  const { host, port } = a;
  return a.secure
    ? tls.connect({
        host,
        port,
        servername: net.isIP(host) ? undefined : host,
        ca: o.ca,
        rejectUnauthorized: !o.allowSelfSigned,
        ALPNProtocols: ['http/1.1'],
        // Honoured by tls.connect (it builds the socket with it), though the typings leave it out.
        allowHalfOpen: true,
      } as tls.ConnectionOptions)
    : net.connect({ host, port, allowHalfOpen: true });
}

/** What the dialled socket reports to its connection. */
export interface UpstreamEvents {
  /** TCP (and TLS) are up: the upgrade request can go. */
  connected(): void;
  /** Connecting failed or timed out (`ETIMEDOUT`), or the socket failed later. */
  failed(err: unknown): void;
  data(chunk: Buffer): void;
  end(): void;
  closed(): void;
}

/** Listens to a dialled socket for as long as `store` lives; connecting must finish within connectTimeoutMs. */
export function watchUpstream(upstream: net.Socket, a: UpstreamAddress, connectTimeoutMs: number, store: DisposableStore, on: UpstreamEvents): void {
  const timers = new DisposableStore();
  store.add(timers);
  timers.timeout(() => {
    const err = Object.assign(new Error(`Timed out connecting to ${a.where} (${connectTimeoutMs} ms)`), { code: 'ETIMEDOUT' });
    on.failed(err);
  }, connectTimeoutMs);
  store.on(upstream, 'error', (err: Error) => on.failed(err));
  store.on(upstream, a.secure ? 'secureConnect' : 'connect', () => {
    timers.dispose();
    on.connected();
  });
  store.on(upstream, 'data', (chunk: Buffer) => on.data(chunk));
  store.on(upstream, 'end', () => on.end());
  upstream.once('close', () => on.closed());
}

/** Reads the target's answer to the upgrade request until its head is complete, keeping the head's exact bytes. */
export class ResponseHeadReader {
  private readonly parser = new HttpHeadParser();
  private chunks: Buffer[] = [];

  /** The head once complete, with its bytes and what followed it. Throws for bytes that are no HTTP response head. */
  push(chunk: Buffer): { head: HttpHead; headBytes: Buffer; rest: Buffer } | undefined {
    this.chunks.push(chunk);
    const r = this.parser.push(chunk);
    if (r === undefined) return undefined;
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = [];
    return { head: r.head, headBytes: all.subarray(0, all.length - r.rest.length), rest: r.rest };
  }
}

/** The body of a refused upgrade, which goes to the program: its end is known from Content-Length or chunking. */
export class RefusedBody {
  /** Bytes still to pass (undefined = until the target closes). */
  private left: number | undefined;
  private readonly chunked: boolean;
  private tail = '';

  constructor(head: HttpHead, status: number) {
    const cl = getHeader(head, 'content-length');
    const te = getHeader(head, 'transfer-encoding');
    this.chunked = te !== undefined && /chunked/i.test(te);
    this.left = !this.chunked && cl !== undefined && /^\d+$/.test(cl.trim()) ? Number(cl) : undefined;
    if ((status >= 100 && status < 200) || status === 204 || status === 304) this.left = 0;
  }

  /** The part of `chunk` that belongs to the body, and whether the body is complete with it. */
  take(chunk: Buffer): { bytes: Buffer; complete: boolean } {
    if (this.left !== undefined && chunk.length > this.left) chunk = chunk.subarray(0, this.left);
    let complete = false;
    if (this.left !== undefined) {
      this.left -= chunk.length;
      complete = this.left <= 0;
    } else if (this.chunked) {
      this.tail = (this.tail + chunk.toString('latin1')).slice(-7);
      complete = /(^|\r\n)0\r\n\r\n$/.test(this.tail);
    }
    return { bytes: chunk, complete };
  }
}

const TLS_HINT = 'pass its CA certificate in tls.ca, or set tls.allowSelfSigned for a local test server';

/** A readable error with a stable code for a failure to reach the target. */
export function describeUpstreamError(err: unknown, where: string, host: string, handshakeTimeoutMs: number): { code: string; message: string } {
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
