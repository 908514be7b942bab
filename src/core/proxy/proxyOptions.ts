// The inspecting proxy's options, their defaults and checks, and its error type.
import type { CaptureSink } from '../capture/events';
import { isLoopback } from '../util/address';
import { DEFAULT_MAX_PAYLOAD } from '../wire/constants';
import type { BreakpointController } from './breakpoints';
import { PROXY_COMPRESSION_MODES, type ProxyCompression } from './compressionMode';

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
   * permessage-deflate through the proxy (see ProxyCompression): `terminate`, `passthrough` or `strip`. Default: `terminate`
   * while the breakpoints have an enabled rule for the proxy, else `passthrough`. Each connection is given the mode in
   * force at its upgrade request and keeps it.
   */
  compression?: ProxyCompression;
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

/** Throws a TypeError for a compression mode that is not one (undefined, the default, is one). */
export function checkCompression(mode: unknown): asserts mode is ProxyCompression | undefined {
  if (mode !== undefined && !PROXY_COMPRESSION_MODES.includes(mode as ProxyCompression)) {
    throw new TypeError(`compression must be "terminate", "passthrough" or "strip", not ${JSON.stringify(mode)}`);
  }
}

/** The options with their defaults filled in and checked. */
export interface ResolvedOptions {
  target: URL;
  port: number;
  host: string;
  ca?: string | Buffer;
  allowSelfSigned: boolean;
  capture?: CaptureSink;
  meta: Record<string, string>;
  breakpoints?: BreakpointController;
  /** undefined: the default, decided per connection (see InspectingProxyOptions.compression). */
  compression?: ProxyCompression;
  maxPayload: number;
  handshakeTimeoutMs: number;
  connectTimeoutMs: number;
  closeTimeoutMs: number;
  maxConnections: number;
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

/** Fills in the defaults and checks each option: a ProxyError for a bad target or a remote host, a TypeError for the rest. */
export function resolveOptions(o: InspectingProxyOptions): ResolvedOptions {
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
  checkCompression(o.compression);
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
    compression: o.compression,
    maxPayload: positive('maxPayload', o.maxPayload, DEFAULTS.maxPayload),
    handshakeTimeoutMs: positive('handshakeTimeoutMs', o.handshakeTimeoutMs, DEFAULTS.handshakeTimeoutMs),
    connectTimeoutMs: positive('connectTimeoutMs', o.connectTimeoutMs, DEFAULTS.connectTimeoutMs),
    closeTimeoutMs: positive('closeTimeoutMs', o.closeTimeoutMs, DEFAULTS.closeTimeoutMs),
    maxConnections: positive('maxConnections', o.maxConnections, DEFAULTS.maxConnections),
  };
}

/** The mode a connection starts with now: the option, else terminate while a proxy rule is enabled, else passthrough. */
export function compressionFor(o: Pick<ResolvedOptions, 'compression' | 'breakpoints'>): { mode: ProxyCompression; chosen: 'option' | 'default' } {
  if (o.compression !== undefined) return { mode: o.compression, chosen: 'option' };
  return { mode: o.breakpoints?.hasActiveRules('proxy') ? 'terminate' : 'passthrough', chosen: 'default' };
}
