// Frame and message events kept as columns and bytes instead of objects, for the store's history.
//
// Why: a capture records tens of thousands of events per second, and the store keeps the last 100,000 of them. Kept as
// objects (an event, its header, mask key and payload Buffers, and the socket chunks those are views of), nearly
// every young object survives: each scavenge copies megabytes and full GCs come every second or two, which stalls
// the very sockets being captured (p99 latency of an echo load went from ~5 ms to 170-400 ms). Here an event costs a
// few typed-array slots and its bytes in a large shared arena, none of which the GC has to trace; `read` builds an
// equal event object again when someone asks for it.
import { CompactStorage } from './compactStorage';
import type { CaptureEvent, Direction, FrameEvent, MessageEvent } from './events';

export const SLOT_OBJECT = 0;
const SLOT_FRAME = 1;
const SLOT_MESSAGE = 2;

// Flag bits of a compact slot.
const F_S2C = 1 << 0;
const F_FIN = 1 << 1;
const F_RSV1 = 1 << 2;
const F_RSV2 = 1 << 3;
const F_RSV3 = 1 << 4;
const F_MASKED = 1 << 5;
const F_COMPRESSED = 1 << 6;
const F_UTF8_KNOWN = 1 << 7;
const F_UTF8_VALID = 1 << 8;
const F_FORM_16 = 1 << 9;
const F_FORM_64 = 1 << 10;
const F_AFTER_VIOLATION = 1 << 11;

/** The rarely present fields, kept beside the columns by event id. */
interface Extra {
  closeCode?: number;
  closeReason?: string;
  inflateError?: string;
  /** A message's frame ids when it has more than one frame. */
  frameIds?: number[];
}

/**
 * Compact storage for the slots of a ring buffer (the EventStore's). The owner decides which slot an event goes to,
 * calls `put` to move a frame or message event in, `read` to get an equal object back, and `release` when the slot's
 * event leaves the ring. Records are put in id order, so arena chunks are freed oldest first. The bytes, names and
 * recipient lists the columns point into are CompactStorage's.
 */
export class CompactEventColumns extends CompactStorage {
  private capacity = 0;
  private kind!: Uint8Array;
  private flags!: Uint16Array;
  private opcode!: Uint8Array;
  private conn!: Uint32Array;
  private time!: Float64Array;
  /** payloadLength (frame) or wireLength (message). */
  private length!: Float64Array;
  /** messageId (frame, 0 for none) or the single frame id (message, 0 when in the extras). */
  private ref!: Float64Array;
  /** inflatedLength + 1 (0 for none). */
  private inflated!: Float64Array;
  private headerLength!: Uint16Array;
  /**
   * Where the record's bytes are: chunk sequence number, offset of the header bytes, offset of the payload bytes
   * (right after the header unless the payload is shared with an earlier record in the same chunk), and the header
   * and total (header + payload) lengths.
   */
  private chunkSeq!: Float64Array;
  private offset!: Uint32Array;
  private dataOffset!: Uint32Array;
  private headerBytes!: Uint16Array;
  private totalBytes!: Uint32Array;
  /** `alsoSentTo`: 0 for none, else 1 + its index in `lists`. */
  private recipients!: Uint32Array;

  private readonly extras = new Map<number, Extra>();

  // The payload Buffer of the last frame put, so that a one-frame message shares its bytes instead of a copy.
  private lastPayload: Buffer | undefined;
  private lastPayloadSeq = 0;
  private lastPayloadOffset = 0;

  constructor(capacity: number) {
    super();
    this.grow(capacity, 0, 0);
  }

  /** SLOT_OBJECT when the slot holds no compact record. */
  slotKind(slot: number): number {
    return this.kind[slot];
  }

  /** Stores a frame or message event in `slot`. Returns false (and stores nothing) for any other kind. */
  put(slot: number, e: CaptureEvent): boolean {
    if (e.kind === 'frame') {
      this.putFrame(slot, e);
      return true;
    }
    if (e.kind === 'message') {
      this.putMessage(slot, e);
      return true;
    }
    return false;
  }

  /** Builds the event of a compact slot: equal to the one put, with every optional field present (maybe undefined). */
  read(slot: number, id: number): CaptureEvent {
    const fl = this.flags[slot];
    const seq = this.chunkSeq[slot];
    const buf = this.chunks[seq - this.chunks[0].seq].buf;
    const off = this.offset[slot];
    const hb = this.headerBytes[slot];
    const dataAt = this.dataOffset[slot];
    const dataLength = this.totalBytes[slot] - hb;
    // The event gets its own copy of the bytes: a freed chunk is reused (see `spare`), and a view would then change.
    const own = Buffer.allocUnsafe(hb + dataLength);
    if (hb > 0) buf.copy(own, 0, off, off + hb);
    buf.copy(own, hb, dataAt, dataAt + dataLength);
    const data = own.subarray(hb);
    const x = this.extras.get(id);
    const r = this.recipients[slot];
    const alsoSentTo = r === 0 ? undefined : this.lists[r - 1];
    const direction: Direction = fl & F_S2C ? 's2c' : 'c2s';
    if (this.kind[slot] === SLOT_FRAME) {
      const header = own.subarray(0, hb);
      const hl = this.headerLength[slot];
      const masked = (fl & F_MASKED) !== 0;
      const m = this.ref[slot];
      const ev: FrameEvent = {
        id,
        kind: 'frame',
        connectionId: this.names[this.conn[slot]],
        time: this.time[slot],
        direction,
        fin: (fl & F_FIN) !== 0,
        rsv1: (fl & F_RSV1) !== 0,
        rsv2: (fl & F_RSV2) !== 0,
        rsv3: (fl & F_RSV3) !== 0,
        opcode: this.opcode[slot],
        masked,
        maskKey: masked && hb >= 4 ? header.subarray(hb - 4) : undefined,
        payloadLength: this.length[slot],
        lengthForm: fl & F_FORM_64 ? 64 : fl & F_FORM_16 ? 16 : 7,
        headerLength: hl,
        header,
        payload: data,
        closeCode: x?.closeCode,
        closeReason: x?.closeReason,
        messageId: m === 0 ? undefined : m,
        alsoSentTo,
        afterViolation: (fl & F_AFTER_VIOLATION) !== 0,
      };
      return ev;
    }
    const inflated = this.inflated[slot];
    const ev: MessageEvent = {
      id,
      kind: 'message',
      connectionId: this.names[this.conn[slot]],
      time: this.time[slot],
      direction,
      opcode: this.opcode[slot] as 1 | 2,
      data,
      wireLength: this.length[slot],
      compressed: (fl & F_COMPRESSED) !== 0,
      inflatedLength: inflated === 0 ? undefined : inflated - 1,
      inflateError: x?.inflateError,
      utf8Valid: fl & F_UTF8_KNOWN ? (fl & F_UTF8_VALID) !== 0 : undefined,
      frameIds: x?.frameIds !== undefined ? x.frameIds.slice() : [this.ref[slot]],
      alsoSentTo,
    };
    return ev;
  }

  /** Payload bytes of a compact slot, as `eventPayloadBytes` counts them for the object. */
  payloadBytes(slot: number): number {
    return this.totalBytes[slot];
  }

  /** The frame's message was appended: its id goes to the frame (see EventStore.linkFrames). */
  setMessageId(slot: number, messageId: number): void {
    if (this.kind[slot] === SLOT_FRAME) this.ref[slot] = messageId;
  }

  /** The slot's event leaves the ring (`id` is its id). Frees its name and any arena chunk older than its own. */
  release(slot: number, id: number): void {
    const k = this.kind[slot];
    if (k === SLOT_OBJECT) return;
    this.kind[slot] = SLOT_OBJECT;
    this.unrefName(this.conn[slot]);
    const r = this.recipients[slot];
    if (r !== 0) this.unrefList(r - 1);
    if (this.extras.size !== 0) this.extras.delete(id);
    const seq = this.chunkSeq[slot];
    let drop = 0;
    while (drop < this.chunks.length - 1 && this.chunks[drop].seq < seq) drop++;
    if (drop > 0) this.keepSpare(this.chunks.splice(0, drop));
  }

  /**
   * New columns of `newCapacity` slots: slot `(head + i) & (oldCapacity - 1)` moves to slot `i` for the `size` live
   * slots (the ring doubled), or all empty when `size` is 0.
   */
  grow(newCapacity: number, head: number, size: number): void {
    // Live slots run from head to the end of the old arrays, then wrap to their start.
    const tail = Math.min(size, this.capacity - head);
    const move = <T extends Uint8Array | Uint16Array | Uint32Array | Float64Array>(old: T | undefined, make: (n: number) => T): T => {
      const a = make(newCapacity);
      if (old === undefined || size === 0) return a;
      a.set(old.subarray(head, head + tail) as never, 0);
      if (size > tail) a.set(old.subarray(0, size - tail) as never, tail);
      return a;
    };
    this.kind = move(this.kind, (n) => new Uint8Array(n));
    this.flags = move(this.flags, (n) => new Uint16Array(n));
    this.opcode = move(this.opcode, (n) => new Uint8Array(n));
    this.conn = move(this.conn, (n) => new Uint32Array(n));
    this.time = move(this.time, (n) => new Float64Array(n));
    this.length = move(this.length, (n) => new Float64Array(n));
    this.ref = move(this.ref, (n) => new Float64Array(n));
    this.inflated = move(this.inflated, (n) => new Float64Array(n));
    this.headerLength = move(this.headerLength, (n) => new Uint16Array(n));
    this.chunkSeq = move(this.chunkSeq, (n) => new Float64Array(n));
    this.offset = move(this.offset, (n) => new Uint32Array(n));
    this.dataOffset = move(this.dataOffset, (n) => new Uint32Array(n));
    this.headerBytes = move(this.headerBytes, (n) => new Uint16Array(n));
    this.totalBytes = move(this.totalBytes, (n) => new Uint32Array(n));
    this.recipients = move(this.recipients, (n) => new Uint32Array(n));
    this.capacity = newCapacity;
  }

  /** Forgets every record (the ring was emptied). */
  clear(capacity: number): void {
    this.clearStorage();
    this.extras.clear();
    this.lastPayload = undefined;
    this.grow(capacity, 0, 0);
  }

  private putFrame(slot: number, e: FrameEvent): void {
    const header = e.header;
    const payload = e.payload;
    const hb = header.length;
    let at: number;
    let dataAt: number;
    let seq: number;
    const reserved = this.reservedChunk(header, payload);
    if (reserved !== undefined) {
      // Decoded into room reserved here (see reserveBytes): kept where it is.
      at = header.byteOffset - reserved.buf.byteOffset;
      dataAt = at + hb;
      seq = reserved.seq;
      if (reserved === this.chunks[this.chunks.length - 1]) this.noteRecent(payload, 0, payload.length, dataAt);
    } else {
      dataAt = this.findRecent(payload, 0, payload.length, hb);
      if (dataAt >= 0) {
        at = this.reserve(hb);
        this.chunks[this.chunks.length - 1].buf.set(header, at);
      } else if (payload.byteOffset === header.byteOffset + hb && payload.buffer === header.buffer) {
        // Header and payload side by side (a frame read in place, or a masked one copied as on the wire): one copy.
        at = this.reserve(hb + payload.length);
        this.chunks[this.chunks.length - 1].buf.set(new Uint8Array(header.buffer, header.byteOffset, hb + payload.length), at);
        dataAt = at + hb;
        this.noteRecent(payload, 0, payload.length, dataAt);
      } else if (header.byteOffset === payload.byteOffset + payload.length && payload.buffer === header.buffer) {
        // Payload then header (the decoder's copy of a masked frame that spanned reads): one copy, in that order.
        dataAt = this.reserve(payload.length + hb);
        this.chunks[this.chunks.length - 1].buf.set(new Uint8Array(payload.buffer, payload.byteOffset, payload.length + hb), dataAt);
        at = dataAt + payload.length;
        this.noteRecent(payload, 0, payload.length, dataAt);
      } else {
        at = this.reserve(hb + payload.length);
        const buf = this.chunks[this.chunks.length - 1].buf;
        buf.set(header, at);
        buf.set(payload, at + hb);
        dataAt = at + hb;
        this.noteRecent(payload, 0, payload.length, dataAt);
      }
      seq = this.chunks[this.chunks.length - 1].seq;
    }
    this.common(slot, SLOT_FRAME, e.connectionId, e.time, e.opcode, e.direction);
    let fl = this.flags[slot];
    if (e.fin) fl |= F_FIN;
    if (e.rsv1) fl |= F_RSV1;
    if (e.rsv2) fl |= F_RSV2;
    if (e.rsv3) fl |= F_RSV3;
    if (e.masked) fl |= F_MASKED;
    if (e.lengthForm === 16) fl |= F_FORM_16;
    else if (e.lengthForm === 64) fl |= F_FORM_64;
    if (e.afterViolation === true) fl |= F_AFTER_VIOLATION;
    this.flags[slot] = fl;
    this.length[slot] = e.payloadLength;
    this.ref[slot] = e.messageId ?? 0;
    this.inflated[slot] = 0;
    this.headerLength[slot] = e.headerLength;
    this.chunkSeq[slot] = seq;
    this.offset[slot] = at;
    this.dataOffset[slot] = dataAt;
    this.headerBytes[slot] = hb;
    this.totalBytes[slot] = hb + payload.length;
    this.recipients[slot] = e.alsoSentTo === undefined ? 0 : this.refList(e.alsoSentTo) + 1;
    if (e.closeCode !== undefined || e.closeReason !== undefined) this.extras.set(e.id, { closeCode: e.closeCode, closeReason: e.closeReason });
    this.lastPayload = payload;
    this.lastPayloadSeq = this.chunkSeq[slot];
    this.lastPayloadOffset = dataAt;
  }

  /**
   * Stores a whole frame (FIN, no RSV bit, text or binary, its payload not compressed) in `frameSlot` and its
   * one-frame message in `messageSlot`, equal to what putFrame and putMessage store for the two events the decoder
   * gives (see CaptureSink.appendWholeFrame), without the events: the frame's header is the `hl` bytes of `bytes` from
   * `at`, its unmasked payload the `n` bytes after them. The message shares the frame's payload bytes.
   */
  putWhole(
    frameSlot: number,
    messageSlot: number,
    frameId: number,
    connectionId: string,
    time: number,
    direction: Direction,
    opcode: number,
    bytes: Buffer,
    at: number,
    hl: number,
    n: number,
    alsoSentTo: readonly string[] | undefined,
  ): void {
    let headerAt: number;
    let dataAt: number;
    let seq: number;
    const reserved = bytes === this.lastReserved && at === 0 ? this.chunkOf(this.lastReservedSeq) : undefined;
    this.lastReserved = undefined;
    if (reserved !== undefined) {
      // Decoded into the room reserveBytes gave last (`bytes` is that very Buffer): kept where it is.
      headerAt = this.lastReservedAt;
      dataAt = headerAt + hl;
      seq = reserved.seq;
      if (reserved === this.chunks[this.chunks.length - 1]) this.noteRecent(bytes, hl, n, dataAt);
    } else {
      dataAt = this.findRecent(bytes, at + hl, n, hl);
      if (dataAt >= 0) {
        // The payload is there already (a relay's second record of the same bytes): only the header, a few bytes,
        // copied one by one (a view and set() for them cost more than the rest of the record).
        headerAt = this.reserve(hl);
        const dst = this.chunks[this.chunks.length - 1].buf;
        for (let i = 0; i < hl; i++) dst[headerAt + i] = bytes[at + i];
      } else {
        headerAt = this.reserve(hl + n);
        this.chunks[this.chunks.length - 1].buf.set(new Uint8Array(bytes.buffer, bytes.byteOffset + at, hl + n), headerAt);
        dataAt = headerAt + hl;
        this.noteRecent(bytes, at + hl, n, dataAt);
      }
      seq = this.chunks[this.chunks.length - 1].seq;
    }
    const list = alsoSentTo === undefined ? 0 : this.refList(alsoSentTo) + 1;
    if (list !== 0) this.listRefs[list - 1]++;
    const name = this.refName(connectionId);
    this.nameRefs[name]++;
    const b1 = bytes[at + 1];
    const len7 = b1 & 0x7f;
    const s2c = direction === 's2c' ? F_S2C : 0;
    this.kind[frameSlot] = SLOT_FRAME;
    this.flags[frameSlot] = s2c | F_FIN | ((b1 & 0x80) !== 0 ? F_MASKED : 0) | (len7 === 126 ? F_FORM_16 : len7 === 127 ? F_FORM_64 : 0);
    this.opcode[frameSlot] = opcode;
    this.conn[frameSlot] = name;
    this.time[frameSlot] = time;
    this.length[frameSlot] = n;
    this.ref[frameSlot] = frameId + 1;
    this.inflated[frameSlot] = 0;
    this.headerLength[frameSlot] = hl;
    this.chunkSeq[frameSlot] = seq;
    this.offset[frameSlot] = headerAt;
    this.dataOffset[frameSlot] = dataAt;
    this.headerBytes[frameSlot] = hl;
    this.totalBytes[frameSlot] = hl + n;
    this.recipients[frameSlot] = list;
    this.kind[messageSlot] = SLOT_MESSAGE;
    this.flags[messageSlot] = s2c | (opcode === 1 ? F_UTF8_KNOWN | F_UTF8_VALID : 0);
    this.opcode[messageSlot] = opcode;
    this.conn[messageSlot] = name;
    this.time[messageSlot] = time;
    this.length[messageSlot] = n;
    this.ref[messageSlot] = frameId;
    this.inflated[messageSlot] = 0;
    this.headerLength[messageSlot] = 0;
    this.chunkSeq[messageSlot] = seq;
    this.offset[messageSlot] = dataAt;
    this.dataOffset[messageSlot] = dataAt;
    this.headerBytes[messageSlot] = 0;
    this.totalBytes[messageSlot] = n;
    this.recipients[messageSlot] = list;
    this.lastPayload = undefined;
  }

  private putMessage(slot: number, e: MessageEvent): void {
    const data = e.data;
    let seq: number;
    let at: number;
    if (data === this.lastPayload && this.chunks.length > 0 && this.chunks[0].seq <= this.lastPayloadSeq) {
      // A one-frame message whose data is that frame's payload: the same bytes, already in the arena.
      seq = this.lastPayloadSeq;
      at = this.lastPayloadOffset;
    } else {
      at = this.findRecent(data, 0, data.length, 0);
      if (at < 0) {
        at = this.reserve(data.length);
        this.chunks[this.chunks.length - 1].buf.set(data, at);
        this.noteRecent(data, 0, data.length, at);
      }
      seq = this.chunks[this.chunks.length - 1].seq;
    }
    this.lastPayload = undefined;
    this.common(slot, SLOT_MESSAGE, e.connectionId, e.time, e.opcode, e.direction);
    let fl = this.flags[slot];
    if (e.compressed) fl |= F_COMPRESSED;
    if (e.utf8Valid !== undefined) fl |= e.utf8Valid ? F_UTF8_KNOWN | F_UTF8_VALID : F_UTF8_KNOWN;
    this.flags[slot] = fl;
    this.length[slot] = e.wireLength;
    const single = e.frameIds.length === 1;
    this.ref[slot] = single ? e.frameIds[0] : 0;
    this.inflated[slot] = e.inflatedLength === undefined ? 0 : e.inflatedLength + 1;
    this.headerLength[slot] = 0;
    this.chunkSeq[slot] = seq;
    this.offset[slot] = at;
    this.dataOffset[slot] = at;
    this.headerBytes[slot] = 0;
    this.totalBytes[slot] = data.length;
    this.recipients[slot] = e.alsoSentTo === undefined ? 0 : this.refList(e.alsoSentTo) + 1;
    if (!single || e.inflateError !== undefined) {
      this.extras.set(e.id, { inflateError: e.inflateError, frameIds: single ? undefined : e.frameIds.slice() });
    }
  }

  private common(slot: number, kind: number, connectionId: string, time: number, opcode: number, direction: Direction): void {
    this.kind[slot] = kind;
    this.flags[slot] = direction === 's2c' ? F_S2C : 0;
    this.opcode[slot] = opcode;
    this.conn[slot] = this.refName(connectionId);
    this.time[slot] = time;
  }
}
