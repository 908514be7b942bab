// What the extension's UI (status bar, tree, inspector panel) sees of the running servers and connections.
// The panel codes against this interface only; `session.ts` implements it over the core.
import type { EventStore } from '../core/capture/eventStore';
import type { Event } from '../core/util/events';

/** One row in the connections list: a server's client or an outgoing connection. */
export interface ConnectionSummary {
  /** The capture connectionId (same id as in the store's events). */
  id: string;
  kind: 'serverClient' | 'outgoing';
  /** For serverClient: the server it belongs to. */
  serverId?: string;
  label: string;
  state: 'connecting' | 'open' | 'closing' | 'closed' | 'reconnecting' | 'failed';
  remote?: string;
  userAgent?: string;
  origin?: string;
  subprotocol?: string;
  connectedAt?: number;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface ServerSummary {
  id: string;
  url: string;
  host: string;
  port: number;
  relay: string;
  clientCount: number;
}

/** Payload the user sends from the UI. */
export type OutgoingData = string | Buffer;

export type SendTarget =
  | { kind: 'allClients' }
  | { kind: 'client'; clientId: string }
  | { kind: 'connection'; connectionId: string };

export interface InspectorModel {
  readonly store: EventStore;
  servers(): ServerSummary[];
  connections(): ConnectionSummary[];
  /** Fires (coalesced by the caller if needed) when servers, clients, states or counters change. */
  readonly onDidChange: Event<void>;
  /** Rejects with an Error whose message is fit to show the user. */
  send(target: SendTarget, data: OutgoingData): Promise<void>;
  disconnect(connectionId: string, code?: number, reason?: string): Promise<void>;
}
