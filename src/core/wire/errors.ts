// One error type for every protocol violation, so tests, the UI and the logs can match on `code`.
import type { Direction } from './types';

/**
 * A WebSocket protocol violation (or a limit hit) seen on the wire.
 *
 * Codes in use (close status in brackets):
 * - framing: `WS_ERR_UNEXPECTED_RSV_1`, `WS_ERR_UNEXPECTED_RSV_2_3`, `WS_ERR_INVALID_OPCODE`, `WS_ERR_EXPECTED_MASK`,
 *   `WS_ERR_UNEXPECTED_MASK`, `WS_ERR_EXPECTED_FIN`, `WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH`,
 *   `WS_ERR_INVALID_PAYLOAD_LENGTH_MSB` (a 64-bit length with its top bit set, RFC 6455 §5.2) (1002);
 *   `WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH` (over 2^53 - 1), `WS_ERR_UNSUPPORTED_MESSAGE_LENGTH` (1009).
 *   ws has no code of its own for the top bit: it closes such a frame with 1009 and
 *   `WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH`, so the peer may see 1009 where the capture records 1002.
 * - messages: `WS_ERR_INVALID_UTF8` (1007), `WS_ERR_INVALID_CLOSE_CODE` (1002), `WS_ERR_INFLATE_FAILED` (1007)
 * - handshake: `WS_ERR_HANDSHAKE_TOO_LARGE` (1009), `WS_ERR_INVALID_HANDSHAKE`, `WS_ERR_INVALID_EXTENSION` (1002)
 * - capture: `WS_ERR_CAPTURE_INTERNAL` (1011), `WS_ERR_EARLY_DATA_TOO_LARGE` (1009), `WS_ERR_UNFRAMED_BYTES` (bytes after
 *   an untrustworthy length, with `readAfterViolation`: counted, not framed); `WS_ERR_INCOMPLETE_MESSAGE` and
 *   `WS_ERR_INCOMPLETE_FRAME` (1006: the connection ended inside a message, or inside a control frame)
 * - packet captures read back (src/core/sessions): `WS_ERR_CAPTURE_GAP` (bytes missing from the capture; that direction
 *   is not decoded further) and `WS_ERR_CAPTURE_ENDED` (the file ends with the connection open), both 1006
 */
export class WireError extends Error {
  /** Stable `WS_ERR_*` code. */
  code: string;
  /** The RFC 6455 close status this violation calls for. */
  closeCode: number;
  /** Set by the decoder that saw it. */
  direction?: Direction;

  constructor(code: string, message: string, closeCode: number) {
    super(message);
    this.name = 'WireError';
    this.code = code;
    this.closeCode = closeCode;
  }
}

/** The one constructor for protocol errors (ws's `createError` style). */
export function createWireError(code: string, message: string, closeCode: number): WireError {
  return new WireError(code, message, closeCode);
}
