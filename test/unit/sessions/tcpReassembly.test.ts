import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ACK_WINDOW, TcpDirection } from '../../../src/core/sessions/tcpReassembly';

function direction(maxHeld = 1 << 20): { d: TcpDirection; text: () => string; gaps: Array<[number, number]> } {
  const parts: Buffer[] = [];
  const gaps: Array<[number, number]> = [];
  const d = new TcpDirection({ data: (c) => parts.push(Buffer.from(c)), gap: (n, at) => gaps.push([n, at]) }, maxHeld);
  return { d, text: () => Buffer.concat(parts).toString(), gaps };
}

const b = (s: string) => Buffer.from(s);

describe('TcpDirection', () => {
  test('in order, out of order, repeated and overlapping segments give each byte once, in order', () => {
    const { d, text, gaps } = direction();
    d.syn(999);
    d.segment(1000, b('hello '), 0, false);
    d.segment(1012, b('wide '), 0, false);
    d.segment(1006, b('world '), 0, false);
    d.segment(1000, b('hello '), 0, false);
    d.segment(1014, b('de world'), 0, true);
    assert.equal(text(), 'hello world wide world');
    assert.deepEqual(gaps, []);
    assert.equal(d.finished, true);
    assert.equal(d.duplicateBytes, 6 + 3);
  });

  test('sequence numbers wrap past 2^32', () => {
    const { d, text } = direction();
    d.syn(0xfffffffa);
    d.segment(0xfffffffb, b('abcd'), 0, false);
    d.segment(0x00000003, b('ijkl'), 0, false);
    d.segment(0xffffffff, b('efgh'), 0, false);
    assert.equal(text(), 'abcdefghijkl');
    assert.equal(d.next, 12);
  });

  test('a capture that starts mid-stream starts at the first byte it holds', () => {
    const { d, text } = direction();
    d.segment(5000, b(''), 0, false);
    d.segment(5000, b('mid'), 0, false);
    d.segment(4990, b('older bytes'), 0, false);
    assert.equal(text(), 'mid');
  });

  test('bytes the peer acknowledged are a gap once ACK_WINDOW more packets passed without them', () => {
    const { d, text, gaps } = direction();
    d.syn(0);
    d.segment(1, b('aaaa'), 0, false);
    d.segment(9, b('cccc'), 0, false);
    d.acked(13);
    for (let i = 0; i < ACK_WINDOW - 1; i++) d.tick();
    assert.deepEqual(gaps, [], 'not yet: the segment may come late in the capture');
    d.tick();
    assert.deepEqual(gaps, [[4, 4]]);
    assert.equal(text(), 'aaaacccc');
  });

  test('a late segment within the window is no gap', () => {
    const { d, text, gaps } = direction();
    d.syn(0);
    d.acked(9);
    d.tick();
    d.segment(5, b('bbbb'), 0, false);
    d.tick();
    d.segment(1, b('aaaa'), 0, false);
    for (let i = 0; i < 2 * ACK_WINDOW; i++) d.tick();
    assert.deepEqual(gaps, []);
    assert.equal(text(), 'aaaabbbb');
  });

  test('more than maxHeldBytes waiting: the hole before them is a gap', () => {
    const { d, text, gaps } = direction(8);
    d.syn(0);
    d.segment(11, b('xxxx'), 0, false);
    d.segment(15, b('yyyy'), 0, false);
    assert.deepEqual(gaps, []);
    d.segment(19, b('z'), 0, false);
    assert.deepEqual(gaps, [[10, 0]]);
    assert.equal(text(), 'xxxxyyyyz');
  });

  test('bytes cut by the snap length are a gap at once; the stream goes on after them', () => {
    const { d, text, gaps } = direction();
    d.syn(0);
    d.segment(1, b('abc'), 5, false);
    d.segment(9, b('ijk'), 0, false);
    assert.deepEqual(gaps, [[5, 3]]);
    assert.equal(text(), 'abcijk');
  });

  test('at the end: waiting bytes come after a gap, and bytes before a FIN never seen are one', () => {
    const { d, text, gaps } = direction();
    d.syn(0);
    d.segment(1, b('ab'), 0, false);
    d.segment(5, b('ef'), 0, false);
    d.segment(9, b(''), 0, true);
    d.flush();
    assert.deepEqual(gaps, [[2, 2], [2, 6]]);
    assert.equal(text(), 'abef');
    assert.equal(d.finished, true);
  });
});
