// Bearer-token authentication of upgrade requests: fixed tokens (compared in constant time) and JWTs (jose).

import * as crypto from 'node:crypto';
import type * as http from 'node:http';
import { errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { BEARER_SUBPROTOCOL, readCredentials, TOKEN_LOCATIONS, type HeaderLines, type TokenLocation } from '../wire/credentials';

export { BEARER_SUBPROTOCOL, TOKEN_LOCATIONS, type TokenLocation } from '../wire/credentials';

export interface JwtOptions {
  /** Algorithms a token may be signed with; a token with any other `alg` is refused. */
  algorithms: Array<'HS256' | 'RS256'>;
  /** HS256 shared secret (UTF-8). Required when `algorithms` has HS256. */
  secret?: string;
  /** RS256 public key, PEM (SPKI or PKCS#1). Required when `algorithms` has RS256. */
  publicKeyPem?: string;
  /** Required `iss` claim. Default: not checked. */
  issuer?: string;
  /** Required `aud` claim. Default: not checked. */
  audience?: string;
}

export interface AuthOptions {
  /** Accepted bearer token(s); compared in constant time (crypto.timingSafeEqual over equal-length digests). */
  tokens?: string[];
  /**
   * Where a token may come from. Default all three:
   * - `'header'`: `Authorization: Bearer <token>`;
   * - `'query'`: `?token=<token>` in the request URL (it may end up in proxy logs: prefer the others);
   * - `'subprotocol'`: `Sec-WebSocket-Protocol: bearer, <token>` (in a browser, `new WebSocket(url, ['bearer', token])`).
   *   The server selects `bearer` (or the client's next offered protocol), never the token itself.
   *
   * Any other form gets 400 `ERR_AUTH_MALFORMED` before auth runs: two `Authorization` headers, `token` twice in
   * the query or beside `;` or `#`, a `bearer` offer split over several `Sec-WebSocket-Protocol` lines, with empty
   * entries, twice or not in lower case (see credentials.ts).
   */
  accept?: TokenLocation[];
  /** Verify JWTs instead of, or in addition to, fixed tokens (with `jose`). Default: off. */
  jwt?: JwtOptions;
}

export type AuthFailureCode = 'ERR_AUTH_MISSING' | 'ERR_AUTH_INVALID' | 'ERR_AUTH_EXPIRED';

export type AuthResult = { ok: true } | { ok: false; code: AuthFailureCode; reason: string };

/** Validated auth options with the keys prepared once. */
export interface PreparedAuth {
  accept: ReadonlySet<TokenLocation>;
  digests: Buffer[];
  jwt?: { getKey: JWTVerifyGetKey; algorithms: string[]; issuer?: string; audience?: string };
}

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest();

/** Checks the options (TypeError on nonsense) and prepares digests and keys. */
export function prepareAuth(auth: AuthOptions): PreparedAuth {
  if (auth === null || typeof auth !== 'object') throw new TypeError('auth must be an object');
  const tokens = auth.tokens ?? [];
  if (!Array.isArray(tokens) || tokens.some((t) => typeof t !== 'string' || t === '')) {
    throw new TypeError('auth.tokens must be an array of non-empty strings');
  }
  const accept = auth.accept ?? [...TOKEN_LOCATIONS];
  if (!Array.isArray(accept) || accept.length === 0 || accept.some((a) => !TOKEN_LOCATIONS.includes(a))) {
    throw new TypeError(`auth.accept must be a non-empty array of ${TOKEN_LOCATIONS.join(', ')}`);
  }
  if (tokens.length === 0 && !auth.jwt) throw new TypeError('auth needs tokens or jwt: with neither, nobody could connect');
  const prepared: PreparedAuth = { accept: new Set(accept), digests: tokens.map(sha256) };
  if (auth.jwt) prepared.jwt = prepareJwt(auth.jwt);
  return prepared;
}

function prepareJwt(jwt: JwtOptions): NonNullable<PreparedAuth['jwt']> {
  const algs = jwt.algorithms;
  if (!Array.isArray(algs) || algs.length === 0 || algs.some((a) => a !== 'HS256' && a !== 'RS256')) {
    throw new TypeError('auth.jwt.algorithms must be a non-empty array of HS256, RS256');
  }
  let secret: Uint8Array | undefined;
  let publicKey: crypto.KeyObject | undefined;
  if (algs.includes('HS256')) {
    if (typeof jwt.secret !== 'string' || jwt.secret === '') throw new TypeError('auth.jwt.secret is required for HS256');
    secret = new TextEncoder().encode(jwt.secret);
  }
  if (algs.includes('RS256')) {
    if (typeof jwt.publicKeyPem !== 'string') throw new TypeError('auth.jwt.publicKeyPem is required for RS256');
    try {
      publicKey = crypto.createPublicKey(jwt.publicKeyPem);
    } catch (err) {
      throw new TypeError(`auth.jwt.publicKeyPem is not a readable public key: ${(err as Error).message}`);
    }
    if (publicKey.asymmetricKeyType !== 'rsa') throw new TypeError('auth.jwt.publicKeyPem must be an RSA key for RS256');
  }
  for (const k of ['issuer', 'audience'] as const) {
    if (jwt[k] !== undefined && typeof jwt[k] !== 'string') throw new TypeError(`auth.jwt.${k} must be a string`);
  }
  const getKey: JWTVerifyGetKey = (header) => {
    if (header.alg === 'HS256' && secret) return secret;
    if (header.alg === 'RS256' && publicKey) return publicKey;
    throw new joseErrors.JOSEAlgNotAllowed(`"alg" (Algorithm) Header Parameter value not allowed`);
  };
  return { getKey, algorithms: [...algs], issuer: jwt.issuer, audience: jwt.audience };
}

/** The token and where it was found, from the first accepted location that has one. */
function findToken(
  req: http.IncomingMessage,
  accept: ReadonlySet<TokenLocation>,
): { token: string; location: TokenLocation } | { token: undefined; refused?: TokenLocation } {
  const { tokens } = readCredentials(req.url ?? '', headerLines(req));
  let refused: TokenLocation | undefined;
  for (const location of TOKEN_LOCATIONS) {
    const token = tokens[location];
    if (token === undefined) continue;
    if (accept.has(location)) return { token, location };
    refused ??= location;
  }
  return { token: undefined, refused };
}

/**
 * Why the request's token is not in a documented form (two `Authorization` headers, `;token=`, a `bearer` offer
 * split over several `Sec-WebSocket-Protocol` lines or padded with empty entries…), for a 400 before auth runs;
 * undefined when it is. The reason never holds the token.
 */
export function credentialFormProblem(req: http.IncomingMessage): { code: 'ERR_AUTH_MALFORMED'; reason: string } | undefined {
  const { problem } = readCredentials(req.url ?? '', headerLines(req));
  return problem === undefined ? undefined : { code: 'ERR_AUTH_MALFORMED', reason: problem };
}

/** The header lines as they came, in pairs: the credentials module applies Node's rules for repeated headers itself. */
function headerLines(req: http.IncomingMessage): HeaderLines {
  const raw = req.rawHeaders;
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
  return out;
}

/**
 * The subprotocol to select when the client offered `bearer, <token>`: its first other offer, else `bearer`.
 * Browsers and ws fail a connection whose server picks none of the offers, so one must be picked; never the token.
 */
export function selectSubprotocol(offered: Set<string>): string | false {
  const list = [...offered];
  const i = list.indexOf(BEARER_SUBPROTOCOL);
  if (i === -1) return list[0] ?? false;
  const rest = list.filter((_, j) => j !== i && j !== i + 1);
  return rest[0] ?? BEARER_SUBPROTOCOL;
}

/** Constant time over every configured token: no early exit, equal-length digests. */
function matchesFixed(token: string, digests: Buffer[]): boolean {
  const d = sha256(token);
  let ok = false;
  for (const want of digests) ok = crypto.timingSafeEqual(d, want) || ok;
  return ok;
}

/** Decides an upgrade request. Resolves, never rejects. */
export async function authenticate(req: http.IncomingMessage, auth: PreparedAuth): Promise<AuthResult> {
  const found = findToken(req, auth.accept);
  if (found.token === undefined) {
    const accepted = TOKEN_LOCATIONS.filter((l) => auth.accept.has(l)).join(', ');
    return {
      ok: false,
      code: 'ERR_AUTH_MISSING',
      reason: found.refused
        ? `token in ${found.refused} is not accepted (accepted: ${accepted})`
        : `token missing (accepted: ${accepted})`,
    };
  }
  if (auth.digests.length > 0 && matchesFixed(found.token, auth.digests)) return { ok: true };
  if (auth.jwt) {
    try {
      await jwtVerify(found.token, auth.jwt.getKey, {
        algorithms: auth.jwt.algorithms,
        issuer: auth.jwt.issuer,
        audience: auth.jwt.audience,
      });
      return { ok: true };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) return { ok: false, code: 'ERR_AUTH_EXPIRED', reason: 'token expired' };
      if (err instanceof joseErrors.JWTClaimValidationFailed) {
        return { ok: false, code: 'ERR_AUTH_INVALID', reason: `invalid token (claim ${err.claim})` };
      }
      return { ok: false, code: 'ERR_AUTH_INVALID', reason: 'invalid token' };
    }
  }
  return { ok: false, code: 'ERR_AUTH_INVALID', reason: 'invalid token' };
}
