import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  closedPreview, closeFramesBySide, closeFrameText, closeFrameFate, missingCloseText,
  formatBytes, frameFlags, frameFlagsLabel, framePreview, hexDump, lengthText, oneLine, parseBase64, parseHex,
  prettyJson, regexError, revealBidi, tryDecodeText, formatRelative,
} from '../../../webview/format';
import { compose, ComposerHistory } from '../../../webview/composerModel';
import type { ConnectionEventDto, FrameDto } from '../../../src/shared/protocol';

const f = (o: Partial<FrameDto>): FrameDto => ({
  kind: 'frame', id: 1, connectionId: 'c', time: 0, direction: 's2c', fin: true, rsv1: false, rsv2: false, rsv3: false,
  opcode: 1, masked: false, payloadLength: 0, headerLength: 2, preview: '', previewHex: false, previewTruncated: false, ...o,
});

describe('format', () => {
  test('bidi controls in a payload are shown as visible markers, in the preview and the detail', () => {
    const spoof = 'invoice\u202Efdp.exe';
    assert.equal(revealBidi(spoof), 'invoice⟨U+202E⟩fdp.exe');
    assert.equal(oneLine(`a\u2066b\u2069\nc`), 'a⟨U+2066⟩b⟨U+2069⟩↵c');
    assert.equal(revealBidi('plain héllo ✓'), 'plain héllo ✓');
  });

  test('a close reason with bidi controls reads in order in the preview', () => {
    assert.equal(framePreview(f({ opcode: 8, closeCode: 1000, closeReason: 'user\u202Egnp.exe\u202C admin' })), '1000 user⟨U+202E⟩gnp.exe⟨U+202C⟩ admin');
  });

  test('bytes, lengths and times', () => {
    assert.equal(formatBytes(1023), '1023 B');
    assert.equal(formatBytes(1536), '1.5 KB');
    assert.equal(lengthText(40, 123), '40 B → 123 B');
    assert.equal(lengthText(40), '40 B');
    assert.equal(formatRelative(2500, 1000), '+1.500 s');
  });

  test('flags', () => {
    assert.equal(frameFlags({ fin: true, rsv1: true, rsv2: false, rsv3: false, masked: true }), 'F1..M');
    assert.equal(frameFlagsLabel({ fin: false, rsv1: false, rsv2: false, rsv3: false, masked: false }), 'no flags');
  });

  test('previews are one line; close frames show code and reason', () => {
    assert.equal(oneLine('a\nb\tc\u0000'), 'a↵b⇥c·');
    // A lone CR would let a terminal overwrite what came before it: it shows as a symbol, not as nothing.
    assert.equal(oneLine('paid\rrefunded'), 'paid␍refunded');
    assert.equal(oneLine('line\r\nnext'), 'line↵next');
    assert.equal(framePreview(f({ preview: 'ok\r' })), 'ok␍');
    assert.equal(framePreview(f({ opcode: 8, closeCode: 1000, closeReason: 'bye' })), '1000 bye');
    assert.equal(framePreview(f({ preview: 'abc', previewTruncated: true })), 'abc…');
  });

  test('hex dump: offset, grouped hex, ascii', () => {
    const bytes = new Uint8Array(18);
    for (let i = 0; i < 18; i++) bytes[i] = 0x41 + i;
    bytes[1] = 0;
    const lines = hexDump(bytes);
    assert.equal(lines.length, 2);
    assert.equal(lines[0].offset, '00000000');
    assert.equal(lines[0].hex, '41 00 43 44 45 46 47 48  49 4a 4b 4c 4d 4e 4f 50');
    assert.equal(lines[0].ascii, 'A.CDEFGHIJKLMNOP');
    assert.equal(lines[1].offset, '00000010');
    assert.equal(lines[1].ascii, 'QR');
  });

  test('hex and base64 parsing', () => {
    assert.deepEqual([...parseHex('0x01 ff:10')], [1, 255, 16]);
    assert.throws(() => parseHex('abc'), /even/);
    assert.throws(() => parseHex('zz'), /0-9/);
    assert.deepEqual([...parseBase64('aGVsbG8=')], [...Buffer.from('hello')]);
    assert.deepEqual([...parseBase64('-_8')], [...Buffer.from('+/8', 'base64')]);
    assert.throws(() => parseBase64('a'), /base64/);
  });

  test('json, regex, utf8', () => {
    assert.equal(prettyJson('{"a":1}'), '{\n  "a": 1\n}');
    assert.equal(prettyJson('42'), undefined);
    assert.equal(prettyJson('{oops'), undefined);
    assert.equal(regexError('a+'), undefined);
    assert.equal(regexError('/a+/i'), undefined);
    assert.match(regexError('(')!, /Invalid|Unterminated/);
    assert.equal(tryDecodeText(new Uint8Array([0xff])), undefined);
    assert.equal(tryDecodeText(new Uint8Array([0x68, 0x69])), 'hi');
  });
});

describe('composer', () => {
  test('modes validate before sending', () => {
    assert.deepEqual(compose('text', 'hi'), { ok: true, payload: { kind: 'text', text: 'hi' } });
    const bad = compose('json', '{a}');
    assert.equal(bad.ok, false);
    assert.match((bad as { error: string }).error, /Invalid JSON/);
    assert.equal(compose('json', '').ok, false);
    assert.deepEqual(compose('json', '{"a":1}'), { ok: true, payload: { kind: 'text', text: '{"a":1}' } });
    const hex = compose('hex', '01 02');
    assert.ok(hex.ok && hex.payload.kind === 'binary' && hex.payload.data.length === 2);
    assert.equal(compose('base64', '!!').ok, false);
  });

  test('history recall walks back and forth, dedupes, and caps', () => {
    const h = new ComposerHistory([], 3);
    h.push({ mode: 'text', text: 'a' });
    h.push({ mode: 'text', text: 'b' });
    h.push({ mode: 'text', text: 'a' });
    assert.deepEqual(h.list.map((e) => e.text), ['b', 'a']);
    assert.equal(h.older()?.text, 'a');
    assert.equal(h.older()?.text, 'b');
    assert.equal(h.older()?.text, 'b', 'stays at the oldest');
    assert.equal(h.newer()?.text, 'a');
    assert.equal(h.newer(), undefined);
    h.push({ mode: 'text', text: 'c' });
    h.push({ mode: 'text', text: 'd' });
    assert.deepEqual(h.list.map((e) => e.text), ['a', 'c', 'd']);
  });
});

describe('closed connection rows', () => {
  const closed = (o: Partial<ConnectionEventDto>): ConnectionEventDto => ({
    kind: 'connection', id: 9, connectionId: 'c', time: 0, state: 'closed', role: 'server', ...o,
  });

  test('the server closed with 1002, the client answered 1000 bye: the row names each side’s frame', () => {
    const e = closed({ code: 1000, reason: 'bye', clean: true, closeFrames: { sent: { code: 1002, reason: '' }, received: { code: 1000, reason: 'bye' } } });
    assert.equal(closedPreview(e), 'clean — client sent 1000 bye · server sent 1002');
    // The same wire seen from the client's end: sent and received swap, the sides do not.
    const fromClient = closed({ role: 'client', clean: true, closeFrames: { sent: { code: 1000, reason: 'bye' }, received: { code: 1002, reason: '' } } });
    assert.equal(closedPreview(fromClient), 'clean — client sent 1000 bye · server sent 1002');
    assert.deepEqual(closeFramesBySide(fromClient), [
      { side: 'client', frame: { code: 1000, reason: 'bye' } },
      { side: 'server', frame: { code: 1002, reason: '' } },
    ]);
  });

  test('a clean 1000 close, one side only, an abrupt reset, and an event not from the wire', () => {
    const both = { code: 1000, reason: '' };
    assert.equal(closedPreview(closed({ clean: true, code: 1000, closeFrames: { sent: both, received: both } })), 'clean — client sent 1000 · server sent 1000');
    assert.equal(closedPreview(closed({ clean: false, code: 1001, closeFrames: { sent: { code: 1001, reason: 'going away' } } })), 'not clean — no close frame from the client · server sent 1001 going away');
    assert.equal(closedPreview(closed({ clean: false, closeFrames: {} })), 'not clean — no close frames');
    assert.equal(closedPreview(closed({ clean: true, reason: 'stopped' })), 'clean — stopped');
    assert.equal(closeFramesBySide(closed({ clean: true })), undefined);
  });

  test('a close frame written and never sent: the row says it never left, the detail whose close is missing', () => {
    // The server wrote 1000 bye behind a backlog the client never read, and the client reset: neither crossed.
    const e = closed({ clean: false, missingClose: 'both', closeFrames: { sent: { code: 1000, reason: 'bye', unsent: true } } });
    assert.equal(closedPreview(e), "not clean — no close frame from the client · server's close frame (1000 bye) never left");
    assert.equal(missingCloseText(e), "client's and server's (written, never left)");
    // The client's close crossed, the server's answer did not leave.
    const answered = closed({ clean: false, code: 1000, missingClose: 'sent', closeFrames: { sent: { code: 1000, reason: '', unsent: true }, received: { code: 1000, reason: '' } } });
    assert.equal(closedPreview(answered), "not clean — client sent 1000 · server's close frame (1000) never left");
    assert.equal(missingCloseText(answered), "server's (written, never left)");
    // Seen from a client whose peer went away without a close frame.
    const client = closed({ role: 'client', clean: false, missingClose: 'received', closeFrames: { sent: { code: 1000, reason: '' } } });
    assert.equal(closedPreview(client), 'not clean — client sent 1000 · no close frame from the server');
    assert.equal(missingCloseText(client), "server's");
    assert.equal(missingCloseText(closed({ clean: true })), undefined);
    assert.equal(closeFrameFate('server', undefined), 'no close frame from the server');
  });

  test('a reason is one line, its controls visible', () => {
    assert.equal(closeFrameText({ code: 4000, reason: 'a\nb\u202E' }), '4000 a↵b⟨U+202E⟩');
  });
});
