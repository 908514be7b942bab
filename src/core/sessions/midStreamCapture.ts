// The capture of a connection whose handshake is not in the file (the capture started later): both directions are
// decoded as frames from their first byte captured, as the live capture's DirectionCaptures do after a handshake.
import { DirectionCapture, type DirectionOwner } from '../capture/directionCapture';
import type { CaptureSink, DeflateParams, Direction, ErrorEvent } from '../capture/events';
import { stripUndefined } from '../util/objects';
import type { WireError } from '../wire/errors';

export interface MidStreamOptions {
  connectionId: string;
  sink: CaptureSink;
  clock: () => number;
  /**
   * What was negotiated, when the caller knows: a DeflateParams, or null for no compression. Undefined (unknown)
   * assumes permessage-deflate with context takeover, so compressed frames are read as such: a message that refers
   * to bytes from before the capture then fails to inflate (its inflateError says so) instead of being misread.
   */
  deflate: DeflateParams | null | undefined;
  meta: Record<string, string>;
  maxPayload: number;
}

const ASSUMED: DeflateParams = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

export class MidStreamCapture implements DirectionOwner {
  private readonly c2s: DirectionCapture;
  private readonly s2c: DirectionCapture;
  private readonly meta: Record<string, string>;
  private bytesIn = 0;
  private bytesOut = 0;
  private ended = false;
  private stopped = false;

  constructor(private readonly o: MidStreamOptions) {
    const deflate = o.deflate === null ? undefined : (o.deflate ?? ASSUMED);
    this.meta = { ...o.meta, handshake: 'not captured', compression: o.deflate === undefined ? 'unknown (permessage-deflate assumed)' : o.deflate === null ? 'none' : 'permessage-deflate' };
    this.c2s = new DirectionCapture(this, o.sink, o.connectionId, 'c2s', o.maxPayload, deflate, o.clock);
    this.s2c = new DirectionCapture(this, o.sink, o.connectionId, 's2c', o.maxPayload, deflate, o.clock);
    o.sink.append({ kind: 'connection', connectionId: o.connectionId, time: o.clock(), state: 'open', role: 'server', meta: this.meta });
  }

  push(direction: Direction, chunk: Buffer): void {
    if (direction === 'c2s') this.bytesIn += chunk.length;
    else this.bytesOut += chunk.length;
    if (this.stopped) return;
    try {
      (direction === 'c2s' ? this.c2s : this.s2c).push(chunk);
    } catch (e) {
      this.internal(e);
    }
  }

  recordError(err: WireError, direction: Direction | undefined): void {
    const ev: Omit<ErrorEvent, 'id'> = {
      kind: 'error',
      connectionId: this.o.connectionId,
      time: this.o.clock(),
      direction: err.direction ?? direction,
      code: err.code,
      closeCode: err.closeCode,
      message: err.message,
    };
    this.o.sink.append(ev);
  }

  /** As ConnectionCapture.end: what the bytes stopped inside, then the closed event, seen from the server (c2s is received). */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.stopped) {
      this.c2s.finish();
      this.s2c.finish();
    }
    const sent = this.s2c.close && { ...this.s2c.close };
    const received = this.c2s.close && { ...this.c2s.close };
    const clean = sent !== undefined && received !== undefined;
    const close = received ?? sent;
    this.o.sink.append(
      stripUndefined({
        kind: 'connection' as const,
        connectionId: this.o.connectionId,
        time: this.o.clock(),
        state: 'closed' as const,
        role: 'server' as const,
        meta: this.meta,
        code: close?.code,
        reason: close?.reason,
        clean,
        closeFrames: stripUndefined({ sent, received }),
        missingClose: clean ? undefined : sent === undefined && received === undefined ? ('both' as const) : sent === undefined ? ('sent' as const) : ('received' as const),
        bytesIn: this.bytesIn,
        bytesOut: this.bytesOut,
      }),
    );
  }

  private internal(e: unknown): void {
    this.stopped = true;
    const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
    this.o.sink.append({
      kind: 'error',
      connectionId: this.o.connectionId,
      time: this.o.clock(),
      code: 'WS_ERR_CAPTURE_INTERNAL',
      closeCode: 1011,
      message: `capture stopped: ${msg}`,
    });
  }
}
