// The broadcast fast path: the one way a message goes from the broadcast server to its clients. The relay, sendToAll,
// sendTo and the backplane's deliveries all call fanOut.
//
// Through ws, a broadcast to N clients frames the message N times (`ws.send`), and with capture on each client's
// socket tap decodes the same frame again. fanOut does this instead:
// - it frames the message once (frameOnce, with the project's encoder) and writes the same bytes to every client
//   that can take them raw: one without permessage-deflate whose ws Sender is idle (senderIdle), so that bytes
//   written past ws cannot overtake or split a frame ws is sending. The others go through `ws.send`;
// - it corks each socket until the end of the tick (corkForTick), so that the frames of a tick leave in one syscall;
// - with capture on, it writes past each socket's tap (writePastTap) and records the whole fan-out once, before the
//   bytes leave (recordFanOut in capture/fanOutRecord.ts): one capture decodes the frame, the others count its bytes;
// - when the targets are the last fan-out's (`targetsKey`), it does no per-recipient bookkeeping for the record.
// It earns its place in `npm run bench -- fanout` (docs/benchmarks.md): about 10x plain ws's broadcast loop, and
// capture on at about 0.9x capture off.

import type * as net from 'node:net';
import { WebSocket } from 'ws';
import { FanOutList, recordFanOut } from '../capture/fanOutRecord';
import { writePastTap } from '../capture/socketTap';
import { encodeFrame, encodeFrameHeader } from '../wire/frameEncoder';
import { OPCODE_BINARY, OPCODE_TEXT } from '../wire/constants';
import type { ClientRecord } from './clientRegistry';

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

/** The parts of ws's Sender that say whether it is idle; private in ws, so read defensively. */
interface SenderState {
  _state?: number;
  _queue?: unknown[];
  _firstFragment?: boolean;
}

/**
 * True when bytes written straight to the socket cannot overtake or split a frame ws is sending:
 * the Sender is not deflating or reading a Blob (`_state` 0), has nothing queued, and is not in
 * the middle of a fragmented message.
 */
function senderIdle(ws: WebSocket): boolean {
  // ws's private fields: ws is pinned to an exact version, and test/unit/server/wsInternals.test.ts fails when these
  // change meaning.
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

/** A client's pre-framed write past its capture's tap. Out of fanOut's loop so that the loop stays small for V8. */
function writeUnrecorded(socket: net.Socket, frame: Buffer[]): void {
  writePastTap(socket, frame[0]);
  if (frame.length === 2) writePastTap(socket, frame[1]);
}

/** Frames larger than this are written as header + payload (no copy); smaller ones as one buffer. */
const MERGE_LIMIT = 64 * 1024;

/**
 * The message as one unmasked FIN frame: one buffer up to MERGE_LIMIT (one write per socket is cheaper than cork +
 * two writes, and the copy happens once for all targets), else the header and the payload itself.
 */
function frameOnce(data: Buffer, isBinary: boolean): Buffer[] {
  const frame = { opcode: isBinary ? OPCODE_BINARY : OPCODE_TEXT, payload: data };
  return data.length <= MERGE_LIMIT ? [encodeFrame(frame)] : [encodeFrameHeader(frame), data];
}
