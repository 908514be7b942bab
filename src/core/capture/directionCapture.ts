// One direction of a connection's capture: its frame decoder and message assembler, and the events they give.
import { isUtf8 } from 'node:buffer';
import { appendWholeFrameEvents } from './events';
import type { CaptureSink, CloseFrameInfo, DeflateParams, Direction, ErrorEvent, FrameEvent, MessageEvent } from './events';
import { EMPTY_BUFFER, OPCODE_CLOSE } from '../wire/constants';
import { PassiveInflater } from '../wire/deflate';
import type { WireError } from '../wire/errors';
import { DecodedFrame, FrameDecoder, headerLengthOf, payloadLengthIn } from '../wire/frameDecoder';
import { AssembledMessage, MessageAssembler, closeInfo } from '../wire/messageAssembler';

const timeOrigin = performance.timeOrigin;
const now = (): number => timeOrigin + performance.now();

/** Where a direction's protocol violations go (the ConnectionCapture, which records them for the connection). */
export interface DirectionOwner {
  recordError(err: WireError, direction: Direction | undefined): void;
}

/**
 * One direction's decoder and assembler, and the ids of its open message's frames. Each event it appends is complete:
 * it is never changed afterwards (a frame's messageId is the sink's to give, from the message's frameIds).
 */
export class DirectionCapture {
  private readonly decoder: FrameDecoder;
  private readonly assembler: MessageAssembler;
  /** Ids of the open fragmented message's frames. */
  private pendingIds: number[] = [];
  private lastId = 0;
  /** While pushShared decodes: the other recipients of what it decodes. */
  private alsoSentTo: readonly string[] | undefined;
  private opaqueRecorded = false;
  /** The close frame this direction sent, if any: code 1005 when it had none. */
  close: CloseFrameInfo | undefined;

  constructor(
    private readonly owner: DirectionOwner,
    private readonly sink: CaptureSink,
    private readonly connectionId: string,
    private readonly direction: Direction,
    private readonly maxPayload: number,
    readonly deflate: DeflateParams | undefined,
    /** Where event times come from (see ConnectionCaptureOptions.clock); default the process's clock. */
    private readonly clock?: () => number,
  ) {
    this.decoder = new FrameDecoder({
      direction,
      maxPayload,
      rsv1Allowed: deflate !== undefined,
      // The frame's event is appended and sealed within the same push (see push), as reserveBytes requires.
      allocate: sink.reserveBytes !== undefined && sink.seal !== undefined ? (n) => sink.reserveBytes!(n) : undefined,
      onWholeData: sink.appendWholeFrame !== undefined ? this.onWholeData : undefined,
      onFrame: this.onFrame,
      onError: this.onError,
      readAfterViolation: true,
      onOpaque: this.onOpaque,
    });
    this.assembler = new MessageAssembler({
      direction,
      maxMessageSize: maxPayload,
      inflater: deflate ? PassiveInflater.forDirection(deflate, direction, maxPayload) : undefined,
      onMessage: this.onMessage,
      onError: this.onError,
    });
  }

  /** Decodes the next bytes of this direction. */
  push(chunk: Buffer): void {
    this.decoder.push(chunk);
    this.sink.seal?.();
  }

  /**
   * Decodes a frame this process also wrote to the connections of `alsoSentTo` (see recordFanOut): its frame and
   * message events carry the list from the start.
   */
  pushShared(chunk: Buffer, alsoSentTo: readonly string[] | undefined): void {
    this.alsoSentTo = alsoSentTo;
    try {
      this.push(chunk);
    } finally {
      this.alsoSentTo = undefined;
    }
  }

  /**
   * Records `parts` when they are one whole unmasked text or binary frame with FIN set and no RSV bit, written between
   * messages: its frame and message are recorded from its header, equal to what the decoder gives, without the
   * decoder's work (a fan-out records one such frame per message it relays). Returns false and records nothing for
   * anything else; the caller then decodes the parts.
   */
  recordWholeFrame(parts: readonly Buffer[], alsoSentTo: readonly string[] | undefined): boolean {
    const head = parts[0];
    if (parts.length > 2 || head.length < 2 || !this.between()) return false;
    const b0 = head[0];
    const b1 = head[1];
    const opcode = b0 & 0x0f;
    // FIN, no RSV bit, text or binary; not masked.
    if ((b0 & 0xf0) !== 0x80 || (opcode !== 1 && opcode !== 2) || (b1 & 0x80) !== 0) return false;
    const hl = headerLengthOf(b1);
    if (head.length < hl) return false;
    const n = payloadLengthIn(head, 0, b1);
    if (n < 0 || n > this.maxPayload) return false;
    const sink = this.sink;
    // Invalid UTF-8 is an error event too: the decoder's path records it.
    if (parts.length === 1) {
      if (head.length !== hl + n || (opcode === 1 && !isUtf8(new Uint8Array(head.buffer, head.byteOffset + hl, n)))) return false;
      if (sink.appendWholeFrame !== undefined) {
        sink.appendWholeFrame(this.connectionId, this.now(), this.direction, opcode as 1 | 2, head, 0, hl, n, alsoSentTo);
      } else {
        const payload = n === 0 ? EMPTY_BUFFER : head.subarray(hl);
        appendWholeFrameEvents(sink, this.connectionId, this.now(), this.direction, opcode as 1 | 2, head.subarray(0, hl), payload, alsoSentTo);
      }
    } else {
      if (head.length !== hl || parts[1].length !== n || (opcode === 1 && !isUtf8(parts[1]))) return false;
      appendWholeFrameEvents(sink, this.connectionId, this.now(), this.direction, opcode as 1 | 2, head, parts[1], alsoSentTo);
    }
    sink.seal?.();
    return true;
  }

  /**
   * A whole text or binary frame the decoder offers (see FrameDecoderOptions.onWholeData): taken, and appended without
   * its events, when it is a message of its own (no fragmented message open) and not invalid UTF-8, which the
   * assembler's path records as an error. The assembler, idle, stays idle.
   */
  private readonly onWholeData = (bytes: Buffer, at: number, hl: number, n: number, time: number): boolean => {
    if (this.pendingIds.length !== 0 || !this.assembler.idle) return false;
    const opcode = bytes[at] & 0x0f;
    if (opcode === 1 && !isUtf8(new Uint8Array(bytes.buffer, bytes.byteOffset + at + hl, n))) return false;
    this.sink.appendWholeFrame!(this.connectionId, this.timeOf(time), this.direction, opcode as 1 | 2, bytes, at, hl, n, this.alsoSentTo);
    return true;
  };

  /**
   * The connection has ended: a message or a control frame its bytes stopped inside is recorded as incomplete (one
   * error, `WS_ERR_INCOMPLETE_MESSAGE` or `WS_ERR_INCOMPLETE_FRAME`), so that every message begun on the wire is
   * either a message event or this. Returns true when a message was cut.
   */
  finish(): boolean {
    const frame = this.decoder.incomplete;
    const failed = this.decoder.failed;
    const open = !failed && (this.pendingIds.length !== 0 || !this.assembler.idle);
    const cutsMessage = open || (frame !== undefined && !failed && (frame.opcode === undefined || frame.opcode < 0x8));
    if (frame === undefined && !open) return false;
    const where =
      frame === undefined
        ? ''
        : frame.size === undefined
          ? `, ${frame.received} byte${frame.received === 1 ? '' : 's'} into a frame's header`
          : `, ${frame.received} of a frame's ${frame.size} bytes`;
    const frames = this.pendingIds.length;
    const message = cutsMessage
      ? `the connection ended inside a message (${frames === 0 ? 'no frame' : frames === 1 ? '1 frame' : `${frames} frames`} of it complete${where})`
      : `the connection ended inside a ${frame!.opcode !== undefined && frame!.opcode >= 0x8 ? 'control ' : ''}frame (${where.slice(2)})`;
    const ev: ErrorEvent = {
      id: 0,
      kind: 'error',
      connectionId: this.connectionId,
      time: this.now(),
      direction: this.direction,
      code: cutsMessage ? 'WS_ERR_INCOMPLETE_MESSAGE' : 'WS_ERR_INCOMPLETE_FRAME',
      closeCode: 1006,
      message,
    };
    this.sink.append(ev);
    return cutsMessage;
  }

  /** Between messages: a chunk starting here starts a new frame and a new message. */
  between(): boolean {
    return this.decoder.idle && this.assembler.idle && this.pendingIds.length === 0;
  }

  /** The time of a decoded frame or message: the decoder's (`time`), or the clock's when one was given. */
  private timeOf(time: number): number {
    return this.clock === undefined ? time : this.clock();
  }

  private now(): number {
    return this.clock === undefined ? now() : this.clock();
  }

  private readonly onFrame = (f: DecodedFrame): void => {
    const op = f.opcode;
    // A close frame's code and reason go in before the append; the assembler reports what is wrong with them after it,
    // so that the errors follow the frame.
    const close = op === OPCODE_CLOSE ? closeInfo(f.payload) : undefined;
    // Every field is present (the store's `id` and the sink's messageId included), so that every frame event has one
    // shape: adding properties later costs a map transition.
    const ev: FrameEvent = {
      id: 0,
      kind: 'frame',
      connectionId: this.connectionId,
      time: this.timeOf(f.time),
      direction: this.direction,
      fin: f.fin,
      rsv1: f.rsv1,
      rsv2: f.rsv2,
      rsv3: f.rsv3,
      opcode: f.opcode,
      masked: f.masked,
      maskKey: f.maskKey,
      payloadLength: f.payloadLength,
      lengthForm: f.lengthForm,
      headerLength: f.headerLength,
      header: f.header,
      payload: f.payload,
      closeCode: close?.code,
      closeReason: close?.reason,
      messageId: undefined,
      alsoSentTo: this.alsoSentTo,
      afterViolation: f.afterViolation,
    };
    const id = this.sink.append(ev);
    if (f.afterViolation) {
      // Recorded as read, not assembled: after a violation the peer's frames need not make messages.
      if (close !== undefined && this.close === undefined) this.close = { code: close.code ?? 1005, reason: close.reason ?? '' };
      return;
    }
    if (op < 0x8) {
      this.lastId = id;
      if (op !== 0) {
        if (this.pendingIds.length !== 0) this.pendingIds = [];
        if (!f.fin) this.pendingIds.push(id);
      } else {
        this.pendingIds.push(id);
      }
    }
    this.assembler.push(f);
    if (close !== undefined && this.close === undefined) this.close = { code: close.code ?? 1005, reason: close.reason ?? '' };
  };

  private readonly onMessage = (m: AssembledMessage): void => {
    let frameIds: number[];
    if (m.frames.length === 1) {
      frameIds = [this.lastId];
    } else {
      frameIds = this.pendingIds.slice(this.pendingIds.length - m.frames.length);
      this.pendingIds = [];
    }
    const last = m.frames[m.frames.length - 1];
    const ev: MessageEvent = {
      id: 0,
      kind: 'message',
      connectionId: this.connectionId,
      time: this.timeOf(last.time),
      direction: this.direction,
      opcode: m.opcode,
      data: m.data,
      wireLength: m.wireLength,
      compressed: m.compressed,
      inflatedLength: m.inflatedLength,
      inflateError: m.inflateError,
      utf8Valid: m.utf8Valid,
      frameIds,
      alsoSentTo: this.alsoSentTo,
    };
    this.sink.append(ev);
  };

  /**
   * Bytes after a length that can't be trusted (see FrameDecoderOptions.onOpaque): one record, of the read where framing
   * was lost (from that header on), with their count. Later reads are not recorded again: one event per read of a
   * peer that goes on would flood the store, and the connection's bytesIn counts them.
   */
  private readonly onOpaque = (byteCount: number): void => {
    if (this.opaqueRecorded) return;
    this.opaqueRecorded = true;
    const ev: ErrorEvent = {
      id: 0,
      kind: 'error',
      connectionId: this.connectionId,
      time: this.now(),
      direction: this.direction,
      code: 'WS_ERR_UNFRAMED_BYTES',
      closeCode: 1009,
      message: `${byteCount} bytes that can't be framed (after a length that can't be trusted)`,
      byteCount,
    };
    this.sink.append(ev);
    this.sink.seal?.();
  };

  private readonly onError = (err: WireError): void => {
    this.owner.recordError(err, this.direction);
  };
}
