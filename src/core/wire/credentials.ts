// Where an upgrade request carries a bearer token. The server's auth takes its token from here and the export's
// redactor asks here what to hide, so the two cannot disagree on what a credential is.

export type TokenLocation = 'header' | 'query' | 'subprotocol';

export const TOKEN_LOCATIONS: readonly TokenLocation[] = ['header', 'query', 'subprotocol'];

/** The subprotocol that announces a token in `Sec-WebSocket-Protocol`: the client offers `bearer, <token>`. */
export const BEARER_SUBPROTOCOL = 'bearer';

/** Header lines in wire order: Node's `rawHeaders` in pairs, or a captured HttpHead's `headers`. */
export type HeaderLines = ReadonlyArray<readonly [name: string, value: string]>;

export interface RequestCredentials {
  /**
   * The token at each location, read as Node hands the request to the server: the first `Authorization` line (Node
   * drops the others), `?token=` as URLSearchParams decodes it, and the offer after `bearer` in the
   * `Sec-WebSocket-Protocol` lines joined with ', ' (as Node joins them).
   */
  tokens: Partial<Record<TokenLocation, string>>;
  /** Why the credentials are not in one of the documented forms; undefined when they are, or when there are none. */
  problem?: string;
}

const BEARER_HEADER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/** Reads the token at each location of a request, and checks that each is sent in its one documented form. */
export function readCredentials(target: string, headers: HeaderLines): RequestCredentials {
  const tokens: RequestCredentials['tokens'] = {};
  const problems: string[] = [];

  const authorization = headerValues(headers, 'authorization');
  if (authorization.length > 1) problems.push('more than one Authorization header');
  const fromHeader = authorization.length > 0 ? BEARER_HEADER.exec(authorization[0])?.[1] : undefined;
  if (fromHeader !== undefined) tokens.header = fromHeader;

  const query = queryOf(target);
  if (query !== undefined) {
    const values = new URLSearchParams(query).getAll('token');
    if (values.length > 1) problems.push('token appears more than once in the query');
    else if (/[;#]/.test(query) && looseParams(query).some(([name]) => name === 'token')) {
      problems.push('a query with a token must separate parameters with "&" and have no "#" fragment');
    }
    if (values[0]) tokens.query = values[0];
  }

  const offer = bearerOffer(headers);
  if (offer.problem !== undefined) problems.push(offer.problem);
  if (offer.token !== undefined) tokens.subprotocol = offer.token;
  return problems.length > 0 ? { tokens, problem: problems[0] } : { tokens };
}

/**
 * Every string of a request that the auth could take as a token, read loosely so that it holds for requests the
 * server refused too: what readCredentials finds, the credentials of every `Authorization` line (not only the
 * first), each `token` parameter split on `&`, `;`, `#` or whitespace (raw and decoded), and, when the bearer offer
 * is not in its documented form, every offered subprotocol. Longest first.
 */
export function credentialCandidates(startLine: string, headers: HeaderLines): string[] {
  const target = splitRequestLine(startLine)?.target ?? '';
  const out = new Set<string>(Object.values(readCredentials(target, headers).tokens));
  const addWords = (s: string) => {
    out.add(s);
    for (const w of s.split(/[ \t]+/)) out.add(w);
  };
  for (const value of headerValues(headers, 'authorization')) {
    // The first of several words is the scheme; a lone word may be a token split off its `Bearer` line.
    const m = /^\S+[ \t]+(.+)$/.exec(value.trim());
    addWords(m ? m[1].trim() : value.trim());
  }
  const query = queryOf(target);
  if (query !== undefined) {
    for (const [name, raw] of looseParams(query)) {
      if (name.toLowerCase() !== 'token') continue;
      out.add(raw);
      out.add(safeDecode(raw));
      out.add(new URLSearchParams(`t=${raw}`).get('t') ?? '');
    }
  }
  const offer = bearerOffer(headers);
  // Split or padded, the offer could put the token anywhere in the list.
  if (offer.problem !== undefined) for (const o of offer.offered) addWords(o);
  return [...out].filter((c) => c !== '' && c.toLowerCase() !== BEARER_SUBPROTOCOL).sort((a, b) => b.length - a.length);
}

/**
 * A request line's parts, with any run of spaces or tabs between them, or undefined for a status line. Loose on
 * purpose: it reads what was captured, which may be a request the server refused.
 */
export function splitRequestLine(line: string): { method: string; target: string; version?: string } | undefined {
  if (line.startsWith('HTTP/')) return undefined;
  const m = /^(\S+)[ \t]+(.*?)(?:[ \t]+(HTTP\/\S*))?[ \t]*$/.exec(line);
  return m ? { method: m[1], target: m[2], version: m[3] } : undefined;
}

function headerValues(headers: HeaderLines, lower: string): string[] {
  const out: string[] = [];
  for (const [name, value] of headers) if (name.toLowerCase() === lower) out.push(value);
  return out;
}

function queryOf(target: string): string | undefined {
  const q = target.indexOf('?');
  return q === -1 ? undefined : target.slice(q + 1);
}

/** `name=value` pairs split on `&`, `;`, `#` and whitespace: decoded name, raw value. */
function looseParams(query: string): Array<[name: string, raw: string]> {
  const out: Array<[string, string]> = [];
  for (const part of query.split(/[&;#\s]/)) {
    const eq = part.indexOf('=');
    if (eq > 0) out.push([safeDecode(part.slice(0, eq).replace(/\+/g, ' ')), part.slice(eq + 1)]);
  }
  return out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The `Sec-WebSocket-Protocol` offer: the token after `bearer`, every offered protocol, and what is wrong when the
 * offer is not one header line `bearer, <token>` (browsers send one line; a split one only forms `bearer, <token>`
 * once Node joins the lines).
 */
function bearerOffer(headers: HeaderLines): { token?: string; offered: string[]; problem?: string } {
  const lines = headerValues(headers, 'sec-websocket-protocol');
  const offered = lines.join(', ').split(',').map((s) => s.trim()).filter((s) => s !== '');
  const i = offered.indexOf(BEARER_SUBPROTOCOL);
  const token = i === -1 ? undefined : offered[i + 1];
  const bearers = offered.filter((o) => o.toLowerCase() === BEARER_SUBPROTOCOL);
  if (bearers.length === 0) return { token, offered };
  let problem: string | undefined;
  if (lines.length > 1) problem = 'the bearer offer is split over several Sec-WebSocket-Protocol headers: send one, "bearer, <token>"';
  else if (lines[0].split(',').some((s) => s.trim() === '')) problem = 'empty entry in Sec-WebSocket-Protocol';
  else if (bearers.length > 1 || bearers[0] !== BEARER_SUBPROTOCOL) problem = 'offer "bearer" once, in lower case';
  return { token, offered, problem };
}
