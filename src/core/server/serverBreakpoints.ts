// Frame breakpoints in the broadcast server: a client's message that matches a rule applying to 'server' is held
// before it is relayed, and a checked Send to all before it goes out. The rules and the held frames are the
// BreakpointController's (proxy/breakpoints.ts); each client's stream is a HoldQueue (client/heldQueue.ts).
//
// What happens to a held message from a client:
// - forwarded or timed out: relayed as it came; edited: the edit is relayed (as one message of the same type);
//   dropped: nobody gets it. The server's onDidReceive reported the original when it arrived, and the capture keeps
//   what the client sent and what the server relayed.
// - the sender leaves: it stays held, and the decision still applies. The message arrived whole, and its recipients
//   are the other clients, still there; a script that sends and exits at once must not slip past the breakpoint. Only
//   when the relay mode sends nothing to others (`echo`, `none`) is it let go, as `connectionClosed`.
// - the server stops: `connectionClosed`, nothing is relayed.
// Later messages from the same client wait behind it, in order, and are matched when their turn comes; other clients
// are not held up. A client with a long queue is not read until it shortens (pauseForHold), and the heartbeat does not
// count its missed pongs meanwhile. Pings and pongs are ws's own and are never held.

import type { BreakpointController, HeldFrameClosed } from '../proxy/breakpoints';
import { checkedPush, HoldQueue, ScopeWatch, sentAtOnce, type CheckedSend } from '../client/heldQueue';
import { OPCODE_BINARY, OPCODE_TEXT } from '../wire/constants';
import { pauseForHold, resumeAfterHold } from './clientLimits';
import type { ClientRecord } from './clientRegistry';

/** HeldFrame.connectionId of a held Send to all. */
export const SEND_TO_ALL_CONNECTION_ID = 'allClients';

/** A client with more than this queued behind a held message is not read until its queue is half as long. */
const PAUSE_BYTES = 1024 * 1024;
const PAUSE_MESSAGES = 1000;

export interface ServerBreakpointsHost {
  /** Relays a client's message as the relay mode says (no breakpoint check). */
  relay(from: ClientRecord, data: Buffer, isBinary: boolean): void;
  /** Sends to every client and the backplane (no breakpoint check); returns the local deliveries. */
  sendToAll(data: Buffer, isBinary: boolean): number;
  /** True while a client's message reaches other clients (relay `broadcast` or `broadcastOthers`). */
  relaysToOthers(): boolean;
}

/** One run's breakpoints: made when the server starts with a controller, or when one is set while it runs. */
export class ServerBreakpoints {
  private readonly watch: ScopeWatch;
  private readonly queues = new Map<ClientRecord, HoldQueue>();
  private readonly out: HoldQueue;

  constructor(
    readonly controller: BreakpointController,
    private readonly host: ServerBreakpointsHost,
  ) {
    this.watch = new ScopeWatch(controller, 'server');
    this.out = new HoldQueue({
      controller,
      scope: 'server',
      direction: 's2c',
      connectionId: SEND_TO_ALL_CONNECTION_ID,
      deliver: (item, data) => host.sendToAll(data, item.isBinary),
    });
  }

  /**
   * True when it took the client's message (held, or queued behind a held one): the caller must not relay it. With no
   * rule for the server and nothing held, this is two field reads.
   */
  takes(c: ClientRecord, data: Buffer, isBinary: boolean): boolean {
    let q = this.queues.size === 0 ? undefined : this.queues.get(c);
    if (q === undefined) {
      if (!this.watch.active) return false;
      const opcode = isBinary ? OPCODE_BINARY : OPCODE_TEXT;
      if (this.controller.match({ scope: 'server', direction: 'c2s', opcode, payload: data, isText: !isBinary }) === undefined) return false;
      q = this.queueOf(c);
    }
    q.push({ data, isBinary });
    return true;
  }

  /** Send to all through the breakpoints (direction s2c), in order behind an earlier held one. */
  sendToAll(data: Buffer, isBinary: boolean): CheckedSend {
    if (this.out.idle && !this.watch.active) return sentAtOnce(this.host.sendToAll(data, isBinary));
    return checkedPush(this.out, data, isBinary);
  }

  /** The client left: its held messages stay held, unless they can no longer reach anyone (see the top). */
  clientLeft(c: ClientRecord, code: number, reason: string): void {
    const q = this.queues.get(c);
    if (q === undefined || this.host.relaysToOthers()) return;
    this.queues.delete(c);
    q.close('discard', { code, reason, by: 'client' });
  }

  /**
   * Ends this run's holds. `stop`: the server stops, everything held resolves `connectionClosed` and nothing more is
   * relayed. `detach`: the breakpoints were taken off, so what is held is forwarded and what waits is relayed.
   */
  dispose(how: 'stop' | 'detach'): void {
    this.watch.dispose();
    const closed: Omit<HeldFrameClosed, 'at'> = { code: 1001, reason: 'server stopping', by: 'server' };
    const queues = [...this.queues.values(), this.out];
    this.queues.clear();
    for (const q of queues) q.close(how === 'stop' ? 'discard' : 'deliver', closed);
  }

  private queueOf(c: ClientRecord): HoldQueue {
    const q = new HoldQueue({
      controller: this.controller,
      scope: 'server',
      direction: 'c2s',
      connectionId: c.info.id,
      deliver: (item, data) => {
        this.host.relay(c, data, item.isBinary);
        return 1;
      },
      onQueued: (bytes, count) => {
        if (!c.pausedForHold && (bytes > PAUSE_BYTES || count > PAUSE_MESSAGES)) pauseForHold(c);
        else if (c.pausedForHold && bytes <= PAUSE_BYTES / 2 && count <= PAUSE_MESSAGES / 2) resumeAfterHold(c);
        if (q.idle && this.queues.get(c) === q) this.queues.delete(c);
      },
    });
    this.queues.set(c, q);
    return q;
  }
}
