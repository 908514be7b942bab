// What the extension's UI (status bar, tree, inspector panel) sees of the running servers and connections.
// The panel codes against this interface only; `session.ts` implements it over the core.
import type { EventStore } from '../core/capture/eventStore';
import type { Event } from '../core/util/events';
import type { BreakpointsSnapshot, ConnectionRow, SendTarget, ServerRow, SourceRow } from '../shared/protocol';

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
  /** Breakpoint rules, held frames and their latest outcomes; undefined when no proxy feature is there. */
  breakpoints(): BreakpointsSnapshot | undefined;
  /** Forwards, edits or drops a held frame; rejects with a showable message (unknown id, not editable…). */
  /** `hex`: the edit of a binary payload as hex text (see parseHexBytes); otherwise `text`. */
  resolveHeld(id: number, action: 'forward' | 'edit' | 'drop', text?: string, hex?: string): Promise<void>;
  /** Fires (coalesced by the caller if needed) when servers, clients, states or counters change. */
  readonly onDidChange: Event<void>;
  /** Rejects with an Error whose message is fit to show the user. */
  send(target: SendTarget, data: OutgoingData): Promise<void>;
  disconnect(connectionId: string, code?: number, reason?: string): Promise<void>;
}
