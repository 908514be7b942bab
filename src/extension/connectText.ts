// What the user reads when an outgoing connection fails or closes: the cause in a word, and TLS problems in terms of
// the endpoint's own settings (caFile, allowSelfSigned), never the library's options. No vscode import: unit-tested.

import type { ReconnectOptions } from '../core/client/clientConnection';

/** Certificate problems a CA file (or, for a test server, allowSelfSigned) fixes. */
const UNTRUSTED_CERT_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_GET_ISSUER_CERT',
]);

export function isUntrustedCertificate(code: string | undefined): boolean {
  return code !== undefined && UNTRUSTED_CERT_CODES.has(code);
}

/** The cause of a failed attempt or a dropped connection, in a word or two: reset, refused, timeout… */
export function causeWord(code: string | undefined): string | undefined {
  switch (code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return 'reset';
    case 'ECONNREFUSED':
      return 'refused';
    case 'ETIMEDOUT':
    case 'EHANDSHAKETIMEOUT':
      return 'timeout';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'ERR_UPGRADE_REJECTED':
      return 'upgrade rejected';
  }
  if (isUntrustedCertificate(code) || code?.startsWith('CERT_') || code === 'ERR_TLS_CERT_ALTNAME_INVALID') return 'certificate';
  return undefined;
}

/** Close codes that are a normal end: 1000 (normal), 1001 (going away), and none at all for a user's close. */
export function isAbnormalClose(code: number | undefined, closedByUser: boolean): boolean {
  if (closedByUser) return false;
  return code === undefined || (code !== 1000 && code !== 1001);
}

/**
 * The abnormal close, as one line: "closed abnormally: 1006 (reset)". `errorCode` is the socket error behind it, when
 * there is one; a close without one and without a close frame is 1006 with no known cause ("no close frame"). The
 * peer's reason is not in it: it is untrusted text, for the caller to add through uiText.
 */
export function abnormalCloseText(code: number | undefined, errorCode: string | undefined): string {
  const c = code ?? 1006;
  const cause = causeWord(errorCode) ?? (c === 1006 ? 'no close frame' : undefined);
  return `closed abnormally: ${c}${cause ? ` (${cause})` : ''}`;
}

/** A certificate the connection did not trust, told in the endpoint's own settings. `host` is `host:port`. */
export function untrustedCertificateText(host: string, endpointLabel: string): string {
  return (
    `the certificate of ${host} is not trusted (self-signed or an unknown issuer). ` +
    `Set caFile of the endpoint "${endpointLabel}" (wsInspector.endpoints) to the PEM of its CA or certificate, ` +
    'or, for a local test server only, allowSelfSigned in your user settings.'
  );
}

/** The endpoint setting `reconnect`: `true`, `false`, or bounds for the backoff. */
export type ReconnectSetting = boolean | { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };

/** The core's reconnect options for a `reconnect` setting value; undefined when off or not a valid value. */
export function reconnectOptions(value: unknown): ReconnectOptions | undefined {
  if (value === true) return { enabled: true };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const num = (x: unknown) => (typeof x === 'number' && x >= 0 && Number.isFinite(x) ? x : undefined);
  const initialDelayMs = num(v.initialDelayMs);
  let maxDelayMs = num(v.maxDelayMs);
  if (initialDelayMs !== undefined && maxDelayMs !== undefined && maxDelayMs < initialDelayMs) maxDelayMs = initialDelayMs;
  const maxAttempts = num(v.maxAttempts);
  return {
    enabled: v.enabled !== false,
    ...(initialDelayMs !== undefined ? { initialDelayMs } : {}),
    ...(maxDelayMs !== undefined ? { maxDelayMs } : {}),
    ...(maxAttempts !== undefined ? { maxAttempts } : {}),
  };
}
