// Puts a capture on a raw socket: the tap feeds a ConnectionCapture, which appends events to the sink.

import type * as net from 'node:net';
import { ConnectionCapture } from '../capture/connectionCapture';
import type { CaptureSink, HandshakeEvent } from '../capture/events';
import { tapSocket } from '../capture/socketTap';
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
}

/** Replaceable so tests and embedders can plug in a different capture. */
export type CaptureAttacher = (socket: net.Socket, init: CaptureInit) => CaptureHandle;

/** Taps the socket into a ConnectionCapture and ends the capture once the socket has closed. */
const defaultAttacher: CaptureAttacher = (socket, init) => {
  const capture = new ConnectionCapture(init);
  const tap = tapSocket(socket, capture);
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    socket.removeListener('close', finish);
    tap.dispose();
    capture.end();
  };
  socket.once('close', finish);
  return {
    get handshake() {
      return capture.handshake;
    },
    dispose: finish,
  };
};

let impl: CaptureAttacher = defaultAttacher;

/** Installs another capture implementation; `undefined` restores the default. */
export function setCaptureAttacher(attacher: CaptureAttacher | undefined): void {
  impl = attacher ?? defaultAttacher;
}

/** Attaches a capture to `socket`; it ends by itself when the socket closes (dispose ends it earlier). */
export function attachCapture(socket: net.Socket, init: CaptureInit): CaptureHandle {
  return impl(socket, init);
}
