// What a held frame's card and the outcome list say: where the frame is held and on which connection, its direction
// there, the countdown, a close while it was held, and how a compressed message in passthrough becomes editable next
// time. Pure logic, no DOM.
import type { BreakpointScopeDto, CompressionSwitchDto, HeldClosedDto, HeldCloserDto, HeldFrameDto, HeldOutcomeDto } from '../src/shared/breakpointsProtocol';
import { formatAbsolute, oneLine } from './format';

/** The places a rule applies to, as the rule list's checkboxes name them. */
export const SCOPE_NAME: Readonly<Record<BreakpointScopeDto, string>> = {
  proxy: 'Proxy',
  server: 'Server clients',
  client: 'Client connections',
};

/** Send to all's connection id (the server's SEND_TO_ALL_CONNECTION_ID). */
const SEND_TO_ALL = 'allClients';

type Where = Pick<HeldFrameDto, 'source' | 'connectionId' | 'connectionLabel'>;

/** Where a frame is held, and on which connection: `Proxy /chat → ws://…`, `Server client 127.0.0.1:50123`. */
export function sourceLabel(h: Where): string {
  const label = oneLine(h.connectionLabel);
  switch (h.source) {
    case 'proxy':
      return `Proxy ${label}`;
    case 'server':
      return h.connectionId === SEND_TO_ALL ? 'Server: Send to all' : `Server client ${label}`;
    case 'client':
      return `Client connection ${label}`;
  }
}

/** Which way the frame was going, in the words of its place. */
export function directionText(source: BreakpointScopeDto, direction: 'c2s' | 's2c'): string {
  switch (source) {
    case 'proxy':
      return direction === 'c2s' ? 'program → target' : 'target → program';
    case 'server':
      return direction === 'c2s' ? 'client → server' : 'server → clients';
    case 'client':
      return direction === 'c2s' ? 'sent' : 'received';
  }
}

/** `forwarded unchanged in 27 s`, `… in 1 min 27 s`; `forwarding unchanged…` once it is due. */
export function countdownText(remainingMs: number): string {
  const s = Math.ceil(Math.max(0, remainingMs) / 1000);
  if (s === 0) return 'forwarding unchanged…';
  if (s < 60) return `forwarded unchanged in ${s} s`;
  return `forwarded unchanged in ${Math.floor(s / 60)} min ${s % 60} s`;
}

/** Hold longer's label: `Hold longer (+60 s)`. */
export function holdLongerLabel(ms: number): string {
  const s = Math.round(ms / 1000);
  return `Hold longer (+${s % 60 === 0 && s >= 120 ? `${s / 60} min` : `${s} s`})`;
}

const CLOSER: Readonly<Record<HeldCloserDto, string>> = {
  program: 'the program',
  target: 'the target',
  proxy: 'the proxy',
  client: 'the client',
  server: 'the server',
};

/** `1001 “going away”`, `1005 (no status code)`, `1006 (no close frame)`. */
export function closeCodeText(c: Pick<HeldClosedDto, 'code' | 'reason'>): string {
  const note = c.code === 1005 ? ' (no status code)' : c.code === 1006 ? ' (no close frame)' : '';
  return `${c.code}${note}${c.reason ? ` “${oneLine(c.reason)}”` : ''}`;
}

/** The card's line when the connection closed while the frame was held. */
export function closedText(c: HeldClosedDto): string {
  return `The connection closed while this was held: ${closeCodeText(c)}, closed by ${CLOSER[c.by]} at ${formatAbsolute(c.at)}. Not delivered.`;
}

/** Why only Forward now is offered, as a sentence. */
export function notEditableText(reason: string): string {
  const r = oneLine(reason).replace(/\.$/, '');
  return `Cannot be edited or dropped: ${r}.`;
}

/** What the card says of a compressed message held in passthrough, and what its button (if any) does. */
export function compressionSwitchText(sw: CompressionSwitchDto): { text: string; button?: string } {
  switch (sw.where) {
    case 'automatic':
      return {
        text: 'wsInspector.proxy.compression is automatic: since a breakpoint rule exists now, the proxy terminates compression on its next connection. Reconnect the program to edit such messages.',
      };
    case 'setting':
      return {
        text: 'Use terminate next time sets the setting wsInspector.proxy.compression to "terminate": the proxy terminates compression from the program\'s next connection on.',
        button: 'Use terminate next time',
      };
    case 'launch.json':
      return {
        text: `Use terminate next time sets "compression": "terminate" in wsInspector.proxy of the launch configuration “${oneLine(sw.configuration ?? '')}” in launch.json, for its next debug session.`,
        button: 'Use terminate next time',
      };
  }
}

/** One line of the outcome list. */
export function outcomeLine(o: HeldOutcomeDto): string {
  const closed = o.closed ? ` (${closeCodeText(o.closed)}, closed by ${CLOSER[o.closed.by]})` : '';
  return `${formatAbsolute(o.time)} · #${o.id} ${sourceLabel(o)} · ${directionText(o.source, o.direction)} · rule ${o.ruleId}: ${o.text}${closed}`;
}

/** The frames still held (not the cards of closed connections). */
export function heldCount(held: readonly HeldFrameDto[]): number {
  let n = 0;
  for (const h of held) if (!h.resolved) n++;
  return n;
}
