// The host's capture history: a bounded ring of capture events with id paging, filters and batched notifications.

import type { CaptureEvent, CaptureSink, Direction, NewCaptureEvent, UnsentRecord } from './events';
import { appendWholeFrameEvents, eventPayloadBytes, framesInLastBytes } from './events';
import { Emitter, type Event } from '../util/events';
import { stripUndefined } from '../util/objects';
import { CompactEventColumns, SLOT_OBJECT } from './compactEvents';
import { type EventQuery, type QueryResult, compileFilter } from './eventQuery';

export interface EventStoreOptions {
  /** Max events kept; the oldest are evicted first. Default 100_000. */
  maxEvents?: number;
  /**
   * Max payload bytes kept, as counted by `eventPayloadBytes`. Default 256 MiB. A single event larger than
   * this is still kept, alone, so the newest event is always visible.
   */
  maxBytes?: number;
  /** Batch window for `onDidAppend` in ms: at most one batch per window. Default 50. */
  batchIntervalMs?: number;
  /** Max events a filtered query examines per call before it returns with `hasMore`. Default 200_000. */
  maxScan?: number;
}

export interface StoreStats {
  /** Events held now. */
  count: number;
  /** Payload bytes held now. */
  bytes: number;
  /** Oldest id held; when empty, the id the next event will get. */
  firstId: number;
  /** Newest id held; when empty, `firstId - 1`. */
  lastId: number;
  /** Evicted by the caps since construction (`clear()` is not eviction). */
  evictedEvents: number;
  evictedBytes: number;
  /** Appended since construction. */
  appended: number;
}

export interface AppendBatch {
  /** Events appended since the last batch and still held, ascending by id. */
  events: CaptureEvent[];
  /**
   * Evicted by the caps since the last batch (events of this window that were evicted before delivery are
   * counted here too). Eviction only happens on append, so it always comes in a batch.
   */
  evicted: { events: number; bytes: number };
  /** Oldest id still held: a view can drop every row below it. */
  firstId: number;
}

const DEFAULTS = {
  maxEvents: 100_000,
  maxBytes: 256 * 1024 * 1024,
  batchIntervalMs: 50,
  maxScan: 200_000,
};
const DEFAULT_LIMIT = 500;
const MAX_LIMIT = 10_000;
/**
 * The ring starts with room for maxEvents, up to this many slots, and doubles from there. Typed arrays come zeroed
 * from the system, whose pages are only mapped when first written, so room not yet used costs address space, not
 * memory; starting at full size spares a store that fills up seven doublings, each a copy of every column into new
 * pages (with the default 100,000 events, 18 MB allocated and 9 MB copied as it fills, for 9 MB kept).
 */
const PRESIZED_SLOTS = 131_072;

/**
 * A bounded ring buffer of capture events. Ids start at 1, are consecutive and never reused (not even after
 * `clear()`), so `get(id)` is an index computation.
 *
 * The store sets the `id` of the object it is given and keeps it, until the capture is done with its bytes (`seal`),
 * a message is appended, or the current turn of the event loop ends. Then frame and message events move into compact
 * columns (see compactEvents.ts) so that a long history costs the GC nothing; `get`, `query` and the batches build
 * equal objects from them again. No appended object is ever changed: a frame's `messageId` is the store's to give,
 * from the `frameIds` of the message appended after it (see linkFrames).
 */
export class EventStore implements CaptureSink {
  private readonly maxEvents: number;
  private readonly maxBytes: number;
  private readonly batchIntervalMs: number;
  private readonly maxScan: number;

  // Circular array with a power-of-two capacity that doubles up to what maxEvents needs.
  private readonly initialCapacity: number;
  private ring: Array<CaptureEvent | undefined>;
  /** The same slots' frame and message events once compact; `ring` then holds undefined there. */
  private compact: CompactEventColumns;
  private mask: number;
  private head = 0;
  private size = 0;
  private nextId = 1;
  private bytes = 0;

  private evictedEvents = 0;
  private evictedBytes = 0;
  private appended = 0;

  // Pending batch: the ids from batchFromId to nextId - 1, plus what was evicted meanwhile.
  private timer: NodeJS.Timeout | undefined;
  private batchFromId = 0;
  private batchEvictedEvents = 0;
  private batchEvictedBytes = 0;
  private readonly flushBound = () => this.flush();
  // Events from this id on are still objects; seal() or a setImmediate makes them compact.
  private compactFromId = 1;
  private compactTimer: NodeJS.Immediate | undefined;
  private readonly compactBound = () => {
    this.compactTimer = undefined;
    this.compactPending();
  };
  private disposed = false;
  /**
   * Frame and message ids to the connections they never left for, from the closed events' `unsent` records: `get`,
   * `query` and the batches give those events with `unsentTo`. Ids in ascending order of their closed event, pruned
   * as their events are evicted.
   */
  private readonly unsentTo = new Map<number, string[]>();

  private readonly appendEmitter = new Emitter<AppendBatch>();
  private readonly clearEmitter = new Emitter<void>();

  /** Batched appends (with the evictions they caused). No timer runs while nobody listens or nothing is new. */
  readonly onDidAppend: Event<AppendBatch> = this.appendEmitter.event;
  /** Fired synchronously by `clear()`. A batch pending at that moment is dropped. */
  readonly onDidClear: Event<void> = this.clearEmitter.event;

  constructor(options: EventStoreOptions = {}) {
    const o = { ...DEFAULTS, ...stripUndefined(options) };
    for (const k of ['maxEvents', 'maxBytes', 'batchIntervalMs', 'maxScan'] as const) {
      if (!Number.isFinite(o[k]) || o[k] < (k === 'batchIntervalMs' ? 0 : 1)) {
        throw new TypeError(`EventStore: ${k} must be a ${k === 'batchIntervalMs' ? 'non-negative' : 'positive'} number, got ${o[k]}`);
      }
    }
    this.maxEvents = Math.floor(o.maxEvents);
    this.maxBytes = o.maxBytes;
    this.batchIntervalMs = o.batchIntervalMs;
    this.maxScan = Math.floor(o.maxScan);
    let cap = 16;
    while (cap < this.maxEvents && cap < PRESIZED_SLOTS) cap *= 2;
    this.initialCapacity = cap;
    this.ring = new Array(cap);
    this.compact = new CompactEventColumns(cap);
    this.mask = cap - 1;
  }

  append(e: NewCaptureEvent): number {
    if (this.disposed) return 0;
    const ev = e as CaptureEvent;
    const id = this.nextId++;
    ev.id = id;
    this.appended++;

    if (this.timer === undefined && this.appendEmitter.hasListeners) this.startBatch(id);

    while (this.size >= this.maxEvents) this.evictOldest();
    if (this.size === this.ring.length) this.grow();
    this.ring[(this.head + this.size) & this.mask] = ev;
    this.size++;
    this.bytes += eventPayloadBytes(ev);
    while (this.bytes > this.maxBytes && this.size > 1) this.evictOldest();
    if (ev.kind === 'message') this.linkFrames(ev.frameIds, id);
    else if (ev.kind === 'connection' && ev.unsent !== undefined) this.markUnsent(ev.connectionId, ev.unsent);
    if (this.compactTimer === undefined) {
      this.compactTimer = setImmediate(this.compactBound);
      this.compactTimer.unref?.();
    }
    return id;
  }

  /** See CaptureSink.framesInLastBytes. */
  framesInLastBytes(connectionId: string, direction: Direction, bytes: number, afterId: number): Pick<UnsentRecord, 'frameIds' | 'messageIds'> {
    return framesInLastBytes((id) => this.get(id), this.nextId - 1, afterId, connectionId, direction, bytes);
  }

  private markUnsent(connectionId: string, unsent: UnsentRecord): void {
    for (const ids of [unsent.frameIds, unsent.messageIds]) {
      for (const id of ids) {
        const to = this.unsentTo.get(id);
        if (to === undefined) this.unsentTo.set(id, [connectionId]);
        else if (!to.includes(connectionId)) to.push(connectionId);
      }
    }
  }

  /** See CaptureSink.appendWholeFrame: the frame and its message go straight into the compact history. */
  appendWholeFrame(
    connectionId: string,
    time: number,
    direction: Direction,
    opcode: 1 | 2,
    bytes: Buffer,
    at: number,
    headerLength: number,
    payloadLength: number,
    alsoSentTo: readonly string[] | undefined,
  ): number {
    const frameBytes = headerLength + payloadLength;
    // Where two appends would evict the frame itself (a cap below two events, or below the two events' bytes), or
    // after dispose(): as two appends.
    if (this.disposed || this.maxEvents < 2 || frameBytes + payloadLength > this.maxBytes) {
      const header = bytes.subarray(at, at + headerLength);
      const payload = bytes.subarray(at + headerLength, at + frameBytes);
      return appendWholeFrameEvents(this, connectionId, time, direction, opcode, header, payload, alsoSentTo);
    }
    // Events appended as objects before these become compact first, so that the columns fill in id order.
    if (this.compactFromId < this.nextId) this.compactPending();
    const frameId = this.nextId;
    this.nextId += 2;
    this.appended += 2;
    if (this.timer === undefined && this.appendEmitter.hasListeners) this.startBatch(frameId);
    // The same events are evicted, in the same order, as by the two appends: the oldest, until both fit.
    while (this.size > this.maxEvents - 2) this.evictOldest();
    if (this.size + 2 > this.ring.length) this.grow();
    this.bytes += frameBytes + payloadLength;
    while (this.bytes > this.maxBytes && this.size > 0) this.evictOldest();
    const frameSlot = (this.head + this.size) & this.mask;
    const messageSlot = (frameSlot + 1) & this.mask;
    this.size += 2;
    this.compact.putWhole(frameSlot, messageSlot, frameId, connectionId, time, direction, opcode, bytes, at, headerLength, payloadLength, alsoSentTo);
    this.compactFromId = this.nextId;
    return frameId;
  }

  get(id: number): CaptureEvent | undefined {
    const first = this.nextId - this.size;
    if (!Number.isInteger(id) || id < first || id >= this.nextId) return undefined;
    return this.at((this.head + (id - first)) & this.mask, id);
  }

  query(q: EventQuery = {}): QueryResult {
    const first = this.nextId - this.size;
    const last = this.nextId - 1;
    const lo = Math.max(first, q.afterId !== undefined ? Math.floor(q.afterId) + 1 : first);
    const hi = Math.min(last, q.beforeId !== undefined ? Math.ceil(q.beforeId) - 1 : last);
    const limit = Math.max(1, Math.min(MAX_LIMIT, Math.floor(q.limit ?? DEFAULT_LIMIT)));
    const match = compileFilter(q);
    const events: CaptureEvent[] = [];
    if (lo > hi) return { events, hasMore: false, resumeId: q.backward ? lo : hi };

    const step = q.backward ? -1 : 1;
    const end = q.backward ? lo - 1 : hi + 1;
    let id = q.backward ? hi : lo;
    let scanned = 0;
    let resumeId = id - step;
    let hasMore = false;
    for (; id !== end; id += step) {
      if (match && scanned >= this.maxScan) {
        hasMore = true;
        break;
      }
      const ev = this.at((this.head + (id - first)) & this.mask, id);
      scanned++;
      if (match && !match(ev)) {
        resumeId = id;
        continue;
      }
      if (events.length === limit) {
        hasMore = true;
        break;
      }
      events.push(ev);
      resumeId = id;
    }
    if (q.backward) events.reverse();
    return { events, hasMore, resumeId };
  }

  stats(): StoreStats {
    const firstId = this.nextId - this.size;
    return {
      count: this.size,
      bytes: this.bytes,
      firstId,
      lastId: this.nextId - 1,
      evictedEvents: this.evictedEvents,
      evictedBytes: this.evictedBytes,
      appended: this.appended,
    };
  }

  /** Drops every event. Ids go on from where they were; this is not counted as eviction. */
  clear(): void {
    this.ring = new Array(this.initialCapacity);
    this.compact.clear(this.initialCapacity);
    this.compactFromId = this.nextId;
    this.unsentTo.clear();
    this.mask = this.initialCapacity - 1;
    this.head = 0;
    this.size = 0;
    this.bytes = 0;
    this.cancelBatch();
    this.clearEmitter.fire();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cancelBatch();
    if (this.compactTimer !== undefined) clearImmediate(this.compactTimer);
    this.compactTimer = undefined;
    this.appendEmitter.dispose();
    this.clearEmitter.dispose();
    this.ring = [];
    this.compact.clear(1);
    this.mask = 0;
    this.head = 0;
    this.size = 0;
    this.bytes = 0;
  }

  /** True while a batch timer is pending (for tests and diagnostics). */
  get batchPending(): boolean {
    return this.timer !== undefined;
  }

  /** Bytes in the compact arena now (for diagnostics and tests). */
  get compactArenaBytes(): number {
    return this.compact.arenaBytes;
  }

  /** Bytes of the compact arena in use now (for diagnostics and tests). */
  get compactArenaUsedBytes(): number {
    return this.compact.arenaUsedBytes;
  }

  /** The event in `slot` (whose id is `id`): the object while it is one, else built from the compact columns. */
  private at(slot: number, id: number): CaptureEvent {
    const ev = this.compact.slotKind(slot) === SLOT_OBJECT ? this.ring[slot]! : this.compact.read(slot, id);
    if (this.unsentTo.size === 0) return ev;
    const to = this.unsentTo.get(id);
    // A copy: the appended object is never changed.
    return to === undefined || (ev.kind !== 'frame' && ev.kind !== 'message') ? ev : { ...ev, unsentTo: [...to] };
  }

  /** See CaptureSink.reserveBytes: room in the compact history's arena. */
  reserveBytes(n: number): Buffer | undefined {
    return this.disposed ? undefined : this.compact.reserveBytes(n);
  }

  /** See CaptureSink.seal: the events appended so far are complete, and are made compact now. */
  seal(): void {
    if (this.compactFromId < this.nextId) this.compactPending();
  }

  /** Moves the frame and message events appended since the last time into the compact columns. */
  private compactPending(): void {
    const first = this.nextId - this.size;
    for (let id = Math.max(this.compactFromId, first); id < this.nextId; id++) {
      const slot = (this.head + (id - first)) & this.mask;
      const ev = this.ring[slot];
      if (ev !== undefined && this.compact.put(slot, ev)) this.ring[slot] = undefined;
    }
    this.compactFromId = this.nextId;
  }

  /**
   * A message gives its id to its frames, in the compact columns: frames still held as objects (nearly always its last
   * one) are made compact first, with every event before them. Appended events are complete, so any time will do, and
   * the frame objects stay as they were appended.
   */
  private linkFrames(frameIds: readonly number[], messageId: number): void {
    for (const fid of frameIds) {
      if (fid >= this.compactFromId) {
        this.compactPending();
        break;
      }
    }
    const first = this.nextId - this.size;
    for (const fid of frameIds) {
      if (fid >= first && fid < this.compactFromId) this.compact.setMessageId((this.head + (fid - first)) & this.mask, messageId);
    }
  }

  private evictOldest(): void {
    const slot = this.head;
    const id = this.nextId - this.size;
    const obj = this.ring[slot];
    const b = obj !== undefined ? eventPayloadBytes(obj) : this.compact.payloadBytes(slot);
    this.compact.release(slot, id);
    if (this.unsentTo.size !== 0) this.unsentTo.delete(id);
    this.ring[slot] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.size--;
    this.bytes -= b;
    this.evictedEvents++;
    this.evictedBytes += b;
    if (this.timer !== undefined) {
      this.batchEvictedEvents++;
      this.batchEvictedBytes += b;
    }
  }

  private grow(): void {
    const old = this.ring;
    const cap = old.length * 2;
    const ring: Array<CaptureEvent | undefined> = new Array(cap);
    for (let i = 0; i < this.size; i++) ring[i] = old[(this.head + i) & this.mask];
    this.compact.grow(cap, this.head, this.size);
    this.ring = ring;
    this.mask = cap - 1;
    this.head = 0;
  }

  /** A batch of appends starts with `id`: its notification is sent batchIntervalMs later. */
  private startBatch(id: number): void {
    this.batchFromId = id;
    this.batchEvictedEvents = 0;
    this.batchEvictedBytes = 0;
    this.timer = setTimeout(this.flushBound, this.batchIntervalMs);
    this.timer.unref?.();
  }

  private cancelBatch(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    this.timer = undefined;
    if (this.disposed || !this.appendEmitter.hasListeners) return;
    const first = this.nextId - this.size;
    const from = Math.max(this.batchFromId, first);
    const events: CaptureEvent[] = new Array(Math.max(0, this.nextId - from));
    for (let id = from, i = 0; id < this.nextId; id++, i++) events[i] = this.at((this.head + (id - first)) & this.mask, id);
    this.appendEmitter.fire({
      events,
      evicted: { events: this.batchEvictedEvents, bytes: this.batchEvictedBytes },
      firstId: first,
    });
  }
}
