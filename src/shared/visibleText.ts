// Untrusted text made visible: characters that hide or reorder text become markers a reader can see. Used by the
// panel's rows and detail (webview) and by every string the extension puts into VS Code's own UI.

/** Unicode bidi controls: in untrusted text they can make it read as something it is not. */
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Characters that take no room: zero-width spaces and joiners, word joiner, BOM, soft hyphen, Mongolian vowel separator, line and paragraph separators, tag characters. */
const INVISIBLE = /[\u00ad\u180e\u200b-\u200d\u2028\u2029\u2060-\u2064\ufeff]|\udb40[\udc00-\udc7f]/g;

/** `⟨U+202E⟩`: the marker for one hidden character. */
export function codePointMarker(c: string): string {
  return `⟨U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}⟩`;
}

/** Shows each bidi control as a visible marker (`⟨U+202E⟩`), so untrusted text cannot reorder how it reads. */
export function revealBidi(s: string): string {
  return s.replace(BIDI_CONTROLS, codePointMarker);
}

/** Bidi controls and zero-width characters as visible markers. */
export function revealInvisible(s: string): string {
  return revealBidi(s).replace(INVISIBLE, codePointMarker);
}

/**
 * One line of text: line breaks and other control characters as symbols (`↵`, `␍`, `⇥`, `·`), so a row never
 * wraps, and a lone CR never hides what precedes it; bidi and zero-width characters as markers.
 */
export function oneLine(s: string): string {
  // CRLF is one line break; a lone CR is shown, since a terminal would use it to overwrite what came before.
  // eslint-disable-next-line no-control-regex
  const controls = s.replace(/\r\n|[\u0000-\u001f\u007f-\u009f]/g, (c) => (c === '\n' || c === '\r\n' ? '↵' : c === '\t' ? '⇥' : c === '\r' ? '␍' : '·'));
  return revealInvisible(controls);
}
