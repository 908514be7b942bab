import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EventStore } from '../../../src/core/capture/eventStore';
import type { CaptureEvent, HandshakeEvent, MessageEvent } from '../../../src/core/capture/events';
import { eventToJsonLine, REDACTED, SecretRedactor, toHar } from '../../../src/core/capture/sessionExport';
import { parseHttpHead } from '../../../src/core/wire/handshake';

const t0 = Date.UTC(2026, 10, 25, 12, 0, 0);
const events: CaptureEvent[] = [
  {
    kind: 'handshake',
    id: 1,
    connectionId: 'c1',
    time: t0,
    request: {
      startLine: 'GET /chat?room=7 HTTP/1.1',
      headers: [
        ['Host', '127.0.0.1:8765'],
        ['Upgrade', 'websocket'],
      ],
      length: 120,
    },
    response: { startLine: 'HTTP/1.1 101 Switching Protocols', headers: [['Upgrade', 'websocket']], length: 97 },
    status: 101,
    ok: true,
    openMs: 1.25,
  },
  {
    kind: 'message',
    id: 2,
    connectionId: 'c1',
    time: t0 + 10.5,
    direction: 'c2s',
    opcode: 1,
    data: Buffer.from('héllo'),
    wireLength: 6,
    compressed: false,
    utf8Valid: true,
    frameIds: [],
  },
  {
    kind: 'message',
    id: 3,
    connectionId: 'c1',
    time: t0 + 20,
    direction: 's2c',
    opcode: 2,
    data: Buffer.from([0, 1, 254, 255]),
    wireLength: 4,
    compressed: false,
    frameIds: [],
  },
  {
    kind: 'handshake',
    id: 4,
    connectionId: 'c2',
    time: t0 + 30,
    request: { startLine: 'GET / HTTP/1.1', headers: [['Host', 'example.test']], length: 40 },
    response: { startLine: 'HTTP/1.1 401 Unauthorized', headers: [['Content-Type', 'text/plain']], length: 60 },
    status: 401,
    ok: false,
    body: Buffer.from('no token'),
  },
];

describe('sessionExport', () => {
  test('HAR holds one websocket entry per handshake with Chrome-style messages', () => {
    const har = JSON.parse(JSON.stringify(toHar(events, { secureConnections: new Set(['c2']) })));
    assert.equal(har.log.version, '1.2');
    assert.equal(har.log.entries.length, 2);
    const [a, b] = har.log.entries;
    assert.equal(a._resourceType, 'websocket');
    assert.equal(a.request.url, 'ws://127.0.0.1:8765/chat?room=7');
    assert.deepEqual(a.request.queryString, [{ name: 'room', value: '7' }]);
    assert.equal(a.response.status, 101);
    assert.equal(a.response.statusText, 'Switching Protocols');
    assert.deepEqual(a._webSocketMessages, [
      { type: 'send', time: (t0 + 10.5) / 1000, opcode: 1, data: 'héllo' },
      { type: 'receive', time: (t0 + 20) / 1000, opcode: 2, data: Buffer.from([0, 1, 254, 255]).toString('base64') },
    ]);
    assert.equal(a.startedDateTime, '2026-11-25T12:00:00.000Z');
    assert.equal(b.request.url, 'wss://example.test/');
    assert.equal(b.response.status, 401);
    assert.equal(Buffer.from(b.response.content.text, 'base64').toString(), 'no token');
  });

  test('NDJSON lines parse and keep binary as base64', () => {
    const line = eventToJsonLine(events[2]);
    assert.ok(!line.includes('\n'));
    const parsed = JSON.parse(line);
    assert.equal(parsed.kind, 'message');
    assert.deepEqual(Buffer.from(parsed.data.base64, 'base64'), Buffer.from([0, 1, 254, 255]));
  });
});

describe('sessionExport: frames written and never sent', () => {
  const hs = (connectionId: string): Omit<HandshakeEvent, 'id'> => ({
    kind: 'handshake', connectionId, time: t0, request: { startLine: 'GET / HTTP/1.1', headers: [['Host', 'example.test']], length: 40 },
    response: { startLine: 'HTTP/1.1 101 Switching Protocols', headers: [], length: 34 }, status: 101, ok: true,
  });
  const text = (connectionId: string, s: string, alsoSentTo?: string[]): Omit<MessageEvent, 'id'> => ({
    kind: 'message', connectionId, time: t0 + 1, direction: 's2c', opcode: 1, data: Buffer.from(s), wireLength: s.length,
    compressed: false, utf8Valid: true, frameIds: [], alsoSentTo,
  });
  /** c1 and c2 connected; "hello" went to both; "left behind" (to c1) and the broadcast "to both" never left for c1. */
  function capture(): { store: EventStore; ids: Record<string, number> } {
    const store = new EventStore();
    store.append(hs('c1'));
    store.append(hs('c2'));
    const frame = store.append({
      kind: 'frame', connectionId: 'c1', time: t0 + 1, direction: 's2c', fin: true, rsv1: false, rsv2: false, rsv3: false, opcode: 1,
      masked: false, payloadLength: 11, lengthForm: 7, headerLength: 2, header: Buffer.from('810b', 'hex'), payload: Buffer.from('left behind'),
    });
    const ids: Record<string, number> = {
      hello: store.append(text('c1', 'hello', ['c2'])),
      frame,
      lost: store.append({ ...text('c1', 'left behind'), frameIds: [frame] }),
      both: store.append(text('c1', 'to both', ['c2'])),
    };
    ids.closed = store.append({
      kind: 'connection', connectionId: 'c1', time: t0 + 2, state: 'closed', role: 'server', clean: false, missingClose: 'both',
      closeFrames: { sent: { code: 1000, reason: 'bye', unsent: true } }, bytesOut: 74 + 7,
      unsent: { bytes: 13 + 9 + 8, frameIds: [frame], messageIds: [ids.lost, ids.both] },
    });
    return { store, ids };
  }

  test('NDJSON keeps unsentTo on the frames and messages, and on the closed event what was unsent and whose close is missing', () => {
    const { store, ids } = capture();
    try {
      const lines = store.query({ limit: 100 }).events.map((e) => JSON.parse(eventToJsonLine(e)));
      const byId = new Map(lines.map((l) => [l.id, l]));
      assert.deepEqual(byId.get(ids.frame).unsentTo, ['c1']);
      assert.deepEqual(byId.get(ids.lost).unsentTo, ['c1']);
      assert.deepEqual(byId.get(ids.both).unsentTo, ['c1']);
      assert.ok(!('unsentTo' in byId.get(ids.hello)), 'what left for all has no flag');
      const closed = byId.get(ids.closed);
      assert.deepEqual([closed.unsent, closed.missingClose, closed.clean, closed.closeFrames, closed.bytesOut], [
        { bytes: 30, frameIds: [ids.frame], messageIds: [ids.lost, ids.both] },
        'both',
        false,
        { sent: { code: 1000, reason: 'bye', unsent: true } },
        81,
      ]);
    } finally {
      store.dispose();
    }
  });

  test('HAR keeps each message row, flagged _unsent in the entry of the connection it never left for', () => {
    const { store } = capture();
    try {
      const har = JSON.parse(JSON.stringify(toHar(store.query({ limit: 100 }).events)));
      const rows = (connectionId: string) =>
        har.log.entries.find((e: { _connectionId: string }) => e._connectionId === connectionId)._webSocketMessages.map((m: { data: string; _unsent?: true }) => [m.data, m._unsent]);
      assert.deepEqual(rows('c1'), [
        ['hello', undefined],
        ['left behind', true],
        ['to both', true],
      ]);
      assert.deepEqual(rows('c2'), [
        ['hello', undefined],
        ['to both', undefined],
      ], 'c2 got the broadcast');
    } finally {
      store.dispose();
    }
  });
});

describe('SecretRedactor', () => {
  const handshake = (requestHeaders: Array<[string, string]>, target = '/chat?room=7&token=s3cr3t&access_token=abc&key='): CaptureEvent => ({
    kind: 'handshake',
    id: 9,
    connectionId: 'c9',
    time: t0,
    request: { startLine: `GET ${target} HTTP/1.1`, headers: requestHeaders, length: 200 },
    response: { startLine: 'HTTP/1.1 101 Switching Protocols', headers: [['Set-Cookie', 'sid=1; HttpOnly'], ['Sec-WebSocket-Protocol', 'bearer']], length: 100 },
    status: 101,
    ok: true,
  });

  test('credentials in headers, the bearer subprotocol offer and the query are replaced; the rest is untouched', () => {
    const r = new SecretRedactor();
    const e = r.event(
      handshake([
        ['Host', 'example.test'],
        ['Authorization', 'Bearer eyJhbGciOi.payload.sig'],
        ['Cookie', 'sid=1; theme=dark'],
        ['Sec-WebSocket-Protocol', 'bearer, eyJhbGciOi.payload.sig, chat.v2'],
        ['X-Api-Key', 'k-123'],
        ['User-Agent', 'token=not-a-query'],
      ]),
    ) as HandshakeEvent;
    assert.equal(e.request.startLine, `GET /chat?room=7&token=${REDACTED}&access_token=${REDACTED}&key= HTTP/1.1`);
    assert.deepEqual(e.request.headers, [
      ['Host', 'example.test'],
      ['Authorization', `Bearer ${REDACTED}`],
      ['Cookie', REDACTED],
      ['Sec-WebSocket-Protocol', `bearer, ${REDACTED}, chat.v2`],
      ['X-Api-Key', REDACTED],
      ['User-Agent', 'token=not-a-query'],
    ]);
    assert.deepEqual(e.response!.headers, [
      ['Set-Cookie', REDACTED],
      ['Sec-WebSocket-Protocol', 'bearer'],
    ]);
    assert.equal(r.replaced, 7);
    const text = JSON.stringify(toHar([e]));
    assert.ok(!text.includes('s3cr3t') && !text.includes('eyJhbGciOi') && !text.includes('k-123'), text);
  });

  test('the exporters redact when given a redactor and keep everything without one', () => {
    const ev = handshake([['Authorization', 'Basic dXNlcjpwYXNz']]);
    const connection: CaptureEvent = { kind: 'connection', id: 10, connectionId: 'o1', time: t0, state: 'open', role: 'client', meta: { url: 'wss://api.test/ws?apikey=zzz&v=2' } };
    const r = new SecretRedactor();
    const lines = [ev, connection].map((e) => eventToJsonLine(e, r)).join('\n');
    assert.ok(!lines.includes('dXNlcjpwYXNz') && !lines.includes('zzz'), lines);
    assert.ok(lines.includes(`Basic ${REDACTED}`) && lines.includes(`apikey=${REDACTED}&v=2`), lines);
    const har = toHar([ev], { redactor: new SecretRedactor() });
    assert.equal(har.log.entries[0].request.url, `ws://localhost/chat?room=7&token=${REDACTED}&access_token=${REDACTED}&key=`);
    assert.equal(har.log.entries[0].request.queryString.find((q) => q.name === 'token')?.value, REDACTED);
    // Without a redactor: as captured.
    assert.ok(eventToJsonLine(ev).includes('dXNlcjpwYXNz'));
    assert.ok(JSON.stringify(toHar([ev])).includes('s3cr3t'));
  });

  test('a token split over lines, behind ";" or irregular spacing is replaced wherever the request repeats it', () => {
    const T = 'tok-0123456789abcdef';
    const r = new SecretRedactor();
    const e = r.event(
      handshake(
        [
          ['Host', 'example.test'],
          ['Sec-WebSocket-Protocol', 'bearer,'],
          ['Sec-WebSocket-Protocol', 'short'],
          ['Referer', `http://app.test/?t=${T}`],
          ['User-Agent', 'shorter-agent short'],
        ],
        `/chat?a=1;token=${T}`,
      ),
    ) as HandshakeEvent;
    const withSpaces = r.event({ ...e, request: { ...e.request, startLine: `GET  /?token=${T}\tHTTP/1.1` } }) as HandshakeEvent;
    assert.equal(e.request.startLine, `GET /chat?a=1;token=${REDACTED} HTTP/1.1`);
    assert.deepEqual(e.request.headers, [
      ['Host', 'example.test'],
      ['Sec-WebSocket-Protocol', 'bearer,'],
      ['Sec-WebSocket-Protocol', REDACTED],
      ['Referer', `http://app.test/?t=${REDACTED}`],
      ['User-Agent', `shorter-agent ${REDACTED}`],
    ]);
    assert.equal(withSpaces.request.startLine, `GET  /?token=${REDACTED}\tHTTP/1.1`);
    const har = toHar([{ ...withSpaces, request: { ...withSpaces.request, startLine: `GET  /?token=${T}  HTTP/1.1` } }], { redactor: new SecretRedactor() });
    const entry = har.log.entries[0].request;
    assert.deepEqual([entry.method, entry.url, entry.httpVersion], ['GET', `ws://example.test/?token=${REDACTED}`, 'HTTP/1.1']);
  });
});

describe('sessionExport: header values as they were on the wire', () => {
  const T = 'tok-\u00e9\u00e9-0123456789abcdef';
  const request = parseHttpHead(
    Buffer.concat([
      Buffer.from('GET /chat HTTP/1.1\r\nHost: example.test\r\n', 'latin1'),
      Buffer.from(`Authorization: \t Bearer ${T}  \r\nSec-WebSocket-Protocol:  bearer, ${T} \r\nReferer:\thttp://app.test/?t=${T}\r\n`, 'utf8'),
      Buffer.from('X-Legacy: M', 'latin1'), Buffer.from([0xfc]), Buffer.from('ller\r\n\r\n', 'latin1'),
    ]),
  );
  const ev: CaptureEvent = {
    kind: 'handshake', id: 1, connectionId: 'c1', time: t0, request,
    response: { startLine: 'HTTP/1.1 101 Switching Protocols', headers: [], length: 34 }, status: 101, ok: true,
  };

  test('NDJSON keeps the encoding mark and the whitespace; HAR gives the values and marks latin-1', () => {
    const parsed = JSON.parse(eventToJsonLine(ev));
    assert.deepEqual(parsed.request.headers.slice(1), [
      ['Authorization', `Bearer ${T}`, { space: [' \t ', '  '] }],
      ['Sec-WebSocket-Protocol', `bearer, ${T}`, { space: ['  ', ' '] }],
      ['Referer', `http://app.test/?t=${T}`, { space: ['\t', ''] }],
      ['X-Legacy', 'M\u00fcller', { latin1: true }],
    ]);
    const har = toHar([ev]);
    assert.deepEqual(har.log.entries[0].request.headers.slice(3), [
      { name: 'Referer', value: `http://app.test/?t=${T}` },
      { name: 'X-Legacy', value: 'M\u00fcller', comment: 'latin-1' },
    ]);
  });

  test('the redactor still finds a UTF-8 token in values with whitespace around them, and keeps that whitespace', () => {
    const r = new SecretRedactor();
    const e = r.event(ev) as HandshakeEvent;
    assert.deepEqual(e.request.headers.slice(1), [
      ['Authorization', `Bearer ${REDACTED}`, { space: [' \t ', '  '] }],
      ['Sec-WebSocket-Protocol', `bearer, ${REDACTED}`, { space: ['  ', ' '] }],
      ['Referer', `http://app.test/?t=${REDACTED}`, { space: ['\t', ''] }],
      ['X-Legacy', 'M\u00fcller', { latin1: true }],
    ]);
    for (const text of [eventToJsonLine(ev, new SecretRedactor()), JSON.stringify(toHar([ev], { redactor: new SecretRedactor() }))]) {
      assert.ok(!text.includes('0123456789abcdef'), text);
    }
  });
});
