import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WireError } from '../../../src/core/wire/errors';
import {
  HttpHeadParser,
  computeAccept,
  getHeader,
  getHeaders,
  parseRequestLine,
  parseStatusLine,
  upgradeProblem,
} from '../../../src/core/wire/handshake';
import { chunks } from './helpers';

const REQUEST =
  'GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nOrigin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n' +
  'Sec-WebSocket-Version: 13\r\n\r\n';
const RESPONSE =
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
  'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n';

function parseAll(bytes: Buffer, size: number, max?: number) {
  const p = new HttpHeadParser(max);
  for (const c of chunks(bytes, size)) {
    const r = p.push(c);
    if (r) return r;
  }
  return undefined;
}

describe('HttpHeadParser', () => {
  for (const size of [0, 1, 2, 3, 7]) {
    test(`the RFC 6455 §1.2 request, chunk ${size}`, () => {
      const r = parseAll(Buffer.from(REQUEST, 'latin1'), size);
      assert.ok(r);
      assert.equal(r.head.startLine, 'GET /chat HTTP/1.1');
      assert.equal(r.head.length, REQUEST.length);
      assert.equal(r.head.headers.length, 7);
      assert.deepEqual(r.head.headers[0], ['Host', 'server.example.com']);
      assert.deepEqual(r.head.headers[6], ['Sec-WebSocket-Version', '13']);
      assert.equal(r.rest.length, 0);
    });
  }

  test('bytes after the head are returned, not lost', () => {
    const frame = Buffer.from('810548656c6c6f', 'hex');
    for (const size of [0, 1, 5]) {
      const r = parseAll(Buffer.concat([Buffer.from(RESPONSE, 'latin1'), frame]), size);
      assert.ok(r);
      assert.equal(r.head.startLine, 'HTTP/1.1 101 Switching Protocols');
      // With small chunks the rest is what was left in the chunk that completed the head.
      if (size === 0) assert.deepEqual(r.rest, frame);
      else assert.deepEqual(r.rest, frame.subarray(0, r.rest.length));
    }
  });

  test('header case and order are kept; obs-fold is joined', () => {
    const r = parseAll(Buffer.from('HTTP/1.1 401 Unauthorized\r\nX-A: 1\r\nx-a: 2\r\nX-Long: a\r\n  b\r\nWWW-Authenticate:Basic\r\n\r\n'), 0);
    assert.ok(r);
    assert.deepEqual(r.head.headers, [
      ['X-A', '1'],
      ['x-a', '2'],
      ['X-Long', 'a b'],
      ['WWW-Authenticate', 'Basic'],
    ]);
    assert.equal(getHeader(r.head, 'x-A'), '1, 2');
    assert.deepEqual(getHeaders(r.head, 'X-A'), ['1', '2']);
    assert.equal(getHeader(r.head, 'missing'), undefined);
  });

  test('a head over the bound is WS_ERR_HANDSHAKE_TOO_LARGE', () => {
    const big = Buffer.from('GET / HTTP/1.1\r\nX: ' + 'a'.repeat(200) + '\r\n\r\n');
    for (const size of [0, 1, 50]) {
      assert.throws(
        () => parseAll(big, size, 100),
        (e: unknown) => e instanceof WireError && e.code === 'WS_ERR_HANDSHAKE_TOO_LARGE' && e.closeCode === 1009,
      );
    }
    assert.ok(parseAll(big, 1, big.length));
  });
});

describe('handshake helpers', () => {
  test('parseStatusLine and parseRequestLine', () => {
    assert.deepEqual(parseStatusLine('HTTP/1.1 101 Switching Protocols'), { version: 'HTTP/1.1', status: 101, reason: 'Switching Protocols' });
    assert.deepEqual(parseStatusLine('HTTP/1.1 401'), { version: 'HTTP/1.1', status: 401, reason: '' });
    assert.equal(parseStatusLine('GET / HTTP/1.1'), undefined);
    assert.deepEqual(parseRequestLine('GET /chat?x=1 HTTP/1.1'), { method: 'GET', target: '/chat?x=1', version: 'HTTP/1.1' });
    assert.equal(parseRequestLine('HTTP/1.1 200 OK'), undefined);
  });

  test('computeAccept: the RFC 6455 example', () => {
    assert.equal(computeAccept('dGhlIHNhbXBsZSBub25jZQ=='), 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  test('upgradeProblem', () => {
    const req = parseAll(Buffer.from(REQUEST), 0)!.head;
    const res = parseAll(Buffer.from(RESPONSE), 0)!.head;
    assert.equal(upgradeProblem(req, res), undefined);
    const wrongAccept = parseAll(Buffer.from(RESPONSE.replace('s3pP', 'xxxx')), 0)!.head;
    assert.equal(upgradeProblem(req, wrongAccept), 'invalid Sec-WebSocket-Accept');
    const noUpgrade = parseAll(Buffer.from(RESPONSE.replace('Upgrade: websocket\r\n', '')), 0)!.head;
    assert.match(upgradeProblem(req, noUpgrade)!, /Upgrade/);
    const notFound = parseAll(Buffer.from('HTTP/1.1 404 Not Found\r\n\r\n'), 0)!.head;
    assert.match(upgradeProblem(req, notFound)!, /404/);
  });
});
