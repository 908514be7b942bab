// The inspecting proxy's options (src/core/proxy/proxyOptions.ts): what start() refuses, and how.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { InspectingProxy } from '../../../src/core/proxy/inspectingProxy';
import type { ProxyError } from '../../../src/core/proxy/proxyOptions';

describe('InspectingProxy options', () => {
  test('options: a non-loopback host needs allowRemote; the target must be ws:// or wss://', async () => {
    const p = new InspectingProxy();
    await assert.rejects(p.start({ target: 'ws://127.0.0.1:1', host: '0.0.0.0' }), (e: ProxyError) => e.code === 'ERR_REMOTE_NOT_ALLOWED');
    await assert.rejects(p.start({ target: 'http://127.0.0.1:1' }), (e: ProxyError) => e.code === 'ERR_INVALID_TARGET' && /ws:\/\/ or wss:\/\//.test(e.message));
    await assert.rejects(p.start({ target: 'not a url' }), (e: ProxyError) => e.code === 'ERR_INVALID_TARGET');
    await assert.rejects(p.start({ target: 'ws://127.0.0.1:1', handshakeTimeoutMs: -1 }), TypeError);
    p.dispose();
  });
});
