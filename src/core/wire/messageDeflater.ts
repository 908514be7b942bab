// permessage-deflate (RFC 7692) as a sender: compresses one direction's messages for an endpoint that writes them
// (the proxy when it terminates compression), each message on its own with the direction's context.
import * as zlib from 'node:zlib';
import type { DeflateParams, Direction } from './types';

export interface MessageDeflaterOptions {
  /** Each message is compressed on its own, without the earlier ones as a window. Default false. */
  noContextTakeover?: boolean;
  /** The LZ77 window agreed for this sender (8..15). Default 15. */
  windowBits?: number;
  /**
   * With context takeover, how many bytes of the earlier messages each message may refer to: the last ones, at most
   * the window. More compresses repeated content better and costs more per message (zlib hashes them every time).
   * Default 8192.
   */
  dictionaryBytes?: number;
  /** zlib compression level, 0..9. Default zlib's (6). */
  level?: number;
}

const TAIL_LENGTH = 4; // 00 00 ff ff, the empty stored block of a sync flush (RFC 7692 §7.2.1)
const DEFAULT_DICTIONARY_BYTES = 8192;

/**
 * Compresses messages synchronously. Each message is deflated with a sync flush and its 4-byte tail removed. Context
 * takeover is kept by giving zlib the last bytes of this direction's earlier messages as a preset dictionary: the
 * receiver's inflater has them in its window, so back-references into them are valid. Such a dictionary never reaches
 * beyond the agreed window, since zlib's distances stay within `windowBits`.
 */
export class MessageDeflater {
  readonly noContextTakeover: boolean;
  readonly windowBits: number;
  private readonly dictionaryBytes: number;
  private readonly level: number | undefined;
  private history: Buffer | undefined;

  constructor(o: MessageDeflaterOptions = {}) {
    this.noContextTakeover = o.noContextTakeover ?? false;
    this.windowBits = o.windowBits ?? 15;
    if (!Number.isInteger(this.windowBits) || this.windowBits < 8 || this.windowBits > 15) throw new RangeError('windowBits must be 8..15');
    this.dictionaryBytes = Math.min(o.dictionaryBytes ?? DEFAULT_DICTIONARY_BYTES, 1 << this.windowBits);
    this.level = o.level;
  }

  /**
   * The deflater for messages written in `direction` on a connection that negotiated `params`: c2s as the client
   * (`client_*` parameters), s2c as the server (`server_*`).
   */
  static forDirection(params: DeflateParams, direction: Direction, o: Omit<MessageDeflaterOptions, 'noContextTakeover' | 'windowBits'> = {}): MessageDeflater {
    const client = direction === 'c2s';
    return new MessageDeflater({
      ...o,
      noContextTakeover: client ? params.clientNoContextTakeover : params.serverNoContextTakeover,
      windowBits: client ? params.clientMaxWindowBits : params.serverMaxWindowBits,
    });
  }

  /** The compressed payload of one message (to be sent with RSV1 on its first frame). */
  deflate(data: Buffer): Buffer {
    const opts: zlib.ZlibOptions = { finishFlush: zlib.constants.Z_SYNC_FLUSH, windowBits: this.windowBits };
    if (this.level !== undefined) opts.level = this.level;
    const useHistory = !this.noContextTakeover && this.history !== undefined && this.dictionaryBytes > 0;
    if (useHistory) opts.dictionary = this.history;
    const out = zlib.deflateRawSync(data, opts);
    if (!this.noContextTakeover) this.remember(data);
    // A sync flush ends with 00 00 ff ff; an empty message is then the single 0x00 of an empty block.
    return out.length > TAIL_LENGTH ? out.subarray(0, out.length - TAIL_LENGTH) : Buffer.from([0x00]);
  }

  private remember(data: Buffer): void {
    const keep = this.dictionaryBytes;
    if (keep === 0 || data.length === 0) return;
    if (data.length >= keep) {
      this.history = Buffer.from(data.subarray(data.length - keep));
      return;
    }
    const prev = this.history;
    if (prev === undefined) {
      this.history = Buffer.from(data);
    } else {
      const fromPrev = Math.min(prev.length, keep - data.length);
      this.history = Buffer.concat([prev.subarray(prev.length - fromPrev), data]);
    }
  }
}
