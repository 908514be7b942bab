// A corpus of upgrade requests that carry a token in every way a client might, sent byte for byte to a real server
// with auth and capture on: the server answers each as documented, and no export of the capture holds the token.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as net from 'node:net';
import { SignJWT } from 'jose';
import type { CaptureEvent, CaptureSink, HandshakeEvent, NewCaptureEvent } from '../../../src/core/capture/events';
import { eventToJsonLine, REDACTED, SecretRedactor, toHar } from '../../../src/core/capture/sessionExport';
import { BroadcastServer, type RejectEvent } from '../../../src/core/server/broadcastServer';

type Status = 101 | 400 | 401;

interface Variant {
  name: string;
  /** The raw request bytes (latin1) for token `t`. */
  request: (t: string) => string;
  status: Status;
  /** The onDidReject code of a refusal. */
  code?: string;
  /** False when Node refuses the head before the capture can read it (no CRLF line ends): nothing is captured. */
  captured?: boolean;
}

const KEY_LINE = 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==';
const VERSION_LINE = 'Sec-WebSocket-Version: 13';

/** An upgrade request: the start line (or `GET <target> HTTP/1.1`), the usual upgrade headers, then `extra`. */
function upgrade(target: string, extra: string[] = [], opts: { startLine?: string; base?: string[] } = {}): string {
  const base = opts.base ?? ['Host: 127.0.0.1', 'Upgrade: websocket', 'Connection: Upgrade', KEY_LINE, VERSION_LINE];
  return [opts.startLine ?? `GET ${target} HTTP/1.1`, ...base, ...extra, '', ''].join('\r\n');
}
const header = (...lines: Array<(t: string) => string>) => (t: string) => upgrade('/', lines.map((l) => l(t)));
const query = (target: (t: string) => string) => (t: string) => upgrade(target(t));
const percent = (t: string, hex: (b: number) => string) => [...Buffer.from(t)].map((b) => `%${hex(b)}`).join('');
const pctUpper = (t: string) => percent(t, (b) => b.toString(16).toUpperCase().padStart(2, '0'));
const pctLower = (t: string) => percent(t, (b) => b.toString(16).padStart(2, '0'));
function thirds(t: string): [string, string, string] {
  const n = Math.ceil(t.length / 3);
  return [t.slice(0, n), t.slice(n, 2 * n), t.slice(2 * n)];
}
const WRONG = 'wrong-token-0123456789';

const accepted: Variant[] = [
  { name: 'Authorization: Bearer T', request: header((t) => `Authorization: Bearer ${t}`), status: 101 },
  { name: 'lower-case header name and scheme', request: header((t) => `authorization: bearer ${t}`), status: 101 },
  { name: 'upper-case header name and scheme', request: header((t) => `AUTHORIZATION: BEARER ${t}`), status: 101 },
  { name: 'Bearer with extra spaces around the token', request: header((t) => `Authorization:    Bearer     ${t}    `), status: 101 },
  { name: 'Bearer and token separated by tabs', request: header((t) => `Authorization: Bearer\t\t${t}\t`), status: 101 },
  { name: 'Authorization with no space after the colon', request: header((t) => `Authorization:Bearer ${t}`), status: 101 },
  { name: '?token=T', request: query((t) => `/?token=${t}`), status: 101 },
  { name: 'token among other parameters', request: query((t) => `/chat?room=1&token=${t}&x=y`), status: 101 },
  { name: 'token percent-encoded (upper-case hex)', request: query((t) => `/?token=${pctUpper(t)}`), status: 101 },
  { name: 'token percent-encoded (lower-case hex)', request: query((t) => `/?a=b&token=${pctLower(t)}`), status: 101 },
  { name: 'parameter name percent-encoded', request: query((t) => `/?%74oken=${t}`), status: 101 },
  { name: 'empty token parameter, then the header', request: (t) => upgrade('/?token=', [`Authorization: Bearer ${t}`]), status: 101 },
  { name: 'request line with two spaces before the target (Node accepts it)', request: (t) => upgrade('', [], { startLine: `GET  /?token=${t} HTTP/1.1` }), status: 101 },
  { name: 'request line with two spaces after the target', request: (t) => upgrade('', [], { startLine: `GET /?token=${t}  HTTP/1.1` }), status: 101 },
  { name: 'Sec-WebSocket-Protocol: bearer, T', request: header((t) => `Sec-WebSocket-Protocol: bearer, ${t}`), status: 101 },
  { name: 'bearer,T without a space', request: header((t) => `Sec-WebSocket-Protocol: bearer,${t}`), status: 101 },
  { name: 'spaces around the comma', request: header((t) => `Sec-WebSocket-Protocol: bearer ,   ${t}`), status: 101 },
  { name: 'bearer, T, then an application protocol', request: header((t) => `Sec-WebSocket-Protocol: bearer, ${t}, chat.v2`), status: 101 },
  { name: 'an application protocol, then bearer, T', request: header((t) => `Sec-WebSocket-Protocol: chat.v2, bearer, ${t}`), status: 101 },
  { name: 'lower-case protocol header name', request: header((t) => `sec-websocket-protocol: bearer, ${t}`), status: 101 },
  { name: 'token in header and query at once', request: (t) => upgrade(`/?token=${t}`, [`Authorization: Bearer ${t}`]), status: 101 },
  {
    name: 'token also in a Referer header',
    request: header((t) => `Authorization: Bearer ${t}`, (t) => `Referer: http://app.test/page?t=${t}`),
    status: 101,
  },
  {
    name: 'header token with application protocols split over two lines (no bearer offer)',
    request: header((t) => `Authorization: Bearer ${t}`, () => 'Sec-WebSocket-Protocol: chat', () => 'Sec-WebSocket-Protocol: superchat'),
    status: 101,
  },
];

const M = 'ERR_AUTH_MALFORMED';
const malformed: Variant[] = [
  { name: 'bearer and T on separate protocol lines', request: header(() => 'Sec-WebSocket-Protocol: bearer', (t) => `Sec-WebSocket-Protocol: ${t}`) },
  { name: '"bearer," then T on the next line', request: header(() => 'Sec-WebSocket-Protocol: bearer,', (t) => `Sec-WebSocket-Protocol: ${t}`) },
  {
    name: 'the token split across three protocol lines',
    request: header((t) => `Sec-WebSocket-Protocol: bearer, ${thirds(t)[0]}`, (t) => `Sec-WebSocket-Protocol: ${thirds(t)[1]}`, (t) => `Sec-WebSocket-Protocol: ${thirds(t)[2]}`),
  },
  { name: 'split protocol lines in mixed case', request: header(() => 'sec-websocket-protocol: bearer', (t) => `SEC-WEBSOCKET-PROTOCOL: ${t}`) },
  { name: 'T on the line before bearer', request: header((t) => `Sec-WebSocket-Protocol: ${t}`, () => 'Sec-WebSocket-Protocol: bearer') },
  { name: 'empty entries all around', request: header((t) => `Sec-WebSocket-Protocol: , bearer,, ${t},`) },
  { name: 'empty entry between bearer and T', request: header((t) => `Sec-WebSocket-Protocol: bearer,, ${t}`) },
  { name: 'trailing empty entry', request: header((t) => `Sec-WebSocket-Protocol: bearer, ${t},`) },
  { name: 'leading empty entry', request: header((t) => `Sec-WebSocket-Protocol: ,bearer, ${t}`) },
  { name: 'Bearer capitalised in the protocol list', request: header((t) => `Sec-WebSocket-Protocol: Bearer, ${t}`) },
  { name: 'BEARER in the protocol list', request: header((t) => `Sec-WebSocket-Protocol: BEARER,${t}`) },
  { name: 'bearer offered twice', request: header((t) => `Sec-WebSocket-Protocol: bearer, bearer, ${t}`) },
  { name: ';token= after another parameter', request: query((t) => `/?a=1;token=${t}`) },
  { name: 'token= then ;', request: query((t) => `/?token=${t};a=1`) },
  { name: 'token twice in the query', request: query((t) => `/?token=${t}&token=${t}`) },
  { name: 'a wrong token, then the right one, in the query', request: query((t) => `/?token=${WRONG}&token=${t}`) },
  { name: 'token followed by a fragment', request: query((t) => `/?token=${t}#frag`) },
  { name: 'token inside a fragment', request: query((t) => `/?a=1#token=${t}`) },
  { name: 'Authorization twice, same token', request: header((t) => `Authorization: Bearer ${t}`, (t) => `Authorization: Bearer ${t}`) },
  { name: 'Authorization twice, a wrong token first', request: header(() => `Authorization: Bearer ${WRONG}`, (t) => `Authorization: Bearer ${t}`) },
  { name: 'Authorization: Bearer, then the token on its own Authorization line', request: header(() => 'Authorization: Bearer', (t) => `Authorization: ${t}`) },
  {
    name: 'the token split across three Authorization lines',
    request: header((t) => `Authorization: Bearer ${thirds(t)[0]}`, (t) => `Authorization: ${thirds(t)[1]}`, (t) => `Authorization: ${thirds(t)[2]}`),
  },
  {
    name: 'a good Authorization header beside a split bearer offer',
    request: header((t) => `Authorization: Bearer ${t}`, () => 'Sec-WebSocket-Protocol: bearer', (t) => `Sec-WebSocket-Protocol: ${t}`),
  },
].map((v) => ({ ...v, status: 400 as const, code: M }));

// Node's HTTP parser refuses these before the server sees them; the server answers 400 as Node would.
const B = 'ERR_BAD_REQUEST';
const refusedByNode: Variant[] = [
  { name: 'tab between method and target', request: (t) => upgrade('', [], { startLine: `GET\t/?token=${t} HTTP/1.1` }), status: 400, code: B },
  { name: 'tab between target and version', request: (t) => upgrade('', [], { startLine: `GET /?token=${t}\tHTTP/1.1` }), status: 400, code: B },
  { name: 'obs-fold: the token on a continuation line', request: header((t) => `Authorization: Bearer\r\n ${t}`), status: 400, code: B },
  {
    name: 'obs-fold: the token split across three lines',
    request: header((t) => `Authorization: Bearer ${thirds(t)[0]}\r\n ${thirds(t)[1]}\r\n\t${thirds(t)[2]}`),
    status: 400,
    code: B,
  },
  { name: 'obs-fold in the bearer offer', request: header((t) => `Sec-WebSocket-Protocol: bearer,\r\n ${t}`), status: 400, code: B },
  { name: 'space before the colon', request: header((t) => `Authorization : Bearer ${t}`), status: 400, code: B },
  { name: 'a control character after the token', request: query((t) => `/?token=${t}\x01`), status: 400, code: B },
  {
    name: 'LF line ends',
    request: (t) => upgrade(`/?token=${t}`, [`Authorization: Bearer ${t}`]).replace(/\r\n/g, '\n'),
    status: 400,
    code: B,
    captured: false,
  },
];

// Refused by ws after auth passed: the capture holds a valid token in a failed handshake.
const refusedByWs: Variant[] = [
  { name: 'valid query token, unsupported Sec-WebSocket-Version', request: (t) => upgrade(`/?token=${t}`, [], { base: ['Host: x', 'Upgrade: websocket', 'Connection: Upgrade', KEY_LINE, 'Sec-WebSocket-Version: 12'] }), status: 400, code: 'ERR_BAD_HANDSHAKE' },
  { name: 'valid header token, no Sec-WebSocket-Key', request: (t) => upgrade('/', [`Authorization: Bearer ${t}`], { base: ['Host: x', 'Upgrade: websocket', 'Connection: Upgrade', VERSION_LINE] }), status: 400, code: 'ERR_BAD_HANDSHAKE' },
  { name: 'valid bearer offer beside an invalid protocol', request: header((t) => `Sec-WebSocket-Protocol: bearer, ${t}, bad value`), status: 400, code: 'ERR_BAD_HANDSHAKE' },
];

const MISSING = 'ERR_AUTH_MISSING';
const INVALID = 'ERR_AUTH_INVALID';
const unauthorized: Variant[] = [
  { name: 'Basic scheme carrying the token in base64', request: header((t) => `Authorization: Basic ${Buffer.from(t).toString('base64')}`), status: 401, code: MISSING },
  { name: 'Bearer T and another word', request: header((t) => `Authorization: Bearer ${t} extra`), status: 401, code: MISSING },
  { name: 'Authorization without a scheme', request: header((t) => `Authorization: ${t}`), status: 401, code: MISSING },
  { name: 'Token scheme', request: header((t) => `Authorization: Token ${t}`), status: 401, code: MISSING },
  { name: 'Proxy-Authorization', request: header((t) => `Proxy-Authorization: Bearer ${t}`), status: 401, code: MISSING },
  { name: 'X-Auth-Token', request: header((t) => `X-Auth-Token: ${t}`), status: 401, code: MISSING },
  { name: 'a cookie', request: header((t) => `Cookie: token=${t}; theme=dark`), status: 401, code: MISSING },
  { name: '?TOKEN= in upper case', request: query((t) => `/?TOKEN=${t}`), status: 401, code: MISSING },
  { name: '?access_token=', request: query((t) => `/?access_token=${t}`), status: 401, code: MISSING },
  { name: 'the token with a character appended, in the query', request: query((t) => `/?token=${t}x`), status: 401, code: INVALID },
  { name: 'the token with a character appended, in the header', request: header((t) => `Authorization: Bearer ${t}x`), status: 401, code: INVALID },
  { name: 'a wrong header token beside the right query token', request: (t) => upgrade(`/?token=${t}`, [`Authorization: Bearer ${WRONG}`]), status: 401, code: INVALID },
];

const FORMS: Variant[] = [...accepted, ...malformed, ...refusedByNode, ...refusedByWs, ...unauthorized];

const SECRET = 'hs256-secret-for-the-redaction-corpus';
const tokens: Record<'random' | 'jwt', string> = { random: crypto.randomBytes(32).toString('base64url'), jwt: '' };

/** The ways a leaked token could be written: as is, percent-encoded, in base64, or any 12 characters of it. */
function leakedForms(t: string): string[] {
  const windows = Array.from({ length: t.length - 11 }, (_, i) => t.slice(i, i + 12));
  return [t, pctUpper(t), pctLower(t), encodeURIComponent(t), Buffer.from(t).toString('base64'), Buffer.from(t).toString('base64url'), ...windows];
}

function exportText(events: CaptureEvent[], redact: boolean): string {
  const lines = events.map((e) => eventToJsonLine(e, redact ? new SecretRedactor() : undefined)).join('\n');
  return `${lines}\n${JSON.stringify(toHar(events, redact ? { redactor: new SecretRedactor() } : {}))}`;
}

/** A sink that resolves `nextClose()` when a connection's 'closed' event arrives: the last event of a connection. */
function closingSink(): CaptureSink & { events: CaptureEvent[]; nextClose(): Promise<string> } {
  const events: CaptureEvent[] = [];
  let waiter: ((id: string) => void) | undefined;
  return {
    events,
    append(e: NewCaptureEvent) {
      const id = events.length + 1;
      events.push({ ...e, id } as CaptureEvent);
      if (e.kind === 'connection' && e.state === 'closed') waiter?.(e.connectionId);
      return id;
    },
    nextClose: () => new Promise<string>((resolve) => (waiter = resolve)),
  };
}

/** Sends the bytes on a fresh TCP connection and resolves with the response's status line once its head arrived. */
function send(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes, 'latin1'));
    let got = '';
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) {
        socket.destroy();
        resolve(got.slice(0, got.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => reject(new Error(`closed before a response head: ${JSON.stringify(got)}`)));
  });
}

describe('redaction corpus: every handshake form, sent raw to a server with auth and capture', () => {
  const sink = closingSink();
  const server = new BroadcastServer();
  const rejects: RejectEvent[] = [];
  let port = 0;

  before(async () => {
    tokens.jwt = await new SignJWT({ sub: 'corpus' }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
    server.onDidReject((e) => rejects.push(e));
    const address = await server.start({
      port: 0,
      heartbeatIntervalMs: 0,
      capture: sink,
      auth: { tokens: [tokens.random], jwt: { algorithms: ['HS256'], secret: SECRET } },
    });
    port = address.port;
  });
  after(() => server.stop());

  test('the corpus has at least 50 variants, of each expected status', () => {
    const variants = FORMS.length * Object.keys(tokens).length;
    assert.ok(variants >= 50, `${variants} variants`);
    for (const s of [101, 400, 401]) assert.ok(FORMS.some((v) => v.status === s), `some ${s}`);
  });

  for (const kind of ['random', 'jwt'] as const) {
    for (const v of FORMS) {
      test(`${v.status} ${v.code ?? ''} ${v.name} (${kind} token)`, async () => {
        const t = tokens[kind];
        const closed = sink.nextClose();
        const statusLine = await send(port, v.request(t));
        assert.match(statusLine, new RegExp(`^HTTP/1\\.1 ${v.status} `));
        const id = await closed;
        const mine = sink.events.filter((e) => e.connectionId === id);
        assert.deepEqual(rejects.filter((r) => r.connectionId === id).map((r) => [r.status, r.code]), v.code ? [[v.status, v.code]] : []);

        const hs = mine.find((e): e is HandshakeEvent => e.kind === 'handshake');
        if (v.captured === false) {
          assert.equal(hs, undefined);
        } else {
          assert.ok(hs, 'the capture records the handshake');
          assert.equal(hs.status, v.status);
          assert.equal(hs.ok, v.status === 101);
          if (v.code === M) assert.match(hs.body?.toString() ?? '', /^400 Bad Request: \S/);
          // The corpus does put the token into the capture: without a redactor the export has it.
          const raw = exportText(mine, false);
          assert.ok(leakedForms(t).some((f) => raw.includes(f)), 'unredacted export holds the token');
        }

        const text = exportText(mine, true);
        for (const leak of leakedForms(t)) assert.ok(!text.includes(leak), `export holds ${JSON.stringify(leak)}:\n${text}`);
        if (hs) assert.ok(text.includes(REDACTED));
      });
    }
  }
});
