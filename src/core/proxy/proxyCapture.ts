// The error events the proxy itself adds to its legs' captures.
import type { CaptureSink, Direction } from '../capture/events';
import type { WireError } from '../wire/errors';

/** On the target leg: dialling or the handshake failed (close status 1014, bad gateway). */
export function recordUpstreamError(sink: CaptureSink, connectionId: string, e: { code: string; message: string }): void {
  try {
    sink.append({
      kind: 'error',
      connectionId,
      time: performance.timeOrigin + performance.now(),
      code: e.code,
      closeCode: 1014,
      message: e.message,
    });
  } catch {
    // A failing sink must not stop the answer.
  }
}

/** The decoder gave up on a direction: from here on it is forwarded raw, without breakpoints. */
export function recordPassThrough(sink: CaptureSink, connectionId: string, direction: Direction, err: WireError): void {
  sink.append({
    kind: 'error',
    connectionId,
    time: performance.timeOrigin + performance.now(),
    direction,
    code: 'WS_ERR_PROXY_PASSTHROUGH',
    closeCode: err.closeCode,
    message: `The proxy cannot delimit frames from here on (${err.code}: ${err.message}); the rest of this direction is forwarded raw, without breakpoints`,
  });
}
