// A peer that sends and then resets: what it sent is read before a failing write ends the socket.
import type * as net from 'node:net';

/** How long a socket whose write failed waits at most for its read side to reach the peer's reset or end. */
export const READ_BEFORE_DESTROY_MS = 1000;

const kDeferred = Symbol('wsInspector.readBeforeDestroy');

type Deferring = net.Socket & {
  [kDeferred]?: { err: Error; timer: NodeJS.Timeout };
  _handle?: unknown;
};

/** net.Socket's own destroy, which the socket's is replaced by. */
type Destroy = (this: net.Socket, err?: Error) => net.Socket;

/**
 * Makes `socket` read what its peer sent before a failed write destroys it.
 *
 * A peer that writes a message and resets at once (a crashing client) leaves the message in this machine's kernel
 * and a reset behind it. Node reads them in order, and the message would be read and relayed, unless the server
 * writes to the socket first (a broadcast of another client's message): that write fails with ECONNRESET or EPIPE,
 * and Node destroys the socket at once, with the message unread. A message that fully arrived is then neither
 * relayed nor recorded. Here a destroy for such a write error waits until the read side reaches the peer's reset (its
 * read error destroys the socket) or its end, or READ_BEFORE_DESTROY_MS at most; a paused socket is resumed for
 * it. Any other destroy, and one without an error (the server stopping, ws terminating), happens at once.
 */
export function readBeforeDestroy(socket: net.Socket): void {
  (socket as unknown as { destroy: Destroy }).destroy = destroyAfterReading;
}

function destroyAfterReading(this: Deferring, err?: Error): net.Socket {
  const deferred = this[kDeferred];
  // Further writes fail the same way while the read side catches up.
  if (deferred !== undefined) {
    if (err === undefined || !isWriteToGonePeer(err)) return finish(this, err ?? deferred.err);
    keepReading(this, err);
    return this;
  }
  if (err !== undefined && isWriteToGonePeer(err) && !this.destroyed && this._handle && this.readable && !this.readableEnded) {
    const timer = setTimeout(() => finish(this, err), READ_BEFORE_DESTROY_MS);
    timer.unref?.();
    this[kDeferred] = { err, timer };
    this.once('end', () => finish(this, err));
    keepReading(this, err);
    return this;
  }
  return ownDestroy(this).call(this, err);
}

/**
 * Node marks the read side errored with each failed write's error, and then drops what it reads: the read side has its
 * own end to reach, so the mark goes. A paused socket is resumed.
 */
function keepReading(socket: net.Socket, err: Error): void {
  const rs = (socket as unknown as { _readableState: { errored: Error | null } })._readableState;
  if (rs.errored === err) rs.errored = null;
  if (socket.isPaused()) socket.resume();
  else socket.read(0);
}

function finish(socket: Deferring, err: Error): net.Socket {
  const deferred = socket[kDeferred];
  if (deferred !== undefined) clearTimeout(deferred.timer);
  // The socket's own destroy again: a later call (ws's, after the 'error') goes straight to it.
  delete (socket as unknown as { destroy?: Destroy }).destroy;
  return socket.destroyed ? socket : socket.destroy(err);
}

function ownDestroy(socket: net.Socket): Destroy {
  return Object.getPrototypeOf(socket).destroy as Destroy;
}

function isWriteToGonePeer(err: Error): boolean {
  const e = err as NodeJS.ErrnoException;
  return e.syscall === 'write' && (e.code === 'ECONNRESET' || e.code === 'EPIPE');
}
