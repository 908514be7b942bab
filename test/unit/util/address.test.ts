// Which hosts only this machine can reach (src/core/util/address.ts): what decides whether a server or proxy is exposed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopback } from '../../../src/core/util/address';

describe('isLoopback', () => {
  const cases: Array<[host: string, loopback: boolean]> = [
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.20', false],
    ['10.0.0.5', false],
    ['fe80::1', false],
    ['example.com', false],
    ['127.0.0.1.example.com', false],
    ['', false],
  ];
  for (const [host, loopback] of cases) {
    test(`${JSON.stringify(host)} is ${loopback ? '' : 'not '}loopback`, () => {
      assert.equal(isLoopback(host), loopback);
    });
  }
});
