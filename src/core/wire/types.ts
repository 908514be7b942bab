// The wire's vocabulary, which capture records, the proxy and the webview protocol speak too. It lives here, at the
// bottom, so that nothing in wire/ imports from the layers above it.

/** Which way the bytes went: client→server or server→client. */
export type Direction = 'c2s' | 's2c';

/** What a header line had on the wire beyond its name and value, set only when there is something to say. */
export interface HeaderWire {
  /** The value's bytes are not valid UTF-8, so `value` is their latin-1 reading: one character per byte. */
  latin1?: true;
  /** The whitespace around the value, when it was not the usual one space before and none after. */
  space?: [before: string, after: string];
}

/**
 * One header line: the name in its original case, the value without the whitespace around it (as UTF-8 when its bytes
 * are valid UTF-8, else as latin-1), and what else the line had on the wire. `name + ':' + before + value + after`
 * gives the line back, byte for byte, encoding the value as it was read.
 */
export type HttpHeader = [name: string, value: string, wire?: HeaderWire];

/** An HTTP head as it was on the wire: start line and headers in wire order with their original case. */
export interface HttpHead {
  /** `GET /path HTTP/1.1` or `HTTP/1.1 101 Switching Protocols`. */
  startLine: string;
  /** Header lines in wire order. */
  headers: HttpHeader[];
  /** Byte length of the head, CRLFCRLF included. */
  length: number;
}

/** The negotiated permessage-deflate parameters (RFC 7692 §7.1). */
export interface DeflateParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** 8..15; 15 when the parameter is absent. */
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}
