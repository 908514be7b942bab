// What the panel says of a proxied connection's compression: the mode the proxy runs it with, where that came from,
// and each leg's negotiated permessage-deflate parameters. Pure logic, no DOM.
import type { DeflateParamsDto, ProxyCompressionDto } from '../src/shared/breakpointsProtocol';
import type { ConnectionRow } from '../src/shared/protocol';

/** A few words for the connections list: `deflate terminated`. */
export function compressionShort(c: ProxyCompressionDto): string {
  switch (c.mode) {
    case 'terminate':
      return c.programLeg || c.targetLeg ? 'deflate terminated' : 'no deflate';
    case 'passthrough':
      return c.programLeg ? 'deflate passed through' : 'no deflate';
    case 'strip':
      return 'deflate stripped';
  }
}

/** The mode as a sentence, with where it came from. */
export function compressionSentence(c: ProxyCompressionDto): string {
  const from = c.chosen === 'default' ? ' (automatic: terminate while a breakpoint rule exists)' : c.setIn === 'launch.json' ? ' (set in launch.json)' : ' (set in wsInspector.proxy.compression)';
  switch (c.mode) {
    case 'terminate':
      return `The proxy terminates permessage-deflate: it inflates what it reads and deflates what it writes, each leg with its own context, so any held message can be edited${from}.`;
    case 'passthrough':
      return `The proxy passes permessage-deflate through, byte for byte: a compressed message under context takeover can only be forwarded${from}.`;
    case 'strip':
      return `The proxy strips permessage-deflate from the program's offer: both legs run uncompressed${from}.`;
  }
}

/** The parameters as the extension header spells them: `permessage-deflate; client_max_window_bits=15; …`. */
export function deflateParamsText(p: DeflateParamsDto): string {
  const parts = ['permessage-deflate'];
  if (p.serverNoContextTakeover) parts.push('server_no_context_takeover');
  if (p.clientNoContextTakeover) parts.push('client_no_context_takeover');
  parts.push(`server_max_window_bits=${p.serverMaxWindowBits}`, `client_max_window_bits=${p.clientMaxWindowBits}`);
  return parts.join('; ');
}

/** One leg: its parameters, or why it has none. */
export function legText(p: DeflateParamsDto | undefined, c: ProxyCompressionDto, leg: 'program' | 'target'): string {
  if (p) return deflateParamsText(p);
  if (leg === 'program' && !c.programOffered) return 'none (the program did not offer permessage-deflate)';
  if (c.mode === 'strip') return 'none (stripped by the proxy)';
  return leg === 'program' ? 'none' : 'none (the target did not accept permessage-deflate)';
}

/** Label and value pairs for the handshake view and the tooltip. */
export function compressionFacts(c: ProxyCompressionDto): Array<[string, string]> {
  return [
    ['Compression', compressionSentence(c)],
    ['Program ↔ proxy', legText(c.programLeg, c, 'program')],
    ['Proxy ↔ target', legText(c.targetLeg, c, 'target')],
  ];
}

/** A row's tooltip lines about compression, when it is a proxied connection or one of its legs. */
export function compressionTooltip(c: ProxyCompressionDto): string {
  return compressionFacts(c)
    .map(([k, v]) => `${k}: ${v}`)
    .join('\n');
}

/**
 * The compression of the proxied connection that `id` belongs to: a proxied connection's row (`proxy1-3`), one of its
 * legs' rows, or a leg's capture id (`proxy1-3/target`, as a handshake carries it).
 */
export function proxyCompressionOf(rows: readonly ConnectionRow[], id: string | undefined): ProxyCompressionDto | undefined {
  if (id === undefined) return undefined;
  const row = rows.find((r) => r.id === id);
  const groupId = row?.kind === 'proxySide' ? row.parentId : row?.kind === 'proxy' ? row.id : id.includes('/') ? id.slice(0, id.indexOf('/')) : undefined;
  if (groupId === undefined) return undefined;
  return rows.find((r) => r.id === groupId && r.kind === 'proxy')?.compression;
}
