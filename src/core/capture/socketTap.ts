// Sees every byte of a socket exactly once, both directions, in order, before its owner (http, ws) acts on it.

import type * as http from 'node:http';
import * as net from 'node:net';
import type { WebSocket } from 'ws';
import type { Disposable } from '../util/events';

/**
 * Receives the tapped bytes synchronously. A chunk is only valid during the call: copy it to keep it. A sink
 * that throws is ignored (the socket path must never see the error).
 */
export interface ByteSink {
  inbound(chunk: Buffer): void;
  outbound(chunk: Buffer): void;
}

type WriteCb = (err?: Error | null) => void;
type Write = (chunk: unknown, encoding?: BufferEncoding | WriteCb, cb?: WriteCb) => boolean;
type End = (chunk?: unknown, encoding?: BufferEncoding | WriteCb, cb?: WriteCb) => net.Socket;
type Unshift = (chunk: unknown, encoding?: BufferEncoding) => void;
/** net.Socket's `_writeGeneric`: where the stream hands one write (or a writev batch) to the handle. */
type WriteGeneric = (writev: boolean, data: unknown, encoding: BufferEncoding | '', cb: WriteCb) => unknown;
type Destroy = (err: Error | null, cb: (err?: Error | null) => void) => void;

/** A tap on a socket. */
export interface SocketTap extends Disposable {
  /**
   * Bytes of this socket's writes since the tap that the kernel took: a write counts once its callback reports success
   * (a write Node still holds, or one libuv was still writing when the socket was destroyed, does not). The bytes
   * of the sinks' `outbound` calls that never left are the difference.
   */
  flushedOut(): number;
}

/**
 * Taps `socket` (plain or TLS: for TLS the plaintext side).
 *
 * Inbound is a `'data'` listener put first, so the tap sees a chunk before http or ws handles it. Where the
 * socket belongs to an `http.Server`, tap it from a `'connection'` (https: `'secureConnection'`) listener added
 * with `on()`: Node's own connection listener has then installed its wrapper, and adding our listener makes the
 * server read through JS instead of consuming the handle in C++. Bytes given back with `unshift()` (ws does
 * this with the upgrade `head`) were already seen, so the tap skips them when they are emitted again.
 *
 * Outbound wraps the instance's `write` and `end` (Writable's `end(data)` does not go through `write`). A write
 * after `end()` or `destroy()` is not recorded: it fails and nothing is sent.
 *
 * Flushed bytes (`flushedOut`) are counted where the stream hands its writes to the handle (`_writeGeneric`, one write
 * or writev batch at a time) and where the handle calls back. A write still in libuv's queue when the socket is
 * destroyed is called back as a success by Node (the handle is gone): `_destroy` marks it first, and counts only the
 * part libuv had already written.
 *
 * dispose() restores the methods it replaced (when nobody wrapped them again meanwhile; otherwise its wrappers
 * become pass-through) and removes its listener.
 */
export function tapSocket(socket: net.Socket, sink: ByteSink): SocketTap {
  const sock = socket as Tapped;
  const s = socket as unknown as { write: Write; end: End; unshift: Unshift; _writeGeneric: WriteGeneric; _destroy: Destroy };
  let t = sock[kTap];
  if (t === undefined) {
    const state: TapState = {
      sinks: [],
      replay: 0,
      depth: 0,
      origWrite: s.write,
      origEnd: s.end,
      origUnshift: s.unshift,
      origWriteGeneric: s._writeGeneric,
      origDestroy: s._destroy,
      flushed: 0,
      inflight: 0,
      inflightCancelled: false,
      inflightCb: undefined,
      onWritten: (err) => {
        const n = state.inflight;
        const cb = state.inflightCb!;
        if (!err && !state.inflightCancelled) state.flushed += n;
        state.inflight = 0;
        state.inflightCb = undefined;
        state.inflightCancelled = false;
        // May dispatch the next write (Writable's clearBuffer) before it returns: the state is ready for it.
        cb(err);
      },
      onData: (chunk: Buffer | string) => {
        if (state.sinks.length === 0) return;
        let buf = typeof chunk === 'string' ? Buffer.from(chunk, socket.readableEncoding ?? 'utf8') : chunk;
        if (state.replay > 0) {
          const skip = Math.min(state.replay, buf.length);
          state.replay -= skip;
          if (skip === buf.length) return;
          buf = buf.subarray(skip);
        }
        if (buf.length > 0) emit(state.sinks, buf, IN);
      },
    };
    t = sock[kTap] = state;
    s.write = tappedWrite;
    s.end = tappedEnd;
    s.unshift = tappedUnshift;
    s._writeGeneric = tappedWriteGeneric;
    s._destroy = tappedDestroy;
    socket.prependListener('data', state.onData);
  }
  const state = t;
  // Copied on change, so that a sink removed while the bytes are handed out does not disturb the loop.
  state.sinks = [...state.sinks, sink];
  let active = true;
  const flushedAtTap = state.flushed;
  return {
    flushedOut: () => state.flushed - flushedAtTap,
    dispose() {
      if (!active) return;
      active = false;
      state.sinks = state.sinks.filter((x) => x !== sink);
      if (state.sinks.length > 0) return;
      // The last tap: restore what is still ours. Under a later wrapper ours stay in its chain and pass through.
      // A write in flight still calls back the tap's onWritten, which needs only its own state.
      if (s.write === tappedWrite && s.end === tappedEnd && s.unshift === tappedUnshift && s._writeGeneric === tappedWriteGeneric && s._destroy === tappedDestroy) {
        socket.removeListener('data', state.onData);
        s.write = state.origWrite;
        s.end = state.origEnd;
        s.unshift = state.origUnshift;
        s._writeGeneric = state.origWriteGeneric;
        s._destroy = state.origDestroy;
        delete sock[kTap];
      }
    },
  };
}

const kTap = Symbol('wsInspector.socketTap');
const IN = 0;
const OUT = 1;

/** One per tapped socket, however many taps it has. */
interface TapState {
  sinks: ByteSink[];
  /** Bytes handed back by unshift() that will be emitted again as 'data'. */
  replay: number;
  /** Guards against counting twice if a wrapped method calls another wrapped method. */
  depth: number;
  origWrite: Write;
  origEnd: End;
  origUnshift: Unshift;
  origWriteGeneric: WriteGeneric;
  origDestroy: Destroy;
  onData: (chunk: Buffer | string) => void;
  /** Bytes whose write the handle reported done (see tapSocket). */
  flushed: number;
  /** Bytes of the write dispatched to the handle and not yet called back; 0 when none. */
  inflight: number;
  /** The socket was destroyed while `inflight` was pending: its callback's success is Node's, not the kernel's. */
  inflightCancelled: boolean;
  inflightCb: WriteCb | undefined;
  onWritten: WriteCb;
}

type Tapped = net.Socket & { [kTap]?: TapState };

function emit(sinks: ByteSink[], chunk: Buffer, dir: typeof IN | typeof OUT): void {
  for (let i = 0; i < sinks.length; i++) {
    try {
      if (dir === OUT) sinks[i].outbound(chunk);
      else sinks[i].inbound(chunk);
    } catch {
      // The capture records its own errors; the socket must not see them.
    }
  }
}

// The replacements are single functions shared by every tapped socket, with the tap's state on the socket: a call
// site that writes to many sockets (the broadcast fan-out) then sees one target and stays fast.

/**
 * True when a write to `socket` now would fail (after end() or destroy()): such bytes are never sent. These are the
 * checks Writable.write itself makes, read from its state in one place: this runs on every tapped write, where the
 * public getters cost more than the rest.
 */
function writeWillFail(socket: net.Socket): boolean {
  const w = (socket as unknown as { _writableState?: { ending: boolean; destroyed: boolean } })._writableState;
  return w === undefined ? socket.writableEnded || socket.destroyed : w.ending || w.destroyed;
}

function tappedWrite(this: Tapped, chunk: unknown, encoding?: BufferEncoding | WriteCb, cb?: WriteCb): boolean {
  const t = this[kTap]!;
  // depth: inside our own end(data), whose bytes were already recorded. write() itself never calls back into
  // write or end, so it needs no guard of its own (and no try/finally on this hot path).
  if (t.sinks.length !== 0 && t.depth === 0 && !writeWillFail(this)) {
    const buf = Buffer.isBuffer(chunk) ? chunk : toBuffer(chunk, encoding);
    if (buf !== undefined && buf.length > 0) emit(t.sinks, buf, OUT);
  }
  return t.origWrite.call(this, chunk, encoding, cb);
}

function tappedEnd(this: Tapped, chunk?: unknown, encoding?: BufferEncoding | WriteCb, cb?: WriteCb): net.Socket {
  const t = this[kTap]!;
  if (t.sinks.length !== 0 && t.depth === 0 && chunk != null && typeof chunk !== 'function' && !writeWillFail(this)) {
    const buf = toBuffer(chunk, encoding);
    if (buf && buf.length > 0) emit(t.sinks, buf, OUT);
  }
  t.depth++;
  try {
    return t.origEnd.call(this, chunk, encoding, cb);
  } finally {
    t.depth--;
  }
}

function tappedUnshift(this: Tapped, chunk: unknown, encoding?: BufferEncoding): void {
  const t = this[kTap]!;
  // Counted before the call: unshift may emit 'data' synchronously.
  if (t.sinks.length !== 0 && chunk != null && !this.readableEnded && !this.destroyed) {
    const buf = toBuffer(chunk, encoding);
    if (buf) t.replay += buf.length;
  }
  return t.origUnshift.call(this, chunk, encoding);
}

/**
 * One write (or writev batch) handed to the handle: its bytes count as flushed when it calls back without an error.
 * Writable dispatches one at a time (the next only from the previous one's callback), so one slot is enough.
 */
function tappedWriteGeneric(this: Tapped, writev: boolean, data: unknown, encoding: BufferEncoding | '', cb: WriteCb): unknown {
  const t = this[kTap]!;
  // Node calling again with our callback, once a connecting socket has connected.
  if (cb === t.onWritten) return t.origWriteGeneric.call(this, writev, data, encoding, cb);
  t.inflight = writev ? writevBytes(data as ReadonlyArray<{ chunk: unknown; encoding?: BufferEncoding }>) : chunkBytes(data, encoding);
  t.inflightCb = cb;
  return t.origWriteGeneric.call(this, writev, data, encoding, t.onWritten);
}

function tappedDestroy(this: Tapped, err: Error | null, cb: (err?: Error | null) => void): void {
  const t = this[kTap]!;
  if (t.inflight > 0 && !t.inflightCancelled) {
    // libuv was still writing it: the part it wrote is in the kernel, the rest never leaves.
    const queued = (this as unknown as { _handle?: { writeQueueSize?: unknown } | null })._handle?.writeQueueSize;
    if (!this.connecting && typeof queued === 'number' && queued < t.inflight) t.flushed += t.inflight - queued;
    t.inflightCancelled = true;
  }
  t.origDestroy.call(this, err, cb);
}

function chunkBytes(chunk: unknown, encoding: unknown): number {
  if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' && Buffer.isEncoding(encoding) ? encoding : 'utf8');
  return ArrayBuffer.isView(chunk) ? chunk.byteLength : 0;
}

function writevBytes(entries: ReadonlyArray<{ chunk: unknown; encoding?: BufferEncoding }>): number {
  let n = 0;
  for (let i = 0; i < entries.length; i++) n += chunkBytes(entries[i].chunk, entries[i].encoding);
  return n;
}

/** net.Socket's own write, which a tap wraps. */
const SOCKET_WRITE = (net.Socket.prototype as unknown as { write: Write }).write;

/**
 * True when `socket` is tapped and the write under the tap is net.Socket's own (nobody had wrapped it before the
 * tap): only then may writePastTap be used on it.
 */
export function canWritePastTap(socket: net.Socket): boolean {
  const t = (socket as Tapped)[kTap];
  return t !== undefined && t.origWrite === SOCKET_WRITE;
}

/**
 * Writes `chunk` to `socket` past the tap: its sinks do not see these bytes. Only for a socket canWritePastTap said
 * yes to, and for a writer that records the bytes itself before any of them leave, such as the broadcast fan-out
 * (see recordFanOut). It calls net.Socket's write directly, not through the tap's state: the fan-out does this once
 * per recipient, and the direct call measured ~0.1 of the capture's fan-out ratio. Returns write()'s result.
 */
export function writePastTap(socket: net.Socket, chunk: Buffer): boolean {
  return SOCKET_WRITE.call(socket, chunk);
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer | undefined {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (typeof chunk === 'string') {
    const enc = typeof encoding === 'string' && Buffer.isEncoding(encoding) ? encoding : 'utf8';
    return Buffer.from(chunk, enc);
  }
  if (ArrayBuffer.isView(chunk)) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  return undefined;
}

/**
 * Calls `onSocket` with the socket a ws client's upgrade request is given, whichever agent made it, before the request
 * is written: Node emits the request's `'socket'` event right before it flushes the head. This survives agents
 * that ignore `createConnection`, such as the proxy agent VS Code's extension host installs on every
 * `http.request` (`http.proxySupport`: "override", the default), which made the `createConnection` route blind.
 */
export function onClientSocket(ws: WebSocket, onSocket: (socket: net.Socket) => void): void {
  // ws keeps the upgrade request private; it is set synchronously in the constructor and stable across ws 8.
  const req = (ws as unknown as { _req?: http.ClientRequest })._req;
  req?.once('socket', (socket: net.Socket) => onSocket(socket));
}
