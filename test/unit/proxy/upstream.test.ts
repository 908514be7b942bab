import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHttpHead } from '../../../src/core/wire/handshake';
import type { ProxyError } from '../../../src/core/proxy/proxyOptions';
import { RefusedBody, ResponseHeadReader, targetUrlFor } from '../../../src/core/proxy/upstream';

test('targetUrlFor: the program path is appended to the target path; the program query wins', () => {
  const t = (target: string, path: string) => targetUrlFor(new URL(target), path);
  assert.equal(t('ws://h/base', '/ws?x=1'), 'ws://h/base/ws?x=1');
  assert.equal(t('wss://api/ws', '/'), 'wss://api/ws');
  assert.equal(t('ws://h:8080', '/chat'), 'ws://h:8080/chat');
  assert.equal(t('ws://h/base/', '/ws'), 'ws://h/base/ws');
  assert.equal(t('ws://h/base?k=t', '/ws'), 'ws://h/base/ws?k=t');
  assert.equal(t('ws://h/base?k=t', '/ws?x=1'), 'ws://h/base/ws?x=1');
  assert.equal(t('ws://h/base?k=t', '/?'), 'ws://h/base?k=t');
  assert.equal(t('ws://[::1]:9/', '/a%20b'), 'ws://[::1]:9/a%20b');
  assert.throws(() => t('ws://h/', '*'), (e: ProxyError) => e.code === 'ERR_BAD_REQUEST_TARGET');
});

test('ResponseHeadReader: a head cut anywhere comes back as its exact bytes, with what followed it', () => {
  const head = Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n', 'latin1');
  const wire = Buffer.concat([head, Buffer.from('8102hi', 'latin1')]);
  for (const cut of [1, 17, head.length - 2]) {
    const reader = new ResponseHeadReader();
    assert.equal(reader.push(wire.subarray(0, cut)), undefined);
    const r = reader.push(wire.subarray(cut))!;
    assert.deepEqual(r.headBytes, head);
    assert.equal(r.head.startLine, 'HTTP/1.1 101 Switching Protocols');
    assert.equal(r.rest.toString('latin1'), '8102hi');
  }
  // A target that sends no head within 16 KiB is not an HTTP server the proxy can talk to.
  assert.throws(() => new ResponseHeadReader().push(Buffer.alloc(17 * 1024, 'a')), /exceeds/);
});

test('RefusedBody: ends at Content-Length, at the last chunk of a chunked body, or at once for 204', () => {
  const headOf = (text: string) => parseHttpHead(Buffer.from(`${text}\r\n\r\n`, 'latin1'));
  const sized = new RefusedBody(headOf('HTTP/1.1 401 Unauthorized\r\nContent-Length: 5'), 401);
  assert.deepEqual(sized.take(Buffer.from('no')), { bytes: Buffer.from('no'), complete: false });
  // Bytes after the body (the target pipelining, or garbage) do not reach the program.
  assert.deepEqual(sized.take(Buffer.from('pe!extra')), { bytes: Buffer.from('pe!'), complete: true });

  const chunked = new RefusedBody(headOf('HTTP/1.1 403 Forbidden\r\nTransfer-Encoding: chunked'), 403);
  assert.equal(chunked.take(Buffer.from('4\r\nnope\r\n0\r')).complete, false);
  assert.equal(chunked.take(Buffer.from('\n\r\n')).complete, true);

  assert.equal(new RefusedBody(headOf('HTTP/1.1 204 No Content\r\nContent-Length: 9'), 204).take(Buffer.from('x')).bytes.length, 0);
  // Neither length nor chunking: the body runs until the target closes.
  assert.equal(new RefusedBody(headOf('HTTP/1.1 500 Oops'), 500).take(Buffer.from('0\r\n\r\n')).complete, false);
});
