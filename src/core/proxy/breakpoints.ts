// Frame breakpoints: rules that stop matching messages (in the inspecting proxy, the embedded server or a client
// connection) until the user forwards, edits or drops them (or they time out and go on unchanged).
import { MAX_CONTROL_PAYLOAD, OPCODE_CLOSE } from '../wire/constants';
import { Emitter, type Event } from '../util/events';
import { RuleSet, type BreakpointRule, type BreakpointScope, type MatchInput } from './breakpointRules';
import type { ProxyCompression } from './compressionMode';

export { BREAKPOINT_SCOPES, scopesOf, textOf, validateRule } from './breakpointRules';
export type { BreakpointRule, BreakpointScope, MatchInput } from './breakpointRules';

/** Who closed the connection of a held frame: the proxy's two sides, the proxy itself, or a server's/client's peer. */
export type HeldCloser = 'program' | 'target' | 'proxy' | 'client' | 'server';

/** The connection of a held frame closed while it was held. */
export interface HeldFrameClosed {
  /** The close code sent (1005 when the close frame had none, 1006 when the connection ended without a close frame). */
  code: number;
  reason: string;
  by: HeldCloser;
  /** Epoch ms. */
  at: number;
}

/** A message or control frame stopped by a rule. */
export interface HeldFrame {
  /** Unique per controller. */
  id: number;
  /** Where it is held. */
  source: BreakpointScope;
  /**
   * The holder's connection id: for the proxy its connection's id (`proxy1-3`), not a capture connection id; for the
   * server the client's id; for a client connection its id.
   */
  connectionId: string;
  direction: 'c2s' | 's2c';
  /** The opcode of the message (its first frame) or of the control frame. */
  opcode: number;
  /** Unmasked, reassembled and inflated (for a compressed message that could not be inflated: the compressed bytes). */
  payload: Buffer;
  /** The payload as UTF-8, when it is a text message or valid UTF-8. */
  text?: string;
  /** The message was sent compressed (RSV1). */
  compressed: boolean;
  ruleId: string;
  /** Epoch ms. */
  heldAt: number;
  /** Epoch ms at which it is forwarded unchanged (`timedOut`). holdLonger moves it. */
  deadline: number;
  /** False when editing or dropping it would break the connection; `forward` is always possible. */
  editable: boolean;
  notEditableReason?: string;
  /**
   * Set when the frame is not editable because of how compression runs: the mode that would make such a frame
   * editable for the connection's next session (the proxy's `compression` option).
   */
  suggestedCompression?: ProxyCompression;
  /** Set (and onDidChange fired) when its connection closed while it was held; it then resolves `connectionClosed`. */
  closed?: HeldFrameClosed;
}

/** `connectionClosed`: not delivered, the connection closed while it was held. */
export type HeldOutcome = 'forwarded' | 'edited' | 'dropped' | 'timedOut' | 'connectionClosed';

/** A sentence for each outcome, as the panel's outcome list shows it. */
export const HELD_OUTCOME_TEXT: Readonly<Record<HeldOutcome, string>> = {
  forwarded: 'forwarded unchanged',
  edited: 'forwarded edited',
  dropped: 'dropped',
  timedOut: 'forwarded unchanged: the hold timed out',
  connectionClosed: 'not delivered: the connection closed',
};

export interface BreakpointControllerOptions {
  /** How long a frame is held before it is forwarded unchanged, in ms. Default 30000. */
  timeoutMs?: number;
}

/** @internal What a holder hands over when a rule matched. */
export interface HoldInit {
  source: BreakpointScope;
  connectionId: string;
  direction: 'c2s' | 's2c';
  opcode: number;
  payload: Buffer;
  text?: string;
  compressed: boolean;
  ruleId: string;
  editable: boolean;
  notEditableReason?: string;
  suggestedCompression?: ProxyCompression;
}

/** @internal How the holder learns the decision. `payload` is the replacement for 'edited'. */
export type HoldCallback = (outcome: HeldOutcome, payload?: Buffer) => void;

interface HeldEntry {
  frame: HeldFrame;
  callback: HoldCallback;
  timer: NodeJS.Timeout;
}

const DEFAULT_TIMEOUT_MS = 30_000;
/** holdLonger's default step: the card's "Hold longer" button. */
export const HOLD_LONGER_MS = 60_000;

/**
 * Holds the rules and the frames they stopped. One controller can serve several proxies, the server and client
 * connections. A holder asks it whether a frame matches and hands matching frames over; the user (the panel) resolves
 * them with forward, edit or drop.
 */
export class BreakpointController {
  private ruleSet = new RuleSet([]);
  private _timeoutMs: number;
  private readonly entries = new Map<number, HeldEntry>();
  private nextId = 1;
  private disposed = false;

  private readonly _onDidHold = new Emitter<HeldFrame>();
  /** A frame was stopped by a rule. */
  readonly onDidHold: Event<HeldFrame> = this._onDidHold.event;
  private readonly _onDidChange = new Emitter<HeldFrame>();
  /** A held frame changed while held: its deadline moved (holdLonger), or its connection closed (`closed` is set). */
  readonly onDidChange: Event<HeldFrame> = this._onDidChange.event;
  private readonly _onDidResolve = new Emitter<{ frame: HeldFrame; outcome: HeldOutcome }>();
  /** A held frame went on (unchanged, edited), was dropped, timed out, or its connection closed. */
  readonly onDidResolve: Event<{ frame: HeldFrame; outcome: HeldOutcome }> = this._onDidResolve.event;
  private readonly _onDidChangeRules = new Emitter<readonly BreakpointRule[]>();
  readonly onDidChangeRules: Event<readonly BreakpointRule[]> = this._onDidChangeRules.event;

  constructor(options: BreakpointControllerOptions = {}) {
    this._timeoutMs = DEFAULT_TIMEOUT_MS;
    if (options.timeoutMs !== undefined) this.timeoutMs = options.timeoutMs;
  }

  /** Replaces every rule. Throws a TypeError naming the first invalid rule (see validateRule) or a duplicate id. */
  setRules(rules: BreakpointRule[]): void {
    this.ruleSet = new RuleSet(rules);
    this._onDidChangeRules.fire(this.rules);
  }

  /** Copies of the current rules. */
  get rules(): BreakpointRule[] {
    return this.ruleSet.rules;
  }

  /** True while some rule is enabled for `scope` (any scope when absent). The proxy's compression default follows it. */
  hasActiveRules(scope?: BreakpointScope): boolean {
    return this.ruleSet.anyEnabled(scope);
  }

  /** Hold time in ms for frames held from now on (frames already held keep their deadline). */
  get timeoutMs(): number {
    return this._timeoutMs;
  }

  set timeoutMs(v: number) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TypeError('timeoutMs must be a positive number of ms');
    this._timeoutMs = v;
  }

  /** The frames held now, oldest first. */
  held(): HeldFrame[] {
    return [...this.entries.values()].map((e) => e.frame);
  }

  /** Forward now: sends the held frame on unchanged. Throws for an unknown id. */
  forward(id: number): void {
    this.resolve(this.entry(id), 'forwarded');
  }

  /** Moves the held frame's deadline `ms` later (default 60 s) and fires onDidChange. Throws for an unknown id. */
  holdLonger(id: number, ms: number = HOLD_LONGER_MS): HeldFrame {
    const e = this.entry(id);
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) throw new TypeError('ms must be a positive number of ms');
    e.frame.deadline += ms;
    this.arm(e);
    this._onDidChange.fire(e.frame);
    return e.frame;
  }

  /**
   * Sends `payload` instead (a string is UTF-8), as one unfragmented frame with the original opcode (a holder that
   * compresses the connection compresses it). Throws a readable Error for an unknown id, a frame that is not editable,
   * or a control payload over 125 bytes.
   */
  edit(id: number, payload: string | Buffer): void {
    const e = this.entry(id);
    if (!e.frame.editable) throw new Error(`Held frame ${id} cannot be edited: ${e.frame.notEditableReason}`);
    let bytes: Buffer;
    if (typeof payload === 'string') bytes = Buffer.from(payload, 'utf8');
    else if (Buffer.isBuffer(payload)) bytes = payload;
    else if ((payload as unknown) instanceof Uint8Array) bytes = Buffer.from(payload as Uint8Array);
    else throw new TypeError('payload must be a string or a Buffer');
    if (e.frame.opcode >= 0x8 && bytes.length > MAX_CONTROL_PAYLOAD) {
      throw new Error(`A control frame carries at most ${MAX_CONTROL_PAYLOAD} bytes; the edit has ${bytes.length}`);
    }
    if (e.frame.opcode === OPCODE_CLOSE && bytes.length === 1) {
      throw new Error('A close payload is empty or starts with a 2-byte code; 1 byte is invalid');
    }
    this.resolve(e, 'edited', bytes);
  }

  /** Discards the held frame. Throws a readable Error for an unknown id or a frame that is not editable. */
  drop(id: number): void {
    const e = this.entry(id);
    if (!e.frame.editable) throw new Error(`Held frame ${id} cannot be dropped: ${e.frame.notEditableReason}`);
    this.resolve(e, 'dropped');
  }

  /** Forwards every held frame unchanged. */
  forwardAll(): void {
    for (const e of [...this.entries.values()]) this.resolve(e, 'forwarded');
  }

  /** @internal True when some enabled rule could match a frame of this direction and opcode there (default the proxy). */
  wants(direction: 'c2s' | 's2c', opcode: number, scope: BreakpointScope = 'proxy'): boolean {
    return this.ruleSet.wants(direction, opcode, scope);
  }

  /** @internal The id of the first enabled rule that applies to `input.scope` and matches, if any. */
  match(input: MatchInput): string | undefined {
    return this.ruleSet.match(input);
  }

  /** @internal Holds a frame that matched; `callback` is called once with the outcome. */
  hold(init: HoldInit, callback: HoldCallback): HeldFrame {
    const id = this.nextId++;
    const heldAt = Date.now();
    const frame: HeldFrame = { id, ...init, heldAt, deadline: heldAt + this._timeoutMs };
    if (frame.text === undefined) delete frame.text;
    if (frame.notEditableReason === undefined) delete frame.notEditableReason;
    if (frame.suggestedCompression === undefined) delete frame.suggestedCompression;
    const entry: HeldEntry = { frame, callback, timer: undefined as unknown as NodeJS.Timeout };
    this.arm(entry);
    this.entries.set(id, entry);
    this._onDidHold.fire(frame);
    return frame;
  }

  /**
   * @internal The held frame's connection is closing: records who closed it and how, and fires onDidChange at once.
   * The holder then delivers the close and calls release(id). Unknown ids and a second call are ignored.
   */
  markClosed(id: number, closed: Omit<HeldFrameClosed, 'at'>): void {
    const e = this.entries.get(id);
    if (e === undefined || e.frame.closed !== undefined) return;
    e.frame.closed = { ...closed, at: Date.now() };
    this._onDidChange.fire(e.frame);
  }

  /** @internal The holder can no longer deliver it: resolves it as `connectionClosed`. Unknown ids are ignored. */
  release(id: number): void {
    const e = this.entries.get(id);
    if (e) this.resolve(e, 'connectionClosed');
  }

  /** Forwards everything still held and stops matching. */
  dispose(): void {
    if (this.disposed) return;
    this.forwardAll();
    this.disposed = true;
    this.ruleSet = new RuleSet([]);
    this._onDidHold.dispose();
    this._onDidChange.dispose();
    this._onDidResolve.dispose();
    this._onDidChangeRules.dispose();
  }

  private arm(e: HeldEntry): void {
    clearTimeout(e.timer);
    e.timer = setTimeout(() => this.resolve(e, 'timedOut'), Math.max(0, e.frame.deadline - Date.now()));
    e.timer.unref();
  }

  private entry(id: number): HeldEntry {
    const e = this.entries.get(id);
    if (e === undefined) throw new Error(`No held frame with id ${id} (it was already resolved, timed out, or its connection closed)`);
    return e;
  }

  private resolve(e: HeldEntry, outcome: HeldOutcome, payload?: Buffer): void {
    if (!this.entries.delete(e.frame.id)) return;
    clearTimeout(e.timer);
    try {
      e.callback(outcome, payload);
    } finally {
      this._onDidResolve.fire({ frame: e.frame, outcome });
    }
  }
}
