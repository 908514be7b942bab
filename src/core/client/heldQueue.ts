// The messages of one stream (a server's client, its Send to all, a client connection's sends or receives) that
// frame breakpoints hold, and those that wait behind a held one so that the stream keeps its order. The proxy holds
// frames in its own pipe (proxy/framePipe.ts); the server and client connections hold whole messages, as ws gives
// them, here.

import { textOf, type BreakpointController, type BreakpointScope, type HeldFrame, type HeldFrameClosed, type HeldOutcome } from '../proxy/breakpoints';
import { OPCODE_BINARY, OPCODE_TEXT } from '../wire/constants';
import type { Disposable } from '../util/events';

/** How a message that went through the breakpoints ended. */
export interface SendSettled {
  /** `sent`: no rule held it; the rest are the held frame's outcome (`dropped` and `connectionClosed`: not sent). */
  outcome: 'sent' | HeldOutcome;
  /** Deliveries: recipients of a Send to all, 1 or 0 for a client connection's send. */
  delivered: number;
}

/** What became of a message sent through the breakpoints, at once. */
export interface CheckedSend {
  /** `sent` now; `held` by a rule (see `frame`); `queued` behind an earlier held message of the same stream. */
  status: 'sent' | 'held' | 'queued';
  /** The held frame, for `held`: the same object the controller's onDidHold gave. */
  frame?: HeldFrame;
  /** Deliveries so far: for `sent`, all of them; 0 otherwise. */
  delivered: number;
  /** Resolves (never rejects) once the message went out or was dropped. */
  settled: Promise<SendSettled>;
}

/** One message in a stream. */
export interface HeldItem {
  data: Buffer;
  isBinary: boolean;
  /** Told how it ended, for a checked send. */
  settle?: (r: SendSettled) => void;
  /** Set while or once it is held. */
  frame?: HeldFrame;
}

export interface HoldQueueOptions {
  controller: BreakpointController;
  scope: Exclude<BreakpointScope, 'proxy'>;
  direction: 'c2s' | 's2c';
  /** HeldFrame.connectionId. */
  connectionId: string;
  /** Sends or hands on a message (`data` is the edit for `edited`); returns the deliveries. */
  deliver(item: HeldItem, data: Buffer): number;
  /** The number of queued bytes changed (the server pauses a client while its queue is long). */
  onQueued?(bytes: number, count: number): void;
}

/** A message ws gave: text (1) or binary (2). */
const opcodeOf = (isBinary: boolean): number => (isBinary ? OPCODE_BINARY : OPCODE_TEXT);

/**
 * One stream's held message and those behind it. A message is matched when it reaches the head; the head is either
 * delivered at once or held, and the rest wait. Its owners skip it while it is idle and no rule applies (ScopeWatch).
 */
export class HoldQueue {
  private held: HeldItem | undefined;
  private heldId: number | undefined;
  private waiting: Array<HeldItem | undefined> = [];
  private head = 0;
  private bytes = 0;
  private draining = false;
  /** After close(): nothing is matched or held any more. */
  private closed = false;

  constructor(private readonly o: HoldQueueOptions) {}

  /** True when nothing is held or waiting. */
  get idle(): boolean {
    return this.held === undefined && this.head === this.waiting.length;
  }

  /** Delivers, holds or queues `item`, in the stream's order. */
  push(item: HeldItem): CheckedSend['status'] {
    if (!this.idle || this.draining) {
      this.waiting.push(item);
      this.bytes += item.data.length;
      this.o.onQueued?.(this.bytes, this.waiting.length - this.head);
      return 'queued';
    }
    return this.pass(item);
  }

  /**
   * Ends the stream's holds. `deliver`: the held message is forwarded unchanged and the waiting ones delivered without
   * matching (the breakpoints were taken off). `discard`: the held one resolves `connectionClosed` (after `closed` is
   * recorded on its card) and nothing more is delivered.
   */
  close(how: 'deliver' | 'discard', closed?: Omit<HeldFrameClosed, 'at'>): void {
    if (this.closed) return;
    this.closed = true;
    const rest = this.waiting.slice(this.head) as HeldItem[];
    this.waiting = [];
    this.head = this.bytes = 0;
    const id = this.heldId;
    if (id !== undefined) {
      if (how === 'deliver') {
        this.o.controller.forward(id);
      } else {
        if (closed !== undefined) this.o.controller.markClosed(id, closed);
        this.o.controller.release(id);
      }
    }
    for (const item of rest) {
      if (how === 'deliver') settle(item, 'sent', this.o.deliver(item, item.data));
      else settle(item, 'connectionClosed', 0);
    }
    if (rest.length > 0) this.o.onQueued?.(0, 0);
  }

  /** Matches `item`: delivers it, or holds it and returns 'held'. */
  private pass(item: HeldItem): 'sent' | 'held' {
    const { controller, scope, direction } = this.o;
    const opcode = opcodeOf(item.isBinary);
    const ruleId = this.closed ? undefined : controller.match({ scope, direction, opcode, payload: item.data, isText: !item.isBinary });
    if (ruleId === undefined) {
      settle(item, 'sent', this.o.deliver(item, item.data));
      return 'sent';
    }
    this.held = item;
    const frame = controller.hold(
      {
        source: scope,
        connectionId: this.o.connectionId,
        direction,
        opcode,
        payload: item.data,
        text: textOf(item.data, !item.isBinary),
        // ws inflated it before it came here, and what goes on is framed (and compressed) anew: always editable.
        compressed: false,
        ruleId,
        editable: true,
      },
      (outcome, payload) => this.resolved(item, outcome, payload),
    );
    item.frame = frame;
    // An onDidHold listener may have resolved it already.
    if (this.held === item) this.heldId = frame.id;
    return 'held';
  }

  private resolved(item: HeldItem, outcome: HeldOutcome, payload: Buffer | undefined): void {
    if (this.held === item) this.held = this.heldId = undefined;
    let delivered = 0;
    if (outcome === 'edited') delivered = this.o.deliver(item, payload ?? Buffer.alloc(0));
    else if (outcome === 'forwarded' || outcome === 'timedOut') delivered = this.o.deliver(item, item.data);
    settle(item, outcome, delivered);
    this.drain();
  }

  /** Takes the waiting messages in order until one is held. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.held === undefined && this.head < this.waiting.length) {
        const item = this.waiting[this.head]!;
        this.waiting[this.head++] = undefined;
        this.bytes -= item.data.length;
        this.pass(item);
      }
      if (this.head === this.waiting.length) {
        this.waiting = [];
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting = this.waiting.slice(this.head);
        this.head = 0;
      }
    } finally {
      this.draining = false;
    }
    this.o.onQueued?.(this.bytes, this.waiting.length - this.head);
  }
}

/**
 * Whether any enabled rule applies to `scope`, kept up to date as the rules change, so that a stream with nothing held
 * costs one field read per message.
 */
export class ScopeWatch implements Disposable {
  private _active: boolean;
  private readonly sub: Disposable;

  constructor(controller: BreakpointController, scope: BreakpointScope) {
    this._active = controller.hasActiveRules(scope);
    this.sub = controller.onDidChangeRules(() => (this._active = controller.hasActiveRules(scope)));
  }

  get active(): boolean {
    return this._active;
  }

  dispose(): void {
    this.sub.dispose();
  }
}

/** A checked send that went out at once, or through `queue`. */
export function checkedPush(queue: HoldQueue, data: Buffer, isBinary: boolean): CheckedSend {
  let result: SendSettled | undefined;
  let resolve!: (r: SendSettled) => void;
  const settled = new Promise<SendSettled>((r) => (resolve = r));
  const item: HeldItem = {
    data,
    isBinary,
    settle: (r) => {
      result = r;
      resolve(r);
    },
  };
  const status = queue.push(item);
  const out: CheckedSend = { status, delivered: status === 'sent' ? (result?.delivered ?? 0) : 0, settled };
  if (item.frame !== undefined) out.frame = item.frame;
  return out;
}

/** The result of a send that no breakpoint could hold. */
export function sentAtOnce(delivered: number): CheckedSend {
  return { status: 'sent', delivered, settled: Promise.resolve({ outcome: 'sent', delivered }) };
}

/** A client connection's send that went out at once: one object for all. */
export const SENT_ONE: CheckedSend = Object.freeze(sentAtOnce(1));

function settle(item: HeldItem, outcome: SendSettled['outcome'], delivered: number): void {
  item.settle?.({ outcome, delivered });
}
