// Reads the product's NDJSON export (sessionExport.ts, eventToJsonLine: one capture event per line, buffers as
// `{ base64 }`) back into capture events, a line at a time: only the current chunk and line are in memory.
import type { CaptureEvent, CaptureSink, NewCaptureEvent } from '../capture/events';
import { IdMap } from './idMap';
import { Problems, type SessionReadResult, sessionError } from './sessionErrors';
import { CountingSink, type ReadOptions, type SessionSource, readChunks, readResult } from './sessionSource';

export interface NdjsonReadOptions extends ReadOptions {
  /**
   * The longest line read, in bytes. A longer one is skipped with a `SESSION_ERR_TOO_LARGE` warning. Default 256 MiB:
   * a frame at the capture's 100 MiB payload limit is about 134 MiB of base64.
   */
  maxLineBytes?: number;
}

const DEFAULTS = { maxLineBytes: 256 * 1024 * 1024 };
const LF = 0x0a;
const DIRECTIONS = new Set(['c2s', 's2c']);

/**
 * Appends the events of an NDJSON export to `sink`, in file order. The sink gives new ids: a message's `frameIds`
 * and a closed connection's `unsent` ids are renumbered to match (ids the file does not hold are left out), and a
 * frame's `messageId` is left to the sink, which gives it from its message. Everything else is as exported.
 *
 * A first line that is no capture event is `SESSION_ERR_FORMAT` (nothing is read); a later bad line is skipped with
 * a warning; a last line cut short is `SESSION_ERR_TRUNCATED`; a file without events is `SESSION_ERR_NO_WEBSOCKETS`.
 */
export async function readNdjson(source: SessionSource, sink: CaptureSink, options: NdjsonReadOptions = {}): Promise<SessionReadResult> {
  const o = { ...DEFAULTS, ...options };
  const problems = new Problems();
  const counting = new CountingSink(sink);
  const lines = new NdjsonLines(counting, problems, o.maxLineBytes);
  const { bytesRead, complete } = await readChunks(source, o, problems, (chunk, at) => lines.push(chunk, at));
  if (complete) lines.end(bytesRead);
  return readResult('ndjson', counting, bytesRead, problems);
}

/** Splits chunks into lines and appends the event of each. */
class NdjsonLines {
  /** 1-based number of the line being read. */
  private line = 1;
  /** The current line's bytes from earlier chunks. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Offset of the current line's first byte. */
  private lineStart = 0;
  /** Inside a line over maxLineBytes: its bytes are dropped until its end. */
  private skipping = false;
  private events = 0;
  private readonly ids = new IdMap();

  constructor(
    private readonly sink: CountingSink,
    private readonly problems: Problems,
    private readonly maxLineBytes: number,
  ) {}

  push(chunk: Buffer, at: number): boolean {
    let from = 0;
    for (;;) {
      const lf = chunk.indexOf(LF, from);
      if (lf === -1) break;
      if (!this.takeLine(chunk, from, lf)) return false;
      from = lf + 1;
      this.line++;
      this.lineStart = at + from;
    }
    if (from < chunk.length) this.hold(chunk.subarray(from));
    this.sink.seal?.();
    return true;
  }

  /** The source has ended: a last line without its newline is read too. */
  end(bytesRead: number): void {
    if (this.pendingBytes > 0 || this.skipping) {
      const text = this.skipping ? undefined : Buffer.concat(this.pending, this.pendingBytes).toString('utf8');
      this.pending = [];
      this.pendingBytes = 0;
      if (text !== undefined) this.onLine(text, true);
    }
    this.sink.seal?.();
    if (this.events === 0 && this.problems.error === undefined) {
      this.problems.fail(sessionError('SESSION_ERR_NO_WEBSOCKETS', 'the file holds no capture events', { offset: bytesRead }));
    }
  }

  private hold(rest: Buffer): void {
    if (this.skipping) return;
    if (this.pendingBytes + rest.length > this.maxLineBytes) {
      this.tooLong();
      return;
    }
    this.pending.push(rest);
    this.pendingBytes += rest.length;
  }

  private tooLong(): void {
    this.skipping = true;
    this.pending = [];
    this.pendingBytes = 0;
    const msg = `line ${this.line} is longer than ${this.maxLineBytes} bytes (maxLineBytes): skipped`;
    this.problems.warn(sessionError('SESSION_ERR_TOO_LARGE', msg, { offset: this.lineStart, line: this.line }));
  }

  /** The line ending at `lf` in `chunk` (from `from`, after what is pending). */
  private takeLine(chunk: Buffer, from: number, lf: number): boolean {
    if (this.skipping) {
      this.skipping = false;
      return true;
    }
    if (this.pendingBytes + (lf - from) > this.maxLineBytes) {
      this.tooLong();
      this.skipping = false;
      return true;
    }
    let line = chunk;
    let start = from;
    let end = lf;
    if (this.pendingBytes > 0) {
      this.pending.push(chunk.subarray(from, lf));
      line = Buffer.concat(this.pending, this.pendingBytes + lf - from);
      start = 0;
      end = line.length;
      this.pending = [];
      this.pendingBytes = 0;
    }
    if (end > start && line[end - 1] === 0x0d) end--;
    return this.onLine(line.toString('utf8', start, end), false);
  }

  /** One line's text; `last` when the file ended without its newline. Returns false to stop reading. */
  private onLine(text: string, last: boolean): boolean {
    if (text.trim() === '') return true;
    let parsed: unknown;
    let problem: string | undefined;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      problem = (e as Error).message;
    }
    const ev = problem === undefined ? toEvent(parsed) : problem;
    if (typeof ev !== 'string') {
      this.append(ev);
      return true;
    }
    const where = { offset: this.lineStart, line: this.line };
    if (last && problem !== undefined) {
      this.problems.fail(sessionError('SESSION_ERR_TRUNCATED', `the file ends inside line ${this.line} (${ev})`, where));
      return false;
    }
    if (this.events === 0) {
      this.problems.fail(sessionError('SESSION_ERR_FORMAT', `not a WebSocket Inspector NDJSON export: line ${this.line}: ${ev}`, where));
      return false;
    }
    this.problems.warn(sessionError('SESSION_ERR_FORMAT', `line ${this.line} skipped: ${ev}`, where));
    return true;
  }

  private append(ev: CaptureEvent): void {
    const oldId = ev.id;
    if (ev.kind === 'frame') ev.messageId = undefined;
    else if (ev.kind === 'message') ev.frameIds = this.ids.mapAll(ev.frameIds);
    else if (ev.kind === 'connection' && ev.unsent !== undefined) {
      ev.unsent = { ...ev.unsent, frameIds: this.ids.mapAll(ev.unsent.frameIds), messageIds: this.ids.mapAll(ev.unsent.messageIds) };
    }
    const newId = this.sink.append(ev as NewCaptureEvent);
    if (typeof oldId === 'number') this.ids.set(oldId, newId);
    this.events++;
  }
}

type Json = Record<string, unknown>;

/** A Buffer from the export's `{ base64 }`, or undefined when `v` is not one. */
function buffer(v: unknown): Buffer | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const b64 = (v as Json).base64;
  return typeof b64 === 'string' ? Buffer.from(b64, 'base64') : undefined;
}

const isIds = (v: unknown): v is number[] => Array.isArray(v) && v.every((x) => typeof x === 'number');

/**
 * The capture event a parsed line holds, its buffers revived, or why it is not one. Checks what a reader of the
 * event relies on: kind, connection, time, and each kind's bytes and fields.
 */
function toEvent(v: unknown): CaptureEvent | string {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  const e = v as Json;
  if (typeof e.connectionId !== 'string') return 'no connectionId';
  if (typeof e.time !== 'number' || !Number.isFinite(e.time)) return 'no time';
  switch (e.kind) {
    case 'frame': {
      const header = buffer(e.header);
      const payload = buffer(e.payload);
      if (header === undefined || payload === undefined) return 'a frame without its header and payload bytes';
      if (!DIRECTIONS.has(e.direction as string) || typeof e.opcode !== 'number') return 'a frame without direction or opcode';
      e.header = header;
      e.payload = payload;
      if (e.maskKey !== undefined) e.maskKey = buffer(e.maskKey);
      return e as unknown as CaptureEvent;
    }
    case 'message': {
      const data = buffer(e.data);
      if (data === undefined || !DIRECTIONS.has(e.direction as string) || !isIds(e.frameIds)) return 'a message without data, direction or frameIds';
      e.data = data;
      return e as unknown as CaptureEvent;
    }
    case 'handshake': {
      const r = e.request as Json | undefined;
      if (r === undefined || typeof r !== 'object' || typeof r.startLine !== 'string' || !Array.isArray(r.headers)) return 'a handshake without its request';
      if (e.body !== undefined) e.body = buffer(e.body);
      return e as unknown as CaptureEvent;
    }
    case 'error':
      return typeof e.code === 'string' && typeof e.message === 'string' ? (e as unknown as CaptureEvent) : 'an error without code or message';
    case 'connection': {
      if (e.state !== 'open' && e.state !== 'closed') return 'a connection event without state';
      const u = e.unsent as Json | undefined;
      if (u !== undefined && (!isIds(u.frameIds) || !isIds(u.messageIds))) return 'a connection event with a malformed unsent record';
      return e as unknown as CaptureEvent;
    }
    default:
      return `unknown kind ${JSON.stringify(e.kind)}`;
  }
}
