import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { arraySink } from '../../support/arraySink';
import { waitFor } from '../../support/waitFor';
import { cleanups, runCleanups, startServer } from '../server/helpers';
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
    const r = parseAll(Buffer.from('HTTP/1.1 401 Unauthorized\r\nX-A: 1\r\nx-a: 2\r\nX-Long: a \r\n  b\r\nX-Fold: c\r\n\td \r\nWWW-Authenticate:Basic\r\n\r\n'), 0);
    assert.ok(r);
    assert.deepEqual(r.head.headers, [
      ['X-A', '1'],
      ['x-a', '2'],
      ['X-Long', 'a b'],
      ['X-Fold', 'c d', { space: [' ', ' '] }],
      ['WWW-Authenticate', 'Basic', { space: ['', ''] }],
    ]);
    assert.equal(getHeader(r.head, 'x-A'), '1, 2');
    assert.deepEqual(getHeaders(r.head, 'X-A'), ['1', '2']);
    assert.equal(getHeader(r.head, 'missing'), undefined);
  });

  test('header values: UTF-8 when valid, else latin-1 and marked; the whitespace around them as on the wire', () => {
    const head = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\n', 'latin1'),
      Buffer.from('X-Utf8: caf\u00e9 \u4e2d\u6587 \u{1f600}\r\n', 'utf8'),
      // "à" is C3 A0: its A0 is a latin-1 no-break space, which must not be trimmed away.
      Buffer.from('X-Nbsp: voil\u00e0\r\n', 'utf8'),
      Buffer.from('X-Latin1: caf', 'latin1'), Buffer.from([0xe9]), Buffer.from(' ', 'latin1'), Buffer.from([0xff, 0xa0]), Buffer.from('\r\n'),
      Buffer.from('X-Pad: \t  two  words \t \r\n', 'latin1'),
      Buffer.from('X-Tight:v\r\n', 'latin1'),
      Buffer.from('X-Empty:\r\n', 'latin1'),
      Buffer.from('X-Blank:   \r\n', 'latin1'),
      Buffer.from('\r\n', 'latin1'),
    ]);
    for (const size of [0, 1, 3]) {
      const r = parseAll(head, size);
      assert.ok(r);
      assert.deepEqual(r.head.headers, [
        ['X-Utf8', 'caf\u00e9 \u4e2d\u6587 \u{1f600}'],
        ['X-Nbsp', 'voil\u00e0'],
        ['X-Latin1', 'caf\u00e9 \u00ff\u00a0', { latin1: true }],
        ['X-Pad', 'two  words', { space: [' \t  ', ' \t '] }],
        ['X-Tight', 'v', { space: ['', ''] }],
        ['X-Empty', '', { space: ['', ''] }],
        ['X-Blank', '', { space: ['   ', ''] }],
      ]);
      // The lines give the head back byte for byte.
      const lines = r.head.headers.map(([name, value, wire]) => {
        const [before, after] = wire?.space ?? [' ', ''];
        return Buffer.concat([Buffer.from(`${name}:${before}`, 'latin1'), Buffer.from(value, wire?.latin1 ? 'latin1' : 'utf8'), Buffer.from(`${after}\r\n`, 'latin1')]);
      });
      assert.deepEqual(Buffer.concat([Buffer.from(`${r.head.startLine}\r\n`), ...lines, Buffer.from('\r\n')]), head);
      // What the handshake checks read is the value itself.
      assert.equal(getHeader(r.head, 'x-pad'), 'two  words');
    }
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

describe('the captured handshake on a real socket', () => {
  afterEach(runCleanups);

  test('UTF-8 and latin-1 header values, and whitespace around them, are recorded as they were sent', async () => {
    const sink = arraySink();
    const { address } = await startServer({ capture: sink });
    const socket = net.connect(address.port, '127.0.0.1');
    cleanups.push(() => socket.destroy());
    let got = Buffer.alloc(0);
    socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write(
      Buffer.concat([
        Buffer.from(
          'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n',
          'latin1',
        ),
        Buffer.from('X-Name: J\u00fcrgen \u5f20\u4f1f\r\n', 'utf8'),
        Buffer.from('X-Legacy: M', 'latin1'), Buffer.from([0xfc]), Buffer.from('ller\r\n', 'latin1'),
        Buffer.from('X-Pad:\t  padded value  \t\r\n', 'latin1'),
        Buffer.from('\r\n', 'latin1'),
      ]),
    );
    await waitFor('the 101', () => got.includes('\r\n\r\n'));
    assert.match(got.toString('latin1'), /^HTTP\/1\.1 101 /);
    await waitFor('the handshake event', () => sink.of('handshake').length === 1);
    const { request } = sink.of('handshake')[0];
    assert.deepEqual(request.headers.slice(5), [
      ['X-Name', 'J\u00fcrgen \u5f20\u4f1f'],
      ['X-Legacy', 'M\u00fcller', { latin1: true }],
      ['X-Pad', 'padded value', { space: ['\t  ', '  \t'] }],
    ]);
  });
});
