// The filters of a query over the capture history (src/core/capture/eventQuery.ts), as EventStore.query applies them.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { EventStore } from '../../../src/core/capture/eventStore';
import { conn, frame, ids, nextTime, range } from './helpers';

describe('EventStore.query filters', () => {
  test('a group id (a proxied connection) matches both of its legs and nothing else', () => {
    const s = new EventStore();
    try {
      s.append(conn('proxy1-1/program')); // 1
      s.append(conn('proxy1-1/target')); // 2
      s.append(conn('proxy1-10/program')); // 3: another connection whose id merely starts the same
      s.append(conn('proxy1-1')); // 4
      assert.deepEqual(ids(s.query({ connectionId: 'proxy1-1' }).events), [1, 2, 4]);
      assert.deepEqual(ids(s.query({ connectionId: ['proxy1-1/target', 'proxy1-10'] }).events), [2, 3]);
      assert.deepEqual(ids(s.query({ connectionId: 'proxy1-1/program' }).events), [1]);
    } finally {
      s.dispose();
    }
  });

  test('filters by connection, kind, direction and opcode', () => {
    const s = new EventStore();
    try {
      s.append(conn('a')); // 1
      s.append(conn('b')); // 2
      s.append(frame('hello', { connectionId: 'a', direction: 'c2s' })); // 3
      s.append(frame('world', { connectionId: 'b', direction: 's2c' })); // 4
      s.append(frame('p', { connectionId: 'a', direction: 's2c', opcode: 9 })); // 5
      s.append(frame('', { connectionId: 'b', direction: 'c2s', opcode: 8 })); // 6
      s.append(frame('cont', { connectionId: 'a', direction: 'c2s', opcode: 0, fin: true })); // 7
      s.append({
        kind: 'message', connectionId: 'a', time: nextTime(), direction: 'c2s', opcode: 2,
        data: Buffer.from('BinaryHello'), wireLength: 11, compressed: false, frameIds: [7],
      }); // 8
      s.append({ kind: 'error', connectionId: 'b', time: nextTime(), direction: 's2c', code: 'WS_ERR_INVALID_OPCODE', closeCode: 1002, message: 'Invalid opcode 3' }); // 9

      assert.deepEqual(ids(s.query({ connectionId: 'a' }).events), [1, 3, 5, 7, 8]);
      assert.deepEqual(ids(s.query({ connectionId: ['a', 'b'] }).events), range(1, 9));
      assert.deepEqual(ids(s.query({ connectionId: [] }).events), []);
      assert.deepEqual(ids(s.query({ kinds: ['connection', 'error'] }).events), [1, 2, 9]);
      assert.deepEqual(ids(s.query({ direction: 's2c' }).events), [4, 5, 9]);
      assert.deepEqual(ids(s.query({ opcodes: 'data' }).events), [3, 4, 7, 8]);
      assert.deepEqual(ids(s.query({ opcodes: 'control' }).events), [5, 6]);
      assert.deepEqual(ids(s.query({ opcodes: [9, 2] }).events), [5, 8]);
      assert.deepEqual(ids(s.query({ kinds: ['frame'], opcodes: 'data', connectionId: 'a', direction: 'c2s' }).events), [3, 7]);
      // Filters and paging together: backward picks the newest matches.
      assert.deepEqual(ids(s.query({ connectionId: 'a', backward: true, limit: 2 }).events), [7, 8]);
      const r = s.query({ connectionId: 'a', limit: 2 });
      assert.deepEqual(ids(r.events), [1, 3]);
      assert.deepEqual(ids(s.query({ connectionId: 'a', limit: 2, afterId: r.resumeId }).events), [5, 7]);
    } finally {
      s.dispose();
    }
  });

  test('text is a case-insensitive substring over payloads; regex too; bad regex is a readable TypeError', () => {
    const s = new EventStore();
    try {
      s.append(frame('{"type":"Hello","n":1}')); // 1
      s.append(frame('bye')); // 2
      s.append(frame(Buffer.from('ünïcode HELLO', 'utf8'))); // 3
      s.append({
        kind: 'message', connectionId: 'c1', time: nextTime(), direction: 's2c', opcode: 1,
        data: Buffer.from('hello again'), wireLength: 11, compressed: false, frameIds: [],
      }); // 4
      s.append({
        kind: 'handshake', connectionId: 'c1', time: nextTime(), status: 101, ok: true,
        request: { startLine: 'GET /chat HTTP/1.1', headers: [['Authorization', 'Bearer xyz']], length: 50 },
        response: { startLine: 'HTTP/1.1 101 Switching Protocols', headers: [['Upgrade', 'websocket']], length: 40 },
      }); // 5
      s.append(conn('c1')); // 6

      assert.deepEqual(ids(s.query({ text: 'hello' }).events), [1, 3, 4]);
      assert.deepEqual(ids(s.query({ text: 'ÜNÏ' }).events), [3]);
      assert.deepEqual(ids(s.query({ text: 'authorization: bearer' }).events), [5]);
      assert.deepEqual(ids(s.query({ regex: '"n":\\d+' }).events), [1]);
      assert.deepEqual(ids(s.query({ regex: 'hello' }).events), [4], 'a plain pattern is case-sensitive');
      assert.deepEqual(ids(s.query({ regex: '/^hel+o/i' }).events), [4], '/pattern/flags form');
      assert.deepEqual(ids(s.query({ regex: /hello/gi }).events), [1, 3, 4], 'g is dropped so test() is stateless');
      assert.deepEqual(ids(s.query({ regex: /^HTTP\/1\.1 101/m }).events), [5]);
      assert.deepEqual(ids(s.query({ text: 'hello', regex: 'again$' }).events), [4]);
      assert.deepEqual(ids(s.query({ text: 'hello', direction: 's2c' }).events), [4]);

      assert.throws(
        () => s.query({ regex: 'a(b' }),
        (err: unknown) => err instanceof TypeError && /^Invalid regular expression "a\(b": .*(group|paren)/i.test(err.message),
      );
    } finally {
      s.dispose();
    }
  });
});
