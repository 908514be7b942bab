import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidCloseCode } from '../../../src/core/wire/constants';

describe('isValidCloseCode: the codes an endpoint may send in a close frame (RFC 6455 §7.4)', () => {
  const cases: Array<[code: number, valid: boolean, why: string]> = [
    [0, false, 'not a status code'],
    [999, false, 'below the range'],
    [1000, true, 'normal closure'],
    [1001, true, 'going away'],
    [1002, true, 'protocol error'],
    [1003, true, 'unsupported data'],
    [1004, false, 'reserved'],
    [1005, false, 'no status received: never sent'],
    [1006, false, 'abnormal closure: never sent'],
    [1007, true, 'invalid payload data'],
    [1011, true, 'internal error'],
    [1014, true, 'bad gateway'],
    [1015, false, 'TLS handshake failure: never sent'],
    [2999, false, 'reserved for the protocol'],
    [3000, true, 'registered with IANA'],
    [4000, true, 'private use'],
    [4999, true, 'the last private code'],
    [5000, false, 'above the range'],
  ];
  for (const [code, valid, why] of cases) {
    test(`${code}: ${valid ? 'valid' : 'invalid'} (${why})`, () => {
      assert.equal(isValidCloseCode(code), valid);
    });
  }
});
