// Turns socket, TLS and handshake failures into errors a user can act on.

import { ConnectionError } from '../util/connectionError';
import { errorText } from '../../shared/errorText';

/** Where the connection was going, for messages. */
export interface Target {
  /** `host:port` or the unix socket path. */
  where: string;
  host: string;
  handshakeTimeoutMs: number;
}

const TLS_HINT = 'pass its CA in tls.ca, or set tls.rejectUnauthorized: false for a local test server';

/** Maps a Node / ws / TLS error to a readable ConnectionError. */
export function toConnectionError(err: unknown, target: Target): ConnectionError {
  if (err instanceof ConnectionError) return err;
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const msg = (text: string, c = code ?? 'ECONNECT') => new ConnectionError(c, text, { cause: err });
  switch (code) {
    case 'ECONNREFUSED':
      return msg(`Connection refused by ${target.where} — is a server listening there?`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return msg(`Cannot resolve host "${target.host}" (DNS lookup failed: ${code})`);
    case 'ECONNRESET':
      return msg(`Connection reset by ${target.where}`);
    case 'ETIMEDOUT':
      return msg(`Timed out connecting to ${target.where}`);
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return msg(`No route to ${target.where} (${code})`);
    case 'ENOENT':
      return msg(`No unix socket at ${target.where}`);
    case 'EACCES':
      return msg(`Permission denied connecting to ${target.where}`);
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
      return msg(`TLS: ${target.where} presented a self-signed certificate that is not trusted; ${TLS_HINT}`);
    case 'CERT_HAS_EXPIRED':
      return msg(`TLS: the certificate of ${target.where} has expired`);
    case 'CERT_NOT_YET_VALID':
      return msg(`TLS: the certificate of ${target.where} is not valid yet (check the clock)`);
    case 'ERR_TLS_CERT_ALTNAME_INVALID':
      return msg(`TLS: the certificate is not valid for "${target.host}"${e.reason ? ` (${e.reason})` : ''}`);
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_GET_ISSUER_CERT':
      return msg(`TLS: cannot verify the certificate chain of ${target.where} (unknown issuer); ${TLS_HINT}`);
    case 'EPROTO':
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return msg(`TLS handshake with ${target.where} failed — is the server speaking TLS? (${e.message})`);
  }
  if (code?.startsWith('WS_ERR_')) return msg(`Protocol error from ${target.where}: ${e.message}`);
  const text = errorText(err);
  if (text === 'Opening handshake has timed out') {
    return msg(`No upgrade response from ${target.where} within ${target.handshakeTimeoutMs} ms`, 'EHANDSHAKETIMEOUT');
  }
  if (/^Invalid (Upgrade|Sec-WebSocket-\w+) header|subprotocol|extension/i.test(text)) {
    return msg(`Invalid upgrade response from ${target.where}: ${text}`, 'EBADHANDSHAKE');
  }
  return msg(text, code ?? 'ECONNECT');
}
