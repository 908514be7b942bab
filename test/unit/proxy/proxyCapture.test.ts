// The error events the proxy adds to its legs' captures (src/core/proxy/proxyCapture.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ErrorEvent } from '../../../src/core/capture/events';
import { recordPassThrough, recordUpstreamError } from '../../../src/core/proxy/proxyCapture';
import { createWireError } from '../../../src/core/wire/errors';
import { arraySink } from './proxyHelpers';

describe('proxy capture errors', () => {
  test('a target that cannot be reached: an error on the target leg with its code and message, close status 1014', () => {
    const sink = arraySink();
    recordUpstreamError(sink, 'proxy1-1/target', { code: 'ECONNREFUSED', message: 'Connection refused by 127.0.0.1:9' });
    const [e] = sink.events as ErrorEvent[];
    assert.deepEqual(
      [e.kind, e.connectionId, e.code, e.closeCode, e.message, e.direction],
      ['error', 'proxy1-1/target', 'ECONNREFUSED', 1014, 'Connection refused by 127.0.0.1:9', undefined],
    );
    assert.ok(Math.abs(e.time - Date.now()) < 60_000, 'epoch ms');
    // The program still gets its answer when the capture cannot take the event.
    const failing = { append: (): number => { throw new Error('store gone'); } };
    assert.doesNotThrow(() => recordUpstreamError(failing, 'proxy1-1/target', { code: 'ETIMEDOUT', message: 'timed out' }));
  });

  test('a direction the proxy can no longer delimit: WS_ERR_PROXY_PASSTHROUGH with that direction, the close status and why', () => {
    const sink = arraySink();
    recordPassThrough(sink, 'proxy1-1/program', 'c2s', createWireError('WS_ERR_INVALID_OPCODE', 'Invalid opcode 3', 1002));
    const [e] = sink.events as ErrorEvent[];
    assert.deepEqual([e.connectionId, e.direction, e.code, e.closeCode], ['proxy1-1/program', 'c2s', 'WS_ERR_PROXY_PASSTHROUGH', 1002]);
    assert.equal(
      e.message,
      'The proxy cannot delimit frames from here on (WS_ERR_INVALID_OPCODE: Invalid opcode 3); the rest of this direction is forwarded raw, without breakpoints',
    );
  });
});
