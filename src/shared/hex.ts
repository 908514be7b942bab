// Hex text for binary payloads a user reads and edits in the panel: two digits a byte, spaces between, 16 to a line.
// Plain Uint8Array code: it runs in the webview (no Buffer there) and in the extension host.

const DIGITS = '0123456789abcdef';

/** `bytes` as `ff 00 1a …`, `perLine` bytes to a line (16 unless said; Infinity for one line). */
export function formatHexBytes(bytes: Uint8Array, perLine = 16): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0) s += i % perLine === 0 ? '\n' : ' ';
    s += DIGITS[bytes[i] >> 4] + DIGITS[bytes[i] & 15];
  }
  return s;
}

/** Hex digits without separators (as Buffer's `toString('hex')` gives them) as bytes; undefined if they are not. */
export function bytesOfHex(hex: string): Uint8Array | undefined {
  const r = parseHexBytes(hex);
  return r instanceof Uint8Array ? r : undefined;
}

/**
 * The bytes of hex text as a user types it: two digits a byte, in either case, with any whitespace between bytes. An
 * error says what is wrong and where, in words fit to show: a character that is not a hex digit, or a byte cut in half.
 */
export function parseHexBytes(text: string): Uint8Array | { error: string } {
  const out = new Uint8Array(text.length >> 1);
  let n = 0;
  let high = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      if (high >= 0) return { error: `the byte before position ${i + 1} has one digit; a byte is two (e.g. 0f)` };
      continue;
    }
    const v = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (v < 0) return { error: `"${text[i]}" at position ${i + 1} is not a hex digit (0-9, a-f)` };
    if (high < 0) {
      high = v;
    } else {
      out[n++] = (high << 4) | v;
      high = -1;
    }
  }
  if (high >= 0) return { error: 'the last byte has one digit; a byte is two (e.g. 0f)' };
  return out.subarray(0, n);
}
