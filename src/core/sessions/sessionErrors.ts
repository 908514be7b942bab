// What a session reader says when a file is not what it expects: stable codes, one constructor (as WS_ERR_* for the
// wire), and the result every reader returns instead of throwing.

/**
 * Codes a reader reports (in SessionReadResult.error or .warnings):
 * - `SESSION_ERR_FORMAT`: not this format, or malformed where it matters (a line that is no capture event, a HAR
 *   without `log.entries`, a pcap block with an impossible length).
 * - `SESSION_ERR_TRUNCATED`: the file ends inside a line, a JSON document, or a packet record.
 * - `SESSION_ERR_NO_WEBSOCKETS`: a well-formed file with no WebSocket traffic in it.
 * - `SESSION_ERR_UNSUPPORTED`: something this reader does not decode (a link type, IP fragments).
 * - `SESSION_ERR_TOO_LARGE`: a line, JSON value or record over the reader's limit.
 * - `SESSION_ERR_ABORTED`: the AbortSignal fired; what was read before stays appended.
 * - `SESSION_ERR_IO`: the source failed (a file that can't be read).
 * - `SESSION_ERR_INTERNAL`: a bug in the reader; the message has the stack.
 *
 * Codes of error events a pcap reader appends to a connection (ErrorEvent.code, closeCode 1006):
 * - `WS_ERR_CAPTURE_GAP`: bytes of that direction that the capture does not have (dropped or cut packets); the
 *   direction is not decoded after it.
 * - `WS_ERR_CAPTURE_ENDED`: the capture file ended while the connection was open.
 */
export type SessionErrorCode =
  | 'SESSION_ERR_FORMAT'
  | 'SESSION_ERR_TRUNCATED'
  | 'SESSION_ERR_NO_WEBSOCKETS'
  | 'SESSION_ERR_UNSUPPORTED'
  | 'SESSION_ERR_TOO_LARGE'
  | 'SESSION_ERR_ABORTED'
  | 'SESSION_ERR_IO'
  | 'SESSION_ERR_INTERNAL';

export interface SessionError {
  code: SessionErrorCode;
  message: string;
  /** Byte offset in the file where it was found, when known. */
  offset?: number;
  /** 1-based line, for line formats. */
  line?: number;
}

/** The one constructor for reader errors. */
export function sessionError(code: SessionErrorCode, message: string, where: { offset?: number; line?: number } = {}): SessionError {
  const e: SessionError = { code, message };
  if (where.offset !== undefined) e.offset = where.offset;
  if (where.line !== undefined) e.line = where.line;
  return e;
}

export type SessionFormat = 'ndjson' | 'har' | 'pcap' | 'pcapng';

/** What a reader did. It never throws: a bad file is `error`, and the events before it stay appended. */
export interface SessionReadResult {
  format: SessionFormat;
  /** Events appended to the sink. */
  events: number;
  /** Connections among them (distinct connection ids with a handshake or connection event). */
  connections: number;
  /** Bytes of the source read. */
  bytesRead: number;
  /** Why reading stopped early, or why the file gave nothing; undefined when the whole file was read. */
  error?: SessionError;
  /** Problems that did not stop the reading, in file order: the first `MAX_WARNINGS`. */
  warnings: SessionError[];
  /** All of them, counted. */
  warningCount: number;
}

export const MAX_WARNINGS = 100;

/** Collects a reader's warnings and its one error. */
export class Problems {
  error: SessionError | undefined;
  readonly warnings: SessionError[] = [];
  warningCount = 0;

  warn(e: SessionError): void {
    this.warningCount++;
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(e);
  }

  /** The first error wins: it is why reading stopped. */
  fail(e: SessionError): void {
    if (this.error === undefined) this.error = e;
  }
}
