// Breakpoints in one direction of the proxy: a complete message or a control frame matched against the rules,
// handed to the controller when one matches, and the user's decision applied to it.
import type { Direction } from '../wire/types';
import { EMPTY_BUFFER, OPCODE_TEXT } from '../wire/constants';
import { textOf, type BreakpointController } from './breakpoints';
import type { PipeCodec } from './pipeCodec';
import type { ControlUnit, MessageUnit, PipeQueue } from './pipeQueue';

export interface HoldContext {
  breakpoints: BreakpointController;
  /** The proxy connection id, put on held frames. */
  connectionId: string;
  direction: Direction;
  codec: PipeCodec;
  /** A decision was made: write what it unblocked. */
  decided(): void;
}

/** Matches a complete kept message; true while a rule holds it (a decision made at once leaves it unheld). */
export function holdMessage(ctx: HoldContext, u: MessageUnit): boolean {
  const { breakpoints: bp, direction } = ctx;
  if (u.data === undefined) return false;
  const isText = u.opcode === OPCODE_TEXT && u.inflateError === undefined;
  const ruleId = bp.match({ scope: 'proxy', direction, opcode: u.opcode, payload: u.data, isText });
  if (ruleId === undefined) return false;
  const why = ctx.codec.notEditable(u.compressed, u.inflateError);
  u.state = 'held';
  const frame = bp.hold(
    {
      source: 'proxy',
      connectionId: ctx.connectionId,
      direction,
      opcode: u.opcode,
      payload: u.data,
      text: u.inflateError === undefined ? textOf(u.data, isText) : undefined,
      compressed: u.compressed,
      ruleId,
      editable: why === undefined,
      notEditableReason: why?.reason,
      suggestedCompression: why?.suggestedCompression,
    },
    (outcome, payload) => {
      u.heldId = undefined;
      u.state = 'pass';
      if (outcome === 'edited') {
        u.outcome = 'edit';
        u.replacement = payload ?? EMPTY_BUFFER;
      } else if (outcome === 'dropped' || outcome === 'connectionClosed') {
        u.outcome = 'drop';
      }
      ctx.decided();
    },
  );
  // The callback may already have run (a listener of onDidHold resolving at once).
  if (u.state === 'held') u.heldId = frame.id;
  return u.state === 'held';
}

/** Matches a control frame on its own; true while a rule holds it. */
export function holdControl(ctx: HoldContext, u: ControlUnit, queue: PipeQueue): boolean {
  const { breakpoints: bp, direction } = ctx;
  const f = u.frame;
  const ruleId = bp.match({ scope: 'proxy', direction, opcode: f.opcode, payload: f.payload, isText: false });
  if (ruleId === undefined) return false;
  u.heldId = -1;
  const init = { source: 'proxy' as const, connectionId: ctx.connectionId, direction, opcode: f.opcode, payload: f.payload };
  const frame = bp.hold({ ...init, text: textOf(f.payload, false), compressed: false, ruleId, editable: true }, (outcome, payload) => {
    u.heldId = undefined;
    u.check = false;
    if (outcome === 'dropped' || outcome === 'connectionClosed') queue.replaceBytes(u, EMPTY_BUFFER);
    else if (outcome === 'edited') queue.replaceBytes(u, ctx.codec.encode(f.opcode, payload ?? EMPTY_BUFFER, 1, false));
    ctx.decided();
  });
  if (u.heldId === -1) u.heldId = frame.id;
  return u.heldId !== undefined;
}
