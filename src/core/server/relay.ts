// Relay modes: who receives a message a client sent. The message itself goes out through broadcastFastPath.ts.

import type { ClientRecord } from './clientRegistry';

/**
 * Who receives a message a client sent:
 * - `broadcast`: every client, the sender included;
 * - `broadcastOthers`: every client except the sender;
 * - `echo`: the sender only;
 * - `none`: nobody (the server only records).
 */
export type RelayMode = 'broadcast' | 'broadcastOthers' | 'echo' | 'none';

export const RELAY_MODES: readonly RelayMode[] = ['broadcast', 'broadcastOthers', 'echo', 'none'];

/** The clients that receive a message from `sender` under `mode`. */
export function* relayTargets(
  mode: RelayMode,
  sender: ClientRecord,
  all: Iterable<ClientRecord>,
): Generator<ClientRecord> {
  switch (mode) {
    case 'broadcast':
      yield* all;
      return;
    case 'broadcastOthers':
      for (const c of all) if (c !== sender) yield c;
      return;
    case 'echo':
      yield sender;
      return;
    case 'none':
      return;
  }
}

/** True when a client's message goes to other clients under `mode` (and so to a backplane's other servers). */
export function reachesOthers(mode: RelayMode): boolean {
  return mode === 'broadcast' || mode === 'broadcastOthers';
}
