// The broadcast server's TCP connections, from accept to close. Each gets its id when accepted, before any byte is
// parsed (the capture's connectionId, and the client's id once it upgrades), its capture, and a timer that destroys
// it if no upgrade completes in time. So a failed upgrade is captured and reported too.

import type * as net from 'node:net';
import { attachCapture, type CaptureAttacher, type CaptureHandle } from '../capture/attachCapture';
import type { CaptureSink } from '../capture/events';
import { nextClientId } from './clientRegistry';
import type { LimitBreachEvent } from './serverEvents';
import { readBeforeDestroy } from './readBeforeDestroy';

/** Per-TCP-connection state, from accept to close. */
export interface SocketState {
  id: string;
  capture?: CaptureHandle;
  /** The capture's labels; completed from the upgrade request before the response is written. */
  meta?: Record<string, string>;
  /** Destroys the socket if no upgrade completes in time. */
  timer?: NodeJS.Timeout;
}

/** What the sockets need of the server's options. */
export interface SocketOptions {
  capture?: CaptureSink;
  attachCapture?: CaptureAttacher;
  maxPayload: number;
  handshakeTimeoutMs: number;
}

export class ServerSockets {
  private readonly sockets = new Map<net.Socket, SocketState>();
  /** TLS only: the TCP sockets under the TLS ones, with the connection id given at accept. */
  private readonly rawSockets = new Map<net.Socket, string>();

  /** `onTimeout` reports a connection destroyed for not completing its upgrade in time. */
  constructor(private readonly onTimeout: (e: LimitBreachEvent) => void) {}

  /** TLS: a TCP connection gets its id at accept, and is only tracked so that `destroyAll` can end it. */
  acceptRaw(socket: net.Socket): void {
    this.rawSockets.set(socket, nextClientId());
    socket.once('close', () => this.rawSockets.delete(socket));
  }

  /** TLS: the id the TCP connection under `tlsSocket` got at accept. */
  rawId(tlsSocket: net.Socket): string | undefined {
    return this.rawSockets.get((tlsSocket as unknown as { _parent: net.Socket })._parent);
  }

  /** A connection the server reads HTTP from (for TLS, the decrypted socket): its id, capture and handshake timer. */
  accept(socket: net.Socket, opts: SocketOptions, id = nextClientId()): void {
    const st: SocketState = { id };
    this.sockets.set(socket, st);
    const sink = opts.capture;
    if (sink) {
      st.meta = { remote: `${socket.remoteAddress}:${socket.remotePort}` };
      st.capture = (opts.attachCapture ?? attachCapture)(socket, {
        connectionId: st.id,
        role: 'server',
        sink,
        meta: st.meta,
        maxPayload: opts.maxPayload,
      });
    }
    const timeoutMs = opts.handshakeTimeoutMs;
    if (timeoutMs > 0) {
      st.timer = setTimeout(() => {
        st.timer = undefined;
        this.onTimeout({
          clientId: st.id,
          limit: 'handshakeTimeout',
          action: 'terminate',
          detail: `no complete upgrade request within ${timeoutMs} ms`,
        });
        socket.destroy();
      }, timeoutMs);
    }
    // A reset peer must not crash the host; the close listener does the bookkeeping.
    socket.on('error', () => {});
    readBeforeDestroy(socket);
    socket.once('close', () => {
      clearTimeout(st.timer);
      this.sockets.delete(socket);
      st.capture?.dispose();
    });
  }

  /** Connections accepted and not yet closed (for TLS, those past the TLS handshake). */
  get size(): number {
    return this.sockets.size;
  }

  get(socket: net.Socket): SocketState | undefined {
    return this.sockets.get(socket);
  }

  /** The connection upgraded: its handshake timer stops. */
  upgraded(socket: net.Socket): SocketState | undefined {
    const st = this.sockets.get(socket);
    if (st) {
      clearTimeout(st.timer);
      st.timer = undefined;
    }
    return st;
  }

  /** Ends every connection, upgraded or not: those that never upgraded (keep-alive, half-sent requests) hold the port. */
  destroyAll(): void {
    for (const socket of this.sockets.keys()) socket.destroy();
    for (const socket of this.rawSockets.keys()) socket.destroy();
  }
}
