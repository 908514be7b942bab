// Shared by the browser inspector tests: Debian's Chromium with a DevTools connection of the test's own, a site whose
// pages open WebSockets, a scripted DevTools peer, and reading what the inspector recorded. Everything a test opens
// is closed by `runCleanups` (each test file's afterEach).
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { EventStore } from '../../../src/core/capture/eventStore';
import type { CaptureEvent, ConnectionEvent } from '../../../src/core/capture/events';
import { BrowserInspector } from '../../../src/core/cdp/browserInspector';
import { connectCdp, type CdpConnection } from '../../../src/core/cdp/cdpConnection';
import { killChromium, launchChromium, type Chromium } from '../../support/chromium';
import { waitFor } from '../../support/waitFor';

export const cleanups: Array<() => unknown> = [];

export async function runCleanups(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

// --- the browser ---

/** A Chromium for the tests of a describe, with the site they navigate to. */
export interface BrowserFixture {
  browser: Chromium;
  /** The test's own DevTools connection, to open tabs and navigate them (the inspector only watches). */
  driver: CdpConnection;
  site: Site;
  /** Opens a tab on about:blank; returns its target id and a session on the test's own connection to drive it. */
  openTab(): Promise<{ targetId: string; sessionId: string }>;
  /** Ends the connection, the site and the browser. */
  close(): Promise<void>;
}

/** Launches Chromium, connects to it and starts the site: call it in a describe's before(), and `close` in its after(). */
export async function startBrowser(): Promise<BrowserFixture> {
  const browser = await launchChromium();
  let driver: CdpConnection;
  let s: Awaited<ReturnType<typeof startSite>>;
  try {
    driver = await connectCdp(browser.wsUrl);
    s = await startSite();
  } catch (e) {
    killChromium(browser);
    throw e;
  }
  const openTab = async (): Promise<{ targetId: string; sessionId: string }> => {
    const { targetId } = (await driver.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await driver.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
    cleanups.push(async () => {
      // Wait until it is gone, so that the next test's inspector does not attach to a closing tab.
      await driver.send('Target.closeTarget', { targetId }).catch(() => undefined);
      await waitFor('the tab to close', async () => {
        const { targetInfos } = (await driver.send('Target.getTargets')) as { targetInfos: Array<{ targetId: string }> };
        return !targetInfos.some((t) => t.targetId === targetId);
      }, 10_000);
    });
    return { targetId, sessionId };
  };
  return {
    browser,
    driver,
    site: s.site,
    openTab,
    close: async () => {
      try {
        driver.dispose();
        await s.close();
      } finally {
        killChromium(browser);
      }
    },
  };
}

// --- the page and its WebSocket server ---

export interface Site {
  base: string;
  wsPort: number;
  /** Server side of each accepted WebSocket, with what it saw. */
  accepted: Array<{ ws: WebSocket; path: string; key: string; closeCode?: number; closeReason?: string }>;
}

export const BINARY = [0, 1, 2, 127, 128, 253, 254, 255];

/** The pages (/echo, /hold, /worker, /refused) and the WebSocket server their sockets connect to. */
export async function startSite(): Promise<{ site: Site; close: () => Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const wsPort = (wss.address() as net.AddressInfo).port;
  const accepted: Site['accepted'] = [];
  wss.on('connection', (ws, req) => {
    const entry: Site['accepted'][number] = { ws, path: req.url ?? '', key: String(req.headers['sec-websocket-key']) };
    accepted.push(entry);
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      if (req.url?.startsWith('/hold')) return;
      ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code, reason) => {
      entry.closeCode = code;
      entry.closeReason = reason.toString();
    });
    if (req.url?.startsWith('/hold')) ws.send('held');
  });
  const page = (title: string, script: string) => `<!doctype html><title>${title}</title><script>${script}</script>`;
  const server = http.createServer((req, res) => {
    res.setHeader('content-type', 'text/html');
    if (req.url === '/echo') {
      // Sends a text and a binary message, waits for both echoes, then closes with 4000.
      res.end(page('Echo page', `
        const w = new WebSocket('ws://127.0.0.1:${wsPort}/chat?room=1');
        w.binaryType = 'arraybuffer';
        let n = 0;
        w.onopen = () => { w.send('hello browser'); w.send(new Uint8Array(${JSON.stringify(BINARY)})); };
        w.onmessage = () => { if (++n === 2) w.close(4000, 'done'); };`));
    } else if (req.url === '/hold') {
      res.end(page('Hold page', `const w = new WebSocket('ws://127.0.0.1:${wsPort}/hold'); w.onopen = () => w.send('still here');`));
    } else if (req.url === '/worker') {
      // The socket lives in a dedicated worker.
      res.end(page('Worker page', `
        const src = "const w = new WebSocket('ws://127.0.0.1:${wsPort}/from-worker'); w.onopen = () => w.send('from worker'); w.onmessage = () => w.close(4001);";
        new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));`));
    } else if (req.url === '/refused') {
      // The upgrade goes to this HTTP server, which answers 403.
      res.end(page('Refused page', `new WebSocket('ws://127.0.0.1:' + location.port + '/no-ws');`));
    } else {
      res.statusCode = 404;
      res.end('not found');
    }
  });
  server.on('upgrade', (_req, socket) => {
    socket.on('error', () => {});
    socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nno');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    site: { base, wsPort, accepted },
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise((r) => wss.close(r));
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

// --- reading the store ---

export function all(store: EventStore): CaptureEvent[] {
  return store.query({ limit: 10_000 }).events;
}
export function ofConnection(store: EventStore, id: string): CaptureEvent[] {
  return store.query({ connectionId: id, limit: 10_000 }).events;
}
export function closedEvent(store: EventStore, id: string): ConnectionEvent | undefined {
  return ofConnection(store, id).find((e): e is ConnectionEvent => e.kind === 'connection' && e.state === 'closed');
}

/** An inspector and the store it records into, both disposed after the test. */
export function newInspector() {
  const store = new EventStore({});
  const inspector = new BrowserInspector();
  const warnings: string[] = [];
  const disconnects: string[] = [];
  inspector.onDidWarn((w) => warnings.push(w));
  inspector.onDidDisconnect((d) => disconnects.push(d.reason));
  cleanups.push(async () => {
    await inspector.stop();
    inspector.dispose();
    store.dispose();
  });
  return { inspector, store, warnings, disconnects };
}

// --- a scripted DevTools peer ---

/** A page-level CDP endpoint that answers the commands and then sends `events` (strings are sent raw). */
export async function fakePage(events: Array<object | string>) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  const peers: WebSocket[] = [];
  wss.on('connection', (ws) => {
    peers.push(ws);
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { id: number; method: string };
      if (m.method === 'Target.getTargetInfo') {
        ws.send(JSON.stringify({ id: m.id, result: { targetInfo: { targetId: 'T1', type: 'page', title: 'Fake', url: 'http://fake.test/' } } }));
      } else if (m.method === 'Page.enable') {
        ws.send(JSON.stringify({ id: m.id, result: {} }));
      } else if (m.method === 'Network.enable') {
        ws.send(JSON.stringify({ id: m.id, result: {} }));
        for (const e of events) ws.send(typeof e === 'string' ? e : JSON.stringify(e));
      } else {
        ws.send(JSON.stringify({ id: m.id, error: { code: -32601, message: `'${m.method}' wasn't found` } }));
      }
    });
  });
  cleanups.push(() => new Promise((r) => wss.close(r)));
  return { url: `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}/devtools/page/T1`, peers };
}

export const ev = (method: string, params: object) => ({ method, params });

export function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      res.on('error', reject);
    }).on('error', reject);
  });
}

