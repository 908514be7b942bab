import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaptureEvent, FrameEvent, HandshakeEvent, MessageEvent } from '../../../src/core/capture/events';
import { toHar } from '../../../src/core/capture/sessionExport';
import { readHar } from '../../../src/core/sessions/harReader';
import { readSessionFile } from '../../../src/core/sessions/readSession';
import { ArraySink } from '../../support/arraySink';
import { runClient, runOthers, startLiveServer } from './liveTraffic';

/** In chunks of 1 to 17 bytes: every boundary falls inside a string, an escape or a key somewhere. */
function smallChunks(text: string): Buffer[] {
  const b = Buffer.from(text);
  const out: Buffer[] = [];
  for (let i = 0, n = 1; i < b.length; i += n, n = (n % 17) + 1) out.push(b.subarray(i, i + n));
  return out;
}

/** A HAR as Chrome DevTools saves it ("Save all as HAR with content"): pretty-printed, other entries around the socket. */
function chromeHar(messages: unknown[]): string {
  const page = {
    _initiator: { type: 'other' },
    _priority: 'VeryHigh',
    _resourceType: 'document',
    cache: {},
    connection: '1',
    request: { method: 'GET', url: 'https://app.example.test/', httpVersion: 'http/2.0', headers: [], queryString: [], cookies: [], headersSize: -1, bodySize: 0 },
    response: { status: 200, statusText: '', httpVersion: 'http/2.0', headers: [], cookies: [], content: { size: 5, mimeType: 'text/html', text: '<p>"{[' }, redirectURL: '', headersSize: -1, bodySize: -1 },
    serverIPAddress: '10.0.0.1',
    startedDateTime: '2026-01-02T03:04:05.000Z',
    time: 12.5,
    timings: { blocked: 1, dns: -1, ssl: -1, connect: -1, send: 0, wait: 10, receive: 1.5 },
  };
  const socket = {
    _initiator: { type: 'script', stack: { callFrames: [{ functionName: 'connect', url: 'https://app.example.test/app.js', lineNumber: 3, columnNumber: 7 }] } },
    _priority: 'Low',
    _resourceType: 'websocket',
    cache: {},
    connection: '42',
    request: {
      method: 'GET',
      url: 'wss://app.example.test/live?room=7',
      httpVersion: 'HTTP/1.1',
      headers: [
        { name: 'Host', value: 'app.example.test' },
        { name: 'Connection', value: 'Upgrade' },
        { name: 'Upgrade', value: 'websocket' },
        { name: 'Sec-WebSocket-Version', value: '13' },
        { name: 'Sec-WebSocket-Key', value: 'dGhlIHNhbXBsZSBub25jZQ==' },
        { name: 'Sec-WebSocket-Extensions', value: 'permessage-deflate; client_max_window_bits' },
      ],
      queryString: [{ name: 'room', value: '7' }],
      cookies: [],
      headersSize: -1,
      bodySize: 0,
    },
    response: {
      status: 101,
      statusText: 'Switching Protocols',
      httpVersion: 'HTTP/1.1',
      headers: [
        { name: 'Upgrade', value: 'websocket' },
        { name: 'Connection', value: 'Upgrade' },
        { name: 'Sec-WebSocket-Accept', value: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' },
        { name: 'Sec-WebSocket-Extensions', value: 'permessage-deflate' },
      ],
      cookies: [],
      content: { size: 0, mimeType: 'x-unknown' },
      redirectURL: '',
      headersSize: -1,
      bodySize: -1,
      _transferSize: 0,
    },
    serverIPAddress: '10.0.0.2',
    startedDateTime: '2026-01-02T03:04:06.250Z',
    time: 31.2,
    timings: { blocked: -1, dns: -1, ssl: -1, connect: -1, send: 0, wait: 31.2, receive: 0 },
    _webSocketMessages: messages,
  };
  return JSON.stringify({ log: { version: '1.2', creator: { name: 'WebInspector', version: '537.36' }, pages: [{ id: 'page_1', title: 'x' }], entries: [page, socket] } }, null, 2);
}

const CHROME_MESSAGES = [
  { type: 'send', time: 1767323166.3125, opcode: 1, data: '{"hello":"wörld","q":"\\"quoted\\" \\\\ back\\\\slash"}' },
  { type: 'receive', time: 1767323166.3375, opcode: 1, data: 'welcome \u00e9\u4e2d' },
  { type: 'receive', time: 1767323166.5, opcode: 2, data: Buffer.from([0, 1, 2, 0xfe, 0xff]).toString('base64') },
];

function chromeCheck(events: CaptureEvent[]): void {
  const hs = events.filter((e): e is HandshakeEvent => e.kind === 'handshake');
  assert.equal(hs.length, 1, 'only the WebSocket entry');
  assert.equal(hs[0].connectionId, 'har-1');
  assert.equal(hs[0].request.startLine, 'GET /live?room=7 HTTP/1.1');
  assert.equal(hs[0].response?.startLine, 'HTTP/1.1 101 Switching Protocols');
  assert.equal(hs[0].ok, true, 'Sec-WebSocket-Accept matches the key');
  assert.deepEqual(hs[0].deflate, { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 });
  assert.equal(hs[0].time, Date.parse('2026-01-02T03:04:06.250Z'));
  const messages = events.filter((e): e is MessageEvent => e.kind === 'message');
  assert.deepEqual(
    messages.map((m) => [m.direction, m.opcode, m.data.toString(m.opcode === 1 ? 'utf8' : 'hex'), m.time]),
    [
      ['c2s', 1, '{"hello":"wörld","q":"\\"quoted\\" \\\\ back\\\\slash"}', 1767323166312.5],
      ['s2c', 1, 'welcome é中', 1767323166337.5],
      ['s2c', 2, '000102feff', 1767323166500],
    ],
  );
  const frames = events.filter((e): e is FrameEvent => e.kind === 'frame');
  assert.deepEqual(frames.map((f) => [f.masked, f.fin, f.payloadLength, f.messageId]), messages.map((m) => [m.direction === 'c2s', true, m.data.length, m.id]));
  const open = events.find((e) => e.kind === 'connection');
  assert.deepEqual(open?.kind === 'connection' && open.meta, { source: 'har', url: 'wss://app.example.test/live?room=7' });
}

describe('readHar', () => {
  let live: CaptureEvent[];
  let dir: string;
  before(async () => {
    const sink = new ArraySink();
    const a = await startLiveServer(sink, '127.0.0.1', true);
    await runClient(a.url(), { deflate: true });
    await runClient(a.url(), { deflate: false, big: true });
    await runOthers(a);
    await a.close();
    live = sink.events;
    dir = mkdtempSync(join(tmpdir(), 'ws-har-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("the product's own HAR: each connection's handshake and messages come back (a HAR holds no frames and no close)", async () => {
    const file = join(dir, 'own.har');
    writeFileSync(file, JSON.stringify(toHar(live, { creatorVersion: '1.0.0' })));
    const sink = new ArraySink();
    const r = await readSessionFile(file, sink);
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal(r.format, 'har');
    const ids = [...new Set(live.filter((e) => e.kind === 'handshake').map((e) => e.connectionId))];
    assert.equal(ids.length, 4, 'two WebSockets, a refused upgrade and a plain request');
    for (const id of ids) {
      const want = live.filter((e) => e.connectionId === id);
      const got = sink.events.filter((e) => e.connectionId === id);
      const lh = want.find((e): e is HandshakeEvent => e.kind === 'handshake')!;
      const gh = got.find((e): e is HandshakeEvent => e.kind === 'handshake')!;
      const head = (h: HandshakeEvent['request'] | undefined) => h && { startLine: h.startLine, headers: h.headers.map(([n, v]) => [n, v]), length: h.length };
      assert.deepEqual(
        { request: head(gh.request), response: head(gh.response), status: gh.status, ok: gh.ok, deflate: gh.deflate, body: gh.body?.toString(), openMs: gh.openMs },
        { request: head(lh.request), response: head(lh.response), status: lh.status, ok: lh.ok, deflate: lh.deflate, body: lh.body?.toString(), openMs: lh.openMs },
      );
      assert.equal(gh.time, Math.floor(lh.time), 'startedDateTime holds milliseconds');
      const messages = (evs: CaptureEvent[]) =>
        evs.filter((e): e is MessageEvent => e.kind === 'message').map((m) => [m.direction, m.opcode, m.data.toString('hex'), Math.round(m.time * 1000)]);
      assert.deepEqual(messages(got), messages(want));
      assert.equal(got.filter((e) => e.kind === 'frame').length, messages(want).length, 'one frame per message');
    }
    const refused = sink.events.find((e): e is HandshakeEvent => e.kind === 'handshake' && e.status === 401)!;
    assert.equal(refused.body?.toString(), 'no way');
    assert.equal(sink.events.filter((e) => e.kind === 'connection' && e.connectionId === refused.connectionId).length, 0);
  });

  test("Chrome's HAR, pretty-printed, with other entries around the socket; the same in chunks of 1 to 17 bytes", async () => {
    const text = chromeHar(CHROME_MESSAGES);
    for (const chunks of [[Buffer.from(text)], smallChunks(text), smallChunks('\ufeff' + text)]) {
      const sink = new ArraySink();
      const r = await readHar(chunks, sink);
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal(r.connections, 1);
      chromeCheck(sink.events);
    }
  });

  test('messages before the request in an entry wait for its handshake', async () => {
    const doc = JSON.parse(chromeHar(CHROME_MESSAGES));
    const { _webSocketMessages, ...rest } = doc.log.entries[1];
    doc.log.entries[1] = { _webSocketMessages, ...rest };
    const sink = new ArraySink();
    const r = await readHar([Buffer.from(JSON.stringify(doc))], sink);
    assert.equal(r.error, undefined);
    assert.deepEqual(sink.kinds().slice(0, 3), ['handshake', 'connection:open', 'frame']);
    chromeCheck(sink.events);
  });

  test('bad files: no WebSocket entry, no HAR at all, cut short, malformed, a bad message', async () => {
    const read = async (text: string) => {
      const sink = new ArraySink();
      return { r: await readHar([Buffer.from(text)], sink), sink };
    };
    const plain = JSON.parse(chromeHar([]));
    plain.log.entries.pop();
    const none = await read(JSON.stringify(plain));
    assert.equal(none.r.error?.code, 'SESSION_ERR_NO_WEBSOCKETS');
    assert.match(none.r.error!.message, /1 entry, none of them a WebSocket/);
    assert.equal((await read('{"kind":"frame"}\n{"kind":"frame"}\n')).r.error?.code, 'SESSION_ERR_FORMAT');
    assert.equal((await read('{"foo": [1, 2, {"log": 3}]}')).r.error?.code, 'SESSION_ERR_FORMAT');
    assert.equal((await read('')).r.error?.code, 'SESSION_ERR_FORMAT');
    assert.equal((await read('[1,2]')).r.error?.code, 'SESSION_ERR_FORMAT');
    const full = chromeHar(CHROME_MESSAGES);
    const cut = await read(full.slice(0, full.indexOf('welcome') + 3));
    assert.equal(cut.r.error?.code, 'SESSION_ERR_TRUNCATED');
    assert.equal(cut.sink.of('message').length, 1, 'the message before the cut is read');
    const broken = await read(full.replace('"opcode": 2', '"opcode": 2 2'));
    assert.equal(broken.r.error?.code, 'SESSION_ERR_FORMAT');
    const odd = await read(chromeHar([...CHROME_MESSAGES, { type: 'sideways', time: 1, opcode: 1, data: 'x' }]));
    assert.equal(odd.r.error, undefined);
    assert.match(odd.r.warnings[0].message, /entry 1, message 3 skipped: type "sideways"/);
  });
});
