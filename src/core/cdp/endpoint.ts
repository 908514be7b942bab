// Turns what a user types for a DevTools endpoint (a port, host:port, http://host:port, ws://…/devtools/…) into
// the WebSocket URL to attach to, with errors that say what to do.

import * as http from 'node:http';
import * as https from 'node:https';
import { ConnectionError } from '../util/connectionError';
import { endpointError } from './cdpConnection';

export interface ResolvedEndpoint {
  /** The DevTools WebSocket URL. */
  wsUrl: string;
  /** `Browser` from /json/version (`Chrome/120.0.6099.109`), when the endpoint was given over HTTP. */
  browser?: string;
}

/** Largest /json/version body read; the real one is well under 1 KiB. */
const MAX_VERSION_BODY = 64 * 1024;

/**
 * `9222` and `host:port` mean http://. An http(s) endpoint is asked for /json/version and its
 * `webSocketDebuggerUrl` is used, with the host and port the user gave (the browser names itself `127.0.0.1` or
 * `localhost`, which is wrong behind a port forward). ws:// and wss:// URLs are used as they are.
 */
export async function resolveEndpoint(endpoint: string, timeoutMs = 5000): Promise<ResolvedEndpoint> {
  const url = parseEndpoint(endpoint);
  if (url.protocol === 'ws:' || url.protocol === 'wss:') return { wsUrl: url.href };
  const versionUrl = new URL('/json/version', url);
  const { status, body } = await getText(versionUrl, timeoutMs);
  const where = url.host;
  if (status !== 200) {
    if (/Host header is specified and is not an IP address or localhost/i.test(body)) {
      throw new ConnectionError('ENOTDEVTOOLS', `The browser at ${where} refuses its host name "${url.hostname}"; use an IP address (127.0.0.1) or localhost`, { status });
    }
    throw new ConnectionError('ENOTDEVTOOLS', `${where} answered HTTP ${status} for /json/version: it is not a Chromium DevTools port. Start Chromium with --remote-debugging-port=${url.port || 9222}`, { status });
  }
  let info: unknown;
  try {
    info = JSON.parse(body);
  } catch {
    throw new ConnectionError('ENOTDEVTOOLS', `${where} answered /json/version with something other than JSON: it is not a Chromium DevTools port`);
  }
  const rec = typeof info === 'object' && info !== null ? (info as Record<string, unknown>) : {};
  const browser = typeof rec.Browser === 'string' ? rec.Browser : undefined;
  const debuggerUrl = rec.webSocketDebuggerUrl;
  if (typeof debuggerUrl !== 'string') {
    throw new ConnectionError(
      'ENOTDEVTOOLS',
      `${where} is a DevTools endpoint without a browser target${browser ? ` (${browser})` : ''}; give the ws:// URL of a page target instead`,
    );
  }
  let ws: URL;
  try {
    ws = new URL(debuggerUrl);
  } catch {
    throw new ConnectionError('ENOTDEVTOOLS', `${where} gave an invalid webSocketDebuggerUrl: ${debuggerUrl}`);
  }
  ws.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  ws.host = url.host;
  return { wsUrl: ws.href, browser };
}

/** Reads the endpoint as a URL, or throws a ConnectionError('EBADENDPOINT') saying what is accepted. */
export function parseEndpoint(endpoint: string): URL {
  const text = endpoint.trim();
  const withScheme = /^\d+$/.test(text) ? `http://127.0.0.1:${text}` : /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new ConnectionError('EBADENDPOINT', `Not a DevTools endpoint: "${endpoint}". Give http://127.0.0.1:9222 or a ws://…/devtools/browser/… URL`);
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) {
    throw new ConnectionError('EBADENDPOINT', `Unsupported scheme ${url.protocol} in "${endpoint}". Give http://127.0.0.1:9222 or a ws://…/devtools/browser/… URL`);
  }
  return url;
}

function getText(url: URL, timeoutMs: number): Promise<{ status: number; body: string }> {
  const where = url.host;
  return new Promise((resolve, reject) => {
    const get = url.protocol === 'https:' ? https.get : http.get;
    let settled = false;
    const done = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const req = get(url, { headers: { accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_VERSION_BODY) {
          req.destroy();
          done(() => reject(new ConnectionError('ENOTDEVTOOLS', `${where} answered /json/version with over ${MAX_VERSION_BODY} bytes: it is not a Chromium DevTools port`)));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => done(() => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') })));
      res.on('error', (err) => done(() => reject(endpointError(err, where, timeoutMs))));
    });
    req.on('error', (err) => done(() => reject(endpointError(err, where, timeoutMs))));
    const timer = setTimeout(() => {
      req.destroy();
      done(() => reject(new ConnectionError('ETIMEDOUT', `${where} did not answer /json/version within ${timeoutMs} ms`)));
    }, timeoutMs);
  });
}
