// What the panel says of a frame or message written to connections it never left for (FrameDto.unsentTo), and of a
// closed connection's unsent bytes. Pure logic, no DOM.
import type { ConnectionEventDto, FrameDto, MessageDto } from '../src/shared/protocol';
import { formatBytes, formatCount, oneLine } from './format';

const WHY = 'closed before these bytes left (reset by the peer or destroyed)';
/** The tooltip of a row that never left for its connection. */
export const NEVER_SENT_TITLE = `Never sent: the connection ${WHY}`;
/** Labels named in a tooltip or the detail before the rest are counted. */
const MAX_NAMED = 3;

/** A row's unsent marking. */
export interface UnsentMark {
  /** Greyed: it never left for the connection in view, or, with all in view, for any it was written to. */
  greyed: boolean;
  /** Goes before the preview: `not sent · ` or, for a broadcast some got, `not sent to 1 of 3 · `. */
  mark: string;
  title: string;
}

type Unsent = Pick<FrameDto | MessageDto, 'unsentTo' | 'alsoSentToCount'>;

/** `picked`: the connection (or proxied group) the view shows, undefined for all. `label` names a connection. */
export function unsentMark(e: Unsent, picked: string | undefined, label: (id: string) => string): UnsentMark | undefined {
  const missed = e.unsentTo;
  if (missed === undefined || missed.length === 0) return undefined;
  const of = 1 + (e.alsoSentToCount ?? 0);
  const greyed = picked === undefined ? missed.length >= of : missed.some((id) => id === picked || id.startsWith(`${picked}/`));
  if (of === 1) return { greyed, mark: 'not sent · ', title: NEVER_SENT_TITLE };
  const title = `Never sent to ${named(missed, label)}, ${missed.length} of the ${of} connections this broadcast was written to: ${missed.length === 1 ? 'it' : 'they'} ${WHY}`;
  return { greyed, mark: greyed ? 'not sent · ' : `not sent to ${missed.length} of ${of} · `, title };
}

/** The row classes of a marking: greyed, or a broadcast some connections did not get. */
export function unsentClass(u: UnsentMark | undefined): string {
  return u === undefined ? '' : u.greyed ? ' k-unsent' : ' k-unsent-partial';
}

/** The detail's summary word: `not sent`, or for a broadcast `not sent to 1 of 3`; undefined when it left for all. */
export function unsentShort(e: Unsent): string | undefined {
  const n = e.unsentTo?.length ?? 0;
  const of = 1 + (e.alsoSentToCount ?? 0);
  return n === 0 ? undefined : of === 1 ? 'not sent' : `not sent to ${n} of ${of}`;
}

/** The detail pane's line for a frame or message that never left for some connection, or undefined. */
export function unsentDetail(e: Unsent, label: (id: string) => string): string | undefined {
  const missed = e.unsentTo;
  if (missed === undefined || missed.length === 0) return undefined;
  const of = 1 + (e.alsoSentToCount ?? 0);
  const to = of === 1 ? named(missed, label) : `${missed.length} of ${of} connections (${named(missed, label)})`;
  return `to ${to}: the connection${missed.length === 1 ? '' : 's'} ${WHY}`;
}

/** `a, b, c and 2 more`, each label on one line. */
function named(ids: readonly string[], label: (id: string) => string): string {
  const names = ids.slice(0, MAX_NAMED).map((id) => oneLine(label(id)));
  const rest = ids.length - names.length;
  if (rest > 0) return `${names.join(', ')} and ${rest} more`;
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}` : names[0];
}

/** `1,234 bytes` with the short form after it from 1 KB up: `4,194,304 bytes (4.0 MB)`. */
export function exactBytes(n: number): string {
  return n < 1024 ? `${formatCount(n)} bytes` : `${formatCount(n)} bytes (${formatBytes(n)})`;
}

/** A closed connection's unsent record as the detail shows it: `4,194,304 bytes (4.0 MB), 17 frames`, or undefined. */
export function unsentSummary(e: ConnectionEventDto): string | undefined {
  const u = e.unsent;
  if (u === undefined) return undefined;
  const k = u.frameIds.length;
  return `${exactBytes(u.bytes)}, ${formatCount(k)} frame${k === 1 ? '' : 's'}`;
}
