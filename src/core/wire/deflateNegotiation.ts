// permessage-deflate negotiation (RFC 7692 §7.1) as an endpoint: accepting a client's offer, making an offer of one's
// own, and writing Sec-WebSocket-Extensions values back.
import type { DeflateParams } from './types';
import type { ExtensionElement } from './deflate';

export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** The offer an endpoint that terminates compression makes to a server: ws's and the browsers' default. */
export const DEFLATE_OFFER: ExtensionElement = { name: PERMESSAGE_DEFLATE, params: [['client_max_window_bits', true]] };

export function isDeflate(e: ExtensionElement): boolean {
  return e.name.toLowerCase() === PERMESSAGE_DEFLATE;
}

/** A header value from elements: `a; x=1; y, b`. A value that is not a token is quoted. */
export function formatExtensions(elements: readonly ExtensionElement[]): string {
  return elements
    .map((e) => [e.name, ...e.params.map(([n, v]) => (v === true ? n : `${n}=${/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(v) ? v : JSON.stringify(v)}`))].join('; '))
    .join(', ');
}

/** The response element for negotiated parameters (the defaults left out). */
export function deflateResponse(p: DeflateParams, echoClientBits: boolean): ExtensionElement {
  const params: ExtensionElement['params'] = [];
  if (p.serverNoContextTakeover) params.push(['server_no_context_takeover', true]);
  if (p.clientNoContextTakeover) params.push(['client_no_context_takeover', true]);
  if (p.serverMaxWindowBits !== 15) params.push(['server_max_window_bits', String(p.serverMaxWindowBits)]);
  if (p.clientMaxWindowBits !== 15 || echoClientBits) params.push(['client_max_window_bits', String(p.clientMaxWindowBits)]);
  return { name: PERMESSAGE_DEFLATE, params };
}

/**
 * As a server: the first permessage-deflate offer in `elements` that can be accepted, and the parameters of the
 * acceptance. An offer with an unknown, repeated or invalid parameter is declined (RFC 7692 §5). The answer honours
 * what the client asked for: server_no_context_takeover and server_max_window_bits as offered, client_no_context_takeover
 * when offered, client_max_window_bits echoed when the offer gave a value. Undefined when no offer is acceptable.
 */
export function acceptDeflateOffer(elements: readonly ExtensionElement[]): { params: DeflateParams; response: ExtensionElement } | undefined {
  for (const offer of elements) {
    if (!isDeflate(offer)) continue;
    const accepted = acceptOne(offer);
    if (accepted !== undefined) return accepted;
  }
  return undefined;
}

function acceptOne(offer: ExtensionElement): { params: DeflateParams; response: ExtensionElement } | undefined {
  const seen = new Set<string>();
  const bits: { server?: number; client?: number } = {};
  for (const [rawName, value] of offer.params) {
    const name = rawName.toLowerCase();
    if (seen.has(name)) return undefined;
    seen.add(name);
    if (name === 'client_max_window_bits' || name === 'server_max_window_bits') {
      // client_max_window_bits without a value only says the client understands it in the answer.
      if (value === true && name === 'client_max_window_bits') continue;
      if (value === true || !/^(8|9|1[0-5])$/.test(value)) return undefined;
      bits[name === 'client_max_window_bits' ? 'client' : 'server'] = Number(value);
    } else if (name === 'server_no_context_takeover' || name === 'client_no_context_takeover') {
      if (value !== true) return undefined;
    } else {
      return undefined;
    }
  }
  const params: DeflateParams = {
    serverNoContextTakeover: seen.has('server_no_context_takeover'),
    clientNoContextTakeover: seen.has('client_no_context_takeover'),
    serverMaxWindowBits: bits.server ?? 15,
    clientMaxWindowBits: bits.client ?? 15,
  };
  return { params, response: deflateResponse(params, bits.client !== undefined) };
}
