import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHexBytes, parseHexBytes } from '../../../src/shared/hex';

describe('hex text of a binary payload', () => {
  test('formats two digits a byte, 16 to a line, and parses its own text back to the same bytes', () => {
    const bytes = Uint8Array.from({ length: 40 }, (_, i) => (i * 37) & 0xff);
    const text = formatHexBytes(bytes);
    const lines = text.split('\n');
    assert.equal(lines.length, 3);
    assert.equal(lines[0], '00 25 4a 6f 94 b9 de 03 28 4d 72 97 bc e1 06 2b');
    assert.equal(lines[2].split(' ').length, 8);
    assert.deepEqual(parseHexBytes(text), bytes);
    assert.equal(formatHexBytes(new Uint8Array(0)), '');
  });

  test('takes any case and any whitespace between bytes, and nothing at all as no bytes', () => {
    assert.deepEqual(parseHexBytes('FF00aB\n\t 0c  '), Uint8Array.from([0xff, 0x00, 0xab, 0x0c]));
    assert.deepEqual(parseHexBytes('   '), new Uint8Array(0));
  });

  test('says what is wrong and where', () => {
    assert.deepEqual(parseHexBytes('ff 0g'), { error: '"g" at position 5 is not a hex digit (0-9, a-f)' });
    assert.deepEqual(parseHexBytes('ff 0 aa'), { error: 'the byte before position 5 has one digit; a byte is two (e.g. 0f)' });
    assert.deepEqual(parseHexBytes('ff a'), { error: 'the last byte has one digit; a byte is two (e.g. 0f)' });
    assert.deepEqual(parseHexBytes('0x ff'), { error: '"x" at position 2 is not a hex digit (0-9, a-f)' });
  });
});
