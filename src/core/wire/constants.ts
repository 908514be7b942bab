// RFC 6455 numbers shared by the decoder, encoder, assembler and capture.

export const OPCODE_TEXT = 0x1;
export const OPCODE_BINARY = 0x2;
export const OPCODE_CLOSE = 0x8;
export const OPCODE_PING = 0x9;
export const OPCODE_PONG = 0xa;

/** RFC 6455 §1.3: appended to Sec-WebSocket-Key before hashing. */
export const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** ws's default maxPayload: 100 MiB. */
export const DEFAULT_MAX_PAYLOAD = 100 * 1024 * 1024;
/** Bound on an HTTP head (request or response) before CRLFCRLF. */
export const DEFAULT_MAX_HEAD_BYTES = 16 * 1024;
/** Control frames carry at most 125 payload bytes (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

export const EMPTY_BUFFER: Buffer = Buffer.alloc(0);

/** ws's `isValidStatusCode`: the codes an endpoint may put in a close frame. */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

