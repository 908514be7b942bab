// The limits the broadcast server keeps on each connected client: its share of a turn of the event loop, its message
// rate, its send buffer (slow consumers), idleness, and the heartbeat that finds dead connections.

import { WebSocket } from 'ws';
import type { SendBufferGuard } from './broadcastFastPath';
import type { ClientRecord } from './clientRegistry';
import type { RateLimitOptions } from './limits';
import type { LimitBreachEvent } from './serverEvents';

/** What ClientLimits needs of the server's options. */
export interface ClientLimitOptions {
  rateLimit: RateLimitOptions;
  maxBufferedBytes: number;
  slowConsumerAction: 'drop' | 'close';
  closeTimeoutMs: number;
  idleTimeoutMs: number;
}

/** A client that stays over a 'drop' limit is reported at most this often; its counters keep the exact totals. */
const REPORT_INTERVAL_MS = 1000;
/** What one client's messages may take of a turn of the event loop before it waits for the next turn. */
const TURN_SHARE_BYTES = 64 * 1024;
/** The longest a client over its rate stays unread at a time, so that its pongs and close frame are not held long. */
const RATE_PAUSE_MAX_MS = 1000;

export class ClientLimits {
  /** The fan-out's slow-consumer check (see broadcastFastPath.ts fanOut). */
  readonly guard: SendBufferGuard;

  constructor(
    private readonly opts: ClientLimitOptions,
    private readonly breach: (e: LimitBreachEvent) => void,
  ) {
    this.guard = { maxBufferedBytes: opts.maxBufferedBytes, onOver: (c) => this.onSlowConsumer(c) };
  }

  /**
   * Counts a message read from `c`: true when it is within the client's rate and may be relayed.
   *
   * Every message read costs, dropped or not: ws parses it and the capture records it. So the server stops reading a
   * client rather than read and discard. One over its rate is paused (onOverRate) until half its burst has refilled,
   * so that each resume relays that many messages for at most a chunk dropped. One that has read TURN_SHARE_BYTES in
   * this turn of the event loop waits for the next (setImmediate), so that the other sockets are read in between.
   * Only the rest of the chunk ws is parsing still comes here; the kernel holds the rest, and TCP slows the sender.
   */
  admit(c: ClientRecord, bytes: number, now: number): boolean {
    c.lastSeen = now;
    if (c.turnBytes === 0) setImmediate(endTurn, c);
    // + 2, a frame header at the least, so that an empty message counts too.
    c.turnBytes += bytes + 2;
    if (c.turnBytes > TURN_SHARE_BYTES) c.ws.pause();
    if (c.bucket.take(now)) return true;
    this.onOverRate(c);
    return false;
  }

  /** Closes a client over a limit; one that cannot take the close frame (a full buffer) is terminated after closeTimeoutMs. */
  closeFor(c: ClientRecord, code: number, reason: string): boolean {
    if (c.closingFor !== undefined || c.ws.readyState !== WebSocket.OPEN) return false;
    c.closingFor = code;
    c.ws.close(code, reason);
    readNow(c);
    c.closeTimer = setTimeout(() => c.ws.terminate(), this.opts.closeTimeoutMs);
    return true;
  }

  /** Closes the clients that sent nothing for idleTimeoutMs. */
  sweepIdle(clients: Iterable<ClientRecord>): void {
    const limit = this.opts.idleTimeoutMs;
    const now = Date.now();
    for (const c of clients) {
      if (now - c.lastSeen < limit || !this.closeFor(c, 1001, 'idle')) continue;
      this.breach({ clientId: c.info.id, limit: 'idle', action: 'close', detail: `no message for ${limit} ms` });
    }
  }

  /** Terminates the clients that did not answer the last ping, and pings the others. */
  heartbeat(clients: Iterable<ClientRecord>): void {
    for (const c of clients) {
      if (c.ws.readyState !== WebSocket.OPEN) continue;
      // A client the server does not read cannot have its pong read either.
      if (!c.alive && !c.pausedForHold) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }

  private onOverRate(c: ClientRecord): void {
    const r = this.opts.rateLimit;
    const detail = `over ${r.messagesPerSecond} messages/s (burst ${r.burst})`;
    if (r.action === 'close') {
      if (!this.closeFor(c, 1008, 'rate limit exceeded')) return;
      this.breach({ clientId: c.info.id, limit: 'rate', action: 'close', detail });
      return;
    }
    c.info.droppedIn++;
    const now = Date.now();
    // A closing client is read on, so that its close frame, queued behind what it sent, is not held up.
    if (c.resumeTimer === undefined && c.ws.readyState === WebSocket.OPEN) {
      c.ws.pause();
      c.resumeTimer = setTimeout(endRatePause, Math.min(RATE_PAUSE_MAX_MS, c.bucket.msUntil(Math.ceil(r.burst / 2), now)), c);
    }
    if (now - c.rateReportedAt < REPORT_INTERVAL_MS) return;
    c.rateReportedAt = now;
    this.breach({
      clientId: c.info.id,
      limit: 'rate',
      action: 'drop',
      detail: `${detail}; dropping its messages (${c.info.droppedIn} so far)`,
    });
  }

  private onSlowConsumer(c: ClientRecord): void {
    const max = this.opts.maxBufferedBytes;
    const detail = `send buffer ${c.ws.bufferedAmount} bytes, over maxBufferedBytes ${max}`;
    if (this.opts.slowConsumerAction === 'close') {
      if (!this.closeFor(c, 1013, 'slow consumer')) return;
      this.breach({ clientId: c.info.id, limit: 'slowConsumer', action: 'close', detail });
      return;
    }
    c.info.droppedOut++;
    const now = Date.now();
    if (now - c.slowReportedAt < REPORT_INTERVAL_MS) return;
    c.slowReportedAt = now;
    this.breach({
      clientId: c.info.id,
      limit: 'slowConsumer',
      action: 'drop',
      detail: `${detail}; dropping messages for it until it drains (${c.info.droppedOut} so far)`,
    });
  }
}

/** A closing client is read at once, not after a rate-limit pause: its close frame is queued behind what it sent. */
export function readNow(c: ClientRecord): void {
  clearTimeout(c.resumeTimer);
  c.resumeTimer = undefined;
  c.ws.resume();
}

/** Stops reading `c` while its queue behind a held message is long (see serverBreakpoints.ts). */
export function pauseForHold(c: ClientRecord): void {
  c.pausedForHold = true;
  c.ws.pause();
}

/** Reads `c` again once its queue behind a held message has shortened, unless it is over its rate. */
export function resumeAfterHold(c: ClientRecord): void {
  c.pausedForHold = false;
  // Its pongs were not read while it was paused: it gets the next heartbeat to answer.
  c.alive = true;
  if (c.resumeTimer === undefined) c.ws.resume();
}

/** The end of a rate pause: `c` is read again unless its queue behind a held message is still long. */
function endRatePause(c: ClientRecord): void {
  c.resumeTimer = undefined;
  if (!c.pausedForHold) c.ws.resume();
}

/** The end of the turn in which `c` was first read: its share starts again, and it is read on unless paused for its rate or a hold. */
function endTurn(c: ClientRecord): void {
  c.turnBytes = 0;
  if (c.ws.isPaused && c.resumeTimer === undefined && !c.pausedForHold) c.ws.resume();
}
