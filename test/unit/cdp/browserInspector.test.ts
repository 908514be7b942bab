import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { EventStore } from '../../../src/core/capture/eventStore';
import type { CaptureEvent, ConnectionEvent, ErrorEvent, FrameEvent, HandshakeEvent, MessageEvent } from '../../../src/core/capture/events';
import { BrowserInspector } from '../../../src/core/cdp/browserInspector';
import { ERR_BROWSER_FRAME, ERR_BROWSER_HANDSHAKE } from '../../../src/core/cdp/browserSockets';
import { connectCdp, type CdpConnection } from '../../../src/core/cdp/cdpConnection';
import { computeAccept } from '../../../src/core/wire/handshake';
import { killChromium, launchChromium as launch, type Chromium } from '../../support/chromium';
import { freePort } from '../../support/freePort';
import { waitFor } from '../../support/waitFor';


const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// --- the browser ---

type Browser = Chromium;
const launchChromium = () => launch();
const killBrowser = (b: Browser) => killChromium(b);

let browser: Browser;
/** The test's own DevTools connection, to open tabs and navigate them (the inspector only watches). */
let driver: CdpConnection;

/** Opens a tab on about:blank; returns its target id and a session on the test's own connection to drive it. */
async function openTab(): Promise<{ targetId: string; sessionId: string }> {
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
}

// --- the page and its WebSocket server ---

interface Site {
  base: string;
  wsPort: number;
  /** Server side of each accepted WebSocket, with what it saw. */
  accepted: Array<{ ws: WebSocket; path: string; key: string; closeCode?: number; closeReason?: string }>;
}

let site: Site;

const BINARY = [0, 1, 2, 127, 128, 253, 254, 255];

async function startSite(): Promise<{ site: Site; close: () => Promise<void> }> {
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

function all(store: EventStore): CaptureEvent[] {
  return store.query({ limit: 10_000 }).events;
}
function ofConnection(store: EventStore, id: string): CaptureEvent[] {
  return store.query({ connectionId: id, limit: 10_000 }).events;
}
function closedEvent(store: EventStore, id: string): ConnectionEvent | undefined {
  return ofConnection(store, id).find((e): e is ConnectionEvent => e.kind === 'connection' && e.state === 'closed');
}

/** An inspector and the store it records into, both disposed after the test. */
function newInspector() {
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

describe('browser inspector against Debian Chromium', () => {
  let closeSite: () => Promise<void>;
  before(async () => {
    browser = await launchChromium();
    try {
      driver = await connectCdp(browser.wsUrl);
      const s = await startSite();
      site = s.site;
      closeSite = s.close;
    } catch (e) {
      killBrowser(browser);
      throw e;
    }
  });
  after(async () => {
    try {
      driver?.dispose();
      await closeSite?.();
    } finally {
      if (browser !== undefined) killBrowser(browser);
    }
  });

  test('a tab opened after attaching: handshake, frames both ways with exact payloads, connection events from the browser', async () => {
    const { inspector, store, warnings } = newInspector();
    const result = await inspector.start({ endpoint: `http://127.0.0.1:${browser.port}`, sink: store, meta: { session: 'unit' } });
    assert.match(result.browser ?? '', /^(Headless)?Chrome\/\d+\./);
    assert.equal(result.mode, 'browser');
    assert.ok(result.targets >= 1, 'the about:blank page the browser started with is attached');

    const tab = await openTab();
    await waitFor('the new tab attached', () => inspector.targets().some((t) => t.targetId === tab.targetId));
    const before = site.accepted.length;
    await driver.send('Page.navigate', { url: `${site.base}/echo` }, tab.sessionId);

    const server = await waitFor('the page to close its socket', () => site.accepted[before]?.closeCode !== undefined && site.accepted[before]);
    assert.equal(server.closeCode, 4000, 'the page closed with 4000');
    const socket = await waitFor('the inspector to see the close', () => inspector.sockets().find((s) => s.state === 'closed'));
    const wsUrl = `ws://127.0.0.1:${site.wsPort}/chat?room=1`;
    assert.equal(socket.url, wsUrl);
    assert.match(socket.id, /^browser\d+-\d+$/);
    assert.equal(socket.pageUrl, `${site.base}/echo`);
    await waitFor('the page title', () => inspector.sockets().find((s) => s.id === socket.id)?.pageTitle === 'Echo page');

    const events = ofConnection(store, socket.id);
    // Handshake: the request as sent, the 101 answer, with the key the server really got.
    const hs = events.find((e): e is HandshakeEvent => e.kind === 'handshake');
    assert.ok(hs, 'handshake recorded');
    assert.equal(hs.status, 101);
    assert.equal(hs.ok, true);
    assert.equal(hs.request.startLine, 'GET /chat?room=1 HTTP/1.1');
    const header = (h: HandshakeEvent['request'], name: string) => h.headers.find(([k]) => k.toLowerCase() === name)?.[1];
    assert.equal(header(hs.request, 'host'), `127.0.0.1:${site.wsPort}`);
    assert.equal(header(hs.request, 'sec-websocket-key'), server.key);
    assert.equal(hs.response?.startLine, 'HTTP/1.1 101 Switching Protocols');
    assert.equal(header(hs.response!, 'sec-websocket-accept'), computeAccept(server.key));

    // Frames, in order: what the page sent (masked) and what it received (not masked).
    const frames = events.filter((e): e is FrameEvent => e.kind === 'frame' && (e.opcode === 1 || e.opcode === 2));
    assert.deepEqual(
      frames.map((f) => [f.direction, f.opcode, f.masked, f.opcode === 1 ? f.payload.toString('utf8') : [...f.payload]]),
      [
        ['c2s', 1, true, 'hello browser'],
        ['c2s', 2, true, BINARY],
        ['s2c', 1, false, 'hello browser'],
        ['s2c', 2, false, BINARY],
      ],
    );
    const messages = events.filter((e): e is MessageEvent => e.kind === 'message');
    assert.deepEqual(messages.map((m) => m.frameIds), frames.map((f) => [f.id]));
    const counted = inspector.sockets().find((s) => s.id === socket.id)!;
    const bytes = Buffer.byteLength('hello browser') + BINARY.length;
    assert.deepEqual([counted.messagesOut, counted.messagesIn, counted.bytesOut, counted.bytesIn], [2, 2, bytes, bytes]);
    for (const f of frames) assert.ok(Math.abs(f.time - Date.now()) < 600_000, 'frame times are epoch ms');

    // Connection events: open after the handshake, closed at the end, both marked as the browser's.
    const conns = events.filter((e): e is ConnectionEvent => e.kind === 'connection');
    assert.deepEqual(conns.map((c) => c.state), ['open', 'closed']);
    for (const c of conns) {
      assert.equal(c.role, 'client');
      assert.equal(c.meta?.source, 'browser');
      assert.equal(c.meta?.url, wsUrl);
      assert.equal(c.meta?.page, `${site.base}/echo`);
      assert.equal(c.meta?.session, 'unit');
    }
    // Chromium reports no close frames over DevTools; if one ever comes, it must carry the page's code.
    assert.ok(conns[1].code === undefined || conns[1].code === 4000);
    assert.ok(hs.id < conns[0].id && conns[0].id < frames[0].id && frames[3].id < conns[1].id, 'events in wire order');
    assert.deepEqual(warnings, []);
  });

  test('a refused upgrade is recorded as a failed handshake with the status the server gave', async () => {
    const { inspector, store } = newInspector();
    await inspector.start({ endpoint: browser.wsUrl, sink: store });
    const tab = await openTab();
    await waitFor('the new tab attached', () => inspector.targets().some((t) => t.targetId === tab.targetId));
    await driver.send('Page.navigate', { url: `${site.base}/refused` }, tab.sessionId);
    const socket = await waitFor('the socket to fail', () => inspector.sockets().find((s) => s.state === 'failed'));
    const port = new URL(site.base).port;
    assert.equal(socket.url, `ws://127.0.0.1:${port}/no-ws`);
    await waitFor('its closed event', () => closedEvent(store, socket.id));
    const events = ofConnection(store, socket.id);
    // Chromium gives no response head for a refused upgrade, only the status in its error message.
    assert.deepEqual(events.map((e) => e.kind), ['handshake', 'error', 'connection']);
    const [hs, err] = events as [HandshakeEvent, ErrorEvent];
    assert.equal(hs.request.startLine, 'GET /no-ws HTTP/1.1');
    assert.equal(hs.status, 403);
    assert.equal(hs.ok, false);
    assert.equal(hs.response, undefined);
    assert.equal(err.code, ERR_BROWSER_HANDSHAKE);
    assert.equal(err.message, 'Browser: Error during WebSocket handshake: Unexpected response code: 403');
    assert.equal(events.some((e) => e.kind === 'connection' && e.state === 'open'), false);
  });

  test('a socket of a dedicated worker is recorded, marked with its target type and the page it belongs to', async () => {
    const { inspector, store } = newInspector();
    await inspector.start({ endpoint: browser.wsUrl, sink: store });
    const tab = await openTab();
    await waitFor('the new tab attached', () => inspector.targets().some((t) => t.targetId === tab.targetId));
    await driver.send('Page.navigate', { url: `${site.base}/worker` }, tab.sessionId);
    const socket = await waitFor('the worker socket to close', () => inspector.sockets().find((s) => s.url.endsWith('/from-worker') && s.state === 'closed'));
    assert.equal(socket.pageUrl, `${site.base}/worker`);
    const events = ofConnection(store, socket.id);
    const frames = events.filter((e): e is FrameEvent => e.kind === 'frame');
    assert.deepEqual(frames.map((f) => [f.direction, f.payload.toString()]), [['c2s', 'from worker'], ['s2c', 'from worker']]);
    const open = events.find((e): e is ConnectionEvent => e.kind === 'connection');
    assert.equal(open?.meta?.source, 'browser');
    assert.equal(open?.meta?.target, 'worker');
    assert.equal(open?.meta?.page, `${site.base}/worker`);
    assert.equal(inspector.sockets().filter((s) => s.url.endsWith('/from-worker')).length, 1, 'reported once');
  });

  test('a page-level endpoint (one target from /json/list) records that page', async () => {
    const tab = await openTab();
    const list = JSON.parse(await httpGet(`http://127.0.0.1:${browser.port}/json/list`)) as Array<{ id: string; webSocketDebuggerUrl: string }>;
    const entry = list.find((t) => t.id === tab.targetId);
    assert.ok(entry, 'the tab is listed');
    const { inspector, store } = newInspector();
    const result = await inspector.start({ endpoint: entry.webSocketDebuggerUrl, sink: store });
    assert.equal(result.mode, 'page');
    assert.equal(result.targets, 1);
    const before = site.accepted.length;
    await driver.send('Page.navigate', { url: `${site.base}/echo` }, tab.sessionId);
    await waitFor('the page to close its socket', () => site.accepted[before]?.closeCode !== undefined);
    const socket = await waitFor('the inspector to see the close', () => inspector.sockets().find((s) => s.state === 'closed'));
    await waitFor('its closed event', () => closedEvent(store, socket.id));
    const frames = ofConnection(store, socket.id).filter((e): e is FrameEvent => e.kind === 'frame');
    assert.deepEqual(
      frames.map((f) => [f.direction, f.opcode === 1 ? f.payload.toString() : [...f.payload]]),
      [['c2s', 'hello browser'], ['c2s', BINARY], ['s2c', 'hello browser'], ['s2c', BINARY]],
    );
    const open = ofConnection(store, socket.id).find((e): e is ConnectionEvent => e.kind === 'connection' && e.state === 'open');
    assert.equal(open?.meta?.source, 'browser');
    assert.equal(open?.meta?.page, `${site.base}/echo`);
  });

  test("a debugger's CDP proxy (events only after JsDebug.subscribe, no Target domain) records its page", async () => {
    const tab = await openTab();
    const list = JSON.parse(await httpGet(`http://127.0.0.1:${browser.port}/json/list`)) as Array<{ id: string; webSocketDebuggerUrl: string }>;
    const proxy = await startJsDebugLikeProxy(list.find((t) => t.id === tab.targetId)!.webSocketDebuggerUrl);
    const { inspector, store, warnings } = newInspector();
    const result = await inspector.start({ endpoint: proxy.url, sink: store, meta: { debugSession: 'Launch Chrome' } });
    assert.equal(result.mode, 'page');
    assert.deepEqual(proxy.subscribed, ['Network.webSocket*', 'Page.frameNavigated', 'Inspector.detached']);
    assert.equal(proxy.refused.filter((m) => m === 'Target.setAutoAttach' || m === 'Target.setDiscoverTargets').length, 0, 'leaves the shared session alone');
    await driver.send('Page.navigate', { url: `${site.base}/echo` }, tab.sessionId);
    const socket = await waitFor('the socket to close', () => inspector.sockets().find((s) => s.state === 'closed'));
    await waitFor('its closed event', () => closedEvent(store, socket.id));
    const events = ofConnection(store, socket.id);
    assert.deepEqual(events.filter((e): e is FrameEvent => e.kind === 'frame').map((f) => f.payload.length), [13, BINARY.length, 13, BINARY.length]);
    assert.equal((events.find((e) => e.kind === 'handshake') as HandshakeEvent).status, 101);
    const open = events.find((e): e is ConnectionEvent => e.kind === 'connection');
    assert.equal(open?.meta?.debugSession, 'Launch Chrome');
    assert.equal(open?.meta?.source, 'browser');
    assert.equal(open?.meta?.url, `ws://127.0.0.1:${site.wsPort}/chat?room=1`);
    // Without the Target domain the page is read from its navigation history (asked when the socket appears).
    await waitFor('the page of the socket', () => inspector.sockets().find((s) => s.id === socket.id)?.pageTitle === 'Echo page');
    assert.equal(inspector.sockets().find((s) => s.id === socket.id)?.pageUrl, `${site.base}/echo`);
    assert.equal(open?.meta?.page, `${site.base}/echo`);
    assert.deepEqual(warnings, []);
  });

  test('a tab open before attaching is recorded; stop() closes the sockets it reported (the page keeps its own socket open)', async () => {
    // A tab that was open before the inspector attached.
    const tab = await openTab();
    const { inspector, store } = newInspector();
    const result = await inspector.start({ endpoint: `127.0.0.1:${browser.port}`, sink: store });
    assert.ok(result.targets >= 2);
    assert.ok(inspector.targets().some((t) => t.targetId === tab.targetId), 'attached before start() resolved');
    const before = site.accepted.length;
    await driver.send('Page.navigate', { url: `${site.base}/hold` }, tab.sessionId);
    const socket = await waitFor('the socket to open', () => inspector.sockets().find((s) => s.state === 'open'));
    await waitFor('both messages', () => ofConnection(store, socket.id).filter((e) => e.kind === 'message').length === 2);
    await inspector.stop();
    const closed = closedEvent(store, socket.id);
    assert.ok(closed, 'stop() recorded the end of the socket');
    assert.equal(closed.meta?.endReason, 'inspector stopped');
    assert.equal(closed.meta?.source, 'browser');
    assert.equal(inspector.sockets().find((s) => s.id === socket.id)?.state, 'closed');
    assert.equal(inspector.isAttached, false);
    // The page answers a ping from its server: its socket outlived stop().
    let ponged = false;
    site.accepted[before].ws.once('pong', () => (ponged = true));
    site.accepted[before].ws.ping();
    await waitFor('the page socket to answer a ping', () => ponged);
    assert.equal(site.accepted[before].closeCode, undefined, 'the page socket itself is still open');
  });

  test('a page that closes while attached to it: onDidDisconnect says so, its sockets end', async () => {
    const tab = await openTab();
    const list = JSON.parse(await httpGet(`http://127.0.0.1:${browser.port}/json/list`)) as Array<{ id: string; webSocketDebuggerUrl: string }>;
    const { inspector, store, disconnects } = newInspector();
    await inspector.start({ endpoint: list.find((t) => t.id === tab.targetId)!.webSocketDebuggerUrl, sink: store });
    await driver.send('Page.navigate', { url: `${site.base}/hold` }, tab.sessionId);
    const socket = await waitFor('the socket to open', () => inspector.sockets().find((s) => s.state === 'open'));
    await driver.send('Target.closeTarget', { targetId: tab.targetId });
    const reason = await waitFor('the disconnect', () => disconnects[0]);
    assert.match(reason, /page/i);
    assert.equal(closedEvent(store, socket.id)?.meta?.endReason, 'DevTools connection lost');
    assert.equal(inspector.isAttached, false);
  });
});

describe('browser inspector: the browser exits', () => {
  test('onDidDisconnect gives a readable reason and the open sockets end', async () => {
    const own = await launchChromium();
    const sites = await startSite();
    try {
      const { inspector, store, disconnects } = newInspector();
      await inspector.start({ endpoint: `http://127.0.0.1:${own.port}`, sink: store });
      const d = await connectCdp(own.wsUrl);
      cleanups.push(() => d.dispose());
      const { targetId } = (await d.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
      const { sessionId } = (await d.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
      await waitFor('the new tab attached', () => inspector.targets().some((t) => t.targetId === targetId));
      await d.send('Page.navigate', { url: `${sites.site.base}/hold` }, sessionId);
      const socket = await waitFor('the socket to open', () => inspector.sockets().find((s) => s.state === 'open'));
      process.kill(-own.proc.pid!, 'SIGKILL');
      const reason = await waitFor('the disconnect', () => disconnects[0]);
      // A killed process closes its socket with a FIN or, when it had unread bytes, a reset.
      assert.match(reason, new RegExp(`^The browser at http://127\\.0\\.0\\.1:${own.port} (closed the DevTools connection \\(1006\\)|dropped the DevTools connection \\(.+\\)): it exited, crashed or was closed$`));
      assert.equal(closedEvent(store, socket.id)?.meta?.endReason, 'DevTools connection lost');
      assert.equal(inspector.sockets().find((s) => s.id === socket.id)?.state, 'closed');
      assert.equal(inspector.isAttached, false);
    } finally {
      killBrowser(own);
      await sites.close();
    }
  });
});

describe('browser inspector: endpoints that are not a browser', () => {
  test('nothing listening: a readable ECONNREFUSED that says how to start Chromium', async () => {
    const port = await freePort();
    const { inspector, store } = newInspector();
    await assert.rejects(inspector.start({ endpoint: `http://127.0.0.1:${port}`, sink: store }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ECONNREFUSED');
      assert.equal(e.message, `Nothing listens at 127.0.0.1:${port}. Start Chromium with --remote-debugging-port=${port}`);
      return true;
    });
    await assert.rejects(inspector.start({ endpoint: `ws://127.0.0.1:${port}/devtools/browser/x`, sink: store }), /Nothing listens at/);
    assert.equal(all(store).length, 0);
    assert.equal(inspector.isAttached, false);
  });

  test('an HTTP server that is not DevTools, and a WebSocket that does not speak CDP', async () => {
    const server = http.createServer((_req, res) => {
      res.statusCode = 404;
      res.end('nope');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => new Promise((r) => server.close(r)));
    const port = (server.address() as net.AddressInfo).port;
    const { inspector, store } = newInspector();
    await assert.rejects(inspector.start({ endpoint: `http://127.0.0.1:${port}`, sink: store }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ENOTDEVTOOLS');
      assert.match(e.message, /answered HTTP 404 for \/json\/version: it is not a Chromium DevTools port/);
      return true;
    });

    // An echo server sends our commands back: that is not an answer.
    const echo = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await once(echo, 'listening');
    echo.on('connection', (ws) => ws.on('message', (d) => ws.send(d)));
    cleanups.push(() => new Promise((r) => echo.close(r)));
    const echoUrl = `ws://127.0.0.1:${(echo.address() as net.AddressInfo).port}/`;
    await assert.rejects(inspector.start({ endpoint: echoUrl, sink: store, connectTimeoutMs: 300 }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ENOTDEVTOOLS');
      assert.match(e.message, /did not answer the DevTools protocol within 300 ms/);
      return true;
    });
    await assert.rejects(inspector.start({ endpoint: 'ftp://x', sink: store }), /Unsupported scheme ftp:/);
    assert.equal(all(store).length, 0);
  });
});

describe('browser inspector: a scripted DevTools peer', () => {
  /** A page-level CDP endpoint that answers the commands and then sends `events` (strings are sent raw). */
  async function fakePage(events: Array<object | string>) {
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

  const ev = (method: string, params: object) => ({ method, params });

  test('malformed messages are dropped with a warning; the good ones around them are recorded', async () => {
    const good = [
      ev('Network.webSocketCreated', { requestId: 'r1', url: 'ws://fake.test/s' }),
      ev('Network.webSocketWillSendHandshakeRequest', { requestId: 'r1', timestamp: 100, wallTime: 1_700_000_000, request: { headers: { Host: 'fake.test', 'X-Two': 'a\nb' } } }),
      ev('Network.webSocketHandshakeResponseReceived', { requestId: 'r1', timestamp: 100.25, response: { status: 101, statusText: 'Switching Protocols', headers: { Upgrade: 'websocket' } } }),
      ev('Network.webSocketFrameReceived', { requestId: 'r1', timestamp: 100.5, response: { opcode: 2, mask: false, payloadData: Buffer.from([1, 2, 3]).toString('base64') } }),
    ];
    const bad: Array<object | string> = [
      'not json',
      '[1,2,3]',
      '{"id": 999, "result": {}}',
      ev('Network.webSocketFrameSent', { requestId: 'r1', timestamp: 101, response: { opcode: 99, mask: true, payloadData: 'x' } }),
      ev('Network.webSocketFrameSent', { requestId: 'r1', timestamp: 101, response: { opcode: 1, mask: true, payloadData: 42 } }),
      ev('Network.webSocketFrameSent', { requestId: 'r1', response: null }),
      ev('Network.webSocketFrameSent', { timestamp: 101, response: { opcode: 1, payloadData: 'no id' } }),
      ev('Network.webSocketHandshakeResponseReceived', { requestId: 'r1' }),
      ev('Target.attachedToTarget', { sessionId: 5 }),
      { method: 'Network.webSocketClosed', params: 'nope' },
      { method: 42 },
    ];
    const tail = [
      ev('Network.webSocketFrameSent', { requestId: 'r1', timestamp: 102, response: { opcode: 8, mask: true, payloadData: Buffer.from([0x0f, 0xa0, 0x62, 0x79, 0x65]).toString('base64') } }),
      ev('Network.webSocketFrameReceived', { requestId: 'r1', timestamp: 102.1, response: { opcode: 8, mask: false, payloadData: Buffer.from([0x0f, 0xa0]).toString('base64') } }),
      ev('Network.webSocketFrameError', { requestId: 'r1', timestamp: 102.2, errorMessage: 'Could not decode a text frame as UTF-8.' }),
      ev('Network.webSocketClosed', { requestId: 'r1', timestamp: 103 }),
    ];
    const fake = await fakePage([...good, ...bad, ...tail]);
    const { inspector, store, warnings } = newInspector();
    const result = await inspector.start({ endpoint: fake.url, sink: store });
    assert.deepEqual(result, { browser: undefined, targets: 1, mode: 'page' });
    const socket = await waitFor('the close', () => inspector.sockets().find((s) => s.state === 'closed'));
    // One binary message of 3 bytes received; the close frames and the malformed frames are not messages.
    assert.deepEqual(socket, {
      id: socket.id,
      url: 'ws://fake.test/s',
      state: 'closed',
      pageTitle: 'Fake',
      pageUrl: 'http://fake.test/',
      openedAt: socket.openedAt,
      messagesOut: 0,
      messagesIn: 1,
      bytesOut: 0,
      bytesIn: 3,
    });

    const events = ofConnection(store, socket.id);
    assert.deepEqual(events.map((e) => e.kind), ['handshake', 'connection', 'frame', 'message', 'frame', 'frame', 'error', 'connection']);
    const hs = events[0] as HandshakeEvent;
    assert.equal(hs.request.startLine, 'GET /s HTTP/1.1');
    assert.deepEqual(hs.request.headers, [['Host', 'fake.test'], ['X-Two', 'a'], ['X-Two', 'b']]);
    assert.equal(hs.response?.startLine, 'HTTP/1.1 101 Switching Protocols');
    assert.equal(hs.openMs, 250);
    // wallTime 1_700_000_000 s at timestamp 100 s: timestamp 100.5 is half a second later.
    assert.equal(events[2].time, 1_700_000_000_500);
    assert.deepEqual([...(events[2] as FrameEvent).payload], [1, 2, 3]);
    const [closeOut, closeIn] = [events[4], events[5]] as FrameEvent[];
    assert.equal(closeOut.closeCode, 4000);
    assert.equal(closeOut.closeReason, 'bye');
    assert.equal(closeOut.masked, true);
    assert.equal(closeIn.closeCode, 4000);
    const err = events[6] as ErrorEvent;
    assert.equal(err.code, ERR_BROWSER_FRAME);
    assert.equal(err.closeCode, 1007);
    assert.equal(err.message, 'Browser: Could not decode a text frame as UTF-8.');
    const closed = events[7] as ConnectionEvent;
    assert.equal(closed.code, 4000);
    assert.equal(closed.clean, true);
    assert.equal(closed.time, 1_700_000_003_000);
    assert.equal(closed.meta?.endReason, undefined);

    // Every bad event that looked like CDP was reported, and none stopped the inspector.
    assert.equal(warnings.length, 7, warnings.join('\n'));
    assert.equal(inspector.isAttached, true);
  });

  test('the peer going away fires onDidDisconnect with a reason and ends the open sockets', async () => {
    const fake = await fakePage([
      ev('Network.webSocketCreated', { requestId: 'r9', url: 'ws://fake.test/live' }),
      ev('Network.webSocketFrameSent', { requestId: 'r9', timestamp: 5, response: { opcode: 1, mask: true, payloadData: 'hi' } }),
    ]);
    const { inspector, store, disconnects } = newInspector();
    const changes: number[] = [];
    inspector.onDidChangeSockets(() => changes.push(1));
    await inspector.start({ endpoint: fake.url, sink: store });
    const socket = await waitFor('the socket', () => inspector.sockets().find((s) => s.state === 'open'));
    fake.peers[0].terminate();
    const reason = await waitFor('the disconnect', () => disconnects[0]);
    assert.match(reason, /^The page at ws:\/\/127\.0\.0\.1:\d+\/devtools\/page\/T1 closed the DevTools connection \(1006\): it exited, crashed or was closed$/);
    const closed = closedEvent(store, socket.id);
    assert.equal(closed?.meta?.endReason, 'DevTools connection lost');
    // Opened without a handshake seen: it still has an open and a closed event, and a socket that says closed.
    assert.deepEqual(ofConnection(store, socket.id).map((e) => e.kind), ['connection', 'frame', 'message', 'connection']);
    assert.equal(inspector.sockets()[0].state, 'closed');
    assert.ok(changes.length >= 2);
  });
});

/**
 * A stand-in for js-debug's CDP proxy in front of a real page: one session, Target.* refused, and events forwarded
 * only when the client subscribed to them with JsDebug.subscribe (prefix wildcards), as js-debug does.
 */
async function startJsDebugLikeProxy(pageWsUrl: string) {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, path: '/0123abcd' });
  await once(wss, 'listening');
  const subscribed: string[] = [];
  const refused: string[] = [];
  wss.on('connection', (client) => {
    client.on('error', () => {});
    const connecting = connectCdp(pageWsUrl);
    void connecting.then((upstream) => {
      if (client.readyState !== client.OPEN) upstream.dispose();
      client.on('close', () => upstream.dispose());
      upstream.onEvent((e) => {
        if (subscribed.some((p) => (p.endsWith('*') ? e.method.startsWith(p.slice(0, -1)) : e.method === p))) {
          client.send(JSON.stringify({ method: e.method, params: e.params }));
        }
      });
    });
    client.on('message', async (d) => {
      const upstream = await connecting;
      const m = JSON.parse(d.toString()) as { id: number; method: string; params?: { events?: string[] } };
      if (m.method === 'JsDebug.subscribe') {
        subscribed.push(...(m.params?.events ?? []));
        client.send(JSON.stringify({ id: m.id, result: {} }));
      } else if (m.method.startsWith('Target.')) {
        refused.push(m.method);
        client.send(JSON.stringify({ id: m.id, error: { code: -32601, message: `'${m.method}' is not allowed` } }));
      } else {
        upstream.send(m.method, m.params ?? {}).then(
          (result) => client.send(JSON.stringify({ id: m.id, result })),
          (err: Error) => client.send(JSON.stringify({ id: m.id, error: { code: -32000, message: err.message } })),
        );
      }
    });
  });
  cleanups.push(() => {
    for (const c of wss.clients) c.terminate();
    return new Promise((r) => wss.close(r));
  });
  return { url: `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}/0123abcd`, subscribed, refused };
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      res.on('error', reject);
    }).on('error', reject);
  });
}

