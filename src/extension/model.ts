// What the extension's UI (status bar, tree, inspector panel) sees of the running servers and connections.
// The panel codes against this interface only; `session.ts` implements it over the core.
import type { EventStore } from '../core/capture/eventStore';
import type { HeldContext } from './breakpointState';
import type { Event } from '../core/util/events';
import type { BreakpointsSnapshot, HeldAction, SendResult } from '../shared/breakpointsProtocol';
import type { ConnectionRow, SendTarget, ServerRow, SourceRow } from '../shared/protocol';

/** Where the UI sends a message: the panel's own shape, defined once in the shared protocol. */
export type { SendTarget } from '../shared/protocol';

/** One row in the connections list (a server's client or an outgoing connection) and one server: the same shapes
 * the panel receives, defined once in the shared protocol. */
export type ConnectionSummary = ConnectionRow;
export type ServerSummary = ServerRow;

/** Payload the user sends from the UI. */
export type OutgoingData = string | Buffer;

export interface InspectorModel {
  readonly store: EventStore;
  servers(): ServerSummary[];
  connections(): ConnectionSummary[];
  /** Running proxies and browser inspections (headings of the connections list). */
  sources(): SourceRow[];
  /** Breakpoint rules, held frames and their latest outcomes; undefined when there are no breakpoints. */
  breakpoints(): BreakpointsSnapshot | undefined;
  /**
   * Forwards, edits, drops or holds longer a held frame, or dismisses a closed card; rejects with a showable message
   * (unknown id, not editable…). `hex`: the edit of a binary payload as hex text (see parseHexBytes); otherwise `text`.
   */
  resolveHeld(id: number, action: HeldAction, text?: string, hex?: string): Promise<void>;
  /** What the card of a held frame (or of a closed one) knows of its connection; undefined for an unknown id. */
  heldFrameContext(id: number): HeldContext | undefined;
  /** Fires (coalesced by the caller if needed) when servers, clients, states or counters change. */
  readonly onDidChange: Event<void>;
  /** Says whether it was sent, or held by a breakpoint; rejects with an Error whose message is fit to show the user. */
  send(target: SendTarget, data: OutgoingData): Promise<SendResult>;
  disconnect(connectionId: string, code?: number, reason?: string): Promise<void>;
}
