// What the broadcast server reports: its address and state, its clients' comings and goings, refusals, limits, and
// the hook a backplane plugs into.

import type { ClientInfo } from './clientRegistry';

export interface ServerAddress {
  host: string;
  port: number;
  /** `ws://host:port/path` (`wss://` with TLS), ready to paste into a client. */
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

/**
 * A client's message, when it arrives: before a frame breakpoint can hold it, so `data` is what the client sent. What
 * the server then relayed (an edit, or nothing after a drop) is in the capture and in the BreakpointController's
 * onDidResolve.
 */
export interface ReceiveEvent {
  clientId: string;
  data: Buffer;
  isBinary: boolean;
}

/** An upgrade request refused before the upgrade; the capture records the same response as a failed handshake. */
export interface RejectEvent {
  /** HTTP status sent: 401 auth, 403 origin, 404 path, 503 max clients or stopping, 400/405/431 malformed requests. */
  status: number;
  /** The short reason, as in the response body (`token expired`). */
  reason: string;
  /**
   * `ERR_AUTH_MISSING`, `ERR_AUTH_INVALID`, `ERR_AUTH_EXPIRED`, `ERR_AUTH_MALFORMED`, `ERR_ORIGIN`, `ERR_NOT_FOUND`, `ERR_MAX_CLIENTS`,
   * `ERR_STOPPING`; `ERR_BAD_HANDSHAKE` (ws refused the upgrade: 400/405), `ERR_BAD_REQUEST`, `ERR_HEADERS_TOO_LARGE` (431).
   */
  code: string;
  remoteAddress: string;
  /** The TCP connection's id: the capture's connectionId of the failed handshake. */
  connectionId: string;
}

export type LimitName = 'maxPayload' | 'rate' | 'slowConsumer' | 'idle' | 'handshakeTimeout';

export interface LimitBreachEvent {
  /** The client's id (for `handshakeTimeout`, the TCP connection's id; it never became a client). */
  clientId: string;
  limit: LimitName;
  /** `drop`: messages are skipped (reported at most once a second per client); `close`: closed with a code; `terminate`: socket destroyed. */
  action: 'drop' | 'close' | 'terminate';
  detail: string;
}

/** A server-level failure with a stable code (`EADDRINUSE`, `ERR_UNKNOWN_CLIENT`, `ERR_EXPOSED_WITHOUT_AUTH`…). */
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

/**
 * Takes what this server relays to all clients, to share it with other servers (see `scale/redisBackplane`).
 * `publish` is called synchronously on the relay path, after the local fan-out: it must return at once and
 * never throw.
 */
export interface BackplaneHook {
  /** A client's message relayed in `broadcast`/`broadcastOthers` mode (`fromClientId` set), or a `sendToAll`. */
  publish(data: Buffer, isBinary: boolean, fromClientId?: string): void;
}

/** ws puts the RFC close status of a protocol error under a private symbol; read it by description. */
export function statusCodeOf(err: Error): number | undefined {
  for (const sym of Object.getOwnPropertySymbols(err)) {
    if (sym.description === 'status-code') {
      const v = (err as unknown as Record<symbol, unknown>)[sym];
      if (typeof v === 'number') return v;
    }
  }
  return undefined;
}
