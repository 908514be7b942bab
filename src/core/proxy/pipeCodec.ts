// One direction's compression in the proxy: what it reads is inflated with the reading leg's context, and in
// `terminate` mode what it writes is deflated again with the writing leg's own context.
import { randomBytes } from 'node:crypto';
import type { Direction } from '../wire/types';
import type { DeflateParams } from '../wire/types';
import { PassiveInflater } from '../wire/deflate';
import { EMPTY_BUFFER } from '../wire/constants';
import { WireError } from '../wire/errors';
import { encodeFrame } from '../wire/frameEncoder';
import { MessageDeflater } from '../wire/messageDeflater';
import type { ProxyCompression } from './compressionMode';
import type { MessageUnit } from './pipeQueue';

/** How one direction of a proxied connection handles permessage-deflate. */
export interface PipeCompression {
  mode: ProxyCompression;
  /** permessage-deflate as negotiated on the leg this direction reads from; undefined = none. */
  in?: DeflateParams;
  /** On the leg it writes to (in passthrough and strip, the same as `in`). */
  out?: DeflateParams;
}

/** Why a held message cannot be edited or dropped, and what would make it editable. */
export interface NotEditable {
  reason: string;
  suggestedCompression?: ProxyCompression;
}

export class PipeCodec {
  readonly mode: ProxyCompression;
  /** terminate: every compressed message is inflated and written again, deflated with the writing leg's context. */
  readonly terminating: boolean;
  /** Compressed messages read carry a sliding window over from earlier ones. */
  readonly inContextTakeover: boolean;
  private readonly inflater: PassiveInflater | undefined;
  private readonly deflater: MessageDeflater | undefined;
  private readonly masked: boolean;
  /** A compressed message was not kept (over maxPayload), so the window of later ones is unknown. */
  private windowLost = false;

  constructor(c: PipeCompression | undefined, direction: Direction, maxPayload: number) {
    this.mode = c?.mode ?? 'passthrough';
    this.terminating = this.mode === 'terminate';
    const inP = c?.in;
    this.inContextTakeover = inP !== undefined && !(direction === 'c2s' ? inP.clientNoContextTakeover : inP.serverNoContextTakeover);
    this.inflater = inP ? PassiveInflater.forDirection(inP, direction, maxPayload) : undefined;
    this.deflater = this.terminating && c?.out ? MessageDeflater.forDirection(c.out, direction) : undefined;
    this.masked = direction === 'c2s';
  }

  /** A message whose first frame has `rsv1` must be kept whole: to be written again, or to follow the window. */
  mustKeep(rsv1: boolean): boolean {
    return rsv1 && (this.terminating || this.inContextTakeover);
  }

  /** A message whose first frame has `rsv1` is written again (deflated with the other leg's context) rather than as read. */
  rewrites(rsv1: boolean): boolean {
    return rsv1 && this.terminating;
  }

  /** A compressed message that was too big to keep: later ones can't be inflated reliably. */
  lostWindow(): void {
    if (this.inContextTakeover) this.windowLost = true;
  }

  /** The inflated payload of a compressed message, or why it could not be inflated. */
  inflate(data: Buffer): Buffer | string {
    if (this.inflater === undefined) return 'RSV1 is set but permessage-deflate was not negotiated';
    if (this.windowLost) return 'an earlier compressed message was too large to follow, so this one cannot be inflated';
    const r = this.inflater.inflate(data);
    return r instanceof WireError ? r.message : r;
  }

  /** Why a held message can't be changed, or undefined when editing and dropping are safe. */
  notEditable(compressed: boolean, inflateError: string | undefined): NotEditable | undefined {
    if (!compressed) return undefined;
    if (inflateError !== undefined) return { reason: `the compressed message could not be inflated (${inflateError})` };
    if (!this.terminating && this.inContextTakeover) {
      return {
        reason:
          'the message is compressed with context takeover and the proxy passes compression through: changing or removing it ' +
          'would desynchronise the receiver’s inflater. Set the proxy’s compression to terminate for the next session to edit it',
        suggestedCompression: 'terminate',
      };
    }
    return undefined;
  }

  /**
   * The frames of a message written by the proxy: `frameCount` frames (at least 1) with the original opcode, masked
   * with fresh keys c2s. Compressed (RSV1 on the first frame) when `compress` and the writing leg negotiated deflate in
   * terminate mode; otherwise as is.
   */
  encode(opcode: number, payload: Buffer, frameCount: number, compress: boolean): Buffer {
    const deflated = compress && this.deflater !== undefined;
    const body = deflated ? this.deflater!.deflate(payload) : payload;
    const n = Math.max(1, frameCount);
    const keys = this.masked ? randomBytes(4 * n) : undefined;
    const out: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const from = Math.floor((i * body.length) / n);
      const to = Math.floor(((i + 1) * body.length) / n);
      out.push(
        encodeFrame({
          opcode: i === 0 ? opcode : 0,
          fin: i === n - 1,
          rsv1: deflated && i === 0,
          payload: body.subarray(from, to),
          maskKey: keys?.subarray(4 * i, 4 * i + 4),
        }),
      );
    }
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  /** The bytes of a complete kept message, as decided: dropped, replaced, deflated again (terminate), or as read. */
  messageBytes(u: MessageUnit): Buffer {
    if (u.outcome === 'drop') return EMPTY_BUFFER;
    if (u.outcome === 'edit') return this.encode(u.opcode, u.replacement!, 1, u.compressed && this.terminating);
    if (this.rewrites(u.compressed) && u.inflateError === undefined && u.data !== undefined) return this.encode(u.opcode, u.data, u.frameCount, true);
    return u.frames.length === 1 ? u.frames[0].bytes : Buffer.concat(u.frames.map((f) => f.bytes));
  }
}
