// What the compact history's records (see compactEvents.ts) point into: an arena of large shared chunks for their
// header and payload bytes, freed oldest first, with the room a capture decodes into (reserveBytes) and a table of
// recent payloads so that a relay's second record of the same bytes shares the first one's; and their connection names
// and recipient lists, interned with reference counts.

/** Arena chunks are this large unless one record needs more. */
const CHUNK_BYTES = 4 * 1024 * 1024;

/** Freed chunks kept for reuse: enough for a store in steady state, which frees about one chunk as it fills one. */
const MAX_SPARE = 2;

/** The largest room reserveBytes gives: larger frames are copied, so that one frame never takes most of a chunk. */
const MAX_RESERVED = 256 * 1024;

/** Payloads at least this long are looked up among recent ones before they are copied (see `findRecent`). */
const DEDUPE_MIN = 64;
/** Entries of the table of recent payloads (a power of two). */
const RECENT_SIZE = 1024;

/** Four bytes from `at` as one number (plain element reads: readUInt32LE's checks cost more than the hash). */
const word = (b: Buffer, at: number): number => b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);

/**
 * A hash of a payload's length and four 32-bit words spread over it (the `n` bytes of `b` from `start`), as the index
 * of its entry in the table of recent payloads: it only picks the one recent payload worth comparing, so it need not
 * read every byte (the comparison does).
 */
function sampleHash(b: Buffer, start: number, n: number): number {
  let h = Math.imul(n, 0x9e3779b1);
  h = Math.imul(h ^ word(b, start), 0x85ebca6b);
  h = Math.imul(h ^ word(b, start + ((n >>> 1) & ~3)), 0xc2b2ae35);
  h = Math.imul(h ^ word(b, start + ((n >>> 2) & ~3)), 0x27d4eb2f);
  h = Math.imul(h ^ word(b, start + n - 4), 0x165667b1);
  return ((h ^ (h >>> 15)) & (RECENT_SIZE - 1)) * 4;
}

export interface Chunk {
  seq: number;
  buf: Buffer;
  used: number;
}

const EMPTY: readonly string[] = Object.freeze([]);

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The bytes, names and recipient lists of the compact records, which refer to them by offset or index.
 * CompactEventColumns extends it, so that its hot paths reach them as fields of their own object.
 */
export class CompactStorage {
  protected chunks: Chunk[] = [];
  /** Freed chunks kept for reuse (see reserve). */
  private spare: Buffer[] = [];

  // Recent payloads in the arena by sampleHash: chunk sequence number (0 for none), offset and length. A relay records
  // the same bytes twice (the message it received and the frame it sent on, or the proxy's two legs); the second
  // record shares the first one's bytes when they are in the newest chunk, so that no record outlives the bytes it
  // points at (chunks are freed oldest first, as their records leave).
  // One entry is four numbers side by side (chunk sequence number, offset, length, unused), so that a lookup reads one
  // cache line, not one in each of three tables.
  private readonly recent = new Float64Array(RECENT_SIZE * 4);

  // The room reserveBytes gave last, until putWhole takes it: the Buffer, its chunk and its offset there.
  protected lastReserved: Buffer | undefined;
  protected lastReservedSeq = 0;
  protected lastReservedAt = 0;

  // Connection ids, interned with a count of the slots that use them, so that names of long-gone connections go.
  protected names: string[] = [];
  protected nameRefs: number[] = [];
  private readonly nameIndex = new Map<string, number>();
  private freeNames: number[] = [];
  // `alsoSentTo` lists, frozen and shared: a server broadcasting to the same clients gives the same list for every
  // message, and a list of 1,000 ids per message would otherwise be the largest thing in the history.
  protected lists: Array<readonly string[]> = [];
  protected listRefs: number[] = [];
  private freeLists: number[] = [];
  private lastList = -1;
  /** The array `lastList` was last matched against (a frame and its message share the capture's array). */
  private lastSource: readonly string[] | undefined;

  /** Frees every chunk, name and list (the history was emptied). */
  protected clearStorage(): void {
    this.keepSpare(this.chunks);
    this.chunks = [];
    this.lastReserved = undefined;
    this.recent.fill(0);
    this.lists = [];
    this.listRefs = [];
    this.freeLists = [];
    this.lastList = -1;
    this.lastSource = undefined;
    this.names = [];
    this.nameRefs = [];
    this.nameIndex.clear();
    this.freeNames = [];
  }

  /**
   * Room for `n` bytes at the end of the newest chunk, for a frame that the capture decodes there and whose event is
   * put before any other record's bytes need room (see CaptureSink.reserveBytes); undefined for a large one.
   */
  reserveBytes(n: number): Buffer | undefined {
    if (n > MAX_RESERVED) return undefined;
    const at = this.reserve(n);
    const last = this.chunks[this.chunks.length - 1];
    const room = last.buf.subarray(at, at + n);
    // putWhole knows the room by the Buffer itself (see there).
    this.lastReserved = room;
    this.lastReservedSeq = last.seq;
    this.lastReservedAt = at;
    return room;
  }

  /** Arena bytes in use now: put or reserved (for diagnostics and tests). */
  get arenaUsedBytes(): number {
    let n = 0;
    for (const c of this.chunks) n += c.used;
    return n;
  }

  /** Arena bytes allocated now (for diagnostics and tests). */
  get arenaBytes(): number {
    let n = 0;
    for (const c of this.chunks) n += c.buf.length;
    for (const b of this.spare) n += b.length;
    return n;
  }

  /** The chunk whose sequence number is `seq` if it is one of the two newest (where reserved room is). */
  protected chunkOf(seq: number): Chunk | undefined {
    const k = this.chunks.length;
    if (k > 0 && this.chunks[k - 1].seq === seq) return this.chunks[k - 1];
    if (k > 1 && this.chunks[k - 2].seq === seq) return this.chunks[k - 2];
    return undefined;
  }

  /**
   * The chunk a frame's header and payload lie in, side by side, when they are room reserved by reserveBytes and not
   * yet put: in the newest chunk, or the one before it when later reservations of the same read started a new one.
   */
  protected reservedChunk(header: Buffer, payload: Buffer): Chunk | undefined {
    const k = this.chunks.length;
    const ab = header.buffer;
    for (let i = k - 1; i >= 0 && i >= k - 2; i--) {
      const c = this.chunks[i];
      if (ab !== c.buf.buffer) continue;
      const at = header.byteOffset - c.buf.byteOffset;
      const end = at + header.length + payload.length;
      const together = payload.length === 0 || (payload.buffer === header.buffer && payload.byteOffset === header.byteOffset + header.length);
      return together && at >= 0 && end <= c.used ? c : undefined;
    }
    return undefined;
  }

  /**
   * The offset in the newest chunk of bytes equal to the `n` bytes of `src` from `start`, put there recently, when
   * `extra` more bytes still fit in that chunk (so that the record that shares them is in the same chunk); -1
   * otherwise.
   */
  protected findRecent(src: Buffer, start: number, n: number, extra: number): number {
    if (n < DEDUPE_MIN) return -1;
    const last = this.chunks[this.chunks.length - 1];
    if (last === undefined || last.buf.length - last.used < extra) return -1;
    const h = sampleHash(src, start, n);
    const r = this.recent;
    if (r[h] !== last.seq || r[h + 2] !== n) return -1;
    const at = r[h + 1];
    return last.buf.compare(src, start, start + n, at, at + n) === 0 ? at : -1;
  }

  /** Remembers bytes just copied to `at` in the newest chunk: the `n` bytes of `src` from `start` (see findRecent). */
  protected noteRecent(src: Buffer, start: number, n: number, at: number): void {
    if (n < DEDUPE_MIN) return;
    const h = sampleHash(src, start, n);
    const r = this.recent;
    r[h] = this.chunks[this.chunks.length - 1].seq;
    r[h + 1] = at;
    r[h + 2] = n;
  }

  /** Room for `n` bytes at the end of the newest chunk (a new chunk when it is full); returns the offset. */
  protected reserve(n: number): number {
    const last = this.chunks[this.chunks.length - 1];
    if (last !== undefined && last.buf.length - last.used >= n) {
      const at = last.used;
      last.used += n;
      return at;
    }
    // A freed chunk again if there is one: its pages are already in memory (a new chunk's first writes fault each page
    // in, which showed as a quarter of the history's cost), and the GC sees no new external memory. Else a chunk of
    // its own (allocUnsafeSlow), not a slice of Node's shared pool that would pin unrelated bytes.
    const buf = (n <= CHUNK_BYTES ? this.spare.pop() : undefined) ?? Buffer.allocUnsafeSlow(Math.max(CHUNK_BYTES, n));
    this.chunks.push({ seq: last === undefined ? 1 : last.seq + 1, buf, used: n });
    return 0;
  }

  /** Keeps up to MAX_SPARE freed standard-size chunks for reuse. */
  protected keepSpare(freed: Chunk[]): void {
    for (const c of freed) if (c.buf.length === CHUNK_BYTES && this.spare.length < MAX_SPARE) this.spare.push(c.buf);
  }

  /** Interns a recipient list: the last one again when equal (a frame and its message share theirs, too). */
  protected refList(list: readonly string[]): number {
    let i = this.lastList;
    if (i < 0 || (list !== this.lastSource && !sameList(this.lists[i], list))) {
      i = this.freeLists.pop() ?? this.lists.length;
      this.lists[i] = Object.freeze(list.slice());
      this.listRefs[i] = 0;
      this.lastList = i;
    }
    this.lastSource = list;
    this.listRefs[i]++;
    return i;
  }

  protected unrefList(i: number): void {
    if (--this.listRefs[i] === 0) {
      this.lists[i] = EMPTY;
      this.freeLists.push(i);
      if (this.lastList === i) {
        this.lastList = -1;
        this.lastSource = undefined;
      }
    }
  }

  protected refName(name: string): number {
    let i = this.nameIndex.get(name);
    if (i === undefined) {
      i = this.freeNames.pop() ?? this.names.length;
      this.names[i] = name;
      this.nameRefs[i] = 0;
      this.nameIndex.set(name, i);
    }
    this.nameRefs[i]++;
    return i;
  }

  protected unrefName(i: number): void {
    if (--this.nameRefs[i] === 0) {
      this.nameIndex.delete(this.names[i]);
      this.names[i] = '';
      this.freeNames.push(i);
    }
  }
}
