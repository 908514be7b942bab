import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { WebSocketServer } from 'ws';
import type { ConnectionEvent, FrameEvent, HandshakeEvent, MessageEvent } from '../../../src/core/capture/events';
import { connectCdp, type CdpConnection } from '../../../src/core/cdp/cdpConnection';
import { computeAccept } from '../../../src/core/wire/handshake';
import { killChromium, launchChromium, type Chromium } from '../../support/chromium';
import { freePort } from '../../support/freePort';
import { waitFor } from '../../support/waitFor';
import {
  BINARY,
  all,
  cleanups,
  closedEvent,
  ev,
  fakePage,
  httpGet,
  newInspector,
  ofConnection,
  runCleanups,
  startBrowser,
  startSite,
  type BrowserFixture,
  type Site,
} from './helpers';

afterEach(runCleanups);

let browser: Chromium;
let driver: CdpConnection;
let site: Site;
let openTab: BrowserFixture['openTab'];

describe('browser inspector against Debian Chromium', () => {
  let close: (() => Promise<void>) | undefined;
  before(async () => {
    ({ browser, driver, site, openTab, close } = await startBrowser());
  });
  after(() => close?.());

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
      killChromium(own);
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
