// A query over the capture history (see EventStore.query): its options, its result, and the predicate it compiles to.
import type { CaptureEvent, Direction, HttpHead } from './events';
import { eventHasConnection } from './events';

export interface EventQuery {
  /** Only ids greater than this. */
  afterId?: number;
  /** Only ids less than this. */
  beforeId?: number;
  /** Max events returned. Default 500, at most 10_000. */
  limit?: number;
  /**
   * Take the newest matching page of the range (for scrolling back from the live end) instead of the oldest.
   * Events are returned in ascending id order either way.
   */
  backward?: boolean;
  connectionId?: string | string[];
  /** Events without a direction (handshake, connection, most errors) never match. */
  direction?: Direction;
  kinds?: CaptureEvent['kind'][];
  /**
   * 'data' = opcodes 0, 1, 2; 'control' = 8, 9, 10; or an explicit list. Applies to frames and messages;
   * other kinds never match.
   */
  opcodes?: number[] | 'data' | 'control';
  /**
   * Case-insensitive substring over the event's text as UTF-8: frame payload, message data, handshake heads
   * and body, error code and message.
   */
  text?: string;
  /**
   * Over the same text. A string is compiled as a pattern, or as `/pattern/flags` when written so. An invalid
   * pattern throws a `TypeError` whose message can be shown as is.
   */
  regex?: string | RegExp;
}

export interface QueryResult {
  /** Ascending by id. Built for this call (see EventStore): mutating them changes nothing in the store. */
  events: CaptureEvent[];
  /** More matching events may lie in the range, past this page or past the scan budget. */
  hasMore: boolean;
  /**
   * Where to resume when `hasMore`: pass it as `afterId` (forward) or `beforeId` (backward). It is the last id
   * examined, which may be past the last event returned when the scan budget ran out.
   */
  resumeId: number;
}

const DATA_OPCODES = new Set([0, 1, 2]);
const CONTROL_OPCODES = new Set([8, 9, 10]);

type Filter = (e: CaptureEvent) => boolean;

/** Builds one predicate for the query, or undefined when it filters nothing. Throws TypeError for a bad regex. */
export function compileFilter(q: EventQuery): Filter | undefined {
  const tests: Filter[] = [];
  if (q.connectionId !== undefined) {
    if (typeof q.connectionId === 'string') {
      const c = q.connectionId;
      tests.push((e) => eventHasConnection(e, c));
    } else {
      const ids = q.connectionId;
      tests.push((e) => ids.some((c) => eventHasConnection(e, c)));
    }
  }
  if (q.kinds !== undefined) {
    const set = new Set(q.kinds);
    tests.push((e) => set.has(e.kind));
  }
  if (q.direction !== undefined) {
    const d = q.direction;
    tests.push((e) => 'direction' in e && e.direction === d);
  }
  if (q.opcodes !== undefined) {
    const set = q.opcodes === 'data' ? DATA_OPCODES : q.opcodes === 'control' ? CONTROL_OPCODES : new Set(q.opcodes);
    tests.push((e) => (e.kind === 'frame' || e.kind === 'message') && set.has(e.opcode));
  }
  const needle = q.text ? q.text.toLowerCase() : undefined;
  const re = q.regex !== undefined && q.regex !== '' ? compileRegex(q.regex) : undefined;
  if (needle !== undefined || re !== undefined) {
    // Decode once per event for both tests.
    tests.push((e) => {
      const s = eventText(e);
      if (s === undefined) return false;
      if (needle !== undefined && !s.toLowerCase().includes(needle)) return false;
      return re === undefined || re.test(s);
    });
  }
  if (tests.length === 0) return undefined;
  if (tests.length === 1) return tests[0];
  return (e) => {
    for (const t of tests) if (!t(e)) return false;
    return true;
  };
}

function compileRegex(r: string | RegExp): RegExp {
  // g and y make test() stateful across events.
  if (r instanceof RegExp) return new RegExp(r.source, r.flags.replace(/[gy]/g, ''));
  const literal = /^\/(.*)\/([a-z]*)$/s.exec(r);
  const [source, flags] = literal ? [literal[1], literal[2].replace(/[gy]/g, '')] : [r, ''];
  try {
    return new RegExp(source, flags);
  } catch (err) {
    throw new TypeError(`Invalid regular expression ${JSON.stringify(r)}: ${(err as Error).message}`);
  }
}

function eventText(e: CaptureEvent): string | undefined {
  switch (e.kind) {
    case 'frame':
      return e.payload.toString('utf8');
    case 'message':
      return e.data.toString('utf8');
    case 'handshake': {
      let s = headText(e.request.startLine, e.request.headers);
      if (e.response) s += '\n' + headText(e.response.startLine, e.response.headers);
      if (e.body) s += '\n' + e.body.toString('utf8');
      return s;
    }
    case 'error':
      return `${e.code} ${e.message}`;
    default:
      return undefined;
  }
}

function headText(startLine: string, headers: HttpHead['headers']): string {
  let s = startLine;
  for (const [k, v] of headers) s += `\n${k}: ${v}`;
  return s;
}
