// Session export: NDJSON (one capture event per line, lossless) and HAR 1.2 with Chrome's `_webSocketMessages`,
// so a session opens in Chrome DevTools and other HAR viewers.
import type { CaptureEvent, HandshakeEvent, HttpHead, MessageEvent } from './events';

/** One JSON line per event. Buffers become `{ base64 }` so binary survives the round trip. */
export function eventToJsonLine(e: CaptureEvent): string {
  return JSON.stringify(e, (_key, value) => {
    if (value && typeof value === 'object' && value.type === 'Buffer' && Array.isArray(value.data)) {
      return { base64: Buffer.from(value.data).toString('base64') };
    }
    return value;
  });
}

interface HarHeader {
  name: string;
  value: string;
}

export interface HarWebSocketMessage {
  /** `send` is client→server, as in Chrome, where the browser is the client. */
  type: 'send' | 'receive';
  /** Epoch seconds. */
  time: number;
  opcode: number;
  /** Text as is; binary as base64, as Chrome writes it. */
  data: string;
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
  const [method = 'GET', target = '/', httpVersion = 'HTTP/1.1'] = h.request.startLine.split(' ');
  if (/^wss?:\/\//i.test(target)) return { url: target, method, httpVersion };
  const host = header(h.request, 'host') ?? 'localhost';
  return { url: `${secure ? 'wss' : 'ws'}://${host}${target.startsWith('/') ? target : `/${target}`}`, method, httpVersion };
}

/**
 * Builds a HAR log from capture events in id order. `secureConnections` names the connections that ran over TLS,
 * which the handshake alone cannot tell.
 */
export function toHar(events: Iterable<CaptureEvent>, options: { creatorVersion?: string; secureConnections?: Set<string> } = {}): HarLog {
  const entries = new Map<string, HarEntry>();
  for (const e of events) {
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
          headers: e.request.headers.map(([name, value]) => ({ name, value })),
          queryString: query,
          cookies: [],
          headersSize: e.request.length,
          bodySize: 0,
        },
        response: {
          status: e.status,
          statusText: m?.[3] ?? '',
          httpVersion: m?.[1] ?? 'HTTP/1.1',
          headers: (e.response?.headers ?? []).map(([name, value]) => ({ name, value })),
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
      entries.get(e.connectionId)?._webSocketMessages.push(m);
      // A broadcast message was recorded once for all the connections it went to.
      for (const id of e.alsoSentTo ?? []) entries.get(id)?._webSocketMessages.push(m);
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
