import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { upgradeVerdict } from '../../../src/core/sessions/tcpStream';

describe('upgradeVerdict', () => {
  test("a client's first bytes: an upgrade, more to wait for, or why not", () => {
    const v = (s: string) => upgradeVerdict(Buffer.from(s, 'latin1'));
    assert.equal(v('GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: WebSocket\r\nConnection: upgrade\r\n\r\n'), 'upgrade');
    assert.equal(v('GET /chat HTTP/1.1\r\nHost: x\r\nupgrade:websocket\r\n\r\n\x81\x85'), 'upgrade');
    assert.equal(v('GE'), 'wait');
    assert.equal(v('GET /chat HTTP/1.1\r\nHost: x\r\n'), 'wait');
    assert.equal(v('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'an HTTP request without Upgrade: websocket');
    assert.equal(v('GET / HTTP/1.1\r\nX-Upgrade-Note: websocket later\r\n\r\n'), 'an HTTP request without Upgrade: websocket');
    assert.equal(v('\x81\x85abcdhello'), 'not an HTTP request');
    assert.equal(v('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), 'not an HTTP/1.x request');
    assert.equal(v(`GET /${'a'.repeat(20_000)}`), 'a request head over 16384 bytes');
  });
});
