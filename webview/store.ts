// The webview's model of what it shows: the held event DTOs (one filtered window of the host's history), the rows
// derived from them (see rows.ts), paging both ways, pause, counters and the message rate.
// Pure logic, no DOM: node tests drive it directly.
//
// The held events are one window of the host's history, at most `maxHeld` of them. Live appends past the cap drop the
// oldest (paged in again on scroll up). Older pages past the cap drop the newest: the window is then `detached` from
// the live end, live appends only move `liveId` on, and newer pages (`newerWindow`, `addNewer`) walk it forward
// until it reaches the live end again.
import { MAX_PAGE, type CaptureCounters, type ConnectionEventDto, type EventDto, type MessageDto, type ModelSnapshot, type Page, type ViewFilter } from '../src/shared/protocol';
import { TimeBase } from './timeBase';
import { appendRows, inShownExpandedGroup, rowIndex, rowsOf, trimRowsNewest, trimRowsOldest, type Row, type RowSource } from './rows';

export type { Row } from './rows';

/**
 * Most DTOs the webview holds, whichever way the view pages: past it the oldest (live appends, newer pages) or the
 * newest (older pages) are dropped and can be paged in again. 50,000 DTOs are about 25 MB of the webview's heap.
 */
export const MAX_HELD = 50_000;
/**
 * Ids a newer page spans at first. The host answers `getPage` with the newest matches of the span, at most MAX_PAGE of
 * them: a span no wider than that always comes back whole, so the held window stays without gaps.
 */
const NEWER_SPAN = MAX_PAGE;
/** Widest span a newer page grows to while a sparse filter finds few events per span (under the host's scan budget). */
const MAX_NEWER_SPAN = 32 * MAX_PAGE;
/** Most live events held back while the view is paused before it gives up and reloads on resume. */
export const MAX_PAUSED = 20_000;
/** Most distinct strings `ViewStore` keeps one shared copy of (see `compact`). */
const MAX_SHARED_STRINGS = 10_000;

export class ViewStore implements RowSource {
  /** Held events, ascending by id. */
  private events: EventDto[] = [];
  private readonly byId = new Map<number, EventDto>();
  /** frame id → the message it belongs to (from the message's frameIds). */
  private readonly messageOf = new Map<number, number>();
  private readonly expanded = new Set<number>();
  private rowsCache: Row[] | undefined;
  /** One copy of each short string that events repeat (kinds, directions, connection ids); see `compact`. */
  private readonly shared = new Map<string, string>();

  filter: ViewFilter = {};
  /** The view shows only ids above this ("clear" raises it; the host keeps its history). */
  floorId = 0;
  /** True when older matching events may exist below the held window. */
  hasOlder = false;
  /** Where the next older page starts (exclusive upper bound). */
  olderCursor = 0;
  loadingOlder = false;

  /** The newest held event is not the newest the host has: live appends are not held, newer pages fill the gap. */
  detached = false;
  /** Newest id the subscription is known to reach: the subscribe reply's `lastId`, then the newest live event. */
  liveId = 0;
  /** Detached: every matching event up to this id is held; the next newer page starts above it. */
  newerCursor = 0;
  loadingNewer = false;
  /** Ids the next newer page spans (see NEWER_SPAN). */
  private newerSpan = NEWER_SPAN;

  paused = false;
  private pausedEvents: EventDto[] = [];
  /** The paused buffer overflowed: resume must reload instead of merging. */
  pausedOverflow = false;

  counters: CaptureCounters = { frames: 0, frameBytes: 0, messages: 0, storedEvents: 0, evictedEvents: 0, evictedBytes: 0, firstId: 1, lastId: 0 };
  private current: ModelSnapshot = { servers: [], connections: [] };
  /** Every connection's last label, kept after it leaves the model (a stopped proxy's): its rows keep their name. */
  private readonly labels = new Map<string, string>();

  get model(): ModelSnapshot {
    return this.current;
  }

  set model(m: ModelSnapshot) {
    this.current = m;
    for (const c of m.connections) if (this.labels.get(c.id) !== c.label) this.labels.set(c.id, c.label);
  }

  /** A connection's label: the model's, or the last it had there; the id only for one the view never saw listed. */
  labelOf(id: string): string {
    return this.labels.get(id) ?? id;
  }
  readonly rate = new RateMeter();
  /** The time column's bases, learnt from every event held (kept across resets: the session goes on). */
  readonly times = new TimeBase();

  constructor(private readonly maxHeld = MAX_HELD) {}

  get size(): number {
    return this.events.length;
  }

  get(id: number): EventDto | undefined {
    return this.byId.get(id);
  }

  /** The message a frame belongs to, if it is held. */
  messageFor(frameId: number): MessageDto | undefined {
    const mid = this.messageOf.get(frameId);
    const m = mid === undefined ? undefined : this.byId.get(mid);
    return m?.kind === 'message' ? m : undefined;
  }

  oldestId(): number | undefined {
    return this.events[0]?.id;
  }

  newestId(): number | undefined {
    return this.events[this.events.length - 1]?.id;
  }

  /** Replaces everything with a first page (after subscribe, whose reply gives the newest id it covers as `lastId`). */
  reset(page?: Page & { lastId?: number }): void {
    this.events = [];
    this.byId.clear();
    this.messageOf.clear();
    this.pausedEvents = [];
    this.pausedOverflow = false;
    this.rowsCache = undefined;
    this.hasOlder = false;
    this.olderCursor = 0;
    this.loadingOlder = false;
    this.detached = false;
    this.loadingNewer = false;
    this.newerSpan = NEWER_SPAN;
    if (page) {
      this.insert(page.events);
      this.hasOlder = page.hasMore;
      this.olderCursor = page.hasMore ? page.resumeId : this.floorId;
      this.trimOldest();
    }
    this.liveId = Math.max(page?.lastId ?? 0, this.newestId() ?? 0, this.floorId);
    this.newerCursor = this.liveId;
  }

  /**
   * Merges an older page (the reply to getPage). Returns how many rows were added above the old first row. Past the
   * cap the newest events are dropped and the view detaches from the live end.
   */
  addOlder(page: Page): number {
    const before = this.rows().length;
    const oldest = this.oldestId() ?? Infinity;
    this.insert(page.events.filter((e) => e.id < oldest));
    this.hasOlder = page.hasMore;
    this.olderCursor = page.hasMore ? page.resumeId : this.floorId;
    this.loadingOlder = false;
    const added = this.rows().length - before;
    this.trimNewest();
    return added;
  }

  /**
   * Where the next newer page lies while detached: pass `afterId` as getPage's `floorId` and `beforeId` as its
   * `beforeId`, with `limit: MAX_PAGE`; hand the reply and this window to `addNewer`. It starts above ids the host
   * has evicted. It may reach past the host's newest id: the reply then holds everything up to the live end, even
   * events whose live update arrives after it (those are recognised as held).
   */
  newerWindow(): { cursor: number; afterId: number; beforeId: number } {
    const afterId = Math.max(this.newerCursor, this.floorId, this.counters.firstId - 1);
    return { cursor: this.newerCursor, afterId, beforeId: afterId + this.newerSpan + 1 };
  }

  /**
   * Merges a newer page (the reply to getPage over `newerWindow()`), dropping the oldest past the cap; when its window
   * reaches the live end, the view is attached again. Returns how many events were added, or -1 when the reply cannot
   * be used (the window was too wide for one page, or the held window moved meanwhile): ask again.
   */
  addNewer(page: Page, window: { cursor: number; afterId: number; beforeId: number }): number {
    this.loadingNewer = false;
    if (!this.detached || window.cursor !== this.newerCursor) return -1;
    if (page.hasMore) {
      // Only the newest part of the span came back: taking it would leave a gap below it.
      this.newerSpan = Math.max(NEWER_SPAN, this.newerSpan >> 1);
      return -1;
    }
    const newest = Math.max(this.newestId() ?? 0, this.floorId);
    const fresh = page.events.filter((e) => e.id > newest && e.id > window.afterId && e.id < window.beforeId);
    this.insert(fresh);
    this.newerCursor = window.beforeId - 1;
    // Every live event received so far lies in the window: the host answered after it had them all, and any later
    // live event is newer than every id it had then, so above the newest held.
    if (this.newerCursor >= this.liveId) this.detached = false;
    // A sparse filter (a rare search) finds few events per span: widen it, so reaching the end takes fewer round trips.
    if (fresh.length < MAX_PAGE / 4) this.newerSpan = Math.min(MAX_NEWER_SPAN, this.newerSpan * 2);
    this.trimOldest();
    return fresh.length;
  }

  /** New live events. While paused they are held back; while detached only their ids are noted. Returns whether the view changed. */
  addLive(events: EventDto[]): boolean {
    if (events.length === 0) return false;
    const last = events[events.length - 1].id;
    if (this.detached) {
      // Newer pages bring them in when the view reaches them: holding them here would grow without bound.
      if (last > this.liveId) this.liveId = last;
      return false;
    }
    if (this.paused) {
      if (!this.pausedOverflow) {
        for (const e of events) this.pausedEvents.push(e);
        if (this.pausedEvents.length > MAX_PAUSED) {
          this.pausedEvents = [];
          this.pausedOverflow = true;
        }
      }
      return false;
    }
    const newest = this.newestId() ?? this.floorId;
    this.insert(events.filter((e) => e.id > newest && e.id > this.floorId));
    if (last > this.liveId) this.liveId = last;
    this.trimOldest();
    return true;
  }

  /** Live events held back by pause. */
  get pausedCount(): number {
    return this.pausedEvents.length;
  }

  setPaused(paused: boolean): 'merged' | 'reload' | 'none' {
    if (paused === this.paused) return 'none';
    this.paused = paused;
    if (paused) return 'none';
    if (this.pausedOverflow) {
      this.pausedOverflow = false;
      this.pausedEvents = [];
      return 'reload';
    }
    const held = this.pausedEvents;
    this.pausedEvents = [];
    this.addLive(held);
    return 'merged';
  }

  /** Hides everything up to the newest id the host has; returns the new floor. */
  clearView(): number {
    this.floorId = Math.max(this.counters.lastId, this.newestId() ?? 0, this.liveId, this.floorId);
    this.reset();
    return this.floorId;
  }

  /** The store evicted everything below `firstId`: those rows cannot be paged again. */
  setFirstId(firstId: number): void {
    if (this.olderCursor < firstId) {
      this.hasOlder = false;
    }
  }

  setCounters(c: CaptureCounters, now: number): void {
    this.counters = c;
    this.rate.sample(now, c.messages);
  }

  toggleExpanded(messageId: number): boolean {
    if (this.expanded.has(messageId)) this.expanded.delete(messageId);
    else this.expanded.add(messageId);
    this.rowsCache = undefined;
    return this.expanded.has(messageId);
  }

  isExpanded(messageId: number): boolean {
    return this.expanded.has(messageId);
  }

  /**
   * The rows to show, in order. Live appends and trims patch the cached list in place (the same array is returned
   * until a rebuild); anything else (paging, expand/collapse, reset) rebuilds it on the next call.
   */
  rows(): Row[] {
    if (!this.rowsCache) this.rowsCache = this.buildRows();
    return this.rowsCache;
  }

  /** The rows built from scratch, ignoring the cache: what `rows()` must always equal (tests check it). */
  buildRows(): Row[] {
    return rowsOf(this, this.events);
  }

  /** Index of the row showing `id` (a fragment inside a collapsed group maps to its group), or -1. */
  rowIndexOf(id: number): number {
    return rowIndex(this, this.rows(), id);
  }

  /** Ids the held DTOs refer to for a connection picker that also knows captured-but-gone connections. */
  connectionIds(): string[] {
    const s = new Set<string>();
    for (const e of this.events) s.add(e.connectionId);
    return [...s];
  }

  private insert(list: EventDto[]): void {
    if (list.length === 0) return;
    const fresh = list.filter((e) => !this.byId.has(e.id));
    if (fresh.length === 0) return;
    let closed: ConnectionEventDto[] | undefined;
    for (const e of fresh) {
      this.compact(e);
      this.byId.set(e.id, e);
      this.times.note(e);
      if (e.kind === 'message') for (const fid of e.frameIds) this.messageOf.set(fid, e.id);
      else if (e.kind === 'connection' && e.unsent) (closed ??= []).push(e);
    }
    // Once all are held: the list need not be in id order.
    for (const c of closed ?? []) this.markUnsent(c);
    const last = this.newestId();
    if (last === undefined || (fresh[0].id > last && isAscending(fresh))) {
      for (const e of fresh) this.events.push(e);
      // Live capture appends 20 times a second: patch the rows rather than rebuild up to MAX_HELD of them.
      if (this.rowsCache && !appendRows(this, this.rowsCache, fresh)) this.rowsCache = undefined;
      return;
    }
    if (fresh[fresh.length - 1].id < this.events[0].id && isAscending(fresh)) {
      // An older page goes in front in place: a copy of the held events and rows per page, while the view pages back
      // through 100k rows, is hundreds of MB of garbage for the collector that runs on the panel's thread.
      prepend(this.events, fresh);
      // Its rows go in front too, unless one of its frames belongs under an expanded group already shown.
      if (this.rowsCache && !fresh.some((e) => e.kind === 'frame' && inShownExpandedGroup(this, e.id, fresh[fresh.length - 1].id))) {
        prepend(this.rowsCache, rowsOf(this, fresh));
        return;
      }
    } else {
      this.events = this.events.concat(fresh).sort((a, b) => a.id - b.id);
    }
    this.rowsCache = undefined;
  }

  /**
   * Events arrive by structured clone, which makes a new string for every string field of every event: held by the
   * hundred thousand, these copies are a third of the webview's heap and lengthen every garbage collection, which
   * runs on the thread that draws the panel. The repeated ones are swapped for one shared copy, and a single-frame
   * message shares its frame's preview. Values stay equal.
   */
  private compact(e: EventDto): void {
    const w = e as { kind: string; connectionId: string; direction?: string };
    w.kind = this.share(w.kind);
    w.connectionId = this.share(w.connectionId);
    if (w.direction !== undefined) w.direction = this.share(w.direction);
    if (e.kind === 'message' && e.frameIds.length === 1) {
      const f = this.byId.get(e.frameIds[0]);
      if (f?.kind === 'frame' && f.preview === e.preview) e.preview = f.preview;
    } else if (e.kind === 'frame' && e.messageId !== undefined) {
      const m = this.byId.get(e.messageId);
      if (m?.kind === 'message' && m.frameIds.length === 1 && m.preview === e.preview) e.preview = m.preview;
    }
  }

  /**
   * A connection closed with bytes it never sent: the frames and messages of them that are held came before the close,
   * without `unsentTo` (those fetched after it have it from the host). Marked here, they show as not sent.
   */
  private markUnsent({ connectionId, unsent }: ConnectionEventDto): void {
    for (const ids of [unsent?.frameIds ?? [], unsent?.messageIds ?? []]) {
      for (const id of ids) {
        const e = this.byId.get(id);
        if ((e?.kind !== 'frame' && e?.kind !== 'message') || e.unsentTo?.includes(connectionId)) continue;
        e.unsentTo = e.unsentTo ? [...e.unsentTo, connectionId] : [connectionId];
      }
    }
  }

  private share(s: string): string {
    const known = this.shared.get(s);
    if (known !== undefined) return known;
    // Connection ids are the only open-ended kind: a long session of short connections must not grow this forever.
    if (this.shared.size >= MAX_SHARED_STRINGS) this.shared.clear();
    this.shared.set(s, s);
    return s;
  }

  /** Drops the newest events past the cap (an older page came in front): the view no longer reaches the live end. */
  private trimNewest(): void {
    const over = this.events.length - this.maxHeld;
    if (over <= 0) return;
    const dropped = this.events.splice(this.events.length - over, over);
    const cutId = dropped[0].id;
    if (this.rowsCache && !trimRowsNewest(this, this.rowsCache, dropped, cutId)) this.rowsCache = undefined;
    this.forget(dropped);
    this.detached = true;
    this.newerCursor = this.newestId() ?? this.floorId;
    this.newerSpan = NEWER_SPAN;
  }

  private forget(dropped: EventDto[]): void {
    for (const e of dropped) {
      this.byId.delete(e.id);
      if (e.kind === 'message') for (const fid of e.frameIds) this.messageOf.delete(fid);
      this.expanded.delete(e.id);
    }
  }

  private trimOldest(): void {
    const over = this.events.length - this.maxHeld;
    if (over <= 0) return;
    const dropped = this.events.splice(0, over);
    const firstId = this.events[0]?.id ?? Infinity;
    // Checked against the maps as they were before the drop.
    if (this.rowsCache && !trimRowsOldest(this, this.rowsCache, dropped, firstId)) this.rowsCache = undefined;
    this.forget(dropped);
    this.hasOlder = true;
    this.olderCursor = this.events[0]?.id ?? this.olderCursor;
  }
}

/** Puts `head` in front of `list`, in place (the array grows its store by half when full, so copies stay rare). */
function prepend<T>(list: T[], head: T[]): void {
  // In slices: a spread of a whole page is one call argument per element.
  for (let end = head.length; end > 0; end -= PREPEND_SLICE) list.unshift(...head.slice(Math.max(0, end - PREPEND_SLICE), end));
}
const PREPEND_SLICE = 4096;

function isAscending(list: EventDto[]): boolean {
  for (let i = 1; i < list.length; i++) if (list[i].id <= list[i - 1].id) return false;
  return true;
}

/** Messages per second from samples of a running total, over a sliding window. */
export class RateMeter {
  private samples: Array<[time: number, total: number]> = [];

  constructor(private readonly windowMs = 2000) {}

  sample(now: number, total: number): void {
    const last = this.samples[this.samples.length - 1];
    if (last && total < last[1]) this.samples = []; // the counters were reset
    this.samples.push([now, total]);
    while (this.samples.length > 2 && now - this.samples[1][0] >= this.windowMs) this.samples.shift();
  }

  /** Rate at `now`; 0 with fewer than two samples. A quiet period after the last sample brings it down. */
  perSecond(now: number): number {
    if (this.samples.length < 2) return 0;
    const [t0, n0] = this.samples[0];
    const [, n1] = this.samples[this.samples.length - 1];
    const span = Math.max(now, this.samples[this.samples.length - 1][0]) - t0;
    return span > 0 ? ((n1 - n0) * 1000) / span : 0;
  }
}

/** True when a filter change needs a fresh page from the host. */
export function filterChanged(a: ViewFilter, b: ViewFilter): boolean {
  return (
    a.connectionId !== b.connectionId ||
    a.direction !== b.direction ||
    a.opcodes !== b.opcodes ||
    (a.search ?? '') !== (b.search ?? '') ||
    (!!a.search && !!a.regex !== !!b.regex)
  );
}

/** Auto-scroll stays on while the view sits at the bottom; scrolling up turns it off, back to the bottom turns it on. */
export function nextAutoScroll(current: boolean, prevTop: number, top: number, maxTop: number, slack = 4): boolean {
  if (top >= maxTop - slack) return true;
  if (top < prevTop) return false;
  return current;
}

