// Frame breakpoints on an outgoing client connection: a rule applying to 'client' holds what it sends (c2s) before it
// is written and what it receives (s2c) before its listeners get it. The rules and the held frames are the
// BreakpointController's (proxy/breakpoints.ts); each direction is a HoldQueue (heldQueue.ts).
//
// A held send goes to the socket it was sent on or nowhere: when that connection closes (or close() is called), it
// and the sends behind it resolve `connectionClosed`, not sent; a reconnect does not send them. A held receive stays
// held when the connection closes: it arrived whole, and its listeners are still there. Pings and pongs are ws's own
// and are never held.

import { WebSocket } from 'ws';
import type { BreakpointController, HeldFrameClosed } from '../proxy/breakpoints';
import type { Disposable } from '../util/events';
import { checkedPush, HoldQueue, ScopeWatch, SENT_ONE, type CheckedSend } from './heldQueue';

export class ClientBreakpoints implements Disposable {
  private readonly watch: ScopeWatch;
  private readonly receives: HoldQueue;
  /** The current socket's sends, held and waiting. */
  private sends: { ws: WebSocket; queue: HoldQueue } | undefined;

  /** `hand` gives a received message to the connection's listeners. */
  constructor(
    private readonly controller: BreakpointController,
    private readonly connectionId: string,
    hand: (data: Buffer, isBinary: boolean) => void,
  ) {
    this.watch = new ScopeWatch(controller, 'client');
    this.receives = new HoldQueue({
      controller,
      scope: 'client',
      direction: 's2c',
      connectionId,
      deliver: (item, data) => {
        hand(data, item.isBinary);
        return 1;
      },
    });
  }

  /** Sends on `ws`, unless a breakpoint holds the message or one before it. */
  send(ws: WebSocket, data: string | Buffer): CheckedSend {
    const isBinary = typeof data !== 'string';
    let queue = this.sends?.ws === ws ? this.sends.queue : undefined;
    if ((queue === undefined || queue.idle) && !this.watch.active) {
      ws.send(data, { binary: isBinary });
      return SENT_ONE;
    }
    queue ??= this.queueFor(ws);
    return checkedPush(queue, typeof data === 'string' ? Buffer.from(data) : data, isBinary);
  }

  /** Hands a received message on, unless a breakpoint holds it or one before it. Returns false when it did at once. */
  received(data: Buffer, isBinary: boolean): boolean {
    if (this.receives.idle && !this.watch.active) return false;
    this.receives.push({ data, isBinary });
    return true;
  }

  /** `ws` closed or is closing: what it still holds or queues to send is not sent. */
  closed(ws: WebSocket, closed: Omit<HeldFrameClosed, 'at'>): void {
    const s = this.sends;
    if (s === undefined || s.ws !== ws) return;
    this.sends = undefined;
    s.queue.close('discard', closed);
  }

  /** The connection is disposed: nobody is left to hand what is held to. */
  dispose(): void {
    if (this.sends !== undefined) this.closed(this.sends.ws, { code: 1001, reason: '', by: 'client' });
    this.receives.close('discard', { code: 1001, reason: '', by: 'client' });
    this.watch.dispose();
  }

  private queueFor(ws: WebSocket): HoldQueue {
    const queue = new HoldQueue({
      controller: this.controller,
      scope: 'client',
      direction: 'c2s',
      connectionId: this.connectionId,
      deliver: (item, data) => {
        if (ws.readyState !== WebSocket.OPEN) return 0;
        ws.send(data, { binary: item.isBinary });
        return 1;
      },
    });
    this.sends = { ws, queue };
    return queue;
  }
}
