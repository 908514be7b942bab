import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FrameEvent, HandshakeEvent } from '../../../src/core/capture/events';
import { SECRET_MASK, SecretMasker } from '../../../src/core/scenarios/secrets';

test('SecretMasker hides secrets in text, heads and payloads, keeping payload lengths', () => {
  const m = new SecretMasker();
  m.add('tok-123');
  m.add('tok-123456');
  assert.equal(m.text('a tok-123456 b tok-123'), `a ${SECRET_MASK} b ${SECRET_MASK}`);
  const hs = { kind: 'handshake', id: 1, connectionId: 'o1.1', time: 0, status: 101, ok: true, request: { startLine: 'GET /?t=tok-123 HTTP/1.1', headers: [['X-Key', 'tok-123']], length: 10 } } as HandshakeEvent;
  const h = m.event(hs) as HandshakeEvent;
  assert.equal(h.request.startLine, `GET /?t=${SECRET_MASK} HTTP/1.1`);
  assert.deepEqual(h.request.headers, [['X-Key', SECRET_MASK]]);
  const payload = Buffer.from('{"t":"tok-123"}');
  const f = m.event({ kind: 'frame', id: 2, connectionId: 'o1.1', time: 0, payload } as unknown as FrameEvent) as FrameEvent;
  assert.equal(f.payload.toString(), '{"t":"*******"}');
  assert.equal(f.payload.length, payload.length);
  assert.equal(payload.toString(), '{"t":"tok-123"}', 'the stored event is not changed');
});
