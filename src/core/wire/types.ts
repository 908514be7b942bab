// The wire's vocabulary, which capture records, the proxy and the webview protocol speak too. It lives here, at the
// bottom, so that nothing in wire/ imports from the layers above it.

/** Which way the bytes went: client→server or server→client. */
export type Direction = 'c2s' | 's2c';

/** An HTTP head as it was on the wire: start line and headers in wire order with their original case. */
export interface HttpHead {
  /** `GET /path HTTP/1.1` or `HTTP/1.1 101 Switching Protocols`. */
  startLine: string;
  /** Header name/value pairs in wire order, names in their original case. */
  headers: Array<[name: string, value: string]>;
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
