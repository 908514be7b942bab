// The broadcast server's options (src/core/server/serverOptions.ts): the documented defaults, and a TypeError (or a
// ServerError naming the problem) for each bad one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BroadcastServer } from '../../../src/core/server/broadcastServer';
import { resolveOptions, tlsTimeoutMs } from '../../../src/core/server/serverOptions';

describe('BroadcastServer options', () => {
  test('no options: the documented defaults; an option given as undefined keeps its default', () => {
    const defaults = {
      host: '127.0.0.1',
      port: 8765,
      allowRemote: false,
      relay: 'broadcast',
      maxPayload: 1024 * 1024,
      perMessageDeflate: false,
      heartbeatIntervalMs: 30_000,
      maxClients: 1000,
      closeTimeoutMs: 2000,
      rateLimit: { messagesPerSecond: 100, burst: 200, action: 'drop' },
      maxBufferedBytes: 4 * 1024 * 1024,
      slowConsumerAction: 'drop',
      handshakeTimeoutMs: 10_000,
      idleTimeoutMs: 0,
    };
    assert.deepEqual(resolveOptions({}), defaults);
    assert.deepEqual(resolveOptions({ port: undefined, maxPayload: undefined, relay: undefined }), defaults);
    assert.deepEqual(resolveOptions({ port: 0, relay: 'echo' }), { ...defaults, port: 0, relay: 'echo' });
  });

  test('the TLS handshake has handshakeTimeoutMs to complete; with it off, Node’s 120 s', () => {
    assert.equal(tlsTimeoutMs(resolveOptions({ handshakeTimeoutMs: 5000 })), 5000);
    assert.equal(tlsTimeoutMs(resolveOptions({ handshakeTimeoutMs: 0 })), 120_000);
  });

  test('bad or conflicting options throw TypeError', async () => {
    const s = new BroadcastServer();
    await assert.rejects(s.start({ relay: 'all' as never }), TypeError);
    await assert.rejects(s.start({ port: 70000 }), TypeError);
    await assert.rejects(s.start({ maxPayload: 0 }), TypeError);
    await assert.rejects(s.start({ heartbeatIntervalMs: -1 }), TypeError);
    await assert.rejects(s.start({ maxClients: 0 }), TypeError);
    await assert.rejects(s.start({ path: 'ws' }), TypeError);
    await assert.rejects(s.start({ host: '0.0.0.0' }), { code: 'ERR_EXPOSED_WITHOUT_AUTH', message: /allowRemote/ });
    await assert.rejects(s.start({ rateLimit: { messagesPerSecond: 0, burst: 1, action: 'drop' } }), TypeError);
    await assert.rejects(s.start({ rateLimit: { messagesPerSecond: 1, burst: 1, action: 'kick' as never } }), TypeError);
    await assert.rejects(s.start({ maxBufferedBytes: 0 }), TypeError);
    await assert.rejects(s.start({ slowConsumerAction: 'wait' as never }), TypeError);
    await assert.rejects(s.start({ handshakeTimeoutMs: -1 }), TypeError);
    await assert.rejects(s.start({ idleTimeoutMs: 1.5 }), TypeError);
    await assert.rejects(s.start({ allowedOrigins: [''] }), TypeError);
    await assert.rejects(s.start({ allowedOrigins: ['https://app.example/path'] }), /allowedOrigins/);
    await assert.rejects(s.start({ tls: { cert: '', key: 'k' } }), TypeError);
    await assert.rejects(s.start({ tls: { cert: 'not a pem', key: 'nor this' } }), { code: 'ERR_TLS_CONFIG' });
    await assert.rejects(s.start({ auth: {} }), /tokens or jwt/);
    await assert.rejects(s.start({ auth: { tokens: ['t'], accept: ['cookie' as never] } }), TypeError);
    await assert.rejects(s.start({ auth: { jwt: { algorithms: ['HS256'] } } }), /secret/);
    await assert.rejects(s.start({ auth: { jwt: { algorithms: ['RS256'], publicKeyPem: 'junk' } } }), TypeError);
    await assert.rejects(s.start({ auth: { jwt: { algorithms: ['ES256' as never], secret: 's' } } }), TypeError);
    await assert.rejects(s.start({ capture: {} as never }), TypeError);
    await assert.rejects(s.start({ capture: { append: () => 0 }, attachCapture: {} as never }), /attachCapture/);
    assert.equal(s.state, 'stopped');
  });
});
