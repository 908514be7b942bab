// What the empty frame list says: what is running and what to do next, never "start the server" while it runs.
import type { ModelSnapshot, ViewFilter } from '../src/shared/protocol';

const LIVE = new Set(['open', 'connecting', 'reconnecting', 'closing']);

/**
 * `cleared`: the user cleared the view (its floor is past the start). `filter`: the view's filter; a filter that hides
 * everything is said to, since then frames may well be arriving.
 */
export function emptyStateText(m: ModelSnapshot, cleared: boolean, filter: ViewFilter = {}): string {
  const running: string[] = [];
  const next: string[] = [];
  for (const s of m.servers) {
    const n = m.connections.filter((c) => c.serverId === s.id && c.kind === 'serverClient' && LIVE.has(c.state)).length;
    running.push(`The server at ${s.url} is running with ${n === 0 ? 'no clients' : `${n} ${n === 1 ? 'client' : 'clients'}`}.`);
    next.push(n === 0 ? `Connect a client to ${s.url}.` : 'Send a message from the composer below, or wait for the clients to send.');
  }
  for (const src of m.sources ?? []) running.push(`${src.kind === 'proxy' ? 'The proxy' : 'Browser inspection'} ${src.label} is running.`);
  const outgoing = m.connections.filter((c) => c.kind === 'outgoing' && LIVE.has(c.state)).length;
  if (outgoing > 0) {
    running.push(`${outgoing} outgoing ${outgoing === 1 ? 'connection is' : 'connections are'} open.`);
    next.push('Send a message from the composer below.');
  }
  const head = filterHides(filter) ? 'No frames match the filters.' : cleared ? 'View cleared: no new frames yet.' : 'No frames yet.';
  if (running.length === 0) {
    return `${head} Nothing is running: start the broadcast server (WebSocket: Start Broadcast Server) or connect to an endpoint (WebSocket: Connect to Endpoint…). Frames show here live.`;
  }
  return [head, ...running, ...new Set(next)].join(' ');
}

function filterHides(f: ViewFilter): boolean {
  return f.direction !== undefined || f.opcodes !== undefined || !!f.search;
}

/** The model as the lists show it: closed connections that a Clear passed (`floorId`) are gone from them. */
export function shownModel(m: ModelSnapshot, floorId: number): ModelSnapshot {
  if (!m.connections.some((c) => c.closedAtId !== undefined && c.closedAtId <= floorId)) return m;
  return { ...m, connections: m.connections.filter((c) => c.closedAtId === undefined || c.closedAtId > floorId) };
}
