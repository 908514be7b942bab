// What a broadcast server publishes on the Redis channel, and how a message read off the channel is checked.
//
// Envelope formats
// ----------------
// `json` (the default). Each Redis message is one UTF-8 JSON object:
//
//     {"v":1,"server":"<id>","type":"text"|"binary","data":"<text or base64>"}
//
//   - `v`      number, required: the format version, always 1. Another value is refused (ERR_ENVELOPE_VERSION),
//              so an older server reports a newer format instead of misreading it.
//   - `server` string, required, non-empty: the id of the server that published the message. A server skips the
//              messages carrying its own id (Redis also delivers a subscriber's own publishes), so ids must be
//              unique among the servers on one channel (the default is random).
//   - `type`   `"text"` or `"binary"`, required: the WebSocket message type the clients get.
//   - `data`   string, required: for `text`, the message itself; for `binary`, its bytes in standard base64
//              (RFC 4648 §4, `+` and `/`, padded with `=`).
//   Writers put the keys in this order and add nothing else; readers ignore any other key.
//   Example: `{"v":1,"server":"9f2c4e1a7b30","type":"text","data":"hello"}`,
//            `{"v":1,"server":"9f2c4e1a7b30","type":"binary","data":"AAH/"}` (bytes 00 01 ff).
//
// `bare`. Each Redis message is the WebSocket payload itself, with nothing around it, so the server can join a
//   channel that an existing application publishes to. Redis messages carry no type: a message that is valid UTF-8
//   is delivered as text, any other as binary (so a binary message whose bytes happen to be valid UTF-8 arrives as
//   text). Nor do they carry a sender: a server recognizes its own messages by remembering what it published, in
//   order (see `RedisBackplane`).
import { isUtf8 } from 'node:buffer';

export type EnvelopeFormat = 'json' | 'bare';

export const ENVELOPE_FORMATS: readonly EnvelopeFormat[] = ['json', 'bare'];

/** The current `v` of a JSON envelope. */
export const ENVELOPE_VERSION = 1;

/** A message as the servers exchange it. */
export interface BackplaneMessage {
  /** The publishing server's id; always set for `json`, never for `bare`. */
  server?: string;
  data: Buffer;
  isBinary: boolean;
}

/**
 * Stable codes of a message that cannot be read as an envelope:
 * - `ERR_ENVELOPE_NOT_UTF8`: a `json` envelope that is not valid UTF-8;
 * - `ERR_ENVELOPE_JSON`: not JSON;
 * - `ERR_ENVELOPE_SHAPE`: JSON, but not an object with `server` (non-empty string) and `data` (string);
 * - `ERR_ENVELOPE_VERSION`: `v` missing or not 1;
 * - `ERR_ENVELOPE_TYPE`: `type` neither `"text"` nor `"binary"`;
 * - `ERR_ENVELOPE_BASE64`: a `binary` envelope whose `data` is not padded standard base64;
 * - `ERR_ENVELOPE_TOO_LARGE`: longer than the reader accepts (reported by `RedisBackplane`, not by the decoder).
 */
export type EnvelopeErrorCode =
  | 'ERR_ENVELOPE_NOT_UTF8'
  | 'ERR_ENVELOPE_JSON'
  | 'ERR_ENVELOPE_SHAPE'
  | 'ERR_ENVELOPE_VERSION'
  | 'ERR_ENVELOPE_TYPE'
  | 'ERR_ENVELOPE_BASE64'
  | 'ERR_ENVELOPE_TOO_LARGE';

export type DecodeResult = { ok: true; message: BackplaneMessage } | { ok: false; code: EnvelopeErrorCode; message: string };

/**
 * The bytes to publish for `message`. `json` needs `message.server`; a text message's data must be UTF-8 (what ws
 * accepts and what `sendToAll` makes of a string). Throws a TypeError for a `json` message without a server id.
 */
export function encodeEnvelope(format: EnvelopeFormat, message: BackplaneMessage): Buffer {
  if (format === 'bare') return message.data;
  if (typeof message.server !== 'string' || message.server === '') throw new TypeError('a json envelope needs the server id');
  return Buffer.from(
    JSON.stringify({
      v: ENVELOPE_VERSION,
      server: message.server,
      type: message.isBinary ? 'binary' : 'text',
      data: message.isBinary ? message.data.toString('base64') : message.data.toString('utf8'),
    }),
  );
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Reads one Redis message. Never throws: bad input gives `{ ok: false, code, message }`. */
export function decodeEnvelope(format: EnvelopeFormat, raw: Buffer): DecodeResult {
  if (format === 'bare') return { ok: true, message: { data: raw, isBinary: !isUtf8(raw) } };
  if (!isUtf8(raw)) return fail('ERR_ENVELOPE_NOT_UTF8', `not valid UTF-8 (${raw.length} bytes), so not a JSON envelope`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    return fail('ERR_ENVELOPE_JSON', `not JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return fail('ERR_ENVELOPE_SHAPE', `expected a JSON object, got ${Array.isArray(parsed) ? 'an array' : typeof parsed === 'object' ? 'null' : typeof parsed}`);
  }
  const e = parsed as Record<string, unknown>;
  if (e.v !== ENVELOPE_VERSION) return fail('ERR_ENVELOPE_VERSION', `unsupported envelope version ${describe(e.v)}; this server reads version 1`);
  if (typeof e.server !== 'string' || e.server === '') return fail('ERR_ENVELOPE_SHAPE', `"server" must be a non-empty string, got ${describe(e.server)}`);
  if (e.type !== 'text' && e.type !== 'binary') return fail('ERR_ENVELOPE_TYPE', `"type" must be "text" or "binary", got ${describe(e.type)}`);
  if (typeof e.data !== 'string') return fail('ERR_ENVELOPE_SHAPE', `"data" must be a string, got ${describe(e.data)}`);
  if (e.type === 'text') return { ok: true, message: { server: e.server, data: Buffer.from(e.data, 'utf8'), isBinary: false } };
  if (!BASE64.test(e.data)) return fail('ERR_ENVELOPE_BASE64', '"data" of a binary envelope must be padded standard base64');
  return { ok: true, message: { server: e.server, data: Buffer.from(e.data, 'base64'), isBinary: true } };
}

function fail(code: EnvelopeErrorCode, message: string): DecodeResult {
  return { ok: false, code, message };
}

/** A short, bounded description of an unexpected JSON value for an error message. */
function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
