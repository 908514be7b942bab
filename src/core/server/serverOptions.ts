// The broadcast server's options: each with its documented default, and their validation.

import * as http from 'node:http';
import * as https from 'node:https';
import type { PerMessageDeflateOptions } from 'ws';
import type { CaptureAttacher } from '../capture/attachCapture';
import type { CaptureSink } from '../capture/events';
import { BreakpointController } from '../proxy/breakpoints';
import { stripUndefined } from '../util/objects';
import type { AuthOptions } from './auth';
import { DEFAULT_RATE_LIMIT, validateRateLimit, type RateLimitOptions } from './limits';
import { RELAY_MODES, type RelayMode } from './relay';
import { ServerError } from './serverEvents';
import { isOrigin } from './upgradeGate';

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
  /**
   * How the capture attaches to each TCP connection while `capture` is set. Default: `attachCapture` (a socket tap
   * into a ConnectionCapture). For tests and embedders that want the server's sockets, or a capture of their own.
   */
  attachCapture?: CaptureAttacher;
  /**
   * Frame breakpoints: a client's message that matches a rule applying to `'server'` is held before it is relayed,
   * and `sendToAllChecked` can be held too (see serverBreakpoints.ts). Changeable later with `setBreakpoints()`.
   * Default `undefined`: nothing is held, at no cost per message.
   */
  breakpoints?: BreakpointController;
}

type OptionalKeys = 'path' | 'capture' | 'tls' | 'auth' | 'allowedOrigins' | 'attachCapture' | 'breakpoints';
export type ResolvedOptions = Required<Omit<BroadcastServerOptions, OptionalKeys>> & Pick<BroadcastServerOptions, OptionalKeys>;

export const DEFAULTS = {
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

/** The caller's options over the defaults; throws a TypeError for an invalid one. */
export function resolveOptions(options: BroadcastServerOptions): ResolvedOptions {
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
  if (o.attachCapture !== undefined && typeof o.attachCapture !== 'function') throw new TypeError('attachCapture must be a function');
  if (o.breakpoints !== undefined && !(o.breakpoints instanceof BreakpointController)) throw new TypeError('breakpoints must be a BreakpointController');
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
export function tlsTimeoutMs(opts: ResolvedOptions): number {
  return opts.handshakeTimeoutMs || 120_000;
}

/** The http server, or the https one with the certificate and key; a TLS pair that cannot be used is ERR_TLS_CONFIG. */
export function createServer(opts: ResolvedOptions): http.Server | https.Server {
  try {
    return opts.tls
      ? https.createServer({ cert: opts.tls.cert, key: opts.tls.key, handshakeTimeout: tlsTimeoutMs(opts) })
      : http.createServer();
  } catch (err) {
    throw new ServerError('ERR_TLS_CONFIG', `The TLS certificate or key cannot be used: ${(err as Error).message}`, { cause: err });
  }
}
