// The frame breakpoints as the UI sees them: the one BreakpointController that the proxies, the embedded server and the
// client connections share; each held frame's label and compression switch (taken when it is held, since its
// connection may be gone when the user acts); the cards of frames whose connection closed (kept until dismissed, so
// that the close is seen); and the latest outcomes.
import {
  BreakpointController,
  HELD_OUTCOME_TEXT,
  HOLD_LONGER_MS,
  scopesOf,
  type BreakpointRule,
  type HeldFrame,
  type HeldFrameClosed,
  type HeldOutcome,
} from '../core/proxy/breakpoints';
import { DisposableStore, Emitter } from '../core/util/events';
import type { BreakpointsSnapshot, CompressionSwitchDto, HeldAction, HeldClosedDto, HeldFrameDto, HeldOutcomeDto } from '../shared/breakpointsProtocol';
import { parseHexBytes } from '../shared/hex';
import { MAX_DETAIL_BYTES, MAX_HEX_EDIT_BYTES } from '../shared/protocol';

/** What the session knows of a held frame's connection, asked once when the frame is held. */
export interface HeldContext {
  /** The connection as the user knows it. */
  label: string;
  /** For a compressed message that passthrough makes uneditable; `folder` is the launch configuration's folder URI. */
  compressionSwitch?: CompressionSwitchDto & { folder?: string };
}

const RECENT_OUTCOMES = 50;
/** Cards of frames whose connection closed are kept until dismissed; beyond this many the oldest go. */
const KEEP_CLOSED_CARDS = 10;

interface ClosedCard {
  frame: HeldFrame;
  context: HeldContext;
}

export class BreakpointState {
  readonly controller: BreakpointController;
  private readonly owner = new DisposableStore();
  private readonly contexts = new Map<number, HeldContext>();
  private readonly closedCards: ClosedCard[] = [];
  private readonly recent: HeldOutcomeDto[] = [];
  private readonly _onDidChange = this.owner.add(new Emitter<void>());
  /** Rules, held frames, their deadlines or closes, or the outcomes changed. */
  readonly onDidChange = this._onDidChange.event;
  private readonly _onDidResolve = this.owner.add(new Emitter<{ frame: HeldFrame; outcome: HeldOutcome; label: string }>());
  readonly onDidResolve = this._onDidResolve.event;

  constructor(
    timeoutMs: number,
    private readonly contextOf: (frame: HeldFrame) => HeldContext,
  ) {
    this.controller = new BreakpointController({ timeoutMs });
    this.owner.add(
      this.controller.onDidHold((f) => {
        this.contexts.set(f.id, this.askContext(f));
        this._onDidChange.fire();
      }),
    );
    this.owner.add(this.controller.onDidChange(() => this._onDidChange.fire()));
    this.owner.add(this.controller.onDidResolve((e) => this.resolved(e.frame, e.outcome)));
  }

  setRules(rules: BreakpointRule[]): void {
    this.controller.setRules(rules);
    this._onDidChange.fire();
  }

  /** The context of a held frame, or of a closed card. */
  context(id: number): HeldContext | undefined {
    return this.contexts.get(id) ?? this.closedCards.find((c) => c.frame.id === id)?.context;
  }

  snapshot(): BreakpointsSnapshot {
    const now = Date.now();
    const held = this.controller.held().map((f) => heldToDto(f, this.contexts.get(f.id) ?? { label: f.connectionId }, now));
    const closed = this.closedCards.map((c) => ({ ...heldToDto(c.frame, c.context, now), resolved: true as const }));
    return {
      rules: this.controller.rules.map((r) => ({ id: r.id, enabled: r.enabled, description: describeRule(r), appliesTo: scopesOf(r) })),
      held: [...held, ...closed],
      recent: [...this.recent],
      timeoutMs: this.controller.timeoutMs,
      holdLongerMs: HOLD_LONGER_MS,
    };
  }

  /** Throws an Error fit to show when it cannot be done (not hex, too long for a control frame, already resolved…). */
  act(id: number, action: HeldAction, text?: string, hex?: string): void {
    const c = this.controller;
    switch (action) {
      case 'forward':
        return c.forward(id);
      case 'drop':
        return c.drop(id);
      case 'holdLonger':
        c.holdLonger(id);
        return;
      case 'dismiss': {
        const i = this.closedCards.findIndex((x) => x.frame.id === id);
        if (i >= 0) this.closedCards.splice(i, 1);
        this._onDidChange.fire();
        return;
      }
      case 'edit':
        if (hex === undefined) return c.edit(id, text ?? '');
        {
          const bytes = parseHexBytes(hex);
          if (!(bytes instanceof Uint8Array)) throw new Error(`The edited payload is not hex: ${bytes.error}.`);
          return c.edit(id, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length));
        }
    }
  }

  dispose(): void {
    this.controller.dispose();
    this.owner.dispose();
  }

  private askContext(f: HeldFrame): HeldContext {
    try {
      return this.contextOf(f);
    } catch {
      return { label: f.connectionId };
    }
  }

  private resolved(frame: HeldFrame, outcome: HeldOutcome): void {
    const context = this.contexts.get(frame.id) ?? { label: frame.connectionId };
    this.contexts.delete(frame.id);
    const { id, source, connectionId, direction, ruleId } = frame;
    const closed = closedDto(frame.closed);
    this.recent.push({ id, source, connectionId, connectionLabel: context.label, direction, ruleId, outcome, text: HELD_OUTCOME_TEXT[outcome], time: Date.now(), ...(closed ? { closed } : {}) });
    if (this.recent.length > RECENT_OUTCOMES) this.recent.splice(0, this.recent.length - RECENT_OUTCOMES);
    if (outcome === 'connectionClosed') {
      this.closedCards.push({ frame, context });
      if (this.closedCards.length > KEEP_CLOSED_CARDS) this.closedCards.splice(0, this.closedCards.length - KEEP_CLOSED_CARDS);
    }
    this._onDidResolve.fire({ frame, outcome, label: context.label });
    this._onDidChange.fire();
  }
}

/** One line a user can read: `program → target · text · /error/ · $.type == "chat"`. */
export function describeRule(r: BreakpointRule): string {
  const parts: string[] = [];
  const proxyOnly = scopesOf(r).every((s) => s === 'proxy');
  if (r.direction === 'c2s') parts.push(proxyOnly ? 'program → target' : 'towards the server (c2s)');
  if (r.direction === 's2c') parts.push(proxyOnly ? 'target → program' : 'towards the client (s2c)');
  if (r.opcode !== undefined) parts.push(({ 1: 'text', 2: 'binary', 8: 'close', 9: 'ping', 10: 'pong' } as Record<number, string>)[r.opcode] ?? `opcode ${r.opcode}`);
  if (r.textPattern) parts.push(`/${r.textPattern}/`);
  if (r.jsonPath) parts.push(`${r.jsonPath} == ${r.jsonEquals ?? '(any)'}`);
  return parts.length ? parts.join(' · ') : 'every frame';
}

function closedDto(c: HeldFrameClosed | undefined): HeldClosedDto | undefined {
  return c && { code: c.code, reason: c.reason, by: c.by, at: c.at };
}

function heldToDto(h: HeldFrame, context: HeldContext, now: number): HeldFrameDto {
  const bytes = h.payload.subarray(0, MAX_DETAIL_BYTES);
  const text = h.text ?? (h.opcode === 1 ? bytes.toString('utf8') : undefined);
  const whole = text === undefined && h.payload.length <= MAX_HEX_EDIT_BYTES;
  const sw = context.compressionSwitch;
  const closed = closedDto(h.closed);
  return {
    id: h.id,
    source: h.source,
    connectionId: h.connectionId,
    connectionLabel: context.label,
    direction: h.direction,
    opcode: h.opcode,
    text,
    hex: text === undefined ? (whole ? h.payload : bytes.subarray(0, 256)).toString('hex') : undefined,
    hexComplete: text === undefined ? whole : undefined,
    size: h.payload.length,
    compressed: h.compressed,
    ruleId: h.ruleId,
    heldAt: h.heldAt,
    deadline: h.deadline,
    remainingMs: Math.max(0, h.deadline - now),
    editable: h.editable,
    notEditableReason: h.notEditableReason,
    ...(sw ? { compressionSwitch: { where: sw.where, ...(sw.configuration !== undefined ? { configuration: sw.configuration } : {}) } } : {}),
    ...(closed ? { closed } : {}),
  };
}
