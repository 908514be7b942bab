// Closed server clients, kept in the lists (panel, Clients tab, Connections view) with their label, until the user
// clears them or the capture evicts their events.
import type { DisconnectEvent } from '../core/server/serverEvents';
import type { ConnectionSummary } from './model';

/** The close as a few words: `closed 1000 bye`, `closed 1006 (abrupt)`. */
export function closeNote(code: number, reason: string, clean: boolean): string {
  return `closed ${code}${reason ? ` ${reason}` : ''}${clean ? '' : ' (abrupt)'}`;
}

/** `1 client`, `3 clients`: the count agrees with its noun. */
export function clientsText(n: number): string {
  return `${n} ${n === 1 ? 'client' : 'clients'}`;
}

export class ClosedConnections {
  /** By connection id: the row as it closed, and the newest event id the store held then. */
  private readonly rows = new Map<string, { row: ConnectionSummary; lastId: number }>();

  /** A server client closed: its last row, marked closed. `lastId`: the store's newest event id at its close. */
  clientClosed(e: DisconnectEvent, serverId: string, tag: string | undefined, lastId: number): void {
    const c = e.client;
    const address = `${c.remoteAddress}:${c.remotePort}`;
    this.rows.set(c.id, {
      lastId,
      row: {
        id: c.id,
        kind: 'serverClient',
        serverId,
        label: address,
        state: 'closed',
        closedAtId: lastId,
        note: closeNote(e.code, e.reason, e.clean),
        remote: address,
        userAgent: c.userAgent,
        origin: c.origin,
        subprotocol: c.subprotocol,
        tag,
        connectedAt: c.connectedAt,
        messagesIn: c.messagesIn,
        messagesOut: c.messagesOut,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
      },
    });
  }

  /** The kept rows, oldest first; those whose events the store evicted (all before `firstId`) are dropped. */
  list(firstId: number): ConnectionSummary[] {
    const out: ConnectionSummary[] = [];
    for (const [id, r] of this.rows) {
      if (r.lastId < firstId) this.rows.delete(id);
      else out.push(r.row);
    }
    return out;
  }

  get(id: string): ConnectionSummary | undefined {
    return this.rows.get(id)?.row;
  }

  /** The user cleared the closed connections. Returns how many there were. */
  clear(): number {
    const n = this.rows.size;
    this.rows.clear();
    return n;
  }
}
