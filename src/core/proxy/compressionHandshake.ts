// How a proxied connection's upgrade changes with its compression mode: the extensions offered to the target, the
// answer given to the program, and what each leg negotiated.
import type { DeflateParams, HttpHead } from '../wire/types';
import { negotiatedDeflate, parseExtensions, type ExtensionElement } from '../wire/deflate';
import { DEFLATE_OFFER, acceptDeflateOffer, formatExtensions, isDeflate } from '../wire/deflateNegotiation';
import { getHeader } from '../wire/handshake';
import type { ConnectionCompression, ProxyCompression } from './compressionMode';

const EXTENSIONS = 'Sec-WebSocket-Extensions';

/** An upgrade the proxy can't complete: the target's answer is invalid for the proxy as its client. */
export class CompressionAnswerError extends Error {
  readonly code = 'EBADRESPONSE';
}

/** One connection's compression, from the program's upgrade request to the target's answer. */
export class CompressionHandshake {
  /** The mode in effect: a program offer that can't be parsed leaves the connection in passthrough. */
  readonly mode: ProxyCompression;
  /** The Sec-WebSocket-Extensions value for the request to the target ('' = none); undefined = the program's unchanged. */
  readonly requestExtensions: string | undefined;
  private readonly programOffered: boolean;
  private readonly accepted: { params: DeflateParams; response: ExtensionElement } | undefined;

  constructor(
    mode: ProxyCompression,
    private readonly chosen: 'option' | 'default',
    programExtensions: string | undefined,
  ) {
    let offered: ExtensionElement[] = [];
    let parsed = true;
    try {
      offered = programExtensions ? parseExtensions(programExtensions) : [];
    } catch {
      parsed = false; // the target will refuse it; nothing to change
    }
    this.programOffered = offered.some(isDeflate);
    this.mode = parsed ? mode : 'passthrough';
    if (this.mode === 'passthrough' || !this.programOffered) return;
    const others = offered.filter((e) => !isDeflate(e));
    if (this.mode === 'strip') {
      this.requestExtensions = formatExtensions(others);
      return;
    }
    // terminate: the proxy answers the program's offer itself, and makes its own in its place.
    this.accepted = acceptDeflateOffer(offered);
    const at = offered.findIndex(isDeflate);
    const own = [...offered.slice(0, at).filter((e) => !isDeflate(e)), DEFLATE_OFFER, ...offered.slice(at).filter((e) => !isDeflate(e))];
    this.requestExtensions = formatExtensions(own);
  }

  /**
   * The target answered 101: each leg's parameters and the response head for the program. In terminate mode the
   * permessage-deflate element of the target's answer is replaced by the proxy's own answer to the program. Throws a
   * CompressionAnswerError when, as the target's client, the proxy can't accept its answer.
   */
  answer(head: HttpHead, headBytes: Buffer): { compression: ConnectionCompression; headBytes: Buffer } {
    const header = getHeader(head, 'sec-websocket-extensions');
    const base = { mode: this.mode, chosen: this.chosen, programOffered: this.programOffered };
    if (this.mode !== 'terminate' || !this.programOffered) {
      // The answer goes to the program as it is: both legs agree on what it says.
      let leg: DeflateParams | undefined;
      try {
        leg = negotiatedDeflate(header);
      } catch {
        leg = undefined; // the program refuses it, and its capture records why
      }
      return { compression: withLegs(base, leg, leg), headBytes };
    }
    let targetLeg: DeflateParams | undefined;
    let theirs: ExtensionElement[];
    try {
      targetLeg = negotiatedDeflate(header);
      theirs = header ? parseExtensions(header) : [];
    } catch (e) {
      throw new CompressionAnswerError(`invalid ${EXTENSIONS} in the target's answer: ${(e as Error).message}`);
    }
    const programLeg = this.accepted?.params;
    const mine = [...theirs.filter((e) => !isDeflate(e)), ...(this.accepted ? [this.accepted.response] : [])];
    const value = formatExtensions(mine);
    const bytes = value === (header ?? '') ? headBytes : withHeader(headBytes, EXTENSIONS, value);
    return { compression: withLegs(base, programLeg, targetLeg), headBytes: bytes };
  }
}

function withLegs(base: Omit<ConnectionCompression, 'programLeg' | 'targetLeg'>, programLeg: DeflateParams | undefined, targetLeg: DeflateParams | undefined): ConnectionCompression {
  const out: ConnectionCompression = { ...base };
  if (programLeg) out.programLeg = { ...programLeg };
  if (targetLeg) out.targetLeg = { ...targetLeg };
  return out;
}

/**
 * An HTTP head with header `name` set to `value` ('' removes it): the first line of that name keeps its place and the
 * spelling of its name, later ones go, and a missing one is added last. Every other byte stays as it was.
 */
export function withHeader(head: Buffer, name: string, value: string): Buffer {
  const text = head.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const lines = text.slice(0, end).split('\r\n');
  const lower = name.toLowerCase();
  const out = [lines[0]];
  let placed = false;
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === lower) {
      if (!placed && value !== '') out.push(`${line.slice(0, colon)}: ${value}`);
      placed = true;
    } else {
      out.push(line);
    }
  }
  if (!placed && value !== '') out.push(`${name}: ${value}`);
  return Buffer.from(`${out.join('\r\n')}${text.slice(end)}`, 'latin1');
}
