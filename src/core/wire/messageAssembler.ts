// Reassembles one direction's frames into messages and checks what RFC 6455 says about messages and close frames.
import { isUtf8 } from 'node:buffer';
import type { Direction } from './types';
import { DEFAULT_MAX_PAYLOAD, OPCODE_CLOSE, isValidCloseCode } from './constants';
import type { PassiveInflater } from './deflate';
import { WireError, createWireError } from './errors';
import type { DecodedFrame } from './frameDecoder';

export interface AssembledMessage {
  opcode: 1 | 2;
  /** Reassembled, and inflated when compressed and the inflate succeeded. */
  data: Buffer;
  /** Sum of the frames' payload lengths. */
  wireLength: number;
  compressed: boolean;
  /** Present when compressed and inflated. */
  inflatedLength?: number;
  /** Stable code when a compressed message could not be inflated; `data` then holds the compressed bytes. */
  inflateError?: string;
  /** Only for text messages (and only when the data could be inflated). */
  utf8Valid?: boolean;
  frames: DecodedFrame[];
}

export interface CloseInfo {
  /** Absent for an empty close payload (or one of 1 byte, which is a violation). */
  code?: number;
  reason?: string;
}

/**
 * The code and reason in a close frame's payload, as MessageAssembler.push returns them, without the checks (those
 * are the assembler's, which reports the violations): a capture completes a close frame's record before appending it.
 */
export function closeInfo(payload: Buffer): CloseInfo {
  if (payload.length < 2) return {};
  return { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString('utf8') };
}

export interface MessageAssemblerOptions {
  direction: Direction;
  /** A message whose wire length exceeds it is a violation (1009) and is not emitted. Default 100 MiB. */
  maxMessageSize?: number;
  /** Inflates compressed (RSV1) messages; without one they keep their compressed bytes and get an inflateError. */
  inflater?: PassiveInflater;
  onMessage(message: AssembledMessage): void;
  onError(err: WireError): void;
}

export class MessageAssembler {
  private readonly direction: Direction;
  private readonly maxMessageSize: number;
  private inflater: PassiveInflater | undefined;
  private readonly onMessage: (m: AssembledMessage) => void;
  private readonly onError: (err: WireError) => void;

  /** Frames of the open fragmented message; empty when none is open. */
  private frames: DecodedFrame[] = [];
  private size = 0;
  private oversize = false;

  constructor(o: MessageAssemblerOptions) {
    this.direction = o.direction;
    this.maxMessageSize = o.maxMessageSize ?? DEFAULT_MAX_PAYLOAD;
    this.inflater = o.inflater;
    this.onMessage = o.onMessage;
    this.onError = o.onError;
  }

  setInflater(inflater: PassiveInflater | undefined): void {
    this.inflater = inflater;
  }

  /** Takes the next frame of this direction. Returns the code and reason for a close frame, else undefined. */
  push(frame: DecodedFrame): CloseInfo | undefined {
    const op = frame.opcode;
    if (op >= 0x8) return op === OPCODE_CLOSE ? this.close(frame.payload) : undefined;
    if (op === 0) {
      if (this.frames.length === 0) {
        this.error('WS_ERR_INVALID_OPCODE', 'continuation frame without a message to continue', 1002);
        return undefined;
      }
      this.frames.push(frame);
      this.size += frame.payloadLength;
    } else {
      if (this.frames.length !== 0) {
        this.error('WS_ERR_INVALID_OPCODE', `new data frame (opcode ${op}) while a fragmented message is open`, 1002);
        this.frames = [];
      }
      this.size = frame.payloadLength;
      this.oversize = false;
      if (frame.fin) {
        // The common case: one frame, one message, no copy.
        if (this.size > this.maxMessageSize) this.tooBig();
        else this.emit(op as 1 | 2, frame.payload, frame.rsv1, [frame]);
        return undefined;
      }
      this.frames.push(frame);
    }
    if (!this.oversize && this.size > this.maxMessageSize) {
      this.oversize = true;
      this.tooBig();
    }
    if (frame.fin) {
      const frames = this.frames;
      this.frames = [];
      if (!this.oversize) {
        const parts = new Array<Buffer>(frames.length);
        for (let i = 0; i < frames.length; i++) parts[i] = frames[i].payload;
        this.emit(frames[0].opcode as 1 | 2, Buffer.concat(parts, this.size), frames[0].rsv1, frames);
      }
    }
    return undefined;
  }

  /** True between messages: no fragmented message is open. */
  get idle(): boolean {
    return this.frames.length === 0;
  }

  /** Drops a partly received message (e.g. when the connection ends). */
  reset(): void {
    this.frames = [];
    this.size = 0;
  }

  private emit(opcode: 1 | 2, wire: Buffer, compressed: boolean, frames: DecodedFrame[]): void {
    const m: AssembledMessage = {
      opcode,
      data: wire,
      wireLength: wire.length,
      compressed,
      inflatedLength: undefined,
      inflateError: undefined,
      utf8Valid: undefined,
      frames,
    };
    if (compressed) {
      const r = this.inflater ? this.inflater.inflate(wire) : createWireError('WS_ERR_INFLATE_FAILED', 'compressed message but permessage-deflate was not negotiated', 1002);
      if (r instanceof WireError) {
        m.inflateError = r.code;
        this.onMessage(m);
        r.direction = this.direction;
        this.onError(r);
        return;
      }
      m.data = r;
      m.inflatedLength = r.length;
    }
    if (opcode === 1) {
      m.utf8Valid = isUtf8(m.data);
      if (!m.utf8Valid) {
        this.onMessage(m);
        this.error('WS_ERR_INVALID_UTF8', 'invalid UTF-8 sequence in a text message', 1007);
        return;
      }
    }
    this.onMessage(m);
  }

  private close(p: Buffer): CloseInfo {
    const info = closeInfo(p);
    if (p.length === 1) {
      this.error('WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 'invalid close payload length 1', 1002);
    } else if (info.code !== undefined) {
      if (!isValidCloseCode(info.code)) this.error('WS_ERR_INVALID_CLOSE_CODE', `invalid status code ${info.code}`, 1002);
      if (!isUtf8(p.subarray(2))) this.error('WS_ERR_INVALID_UTF8', 'invalid UTF-8 sequence in a close reason', 1007);
    }
    return info;
  }

  private tooBig(): void {
    this.error('WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', `Max payload size exceeded (message over ${this.maxMessageSize} bytes)`, 1009);
  }

  private error(code: string, message: string, closeCode: number): void {
    const err = createWireError(code, message, closeCode);
    err.direction = this.direction;
    this.onError(err);
  }
}
