// The WebSockets of browser pages as the inspector records them (src/core/cdp/browserSockets.ts): DevTools'
// Network.webSocket* events turned into capture events, from a real Chromium and from a scripted peer.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { ConnectionEvent, ErrorEvent, FrameEvent, HandshakeEvent } from '../../../src/core/capture/events';
import { ERR_BROWSER_FRAME, ERR_BROWSER_HANDSHAKE } from '../../../src/core/cdp/browserSockets';
import type { CdpConnection } from '../../../src/core/cdp/cdpConnection';
import type { Chromium } from '../../support/chromium';
import { waitFor } from '../../support/waitFor';
import { closedEvent, ev, fakePage, newInspector, ofConnection, runCleanups, startBrowser, type BrowserFixture, type Site } from './helpers';

afterEach(runCleanups);

let browser: Chromium;
let driver: CdpConnection;
let site: Site;
let openTab: BrowserFixture['openTab'];

describe('browser sockets from Debian Chromium', () => {
  let close: (() => Promise<void>) | undefined;
  before(async () => {
    ({ browser, driver, site, openTab, close } = await startBrowser());
  });
  after(() => close?.());

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
});

describe('browser sockets from a scripted DevTools peer', () => {
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
});
