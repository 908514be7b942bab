// RFC 6455 numbers shared by the decoder, encoder, assembler and capture.

export const OPCODE_CONTINUATION = 0x0;
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

const CLOSE_NAMES: Record<number, string> = {
  1000: 'Normal Closure',
  1001: 'Going Away',
  1002: 'Protocol Error',
  1003: 'Unsupported Data',
  1005: 'No Status Received',
  1006: 'Abnormal Closure',
  1007: 'Invalid Frame Payload Data',
  1008: 'Policy Violation',
  1009: 'Message Too Big',
  1010: 'Mandatory Extension',
  1011: 'Internal Error',
  1012: 'Service Restart',
  1013: 'Try Again Later',
  1014: 'Bad Gateway',
  1015: 'TLS Handshake',
};

/** IANA name of a close code, for display; `Private` / `Registered` / `Reserved` for the ranges. */
export function closeCodeName(code: number): string {
  const n = CLOSE_NAMES[code];
  if (n) return n;
  if (code >= 4000 && code <= 4999) return 'Private';
  if (code >= 3000 && code <= 3999) return 'Registered';
  return 'Reserved';
}
