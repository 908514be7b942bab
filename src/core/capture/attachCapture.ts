// Puts a capture on a raw socket: the tap feeds a ConnectionCapture, which appends events to the sink.

import type * as net from 'node:net';
import { ConnectionCapture } from './connectionCapture';
import type { CaptureSink, HandshakeEvent } from './events';
import { type SocketTap, canWritePastTap, tapSocket } from './socketTap';
import type { Disposable } from '../util/events';

export interface CaptureInit {
  connectionId: string;
  role: 'server' | 'client';
  sink: CaptureSink;
  /**
   * Labels for the connection events. The capture keeps this object and reads it when it appends the
   * 'open' event, so keys added before the response head is written still appear.
   */
  meta?: Record<string, string>;
  /** The same limit the endpoint enforces, so the capture records 1009 where ws closes with it. */
  maxPayload?: number;
}

/** A capture attached to one socket. */
export interface CaptureHandle extends Disposable {
  /** The handshake as captured, once the response head (and, for a failure, the body) has been seen. */
  readonly handshake?: HandshakeEvent;
  /**
   * The ConnectionCapture that records this socket's bytes through its socket tap, when the socket can be written
   * past the tap (`canWritePastTap`). For the broadcast fan-out, which writes the very same frame to many sockets in
   * one tick: it writes past the taps (`writePastTap`) and then records all its recipients at once (`recordFanOut`),
   * so that a frame to a thousand clients is decoded and stored once and costs each recipient a few field reads.
   * Optional: without it the fan-out writes through the tap.
   */
  readonly shared?: ConnectionCapture;
}

/**
 * How a capture is attached to a socket: attachCapture, or another one that a broadcast server is given (its
 * `attachCapture` option), for tests and embedders that want the sockets or a capture of their own.
 */
export type CaptureAttacher = (socket: net.Socket, init: CaptureInit) => CaptureHandle;

/** Taps the socket into a ConnectionCapture and ends the capture once the socket has closed. */
class TappedCapture implements CaptureHandle {
  private readonly capture: ConnectionCapture;
  private readonly tap: SocketTap;
  private done = false;
  /** The socket has closed: what it wrote and never flushed is known now. */
  private readonly finish = () => this.stop(this.tap.flushedOut());

  constructor(
    private readonly socket: net.Socket,
    init: CaptureInit,
  ) {
    this.capture = new ConnectionCapture(init);
    this.tap = tapSocket(socket, this.capture);
    socket.once('close', this.finish);
  }

  get handshake(): HandshakeEvent | undefined {
    return this.capture.handshake;
  }

  get shared(): ConnectionCapture | undefined {
    return canWritePastTap(this.socket) ? this.capture : undefined;
  }

  dispose(): void {
    this.stop(undefined);
  }

  /** `flushedOut`: bytes the socket's kernel took, once it has closed; undefined when the capture stops before. */
  private stop(flushedOut: number | undefined): void {
    if (this.done) return;
    this.done = true;
    this.socket.removeListener('close', this.finish);
    this.tap.dispose();
    this.capture.end(flushedOut);
  }
}

/** Attaches a capture to `socket`; it ends by itself when the socket closes (dispose ends it earlier). */
export const attachCapture: CaptureAttacher = (socket, init) => new TappedCapture(socket, init);
