import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { JsonPicker, type PathItem } from '../../../src/core/sessions/jsonPicker';
import type { SessionError } from '../../../src/core/sessions/sessionErrors';

/** Walks the root object and its `items` array, picks everything else; returns what was picked, by path. */
function pick(chunks: Buffer[], maxValueBytes = 1 << 20): { values: Array<[string, unknown]>; error?: SessionError; warnings: SessionError[] } {
  const values: Array<[string, unknown]> = [];
  const warnings: SessionError[] = [];
  const p = new JsonPicker(
    {
      decide: (path: readonly PathItem[]) => (path.length === 0 || (path.length === 1 && path[0] === 'items') ? 'walk' : path[0] === 'skipped' ? 'skip' : 'pick'),
      onValue: (path, v) => values.push([path.join('.'), v]),
    },
    maxValueBytes,
    (w) => warnings.push(w),
  );
  for (const c of chunks) {
    const err = p.push(c);
    if (err) return { values, error: err, warnings };
  }
  const error = p.end();
  return error ? { values, error, warnings } : { values, warnings };
}

const DOC = {
  'a "quoted" key\\': 'a value ending in a backslash \\',
  items: ['\\"', '\\\\"', 'é中 \u0001 \n', 12.5e-3, -1.5, true, null, { nested: ['}', ']', '{"x":"\\\\"}'] }, []],
  skipped: { big: 'x'.repeat(100), '\\"': '"' },
  last: false,
};

describe('JsonPicker', () => {
  test('any split of the document in two gives the same values: strings, escapes and backslash runs across the boundary', () => {
    const text = Buffer.from(JSON.stringify(DOC, null, 1));
    const whole = pick([text]);
    assert.equal(whole.error, undefined);
    assert.deepEqual(whole.values, [
      ['a "quoted" key\\', DOC['a "quoted" key\\']],
      ...DOC.items.map((v, i): [string, unknown] => [`items.${i}`, v]),
      ['last', false],
    ]);
    for (let at = 1; at < text.length; at++) {
      const got = pick([text.subarray(0, at), text.subarray(at)]);
      assert.deepEqual(got, whole, `split at ${at}`);
    }
  });

  test('malformed, truncated and too large', () => {
    const bad = pick([Buffer.from('{"a": 1 "b": 2}')]);
    assert.equal(bad.error?.code, 'SESSION_ERR_FORMAT');
    assert.equal(bad.error?.offset, 8);
    assert.equal(pick([Buffer.from('{"a": [1, 2')]).error?.code, 'SESSION_ERR_TRUNCATED');
    assert.equal(pick([Buffer.from('{"a": tru}')]).error?.code, 'SESSION_ERR_FORMAT');
    assert.equal(pick([Buffer.from('  ')]).error?.code, 'SESSION_ERR_FORMAT');
    const large = pick([Buffer.from(`{"a": "${'y'.repeat(100)}", "b": 1}`)], 50);
    assert.equal(large.error, undefined);
    assert.deepEqual(large.values, [['b', 1]]);
    assert.equal(large.warnings[0].code, 'SESSION_ERR_TOO_LARGE');
  });
});
