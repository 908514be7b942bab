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
 * dispose() restores the methods it replaced (when nobody wrapped them again meanwhile; otherwise its wrappers
 * become pass-through) and removes its listener.
 */
export function tapSocket(socket: net.Socket, sink: ByteSink): Disposable {
  let active = true;
  // Bytes handed back by unshift() that will be emitted again as 'data'.
  let replay = 0;
  // Guards against counting twice if a wrapped method calls another wrapped method.
  let depth = 0;

  const emitIn = (chunk: Buffer) => {
    try {
      sink.inbound(chunk);
    } catch {
      // The capture records its own errors; the socket must not see them.
    }
  };
  const emitOut = (chunk: Buffer) => {
    try {
      sink.outbound(chunk);
    } catch {
      // As above.
    }
  };

  const onData = (chunk: Buffer | string) => {
    if (!active) return;
    let buf = typeof chunk === 'string' ? Buffer.from(chunk, socket.readableEncoding ?? 'utf8') : chunk;
    if (replay > 0) {
      const skip = Math.min(replay, buf.length);
      replay -= skip;
      if (skip === buf.length) return;
      buf = buf.subarray(skip);
    }
    if (buf.length > 0) emitIn(buf);
  };

  const origWrite = socket.write as unknown as Write;
  const origEnd = socket.end as unknown as End;
  const origUnshift = socket.unshift as unknown as Unshift;

  const write: Write = function (this: net.Socket, chunk, encoding, cb) {
    if (active && depth === 0 && !socket.writableEnded && !socket.destroyed) {
      const buf = toBuffer(chunk, encoding);
      if (buf && buf.length > 0) emitOut(buf);
    }
    depth++;
    try {
      return origWrite.call(this, chunk, encoding, cb);
    } finally {
      depth--;
    }
  };

  const end: End = function (this: net.Socket, chunk, encoding, cb) {
    if (active && depth === 0 && chunk != null && typeof chunk !== 'function' && !socket.writableEnded && !socket.destroyed) {
      const buf = toBuffer(chunk, encoding);
      if (buf && buf.length > 0) emitOut(buf);
    }
    depth++;
    try {
      return origEnd.call(this, chunk, encoding, cb);
    } finally {
      depth--;
    }
  };

  const unshift: Unshift = function (this: net.Socket, chunk, encoding) {
    // Counted before the call: unshift may emit 'data' synchronously.
    if (active && chunk != null && !socket.readableEnded && !socket.destroyed) {
      const buf = toBuffer(chunk, encoding);
      if (buf) replay += buf.length;
    }
    return origUnshift.call(this, chunk, encoding);
  };

  const s = socket as unknown as { write: Write; end: End; unshift: Unshift };
  s.write = write;
  s.end = end;
  s.unshift = unshift;
  socket.prependListener('data', onData);

  return {
    dispose() {
      if (!active) return;
      active = false;
      // Restore only what is still ours; a later wrapper keeps working and ours passes through.
      if (s.write === write) s.write = origWrite;
      if (s.end === end) s.end = origEnd;
      if (s.unshift === unshift) s.unshift = origUnshift;
      socket.removeListener('data', onData);
    },
  };
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
