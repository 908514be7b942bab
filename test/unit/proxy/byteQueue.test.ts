import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteQueue } from '../../../src/core/proxy/byteQueue';

test('ByteQueue: takes exact bytes within a chunk, a whole chunk, and across chunks; takeAll empties it', () => {
  const q = new ByteQueue();
  const a = Buffer.from('8105', 'hex');
  q.push(a);
  q.push(Buffer.from('48656c', 'hex'));
  q.push(Buffer.from('6c6f8900', 'hex'));
  assert.equal(q.length, 9);
  const first = q.take(1);
  assert.deepEqual(first, Buffer.from('81', 'hex'));
  // Within one chunk it is a view, not a copy.
  assert.equal(first.buffer, a.buffer);
  assert.deepEqual(q.take(1), Buffer.from('05', 'hex'));
  assert.deepEqual(q.take(5), Buffer.from('48656c6c6f', 'hex'));
  assert.equal(q.length, 2);
  assert.deepEqual(q.takeAll(), Buffer.from('8900', 'hex'));
  assert.equal(q.length, 0);
  q.push(Buffer.from('8a00', 'hex'));
  assert.deepEqual(q.take(2), Buffer.from('8a00', 'hex'));
  assert.equal(q.length, 0);
});
