// The broadcast server's connected clients: what the UI lists, plus the live handles the relay needs.

import type * as http from 'node:http';
import type * as net from 'node:net';
import type { WebSocket } from 'ws';
import type { FanOutSlot } from '../capture/fanOutRecord';
import { TokenBucket, type RateLimitOptions } from './limits';

/** A connected client as the UI shows it. A snapshot: counters do not move after it is returned. */
export interface ClientInfo {
  /** Short and unique within this process (`c1`, `c2`…); also the capture's connectionId. */
  id: string;
  remoteAddress: string;
  remotePort: number;
  /** `User-Agent` of the upgrade request, '' when absent. */
  userAgent: string;
  /** `Origin` of the upgrade request, '' when absent (non-browser clients rarely send it). */
  origin: string;
  /** The negotiated subprotocol, '' when none. */
  subprotocol: string;
  /** Epoch milliseconds of the completed upgrade. */
  connectedAt: number;
  /** Whole messages received from / sent to this client. */
  messagesIn: number;
  messagesOut: number;
  /** Message payload bytes (frame headers excluded; the capture has the wire totals). */
  bytesIn: number;
  bytesOut: number;
  /** Messages from this client that were not relayed because it went over the rate limit. */
  droppedIn: number;
  /** Messages not sent to this client because its send buffer was over `maxBufferedBytes`. */
  droppedOut: number;
}

/** Internal record: the info plus the handles behind it. */
export interface ClientRecord {
  readonly info: ClientInfo;
  readonly ws: WebSocket;
  readonly socket: net.Socket;
  /** permessage-deflate was negotiated, so pre-framed raw writes are not possible. */
  readonly deflate: boolean;
  /**
   * Where the fan-out finds the capture on this client's socket (see ConnectionCapture.fanOutSlot), when capture is
   * on and takes the fan-out's shared writes; -1 otherwise. Kept here as numbers, not behind the capture handle,
   * because the fan-out reads them for every recipient.
   */
  readonly captureSlot: number;
  readonly captureGeneration: number;
  /** Answered the last heartbeat ping. */
  alive: boolean;
  /** Rate limit state. */
  readonly bucket: TokenBucket;
  /** Set while reading from the client is paused because it went over its rate: resumes it. */
  resumeTimer?: NodeJS.Timeout;
  /** Not read because many of its messages wait behind one a breakpoint holds (see serverBreakpoints.ts). */
  pausedForHold: boolean;
  /** Bytes of the messages read from the client in this turn of the event loop; 0 before its first. */
  turnBytes: number;
  /** `Date.now()` of the last message or ping from the client (idle timeout). */
  lastSeen: number;
  /** `Date.now()` of the last slow-consumer 'drop' report (throttled so a flood does not flood the log). */
  slowReportedAt: number;
  /** `Date.now()` of the last rate-limit 'drop' report. */
  rateReportedAt: number;
  /** Set once the server has decided to close this client over a limit: the close code it sent. */
  closingFor?: number;
  /** Terminates the client if the close handshake does not finish (its buffer may never drain). */
  closeTimer?: NodeJS.Timeout;
}

/**
 * The record of a client that has just upgraded: its info from the request, zeroed counters, a full rate bucket.
 * `fanOutSlot` is where the fan-out finds the capture on its socket, which the fan-out writes past (see
 * broadcastFastPath.ts).
 */
export function newClientRecord(
  id: string,
  ws: WebSocket,
  req: http.IncomingMessage,
  socket: net.Socket,
  rateLimit: RateLimitOptions,
  fanOutSlot: FanOutSlot | undefined,
): ClientRecord {
  const now = Date.now();
  return {
    info: {
      id,
      remoteAddress: socket.remoteAddress ?? '',
      remotePort: socket.remotePort ?? 0,
      userAgent: req.headers['user-agent'] ?? '',
      origin: req.headers.origin ?? '',
      subprotocol: ws.protocol,
      connectedAt: now,
      messagesIn: 0,
      messagesOut: 0,
      bytesIn: 0,
      bytesOut: 0,
      droppedIn: 0,
      droppedOut: 0,
    },
    ws,
    socket,
    deflate: ws.extensions !== '',
    captureSlot: fanOutSlot?.slot ?? -1,
    captureGeneration: fanOutSlot?.generation ?? 0,
    alive: true,
    pausedForHold: false,
    bucket: new TokenBucket(rateLimit.messagesPerSecond / 1000, rateLimit.burst, now),
    turnBytes: 0,
    lastSeen: now,
    slowReportedAt: -Infinity,
    rateReportedAt: -Infinity,
  };
}

let lastId = 0;

/** Ids come from a process-wide counter so two servers (or a restart) never reuse one in the same capture store. */
export function nextClientId(): string {
  return `c${++lastId}`;
}

/** Versions of every registry come from one counter, so that two registries never share one (see `version`). */
let lastVersion = 0;

export class ClientRegistry {
  private readonly byId = new Map<string, ClientRecord>();
  private _version = ++lastVersion;

  /**
   * Changes whenever a record is added or deleted, and is never the version of another registry in this process:
   * while it stays the same, `records()` gives the same records in the same order. The fan-out uses it to know that
   * its recipients are the last fan-out's without going through them (see broadcastFastPath.ts fanOut).
   */
  get version(): number {
    return this._version;
  }

  add(record: ClientRecord): void {
    this.byId.set(record.info.id, record);
    this._version = ++lastVersion;
  }

  delete(id: string): boolean {
    const deleted = this.byId.delete(id);
    if (deleted) this._version = ++lastVersion;
    return deleted;
  }

  get(id: string): ClientRecord | undefined {
    return this.byId.get(id);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Live records in connection order; the relay iterates these without copying. */
  records(): IterableIterator<ClientRecord> {
    return this.byId.values();
  }

  snapshot(): ClientInfo[] {
    return [...this.byId.values()].map((r) => ({ ...r.info }));
  }
}
