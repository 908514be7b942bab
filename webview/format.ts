// Pure formatting and parsing for the webview (no DOM), so node tests can cover it.
import { formatHexBytes, parseHexBytes } from '../src/shared/hex';
import { type CloseFrameDto, type ConnectionEventDto, type FrameDto, type MessageDto } from '../src/shared/protocol';
import { oneLine } from '../src/shared/visibleText';

// The markers of VS Code's own UI (notifications, tree, status bar) in the panel too: one definition of each.
export { oneLine, revealBidi } from '../src/shared/visibleText';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 * 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  return `${(n / (1024 * 1024 * 1024)).toFixed(2)} GB`;
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}

/** `HH:MM:SS.mmm` local time. */
export function formatAbsolute(t: number): string {
  const d = new Date(t);
  const p = (x: number, w = 2) => String(x).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** `+1.234 s` after `base`. */
export function formatRelative(t: number, base: number): string {
  const ms = t - base;
  const sign = ms < 0 ? '-' : '+';
  return `${sign}${(Math.abs(ms) / 1000).toFixed(3)} s`;
}

/** FIN, RSV1-3 and MASK as a fixed-width flag string: `F 1 . . M` style (a dot for a clear bit). */
export function frameFlags(f: Pick<FrameDto, 'fin' | 'rsv1' | 'rsv2' | 'rsv3' | 'masked'>): string {
  return [f.fin ? 'F' : '.', f.rsv1 ? '1' : '.', f.rsv2 ? '2' : '.', f.rsv3 ? '3' : '.', f.masked ? 'M' : '.'].join('');
}

/** Spoken form of the flags for screen readers. */
export function frameFlagsLabel(f: Pick<FrameDto, 'fin' | 'rsv1' | 'rsv2' | 'rsv3' | 'masked'>): string {
  const on: string[] = [];
  if (f.fin) on.push('FIN');
  if (f.rsv1) on.push('RSV1');
  if (f.rsv2) on.push('RSV2');
  if (f.rsv3) on.push('RSV3');
  if (f.masked) on.push('masked');
  return on.length ? on.join(', ') : 'no flags';
}

/** `123 B` or, for compressed data, `40 B → 123 B` (wire → inflated). */
export function lengthText(wire: number, inflated?: number): string {
  return inflated !== undefined && inflated !== wire ? `${formatBytes(wire)} → ${formatBytes(inflated)}` : formatBytes(wire);
}

export function frameLength(f: FrameDto, msg?: MessageDto): string {
  return lengthText(f.payloadLength, msg?.compressed ? msg.inflatedLength ?? msg.length : undefined);
}

export function messageLength(m: MessageDto): string {
  return lengthText(m.wireLength, m.compressed ? m.inflatedLength ?? m.length : m.length === m.wireLength ? undefined : m.length);
}

/** What a frame read after a protocol violation says before its preview (see FrameDto.afterViolation). */
export const AFTER_VIOLATION_MARK = '⚠ after violation · ';
export const AFTER_VIOLATION_TITLE = 'Read after a protocol violation on this direction: recorded as framed, not assembled into messages';

export function framePreview(f: FrameDto, msg?: MessageDto): string {
  if (f.opcode === 8) {
    const code = f.closeCode !== undefined ? String(f.closeCode) : 'no code';
    return f.closeReason ? `${code} ${oneLine(f.closeReason)}` : code;
  }
  // A single compressed frame: show the inflated text of its message instead of deflate bytes.
  if (msg && f.rsv1 && msg.frameIds.length === 1) return oneLine(msg.preview) + (msg.previewTruncated ? '…' : '');
  return oneLine(f.preview) + (f.previewTruncated ? '…' : '');
}

/** A close frame as the table shows one: `1000 bye`. */
export function closeFrameText(f: CloseFrameDto): string {
  return f.reason ? `${f.code} ${oneLine(f.reason)}` : String(f.code);
}

/**
 * The close frame each side of a closed connection sent, client first, as the capture saw them on the wire (undefined
 * for a side that sent none); undefined when the event does not say (not from a capture of the wire).
 */
export function closeFramesBySide(
  e: ConnectionEventDto,
): Array<{ side: 'client' | 'server'; frame: CloseFrameDto | undefined }> | undefined {
  const f = e.closeFrames;
  if (f === undefined) return undefined;
  return [
    { side: 'client', frame: e.role === 'client' ? f.sent : f.received },
    { side: 'server', frame: e.role === 'server' ? f.sent : f.received },
  ];
}

/** What became of one side's close frame: `client sent 1000 bye`, `server's close frame (1000 bye) never left`, `no close frame from the client`. */
export function closeFrameFate(side: 'client' | 'server', frame: CloseFrameDto | undefined): string {
  if (frame === undefined) return `no close frame from the ${side}`;
  return frame.unsent ? `${side}'s close frame (${closeFrameText(frame)}) never left` : `${side} sent ${closeFrameText(frame)}`;
}

/** A closed connection's row: `not clean — client sent 1000 bye · server sent 1002`. */
export function closedPreview(e: ConnectionEventDto): string {
  const head = e.clean ? 'clean' : 'not clean';
  const sides = closeFramesBySide(e);
  if (sides === undefined) return `${head}${e.reason ? ` — ${oneLine(e.reason)}` : ''}`;
  if (sides.every((s) => s.frame === undefined)) return `${head} — no close frames`;
  return `${head} — ${sides.map((s) => closeFrameFate(s.side, s.frame)).join(' · ')}`;
}

/** Whose close frame did not cross (see ConnectionEventDto.missingClose): `client's`, `server's (written, never left)`. */
export function missingCloseText(e: ConnectionEventDto): string | undefined {
  if (e.missingClose === undefined) return undefined;
  const peer = e.role === 'server' ? 'client' : 'server';
  const own = `${e.role}'s${e.closeFrames?.sent?.unsent ? ' (written, never left)' : ''}`;
  if (e.missingClose === 'sent') return own;
  if (e.missingClose === 'received') return `${peer}'s`;
  return e.role === 'server' ? `${peer}'s and ${own}` : `${own} and ${peer}'s`;
}

// --- hex dump --------------------------------------------------------------------------------------------------

export interface HexLine {
  offset: string;
  hex: string;
  ascii: string;
}

/** 16 bytes a line: offset, hex (grouped 8+8), printable ASCII with dots. */
export function hexDump(bytes: Uint8Array, maxBytes = bytes.length): HexLine[] {
  const n = Math.min(bytes.length, maxBytes);
  const lines: HexLine[] = [];
  for (let off = 0; off < n; off += 16) {
    let hex = '';
    let ascii = '';
    for (let i = 0; i < 16; i++) {
      if (i === 8) hex += ' ';
      if (off + i < n) {
        const b = bytes[off + i];
        hex += b.toString(16).padStart(2, '0') + ' ';
        ascii += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
      } else {
        hex += '   ';
      }
    }
    lines.push({ offset: off.toString(16).padStart(8, '0'), hex: hex.trimEnd(), ascii });
  }
  return lines;
}

export function toHex(bytes: Uint8Array): string {
  return formatHexBytes(bytes, Infinity);
}

// --- payload parsing for the composer --------------------------------------------------------------------------

/** Hex with optional spaces, colons or `0x` prefixes. Throws an Error fit to show. */
export function parseHex(s: string): Uint8Array {
  const clean = s.replace(/0x/gi, '').replace(/[\s:,-]/g, '');
  if (clean.length % 2 !== 0) throw new Error('Hex needs an even number of digits.');
  const bytes = parseHexBytes(clean);
  if (!(bytes instanceof Uint8Array)) throw new Error('Hex may hold only 0-9 and a-f.');
  return bytes;
}

/** Standard or URL-safe base64, padding optional. Throws an Error fit to show. */
export function parseBase64(s: string): Uint8Array {
  const clean = s.replace(/\s/g, '').replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
  if (!/^[A-Za-z0-9+/]*$/.test(clean) || clean.length % 4 === 1) throw new Error('Not valid base64.');
  return Uint8Array.from(atob(clean), (c) => c.charCodeAt(0));
}

/** Pretty JSON when the text is a JSON object or array, else undefined. */
export function prettyJson(text: string): string | undefined {
  const t = text.trimStart();
  if (!t.startsWith('{') && !t.startsWith('[')) return undefined;
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return undefined;
  }
}

/** The message a regex search would fail with, or undefined when it compiles (`/p/flags` or a bare pattern). */
export function regexError(search: string): string | undefined {
  const literal = /^\/(.*)\/([a-z]*)$/s.exec(search);
  try {
    if (literal) new RegExp(literal[1], literal[2].replace(/[gy]/g, ''));
    else new RegExp(search);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

const utf8 = new TextDecoder('utf-8');
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeText(bytes: Uint8Array): string {
  return utf8.decode(bytes);
}

/** Text when the bytes are valid UTF-8, else undefined. */
export function tryDecodeText(bytes: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}
