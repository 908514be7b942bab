// The time column's one base: time since the session started, since a connection's handshake began, or clock time.
import type { EventDto } from '../src/shared/protocol';
import { formatAbsolute } from './format';

/** `auto`: since the session under All connections, since the connection's handshake when one is selected. */
export type TimeMode = 'auto' | 'session' | 'connection' | 'absolute';

export const TIME_MODES: Array<{ value: TimeMode; label: string }> = [
  { value: 'auto', label: 'Time: automatic' },
  { value: 'session', label: 'Since session start' },
  { value: 'connection', label: "Since connection's handshake" },
  { value: 'absolute', label: 'Clock time' },
];

/** A saved mode from before the three modes (`relative`) or unknown: the default. */
export function toTimeMode(saved: unknown): TimeMode {
  return TIME_MODES.some((m) => m.value === saved) ? (saved as TimeMode) : 'auto';
}

/** The mode in effect: `auto` becomes session or connection by whether one connection is picked. */
export function effectiveMode(mode: TimeMode, picked: string | undefined): Exclude<TimeMode, 'auto'> {
  if (mode !== 'auto') return mode;
  return picked === undefined ? 'session' : 'connection';
}

/** `+1.234 s` after the base, never negative (an event stamped a moment before its base shows as +0.000 s). */
export function formatElapsed(t: number, base: number): string {
  return `+${(Math.max(0, t - base) / 1000).toFixed(3)} s`;
}

/**
 * The bases, learnt from every event the view is given (live or paged): the earliest time of all (the session's
 * start) and each connection's earliest (its handshake's start, which comes before its connect). Events stamped in
 * id order then show times that never go backwards down the list in any mode.
 */
export class TimeBase {
  private start: number | undefined;
  private readonly byConnection = new Map<string, number>();

  note(e: EventDto): void {
    if (this.start === undefined || e.time < this.start) this.start = e.time;
    const c = this.byConnection.get(e.connectionId);
    if (c === undefined || e.time < c) this.byConnection.set(e.connectionId, e.time);
  }

  /** The time column's text for an event; `connectedAt`: the connection's own start, when the view knows it. */
  text(e: EventDto, mode: TimeMode, picked: string | undefined, connectedAt?: number): string {
    const m = effectiveMode(mode, picked);
    if (m === 'absolute') return formatAbsolute(e.time);
    if (m === 'session') return formatElapsed(e.time, this.start ?? e.time);
    const seen = this.byConnection.get(e.connectionId);
    const base = Math.min(seen ?? e.time, connectedAt ?? Infinity);
    return formatElapsed(e.time, base);
  }

  /** The heading's tooltip: what the times count from. */
  tooltip(mode: TimeMode, picked: string | undefined): string {
    const m = effectiveMode(mode, picked);
    if (m === 'absolute') return 'Clock time of each event';
    return m === 'session' ? 'Time since the session started (its first event)' : "Time since the connection's handshake began";
  }

  /** The column's heading for the mode in effect. */
  heading(mode: TimeMode, picked: string | undefined): string {
    const m = effectiveMode(mode, picked);
    return m === 'absolute' ? 'Time' : m === 'session' ? 'Since start' : 'Since handshake';
  }
}
