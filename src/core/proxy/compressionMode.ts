// How the inspecting proxy treats permessage-deflate: the modes and what a connection reports about them.
import type { DeflateParams } from '../wire/types';

/**
 * - `terminate`: the proxy negotiates permessage-deflate with each side on its own, inflates what it reads and deflates
 *   what it writes, so any message can be edited or dropped.
 * - `passthrough`: compression goes end to end, byte for byte; a compressed message under context takeover can only be
 *   forwarded unchanged.
 * - `strip`: the proxy removes permessage-deflate from the program's offer; both legs run uncompressed.
 */
export type ProxyCompression = 'terminate' | 'passthrough' | 'strip';

export const PROXY_COMPRESSION_MODES: readonly ProxyCompression[] = ['terminate', 'passthrough', 'strip'];

/** What one proxied connection runs with, decided at its handshake. */
export interface ConnectionCompression {
  /** The mode in effect for this connection (it keeps it until it closes). */
  mode: ProxyCompression;
  /** Whether the mode was set in the options or came from the default (terminate while rules exist). */
  chosen: 'option' | 'default';
  /**
   * permessage-deflate on the program↔proxy leg, as negotiated there; undefined = none. In passthrough both legs
   * carry the same parameters (the endpoints negotiated them end to end).
   */
  programLeg?: DeflateParams;
  /** permessage-deflate on the proxy↔target leg; undefined = none. */
  targetLeg?: DeflateParams;
  /** The program offered permessage-deflate (before the proxy changed anything). */
  programOffered: boolean;
}
