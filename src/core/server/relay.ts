// Relay modes and the fan-out writer: a message is framed once and the same bytes go to every target.

import * as wsModule from 'ws';
import type * as net from 'node:net';
import { WebSocket } from 'ws';
import { FanOutList, recordFanOut } from '../capture/fanOutRecord';
import { writePastTap } from '../capture/socketTap';
import type { ClientRecord } from './clientRegistry';

/**
 * Who receives a message a client sent:
 * - `broadcast`: every client, the sender included;
 * - `broadcastOthers`: every client except the sender;
 * - `echo`: the sender only;
 * - `none`: nobody (the server only records).
 */
export type RelayMode = 'broadcast' | 'broadcastOthers' | 'echo' | 'none';

export const RELAY_MODES: readonly RelayMode[] = ['broadcast', 'broadcastOthers', 'echo', 'none'];

/** The parts of ws's Sender that say whether it is idle; private in ws, so read defensively. */
interface SenderState {
  _state?: number;
  _queue?: unknown[];
  _firstFragment?: boolean;
}

/** Frames larger than this are written as header + payload (no copy); smaller ones as one buffer. */
const MERGE_LIMIT = 64 * 1024;

/**
 * True when bytes written straight to the socket cannot overtake or split a frame ws is sending:
 * the Sender is not deflating or reading a Blob (`_state` 0), has nothing queued, and is not in
 * the middle of a fragmented message.
 */
function senderIdle(ws: WebSocket): boolean {
  const s = (ws as unknown as { _sender?: SenderState })._sender;
  return !!s && s._state === 0 && (s._queue?.length ?? 0) === 0 && s._firstFragment !== false;
}

/** Sockets corked during this tick; uncorked together so that the frames of one tick leave in one syscall. */
const corked = new Set<net.Socket>();
let flushScheduled = false;

function flushCorked(): void {
  flushScheduled = false;
  for (const s of corked) s.uncork();
  corked.clear();
}

/**
 * Holds the socket's writes until the end of the tick. Order is kept: ws's own writes go through the same
 * corked socket, and its nested cork/uncork only unwinds its own level.
 */
function corkForTick(socket: net.Socket): void {
  if (corked.has(socket)) return;
  socket.cork();
  corked.add(socket);
  if (!flushScheduled) {
    flushScheduled = true;
    process.nextTick(flushCorked);
  }
}

/** The slow-consumer check of a fan-out: a client over the mark does not get the message. */
export interface SendBufferGuard {
  /** Send-buffer high-water mark in bytes. */
  readonly maxBufferedBytes: number;
  /** Called instead of sending to a client that is over the mark. */
  onOver(c: ClientRecord): void;
}

/**
 * Sends `data` to each target. Clients without deflate whose Sender is idle get the same pre-framed
 * bytes written to their socket; the others go through `ws.send`. Counters are kept here because
 * the raw path bypasses ws's own accounting. Returns the number of deliveries.
 *
 * `targetsKey`, when given, names the sequence of targets: a later fan-out with the same key promises the same
 * targets in the same order (the broadcast server passes its registry's version, see ClientRegistry.version). Then,
 * when this fan-out and the last one with that key write every target past its tap, the captures to record are the
 * last fan-out's and the loop does no per-recipient bookkeeping for them (2-3% of the server's CPU with capture on,
 * in the fan-out bench's 100 recipients per message).
 */
export function fanOut(
  targets: Iterable<ClientRecord>,
  data: Buffer,
  isBinary: boolean,
  guard?: SendBufferGuard,
  targetsKey?: number,
): number {
  let frame: Buffer[] | undefined;
  let delivered = 0;
  // The captures of the clients written to past their taps, recorded together after the loop (see recordFanOut).
  // The module's list, kept across fan-outs, unless a nested fan-out (from a guard's callback) finds it in use.
  const nested = recipientsInUse;
  recipientsInUse = true;
  const recorded = nested ? new FanOutList() : recipients;
  recorded.begin();
  // The targets so far are the last keyed fan-out's, all written past their taps: `past` counts them.
  let same = targetsKey !== undefined && recorded.targetsKey === targetsKey;
  recorded.targetsKey = -1;
  let everyPast = true;
  let past = 0;
  try {
    for (const c of targets) {
      const ws = c.ws;
      let wrotePast = false;
      if (ws.readyState === WebSocket.OPEN) {
        // ws.bufferedAmount is the socket's writable length plus what ws's Sender still holds (deflate queue).
        if (guard !== undefined && ws.bufferedAmount > guard.maxBufferedBytes) {
          guard.onOver(c);
        } else {
          c.info.messagesOut++;
          c.info.bytesOut += data.length;
          delivered++;
          if (!c.deflate && senderIdle(ws) && c.socket.writable) {
            frame ??= frameOnce(data, isBinary);
            corkForTick(c.socket);
            if (c.captureSlot >= 0) {
              writeUnrecorded(c.socket, frame);
              wrotePast = true;
            } else {
              c.socket.write(frame[0]);
              if (frame.length === 2) c.socket.write(frame[1]);
            }
          } else {
            ws.send(data, { binary: isBinary });
          }
        }
      }
      if (wrotePast) {
        if (same) past++;
        else recorded.add(c.captureSlot, c.captureGeneration);
      } else if (everyPast) {
        // From here on the recipients may differ from the last fan-out's: list them one by one.
        everyPast = false;
        if (same) recorded.keep(past);
        same = false;
      }
    }
    // Every target, none skipped: the next fan-out with this key may take this list as it is.
    if (everyPast && targetsKey !== undefined) recorded.targetsKey = targetsKey;
  } finally {
    if (same) recorded.keep(past);
    // Still in this tick and the sockets are corked: recorded before any of these bytes leave (and even if a send
    // threw: what was written is recorded).
    try {
      if (recorded.count > 0) recordFanOut(recorded, frame!);
    } finally {
      if (!nested) recipientsInUse = false;
    }
  }
  return delivered;
}

/** Kept across fan-outs: a fan-out to the same clients as the last one is then recorded without a per-client step. */
const recipients = new FanOutList();
let recipientsInUse = false;

/** A client's pre-framed write past its capture's tap. Out of fanOut's loop so that the loop stays small for V8. */
function writeUnrecorded(socket: net.Socket, frame: Buffer[]): void {
  writePastTap(socket, frame[0]);
  if (frame.length === 2) writePastTap(socket, frame[1]);
}

interface FrameOptions {
  fin: boolean;
  rsv1: boolean;
  opcode: number;
  mask: boolean;
  readOnly: boolean;
}

/**
 * ws exports its Sender at runtime; @types/ws does not declare it. Take it from the module, not from the
 * WebSocket class: bundlers resolve ws's ESM wrapper, whose WebSocket has no `Sender` static.
 */
const Sender = (wsModule as unknown as { Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] } }).Sender;

function frameOnce(data: Buffer, isBinary: boolean): Buffer[] {
  const parts = Sender.frame(data, {
    fin: true,
    rsv1: false,
    opcode: isBinary ? 2 : 1,
    mask: false,
    readOnly: true,
  });
  // One write per socket is cheaper than cork + two writes; the copy happens once for all targets.
  return parts.length === 2 && data.length <= MERGE_LIMIT ? [Buffer.concat(parts)] : parts;
}

/** The clients that receive a message from `sender` under `mode`. */
export function* relayTargets(
  mode: RelayMode,
  sender: ClientRecord,
  all: Iterable<ClientRecord>,
): Generator<ClientRecord> {
  switch (mode) {
    case 'broadcast':
      yield* all;
      return;
    case 'broadcastOthers':
      for (const c of all) if (c !== sender) yield c;
      return;
    case 'echo':
      yield sender;
      return;
    case 'none':
      return;
  }
}
