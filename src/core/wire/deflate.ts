// permessage-deflate (RFC 7692) as an observer: parse what was negotiated and inflate what crossed the wire.
import * as zlib from 'node:zlib';
import type { DeflateParams, Direction } from './types';
import { DEFAULT_MAX_PAYLOAD } from './constants';
import { WireError, createWireError } from './errors';

export interface ExtensionElement {
  name: string;
  /** Parameters in order; `true` for a parameter without a value. Quoted values are unquoted. */
  params: Array<[name: string, value: string | true]>;
}

function isTokenChar(c: number): boolean {
  // RFC 7230 tchar
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c > 0x20 && c < 0x7f && "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c)))
  );
}

function invalidExtension(header: string, at: number): WireError {
  return createWireError('WS_ERR_INVALID_EXTENSION', `invalid Sec-WebSocket-Extensions at ${at}: ${JSON.stringify(header)}`, 1002);
}

/**
 * Parses a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1):
 * `1#( token *( ";" token [ "=" ( token / quoted-string ) ] ) )`. Throws a WireError (`WS_ERR_INVALID_EXTENSION`).
 */
export function parseExtensions(header: string): ExtensionElement[] {
  const out: ExtensionElement[] = [];
  const s = header;
  let i = 0;
  const skipWs = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < s.length && isTokenChar(s.charCodeAt(i))) i++;
    if (i === start) throw invalidExtension(header, i);
    return s.slice(start, i);
  };
  for (;;) {
    skipWs();
    if (i >= s.length) break;
    if (s[i] === ',') {
      i++; // empty list elements are allowed by the # rule
      continue;
    }
    const el: ExtensionElement = { name: token(), params: [] };
    for (;;) {
      skipWs();
      if (i >= s.length || s[i] === ',') break;
      if (s[i] !== ';') throw invalidExtension(header, i);
      i++;
      skipWs();
      const name = token();
      skipWs();
      let value: string | true = true;
      if (s[i] === '=') {
        i++;
        skipWs();
        if (s[i] === '"') {
          i++;
          let v = '';
          while (i < s.length && s[i] !== '"') {
            if (s[i] === '\\') i++;
            if (i < s.length) v += s[i++];
          }
          if (s[i] !== '"') throw invalidExtension(header, i);
          i++;
          value = v;
        } else {
          value = token();
        }
      }
      el.params.push([name, value]);
    }
    out.push(el);
    if (i < s.length) i++; // the comma
  }
  return out;
}

function windowBits(v: string | true, header: string): number {
  if (v === true || !/^(8|9|1[0-5])$/.test(v)) {
    throw createWireError('WS_ERR_INVALID_EXTENSION', `invalid window bits ${String(v)} in ${JSON.stringify(header)}`, 1002);
  }
  return Number(v);
}

/**
 * What a server's `Sec-WebSocket-Extensions` response header agreed for permessage-deflate, or undefined when it was not
 * accepted. Throws a WireError (`WS_ERR_INVALID_EXTENSION`) for a malformed header or invalid parameters.
 */
export function negotiatedDeflate(responseExtensionsHeader: string | undefined): DeflateParams | undefined {
  if (!responseExtensionsHeader) return undefined;
  const el = parseExtensions(responseExtensionsHeader).find((e) => e.name.toLowerCase() === 'permessage-deflate');
  if (!el) return undefined;
  const p: DeflateParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: 15,
    clientMaxWindowBits: 15,
  };
  const seen = new Set<string>();
  for (const [rawName, value] of el.params) {
    const name = rawName.toLowerCase();
    if (seen.has(name)) {
      throw createWireError('WS_ERR_INVALID_EXTENSION', `duplicate parameter ${name}`, 1002);
    }
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
        p.serverNoContextTakeover = true;
        break;
      case 'client_no_context_takeover':
        p.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        p.serverMaxWindowBits = windowBits(value, responseExtensionsHeader);
        break;
      case 'client_max_window_bits':
        p.clientMaxWindowBits = windowBits(value, responseExtensionsHeader);
        break;
      default:
        throw createWireError('WS_ERR_INVALID_EXTENSION', `unknown permessage-deflate parameter ${name}`, 1002);
    }
  }
  return p;
}

export interface PassiveInflaterOptions {
  /** The compressor resets its window after each message, so no dictionary is carried. Default false. */
  noContextTakeover?: boolean;
  /** Larger inflated output is recorded as `WS_ERR_UNSUPPORTED_MESSAGE_LENGTH` (1009). Default 100 MiB. */
  maxOutputLength?: number;
}

const TAIL = Buffer.from([0x00, 0x00, 0xff, 0xff]);
const WINDOW = 32 * 1024;

/**
 * Inflates one direction's compressed messages synchronously. Context takeover is reproduced by passing the last
 * 32 KiB of this direction's earlier output as a preset dictionary, which rebuilds the sliding window.
 */
export class PassiveInflater {
  private readonly noContextTakeover: boolean;
  private readonly maxOutputLength: number;
  private window: Buffer | undefined;

  constructor(o: PassiveInflaterOptions = {}) {
    this.noContextTakeover = o.noContextTakeover ?? false;
    this.maxOutputLength = o.maxOutputLength ?? DEFAULT_MAX_PAYLOAD;
  }

  /**
   * The inflater for one direction. Messages c2s are compressed by the client, so the `client_*` parameters govern
   * them; s2c the `server_*` ones.
   */
  static forDirection(params: DeflateParams, direction: Direction, maxOutputLength?: number): PassiveInflater {
    const noContextTakeover = direction === 'c2s' ? params.clientNoContextTakeover : params.serverNoContextTakeover;
    return new PassiveInflater({ noContextTakeover, maxOutputLength });
  }

  /** The inflated message, or a WireError (never thrown): `WS_ERR_INFLATE_FAILED` (1007) or a too-large one (1009). */
  inflate(compressed: Buffer): Buffer | WireError {
    const input = Buffer.concat([compressed, TAIL]);
    const opts: zlib.ZlibOptions = { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: this.maxOutputLength };
    if (!this.noContextTakeover && this.window !== undefined) opts.dictionary = this.window;
    let out: Buffer;
    try {
      out = zlib.inflateRawSync(input, opts);
    } catch (e) {
      // The window the peer has now includes this message's output, which is unknown here: forgetting the window makes
      // a later message that refers back into it fail ("too far back") instead of inflating against stale bytes.
      this.window = undefined;
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        return createWireError('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', `inflated message exceeds ${this.maxOutputLength} bytes`, 1009);
      }
      return createWireError('WS_ERR_INFLATE_FAILED', `inflate failed: ${err.message}`, 1007);
    }
    if (!this.noContextTakeover) this.remember(out);
    return out;
  }

  private remember(out: Buffer): void {
    if (out.length >= WINDOW) {
      this.window = Buffer.from(out.subarray(out.length - WINDOW));
    } else if (out.length > 0) {
      const prev = this.window;
      if (prev === undefined) {
        this.window = Buffer.from(out);
      } else {
        const keep = Math.min(prev.length, WINDOW - out.length);
        this.window = Buffer.concat([prev.subarray(prev.length - keep), out]);
      }
    }
  }
}
