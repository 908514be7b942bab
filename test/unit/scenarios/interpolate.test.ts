import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interpolate, interpolateValue, MissingValueError, scanRefs, type Ref } from '../../../src/core/scenarios/interpolate';

const values: Record<string, unknown> = { name: 'ann', n: 7, obj: { a: 1 }, 'env:HOME_X': '/h', 'secret:T': 's3' };
const resolve = (r: Ref) => {
  const key = r.kind === 'var' ? r.name : `${r.kind}:${r.name}`;
  if (!(key in values)) throw new MissingValueError(`no ${key}`);
  return values[key];
};

test('scanRefs finds each kind of reference with its offsets', () => {
  const { refs, error } = scanRefs('a ${name} ${env:HOME_X} ${secret:T} ${$.id} $${lit} ${user.id}');
  assert.equal(error, undefined);
  assert.deepEqual(refs.map((r) => [r.kind, r.name, r.start]), [['var', 'name', 2], ['env', 'HOME_X', 10], ['secret', 'T', 24], ['path', '$.id', 36], ['var', 'user.id', 52]]);
});

test('scanRefs reports an unclosed or malformed reference', () => {
  assert.match(scanRefs('x ${name').error!.message, /without its closing/);
  assert.match(scanRefs('${a b}').error!.message, /not a variable name/);
  assert.match(scanRefs('${vault:x}').error!.message, /unknown reference/);
});

test('interpolate fills in text, keeps $${ as a literal ${, and fails on a missing value', () => {
  assert.equal(interpolate('hi ${name}, n=${n}, o=${obj}, $${name}', resolve), 'hi ann, n=7, o={"a":1}, ${name}');
  assert.equal(interpolate('${env:HOME_X}/${secret:T}', resolve), '/h/s3');
  assert.throws(() => interpolate('${nope}', resolve), /no nope/);
});

test('interpolateValue keeps the type of a string that is one reference', () => {
  assert.deepEqual(interpolateValue({ a: '${n}', b: 'n=${n}', c: ['${obj}'], '${name}': true }, resolve), { a: 7, b: 'n=7', c: [{ a: 1 }], ann: true });
});
