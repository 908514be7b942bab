// Puts a capture on a raw socket: the tap feeds a ConnectionCapture, which appends events to the sink.

import type * as net from 'node:net';
import type { CaptureSink, HandshakeEvent } from '../capture/events';
import type { Disposable } from '../util/events';

export interface CaptureInit {
  connectionId: string;
  role: 'server' | 'client';
  sink: CaptureSink;
  meta?: Record<string, string>;
}

/** A capture attached to one socket. */
export interface CaptureHandle extends Disposable {
  /** The handshake as captured, once the response head (and, for a failure, the body) has been seen. */
  readonly handshake?: HandshakeEvent;
}

/** Replaceable so tests and embedders can plug a different capture. */
export type CaptureAttacher = (socket: net.Socket, init: CaptureInit) => CaptureHandle;

let impl: CaptureAttacher | undefined;

/** Installs the capture implementation (the capture module registers itself; tests may stub it). */
export function setCaptureAttacher(attacher: CaptureAttacher | undefined): void {
  impl = attacher;
}

/**
 * Attaches a capture to `socket` and ends it when the socket closes, after the last byte was seen.
 * Without an installed implementation it returns an inert handle, so capture stays optional.
 */
export function attachCapture(socket: net.Socket, init: CaptureInit): CaptureHandle {
  if (!impl) return { dispose() {} };
  return impl(socket, init);
}
