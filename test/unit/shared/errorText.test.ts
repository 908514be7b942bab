import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { errorText } from '../../../src/shared/errorText';

describe('errorText', () => {
  test('the message of an Error, of any kind; anything else thrown or rejected, as a string', () => {
    const cases: Array<[thrown: unknown, text: string]> = [
      [new Error('connect ECONNREFUSED 127.0.0.1:8765'), 'connect ECONNREFUSED 127.0.0.1:8765'],
      [new TypeError('port must be an integer 0–65535; got 70000'), 'port must be an integer 0–65535; got 70000'],
      [Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }), 'refused'],
      ['a plain string', 'a plain string'],
      [42, '42'],
      [undefined, 'undefined'],
      [null, 'null'],
    ];
    for (const [thrown, text] of cases) assert.equal(errorText(thrown), text);
  });
});
