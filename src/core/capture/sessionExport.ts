// Session export: NDJSON (one capture event per line, lossless) and HAR 1.2 with Chrome's `_webSocketMessages`,
// so a session opens in Chrome DevTools and other HAR viewers.
import { credentialCandidates, splitRequestLine } from '../wire/credentials';
import type { HttpHeader } from '../wire/types';
import type { CaptureEvent, HandshakeEvent, HttpHead, MessageEvent } from './events';

/** What replaces a credential in an export. URL-safe, so a redacted URL stays a URL. */
export const REDACTED = 'REDACTED';

/** Header names whose values are credentials (lower case). */
const SECRET_HEADERS = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'x-auth-token']);
/** Query parameters that commonly carry credentials, among them the server's own `?token=`. */
const SECRET_PARAM = /^(?:token|access_token|id_token|auth|authorization|api_key|apikey|key|password|passwd|secret|jwt|session|sig|signature)$/i;

/**
 * Replaces credentials in what an export writes: the values of `Authorization`, `Cookie` and similar headers,
 * credential-like query parameters in request lines and URLs, and, anywhere in a handshake's start lines and header
 * values, every string the server's auth could take as a token from that request, however its headers were split,
 * repeated or spaced (see credentialCandidates). Payloads are left as they are: they are what the user captured to
 * look at. Counts what it replaced, so the UI can say so.
 */
export class SecretRedactor {
  replaced = 0;

  /** `candidates`: strings to hide wherever they appear; by default those of `h` itself when it is a request. */
  head(h: HttpHead, candidates: readonly string[] = requestCandidates(h)): HttpHead {
    const startLine = this.hide(h.startLine.startsWith('HTTP/') ? h.startLine : this.url(h.startLine), candidates);
    let changed = startLine !== h.startLine;
    const headers = h.headers.map((line): HttpHeader => {
      const [name, value] = line;
      const lower = name.toLowerCase();
      let v = value;
      if (lower === 'authorization' || lower === 'proxy-authorization') {
        // Keep the scheme (`Bearer`, `Basic`): it says how the client authenticated, which is worth seeing.
        const scheme = /^\S+\s+(?=\S)/.exec(value);
        v = scheme ? scheme[0] + REDACTED : REDACTED;
      } else if (SECRET_HEADERS.has(lower)) {
        v = REDACTED;
      } else {
        v = hideAll(value, candidates);
      }
      if (v === value) return line;
      changed = true;
      this.replaced++;
      // The whitespace around the value stays; the value is no longer the wire's, so its encoding mark goes.
      return line[2]?.space ? [name, v, { space: line[2].space }] : [name, v];
    });
    return changed ? { ...h, startLine, headers } : h;
  }

  /** A URL, request target or request line with credential-like query values replaced (`&` or `;` separated). */
  url(u: string): string {
    return u.replace(/([?&;])([^=&;#\s]+)=([^&;#\s]*)/g, (all, sep: string, name: string, value: string) => {
      if (value === '' || value === REDACTED || !SECRET_PARAM.test(safeDecode(name))) return all;
      this.replaced++;
      return `${sep}${name}=${REDACTED}`;
    });
  }

  event(e: CaptureEvent): CaptureEvent {
    if (e.kind === 'handshake') {
      const candidates = requestCandidates(e.request);
      const request = this.head(e.request, candidates);
      const response = e.response && this.head(e.response, candidates);
      return request === e.request && response === e.response ? e : { ...e, request, response };
    }
    if (e.kind === 'connection' && e.meta?.url !== undefined) {
      const url = this.url(e.meta.url);
      return url === e.meta.url ? e : { ...e, meta: { ...e.meta, url } };
    }
    return e;
  }

  private hide(s: string, candidates: readonly string[]): string {
    const out = hideAll(s, candidates);
    if (out !== s) this.replaced++;
    return out;
  }
}

function requestCandidates(h: HttpHead): string[] {
  return h.startLine.startsWith('HTTP/') ? [] : credentialCandidates(h.startLine, h.headers.map(([name, value]) => [name, value] as const));
}

const WORD = /[A-Za-z0-9]/;

/**
 * Replaces each candidate (longest first) in `s`: one of 16 characters or more wherever it appears, a shorter one
 * only where it is not glued to more letters or digits, so that a test token like `dev` leaves `devtools` whole.
 */
function hideAll(s: string, candidates: readonly string[]): string {
  for (const c of candidates) {
    const whole = c.length >= 16;
    let out = '';
    let from = 0;
    for (let i = s.indexOf(c); i !== -1; i = s.indexOf(c, i + 1)) {
      if (i < from) continue;
      const glued = !whole && ((WORD.test(c[0]) && WORD.test(s[i - 1] ?? '')) || (WORD.test(c[c.length - 1]) && WORD.test(s[i + c.length] ?? '')));
      if (glued) continue;
      out += s.slice(from, i) + REDACTED;
      from = i + c.length;
    }
    s = out + s.slice(from);
  }
  return s;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * One JSON line per event. Buffers become `{ base64 }` so binary survives the round trip. With a redactor, the
 * credentials in handshakes and URLs are replaced (see SecretRedactor).
 */
export function eventToJsonLine(e: CaptureEvent, redactor?: SecretRedactor): string {
  return JSON.stringify(redactor ? redactor.event(e) : e, (_key, value) => {
    if (value && typeof value === 'object' && value.type === 'Buffer' && Array.isArray(value.data)) {
      return { base64: Buffer.from(value.data).toString('base64') };
    }
    return value;
  });
}

interface HarHeader {
  name: string;
  /** Without the whitespace around it, as HAR viewers expect; the NDJSON export keeps that whitespace. */
  value: string;
  /** `latin-1` when the value's bytes were not valid UTF-8 and are shown one character per byte. */
  comment?: string;
}

function harHeaders(head: HttpHead | undefined): HarHeader[] {
  return (head?.headers ?? []).map(([name, value, wire]) => (wire?.latin1 ? { name, value, comment: 'latin-1' } : { name, value }));
}

export interface HarWebSocketMessage {
  /** `send` is client→server, as in Chrome, where the browser is the client. */
  type: 'send' | 'receive';
  /** Epoch seconds. */
  time: number;
  opcode: number;
  /** Text as is; binary as base64, as Chrome writes it. */
  data: string;
  /** Written to this entry's connection and never sent: the connection closed first (see MessageEvent.unsentTo). */
  _unsent?: true;
}

export interface HarLog {
  log: {
    version: '1.2';
    creator: { name: string; version: string };
    pages: never[];
    entries: HarEntry[];
  };
}

interface HarEntry {
  startedDateTime: string;
  time: number;
  _resourceType: 'websocket';
  _connectionId: string;
  request: {
    method: string;
    url: string;
    httpVersion: string;
    headers: HarHeader[];
    queryString: HarHeader[];
    cookies: never[];
    headersSize: number;
    bodySize: number;
  };
  response: {
    status: number;
    statusText: string;
    httpVersion: string;
    headers: HarHeader[];
    cookies: never[];
    content: { size: number; mimeType: string; text?: string; encoding?: string };
    redirectURL: string;
    headersSize: number;
    bodySize: number;
  };
  cache: Record<string, never>;
  timings: { send: number; wait: number; receive: number };
  _webSocketMessages: HarWebSocketMessage[];
}

function header(head: HttpHead | undefined, name: string): string | undefined {
  const lower = name.toLowerCase();
  return head?.headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

function requestUrl(h: HandshakeEvent, secure: boolean): { url: string; method: string; httpVersion: string } {
  const parts = splitRequestLine(h.request.startLine);
  const method = parts?.method ?? 'GET';
  const target = parts?.target || '/';
  const httpVersion = parts?.version ?? 'HTTP/1.1';
  if (/^wss?:\/\//i.test(target)) return { url: target, method, httpVersion };
  const host = header(h.request, 'host') ?? 'localhost';
  return { url: `${secure ? 'wss' : 'ws'}://${host}${target.startsWith('/') ? target : `/${target}`}`, method, httpVersion };
}

/**
 * Builds a HAR log from capture events in id order. `secureConnections` names the connections that ran over TLS,
 * which the handshake alone cannot tell.
 */
export function toHar(
  events: Iterable<CaptureEvent>,
  options: { creatorVersion?: string; secureConnections?: Set<string>; redactor?: SecretRedactor } = {},
): HarLog {
  const entries = new Map<string, HarEntry>();
  for (const raw of events) {
    const e = options.redactor && raw.kind === 'handshake' ? options.redactor.event(raw) : raw;
    if (e.kind === 'handshake') {
      const { url, method, httpVersion } = requestUrl(e, options.secureConnections?.has(e.connectionId) ?? false);
      const statusLine = e.response?.startLine ?? '';
      const m = /^(HTTP\/\d(?:\.\d)?)\s+(\d{3})\s*(.*)$/.exec(statusLine);
      let query: HarHeader[] = [];
      try {
        query = [...new URL(url).searchParams].map(([name, value]) => ({ name, value }));
      } catch {
        // A malformed target still exports; it just has no parsed query.
      }
      entries.set(e.connectionId, {
        startedDateTime: new Date(e.time).toISOString(),
        time: e.openMs ?? 0,
        _resourceType: 'websocket',
        _connectionId: e.connectionId,
        request: {
          method,
          url,
          httpVersion,
          headers: harHeaders(e.request),
          queryString: query,
          cookies: [],
          headersSize: e.request.length,
          bodySize: 0,
        },
        response: {
          status: e.status,
          statusText: m?.[3] ?? '',
          httpVersion: m?.[1] ?? 'HTTP/1.1',
          headers: harHeaders(e.response),
          cookies: [],
          content: e.body
            ? { size: e.body.length, mimeType: header(e.response, 'content-type') ?? 'x-unknown', text: e.body.toString('base64'), encoding: 'base64' }
            : { size: 0, mimeType: 'x-unknown' },
          redirectURL: '',
          headersSize: e.response?.length ?? -1,
          bodySize: e.body?.length ?? 0,
        },
        cache: {},
        timings: { send: 0, wait: e.openMs ?? 0, receive: 0 },
        _webSocketMessages: [],
      });
    } else if (e.kind === 'message') {
      const m = messageToHar(e);
      // A broadcast message was recorded once for all the connections it was written to.
      for (const id of [e.connectionId, ...(e.alsoSentTo ?? [])]) {
        entries.get(id)?._webSocketMessages.push(e.unsentTo?.includes(id) ? { ...m, _unsent: true } : m);
      }
    }
  }
  return {
    log: {
      version: '1.2',
      creator: { name: 'WebSocket Inspector', version: options.creatorVersion ?? '0.0.0' },
      pages: [],
      entries: [...entries.values()],
    },
  };
}

function messageToHar(e: MessageEvent): HarWebSocketMessage {
  return {
    type: e.direction === 'c2s' ? 'send' : 'receive',
    time: e.time / 1000,
    opcode: e.opcode,
    data: e.opcode === 1 ? e.data.toString('utf8') : e.data.toString('base64'),
  };
}
