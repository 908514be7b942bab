import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatJsonPath, jsonEqual, parseJsonPath, valueAt } from '../../../src/core/scenarios/jsonPath';

test('parseJsonPath reads dots, indexes and quoted keys, with or without $', () => {
  assert.deepEqual(parseJsonPath('$'), []);
  assert.deepEqual(parseJsonPath('$.a.b[2].c'), ['a', 'b', 2, 'c']);
  assert.deepEqual(parseJsonPath("$['a key'][\"q\\\"\"]"), ['a key', 'q"']);
  assert.deepEqual(parseJsonPath('user.name'), ['user', 'name']);
  assert.deepEqual(parseJsonPath('[0]'), [0]);
  assert.match(parseJsonPath('$.a[x]') as string, /expected \[index\]/);
  assert.match(parseJsonPath('$..a') as string, /field name/);
});

test('valueAt tells a missing value from a null one', () => {
  const doc = { a: [{ b: null }], c: 0 };
  assert.deepEqual(valueAt(doc, ['a', 0, 'b']), { found: true, value: null });
  assert.deepEqual(valueAt(doc, ['a', 1]), { found: false, value: undefined });
  assert.deepEqual(valueAt(doc, ['c', 'x']), { found: false, value: undefined });
  assert.deepEqual(valueAt(doc, ['toString']), { found: false, value: undefined });
});

test('jsonEqual compares objects in any key order, arrays in order, types strictly', () => {
  assert.ok(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }));
  assert.ok(!jsonEqual([1, 2], [2, 1]));
  assert.ok(!jsonEqual(1, '1'));
  assert.ok(!jsonEqual({ a: 1 }, { a: 1, b: undefined }));
  assert.ok(!jsonEqual(null, {}));
});

test('formatJsonPath writes segments back', () => {
  assert.equal(formatJsonPath(['a', 0, 'b c']), "$.a[0]['b c']");
});
