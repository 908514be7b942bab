// The two directions of an open proxied connection: a FramePipe each way, with each leg's compression, and each
// side's close frame made known to the other direction (whose held frames can then no longer be delivered).
import type * as net from 'node:net';
import type { CaptureSink } from '../capture/events';
import type { DeflateParams, Direction } from '../wire/types';
import type { BreakpointController } from './breakpoints';
import type { ConnectionCompression } from './compressionMode';
import { FramePipe } from './framePipe';
import { recordPassThrough } from './proxyCapture';

export interface PipePairOptions {
  /** The proxy connection's id (`proxy1-3`). */
  id: string;
  program: net.Socket;
  upstream: net.Socket;
  compression: ConnectionCompression;
  maxPayload: number;
  breakpoints?: BreakpointController;
  capture?: CaptureSink;
  /** A direction is finished: time to end the socket it writes to. */
  finished(dest: net.Socket): void;
}

export function openPipePair(o: PipePairOptions): { c2s: FramePipe; s2c: FramePipe } {
  const { mode, programLeg, targetLeg } = o.compression;
  const make = (direction: Direction, source: net.Socket, dest: net.Socket, inLeg?: DeflateParams, outLeg?: DeflateParams) => {
    const legId = `${o.id}/${direction === 'c2s' ? 'program' : 'target'}`;
    return new FramePipe({
      direction,
      connectionId: o.id,
      source,
      dest,
      maxPayload: o.maxPayload,
      compression: { mode, in: inLeg, out: outLeg },
      breakpoints: o.breakpoints,
      onDecodeError: (err) => {
        if (o.capture) recordPassThrough(o.capture, legId, direction, err);
      },
      onFinished: () => o.finished(dest),
      onClose: (close) => (direction === 'c2s' ? s2c : c2s).peerClosed({ ...close, by: direction === 'c2s' ? 'program' : 'target' }),
    });
  };
  const c2s: FramePipe = make('c2s', o.program, o.upstream, programLeg, targetLeg);
  const s2c: FramePipe = make('s2c', o.upstream, o.program, targetLeg, programLeg);
  return { c2s, s2c };
}
