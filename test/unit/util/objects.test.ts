import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { stripUndefined } from '../../../src/core/util/objects';

describe('stripUndefined', () => {
  test('drops the undefined properties and keeps every other value, falsy ones too', () => {
    const given = { a: 1, b: undefined, c: null, d: 0, e: '', f: false };
    assert.deepEqual(stripUndefined(given), { a: 1, c: null, d: 0, e: '', f: false });
    assert.equal('b' in stripUndefined(given), false);
    assert.deepEqual(given, { a: 1, b: undefined, c: null, d: 0, e: '', f: false }, 'the object given is not changed');
    assert.deepEqual(stripUndefined({}), {});
  });

  test('spread over defaults, an option given as undefined keeps its default', () => {
    const defaults = { port: 8765, host: '127.0.0.1' };
    assert.deepEqual({ ...defaults, ...stripUndefined({ port: undefined, host: '::1' }) }, { port: 8765, host: '::1' });
  });
});
