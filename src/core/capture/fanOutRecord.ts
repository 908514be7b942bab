// The fan-out record: one broadcast written to many connections, recorded once by one of their captures while the
// others only count its bytes (see recordFanOut).

/** What the fan-out needs of a capture (a ConnectionCapture). */
export interface FanOutRecipient {
  readonly connectionId: string;
  /** Records `parts`, written to this connection and to those of `alsoSentTo`. */
  recordShared(parts: readonly Buffer[], alsoSentTo: readonly string[] | undefined): void;
  /** Bytes the socket wrote, which this capture decodes on its own. */
  outbound(chunk: Buffer): void;
}

/**
 * What recordFanOut reads and writes for every recipient, in flat arrays indexed by a capture's slot instead of in
 * the capture objects: a broadcast to a hundred clients then reads a few dense arrays rather than a hundred objects
 * spread over the heap (cache misses made that loop cost ~37 ns per recipient in the fan-out bench, ~15 when hot).
 * A capture takes a slot when a fan-out first asks for it (`fanOutSlot`) and frees it in end(); `generation` moves
 * on then, so that a caller still holding the old (slot, generation) pair is told apart from the slot's next owner.
 */
class FanOutSlots {
  /**
   * The largest frame (in bytes) the capture may share a record of: its size limit while it is shareable (see
   * ConnectionCapture.shareable), -1 while not. One number, so that the fan-out's check is one read.
   */
  shareLimit = new Float64Array(64);
  /** Bytes recorded for the capture by another capture's record; folded into its own count at end(). */
  sharedBytes = new Float64Array(64);
  generation = new Uint32Array(64);
  readonly ids: string[] = [];
  readonly owners: Array<FanOutRecipient | undefined> = [];
  private readonly free: number[] = [];
  private used = 0;

  take(owner: FanOutRecipient): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.used++;
      if (slot === this.shareLimit.length) this.grow();
    }
    this.shareLimit[slot] = -1;
    this.sharedBytes[slot] = 0;
    this.ids[slot] = owner.connectionId;
    this.owners[slot] = owner;
    return slot;
  }

  release(slot: number): void {
    slotsEpoch++;
    this.generation[slot]++;
    this.shareLimit[slot] = -1;
    this.ids[slot] = '';
    this.owners[slot] = undefined;
    this.free.push(slot);
  }

  private grow(): void {
    const n = this.shareLimit.length * 2;
    const shareLimit = new Float64Array(n);
    shareLimit.set(this.shareLimit);
    this.shareLimit = shareLimit;
    const sharedBytes = new Float64Array(n);
    sharedBytes.set(this.sharedBytes);
    this.sharedBytes = sharedBytes;
    const generation = new Uint32Array(n);
    generation.set(this.generation);
    this.generation = generation;
  }
}

const slots = new FanOutSlots();

/** A capture's place in the fan-out's arrays (see ConnectionCapture.fanOutSlot). */
export interface FanOutSlot {
  readonly slot: number;
  readonly generation: number;
}

/**
 * Moves on whenever a slot is freed or a capture's share limit changes: a FanOutList's last record is only reused
 * while it has not moved (see recordFanOut).
 */
let slotsEpoch = 0;

/** Gives `owner` a slot, with its share limit (see FanOutSlots.shareLimit). */
export function takeFanOutSlot(owner: FanOutRecipient, shareLimit: number): number {
  const slot = slots.take(owner);
  slots.shareLimit[slot] = shareLimit;
  return slot;
}

export function fanOutGeneration(slot: number): number {
  return slots.generation[slot];
}

/** Sets a slot's share limit; a change moves the epoch on, so that no list reuses a record made before it. */
export function setFanOutShareLimit(slot: number, limit: number): void {
  if (slots.shareLimit[slot] !== limit) {
    slots.shareLimit[slot] = limit;
    slotsEpoch++;
  }
}

/** Bytes other captures' records counted for the slot's capture. */
export function fanOutSharedBytes(slot: number): number {
  foldPendingBytes();
  return slots.sharedBytes[slot];
}

/** Frees the slot (its capture has ended) and returns the bytes other captures' records counted for it. */
export function releaseFanOutSlot(slot: number): number {
  foldPendingBytes();
  const bytes = slots.sharedBytes[slot];
  slots.release(slot);
  return bytes;
}

/** The lists whose `pendingBytes` are not yet in their recipients' counts (see foldPendingBytes). */
const pendingLists = new Set<FanOutList>();

/**
 * One writer's recipients of a fan-out, kept across its fan-outs: call `begin()`, then `add()` each capture written
 * to past its tap, then recordFanOut. When the recipients are the ones of the list's last record, in the same order,
 * and no capture's state changed since (a slot freed, a share limit changed), recordFanOut reuses what that record
 * worked out and does nothing per recipient: a server broadcasting to a steady set of clients then pays for the
 * record once per message, not once per client.
 */
export class FanOutList {
  /** The recipients' slots and generations, `count` of them. */
  readonly slots: number[] = [];
  readonly generations: number[] = [];
  count = 0;
  /** Some slot or generation differs from the last record's since it was made. */
  private changed = true;

  // What the last record worked out, valid while `epoch === slotsEpoch` (else -1).
  /** @internal */ epoch = -1;
  /** @internal */ recordedCount = 0;
  /** @internal The capture that decoded, or -1 when the record is not to be reused. */
  recorder = -1;
  /** @internal The smallest share limit among the recipients: a larger frame needs the per-recipient checks. */
  minLimit = 0;
  /** @internal The other recipients, listed on the events, and their slots and generations. */
  shared: readonly string[] | undefined = undefined;
  /** @internal */ sharedSlots: number[] = [];
  /** @internal */ sharedGenerations: number[] = [];
  /** @internal Bytes each of sharedSlots got since its count was last brought up to date (see foldPendingBytes). */
  pendingBytes = 0;

  /**
   * The targets key of the fan-out that last filled this list by writing every one of its targets past their taps, or
   * -1 (see broadcastFastPath.ts fanOut). A fan-out with the same key has the same targets in the same order: while it
   * writes every one of them past its tap too, its recipients are this list's, and it only counts them (`keep`).
   */
  targetsKey = -1;

  begin(): void {
    this.count = 0;
  }

  /** The first `count` recipients are the last record's, in the same order (see targetsKey). */
  keep(count: number): void {
    this.count = count;
  }

  add(slot: number, generation: number): void {
    const k = this.count++;
    if (this.slots[k] !== slot || this.generations[k] !== generation) {
      this.slots[k] = slot;
      this.generations[k] = generation;
      this.changed = true;
    }
  }

  /** @internal True when the recipients are the last record's and that record may be reused for `bytes`. */
  reusable(bytes: number): boolean {
    return !this.changed && this.epoch === slotsEpoch && this.count === this.recordedCount && bytes <= this.minLimit;
  }

  /** @internal The recipients now match the record just made. */
  recorded(): void {
    this.changed = false;
    this.recordedCount = this.count;
  }
}

/** Adds every list's pending bytes to its recipients' counts: before any count is read, or a slot freed. */
function foldPendingBytes(): void {
  if (pendingLists.size === 0) return;
  const { sharedBytes, generation } = slots;
  for (const list of pendingLists) {
    const b = list.pendingBytes;
    list.pendingBytes = 0;
    const ss = list.sharedSlots;
    const gs = list.sharedGenerations;
    for (let i = 0; i < ss.length; i++) if (generation[ss[i]] === gs[i]) sharedBytes[ss[i]] += b;
  }
  pendingLists.clear();
}

/**
 * Records one broadcast: `parts` (one frame, in one or two writes) went, in this tick and past their taps, to the
 * captures listed in `list` (see FanOutList; a capture that has ended since is skipped). The first capture that is
 * between messages decodes it once; the others that are too are listed in its frame's and message's `alsoSentTo`
 * and only count the bytes. A capture in any other state decodes the bytes itself, so nothing is misattributed.
 * Same bytes, same result; only the later writes' timestamps are not kept.
 *
 * The `alsoSentTo` list is the list's last one when the clients are the same (and frozen, since several events hold
 * it): a server broadcasting to a steady set of clients then allocates nothing per message for it.
 */
export function recordFanOut(list: FanOutList, parts: readonly Buffer[]): void {
  const bytes = parts.length === 1 ? parts[0].length : parts[0].length + parts[1].length;
  if (list.reusable(bytes)) {
    // Every recipient is as it was at the last record: the same capture decodes, the others only count the bytes.
    if (list.sharedSlots.length > 0) {
      list.pendingBytes += bytes;
      pendingLists.add(list);
    }
    slots.owners[list.recorder]!.recordShared(parts, list.shared);
    return;
  }
  foldPendingBytes();
  const epoch = slotsEpoch;
  const { shareLimit, sharedBytes, generation } = slots;
  const slotList = list.slots;
  const generations = list.generations;
  const count = list.count;
  let recorder = -1;
  let minLimit = Infinity;
  let reusable = true;
  const prevSlots = list.sharedSlots;
  const prevGenerations = list.sharedGenerations;
  const prevLength = prevSlots.length;
  // Set from the first recipient that differs from the last list: the new list's slots and generations.
  let newSlots: number[] | undefined;
  let newGenerations: number[] | undefined;
  let n = 0;
  for (let i = 0; i < count; i++) {
    const s = slotList[i];
    const g = generations[i];
    if (generation[s] !== g) {
      reusable = false;
      continue;
    }
    const limit = shareLimit[s];
    if (bytes > limit) {
      reusable = false;
      recordAlone(slots.owners[s]!, parts);
      continue;
    }
    if (limit < minLimit) minLimit = limit;
    if (recorder < 0) {
      recorder = s;
      continue;
    }
    sharedBytes[s] += bytes;
    if (newSlots === undefined) {
      if (n < prevLength && prevSlots[n] === s && prevGenerations[n] === g) {
        n++;
        continue;
      }
      newSlots = prevSlots.slice(0, n);
      newGenerations = prevGenerations.slice(0, n);
    }
    newSlots.push(s);
    newGenerations!.push(g);
    n++;
  }
  if (newSlots === undefined && n < prevLength) {
    newSlots = prevSlots.slice(0, n);
    newGenerations = prevGenerations.slice(0, n);
  }
  if (newSlots !== undefined) {
    const ids = slots.ids;
    list.shared = n > 0 ? Object.freeze(newSlots.map((x) => ids[x])) : undefined;
    list.sharedSlots = newSlots;
    list.sharedGenerations = newGenerations!;
  }
  list.recorder = recorder;
  list.minLimit = minLimit;
  list.recorded();
  if (recorder >= 0) slots.owners[recorder]!.recordShared(parts, list.shared);
  // Reused only if every recipient shared and nothing changed meanwhile (the decode may end a capture's sharing).
  list.epoch = reusable && recorder >= 0 && slotsEpoch === epoch ? epoch : -1;
}

/** A recipient that cannot share the record decodes the bytes itself. */
function recordAlone(c: FanOutRecipient, parts: readonly Buffer[]): void {
  for (const p of parts) c.outbound(p);
}
