import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { codePointMarker, oneLine, revealBidi, revealInvisible } from '../../../src/shared/visibleText';

describe('visibleText', () => {
  test('every bidi control becomes a marker naming its code point; other text is left as it is', () => {
    for (const c of ['\u061c', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069']) {
      assert.equal(revealBidi(`a${c}b`), `a⟨U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}⟩b`);
    }
    assert.equal(revealBidi('user\u202Egnp.exe\u202C admin'), 'user⟨U+202E⟩gnp.exe⟨U+202C⟩ admin');
    assert.equal(revealBidi('héllo ✓ مرحبا 日本'), 'héllo ✓ مرحبا 日本');
    // revealBidi leaves zero-width characters; revealInvisible shows them too.
    assert.equal(revealBidi('a\u200bb'), 'a\u200bb');
  });

  test('zero-width and other invisible characters become markers, astral tag characters by their full code point', () => {
    assert.equal(revealInvisible('pay\u200bpal'), 'pay⟨U+200B⟩pal');
    assert.equal(revealInvisible('\ufeffBOM\u00ad\u2060\u2028'), '⟨U+FEFF⟩BOM⟨U+00AD⟩⟨U+2060⟩⟨U+2028⟩');
    assert.equal(revealInvisible('x\u{E0041}y'), 'x⟨U+E0041⟩y');
    assert.equal(revealInvisible('a\u202Eb'), 'a⟨U+202E⟩b');
    assert.equal(codePointMarker('\u{1F600}'), '⟨U+1F600⟩');
  });

  test('oneLine: line breaks and controls as symbols, CRLF as one break, a lone CR shown', () => {
    assert.equal(oneLine('a\nb\tc\u0000d\u007fe'), 'a↵b⇥c·d·e');
    assert.equal(oneLine('a\r\nb'), 'a↵b');
    assert.equal(oneLine('visible\rhidden'), 'visible␍hidden');
    assert.equal(oneLine('a\r\r\nb'), 'a␍↵b');
    assert.equal(oneLine('c1\u0085\u009b'), 'c1··');
    assert.equal(oneLine('x\u2066y\u200dz'), 'x⟨U+2066⟩y⟨U+200D⟩z');
    assert.equal(oneLine('plain text'), 'plain text');
  });
});
