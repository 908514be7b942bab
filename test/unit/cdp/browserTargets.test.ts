// The pages, frames and workers the inspector attaches to (src/core/cdp/browserTargets.ts): a browser endpoint's
// workers, a page endpoint, and a debugger's CDP proxy that shares its page session.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type * as net from 'node:net';
import { WebSocketServer } from 'ws';
import type { ConnectionEvent, FrameEvent, HandshakeEvent } from '../../../src/core/capture/events';
import { connectCdp, type CdpConnection } from '../../../src/core/cdp/cdpConnection';
import type { Chromium } from '../../support/chromium';
import { waitFor } from '../../support/waitFor';
import {
  BINARY,
  cleanups,
  closedEvent,
  httpGet,
  newInspector,
  ofConnection,
  runCleanups,
  startBrowser,
  type BrowserFixture,
  type Site,
} from './helpers';

afterEach(runCleanups);

let browser: Chromium;
let driver: CdpConnection;
let site: Site;
let openTab: BrowserFixture['openTab'];

describe('browser targets in Debian Chromium', () => {
  let close: (() => Promise<void>) | undefined;
  before(async () => {
    ({ browser, driver, site, openTab, close } = await startBrowser());
  });
  after(() => close?.());

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
