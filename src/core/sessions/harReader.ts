// Reads a HAR (this product's export, or Chrome's "Save all as HAR") into capture events: each WebSocket entry's
// handshake, its connection, and a frame and message per `_webSocketMessages` item. The HAR is one JSON document; it
// is read as a stream (jsonPicker.ts) and only one entry's request and response and one message are parsed at a time.
import type { CaptureSink } from '../capture/events';
import { appendHarMessage, harHandshake, harMessage, type HarMessage } from './harEvents';
import { JsonPicker, type JsonPickerHandler, type PathItem, type Decision } from './jsonPicker';
import { Problems, type SessionReadResult, sessionError } from './sessionErrors';
import { CountingSink, type ReadOptions, type SessionSource, readChunks, readResult } from './sessionSource';

export interface HarReadOptions extends ReadOptions {
  /**
   * The longest JSON value parsed at once: an entry's request or response, or one WebSocket message. A longer one is
   * skipped with a `SESSION_ERR_TOO_LARGE` warning. Default 256 MiB.
   */
  maxValueBytes?: number;
  /** Connection ids for entries without this product's `_connectionId` (Chrome's): the prefix and the entry's index. Default 'har-'. */
  connectionIdPrefix?: string;
}

const DEFAULTS = { maxValueBytes: 256 * 1024 * 1024, connectionIdPrefix: 'har-' };

/** The entry fields read; the rest (cookies, timings' parts, initiators) is skipped unparsed. */
const ENTRY_FIELDS = new Set(['request', 'response', 'startedDateTime', 'time', '_resourceType', '_connectionId']);

type Json = Record<string, unknown>;

/**
 * Appends the WebSocket entries of a HAR to `sink`, in file order. Entries that are not WebSockets are skipped. A HAR
 * holds messages, not frames, and no close: each message becomes one unfragmented, uncompressed frame and its
 * message, and the connection stays open. Not a HAR: `SESSION_ERR_FORMAT`; no WebSocket entry:
 * `SESSION_ERR_NO_WEBSOCKETS`; cut short: `SESSION_ERR_TRUNCATED` (the entries before stay appended).
 */
export async function readHar(source: SessionSource, sink: CaptureSink, options: HarReadOptions = {}): Promise<SessionReadResult> {
  const o = { ...DEFAULTS, ...options };
  const problems = new Problems();
  const counting = new CountingSink(sink);
  const har = new HarHandler(counting, problems, o.connectionIdPrefix);
  const picker = new JsonPicker(har, o.maxValueBytes, (w) => problems.warn(w));
  const { bytesRead, complete } = await readChunks(source, o, problems, (chunk) => {
    const err = picker.push(chunk);
    if (err !== undefined) problems.fail(err);
    return err === undefined;
  });
  if (complete) {
    const err = picker.end();
    if (err !== undefined) problems.fail(err);
    else if (!har.sawEntries) problems.fail(sessionError('SESSION_ERR_FORMAT', 'not a HAR: the JSON document has no log.entries', { offset: bytesRead }));
  }
  if (har.sawEntries && har.webSockets === 0 && problems.error === undefined) {
    const n = har.entries;
    problems.fail(sessionError('SESSION_ERR_NO_WEBSOCKETS', `the HAR has ${n} entr${n === 1 ? 'y' : 'ies'}, none of them a WebSocket`));
  }
  counting.seal?.();
  return readResult('har', counting, bytesRead, problems);
}

/** One entry as it is read: its fields so far, and its messages until its handshake could be appended. */
interface EntryState {
  index: number;
  fields: Json;
  connectionId: string | undefined;
  held: HarMessage[];
  hasMessages: boolean;
}

class HarHandler implements JsonPickerHandler {
  sawEntries = false;
  entries = 0;
  webSockets = 0;
  private entry: EntryState | undefined;
  private readonly usedIds = new Set<string>();

  constructor(
    private readonly sink: CountingSink,
    private readonly problems: Problems,
    private readonly prefix: string,
  ) {}

  decide(path: readonly PathItem[]): Decision {
    const n = path.length;
    if (n <= 1) return n === 0 || path[0] === 'log' ? 'walk' : 'skip';
    if (path[0] !== 'log') return 'skip';
    if (n === 2) return path[1] === 'entries' ? 'walk' : 'skip';
    if (path[1] !== 'entries') return 'skip';
    if (n === 3) return 'walk';
    const key = path[3];
    if (n === 4) return key === '_webSocketMessages' ? 'walk' : ENTRY_FIELDS.has(key as string) ? 'pick' : 'skip';
    return n === 5 && key === '_webSocketMessages' ? 'pick' : 'skip';
  }

  onEnter(path: readonly PathItem[]): void {
    if (path.length === 2 && path[1] === 'entries') this.sawEntries = true;
    if (path.length === 3 && path[1] === 'entries') {
      this.entries++;
      this.entry = { index: path[2] as number, fields: {}, connectionId: undefined, held: [], hasMessages: false };
    }
  }

  onLeave(path: readonly PathItem[]): void {
    const e = this.entry;
    if (path.length !== 3 || e === undefined) return;
    this.entry = undefined;
    const f = e.fields;
    const status = typeof f.response === 'object' && f.response !== null ? (f.response as Json).status : undefined;
    if (!e.hasMessages && f._resourceType !== 'websocket' && status !== 101) return;
    if (e.connectionId === undefined) this.open(e);
    for (const m of e.held) appendHarMessage(this.sink, e.connectionId!, m);
    e.held = [];
  }

  onValue(path: readonly PathItem[], value: unknown): void {
    const e = this.entry;
    if (e === undefined || path.length < 4) return;
    if (path.length === 4) {
      e.fields[path[3] as string] = value;
      return;
    }
    e.hasMessages = true;
    const m = harMessage(value);
    if (typeof m === 'string') {
      this.problems.warn(sessionError('SESSION_ERR_FORMAT', `entry ${e.index}, message ${String(path[4])} skipped: ${m}`));
      return;
    }
    // The handshake goes first; an entry whose messages come before its request holds them until its end.
    if (e.connectionId === undefined && e.fields.request !== undefined) this.open(e);
    if (e.connectionId === undefined) e.held.push(m);
    else appendHarMessage(this.sink, e.connectionId, m);
  }

  /** Appends the entry's handshake and, for an upgrade, its connection. */
  private open(e: EntryState): void {
    this.webSockets++;
    const f = e.fields;
    const own = typeof f._connectionId === 'string' && f._connectionId !== '' && !this.usedIds.has(f._connectionId) ? f._connectionId : undefined;
    let id = own ?? `${this.prefix}${e.index}`;
    for (let k = 2; this.usedIds.has(id); k++) id = `${this.prefix}${e.index}-${k}`;
    this.usedIds.add(id);
    e.connectionId = id;
    const started = typeof f.startedDateTime === 'string' ? Date.parse(f.startedDateTime) : NaN;
    const time = Number.isFinite(started) ? started : (e.held[0]?.time ?? 0);
    if (!Number.isFinite(started)) {
      this.problems.warn(sessionError('SESSION_ERR_FORMAT', `entry ${e.index} has no startedDateTime: its handshake takes its first message's time`));
    }
    const hs = harHandshake(f, id, time);
    if (hs !== undefined) this.sink.append(hs);
    else this.problems.warn(sessionError('SESSION_ERR_FORMAT', `entry ${e.index} has no request: its messages are read without a handshake`));
    if (hs !== undefined && hs.status !== 101 && !e.hasMessages) return;
    const meta: Record<string, string> = { source: 'har' };
    if (hs !== undefined && typeof (f.request as Json).url === 'string') meta.url = (f.request as Json).url as string;
    this.sink.append({ kind: 'connection', connectionId: id, time, state: 'open', role: 'client', meta });
  }
}
