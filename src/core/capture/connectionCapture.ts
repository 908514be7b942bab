// Turns one connection's raw bytes (both directions) into capture events: handshake, frames, messages, errors.
import { isUtf8 } from 'node:buffer';
import { appendWholeFrameEvents } from './events';
import type {
  CaptureSink,
  DeflateParams,
  Direction,
  ErrorEvent,
  FrameEvent,
  HandshakeEvent,
  HttpHead,
  MessageEvent,
} from './events';
import { DEFAULT_MAX_PAYLOAD, EMPTY_BUFFER, OPCODE_CLOSE } from '../wire/constants';
import { PassiveInflater, negotiatedDeflate } from '../wire/deflate';
import { WireError, createWireError } from '../wire/errors';
import { DecodedFrame, FrameDecoder, headerLengthOf, payloadLengthIn } from '../wire/frameDecoder';
import { HttpHeadParser, getHeader, parseStatusLine, upgradeProblem } from '../wire/handshake';
import { AssembledMessage, MessageAssembler } from '../wire/messageAssembler';

export interface ConnectionCaptureOptions {
  connectionId: string;
  /** Which end this process is: inbound bytes are c2s for 'server', s2c for 'client'. */
  role: 'server' | 'client';
  sink: CaptureSink;
  /** Labels put on the connection events. */
  meta?: Record<string, string>;
  /** Frame and message size limit; larger ones are recorded as 1009 violations. Default 100 MiB. */
  maxPayload?: number;
  /** How much of a failed upgrade's response body is kept. Default 4096. */
  maxFailedBodyBytes?: number;
  /** Bytes a client may send after its request head before the response arrives. Default 1 MiB. */
  maxEarlyDataBytes?: number;
}

const HEAD = 0;
/** c2s: request head seen, holding any further bytes until the response says what they are. */
const WAIT = 1;
const FRAMES = 2;
/** s2c: the body of a failed upgrade. */
const BODY = 3;
const IGNORE = 4;

const timeOrigin = performance.timeOrigin;
const now = (): number => timeOrigin + performance.now();

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
  readonly owners: Array<ConnectionCapture | undefined> = [];
  private readonly free: number[] = [];
  private used = 0;

  take(owner: ConnectionCapture): number {
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
   * -1 (see relay.ts fanOut). A fan-out with the same key has the same targets in the same order: while it writes
   * every one of them past its tap too, its recipients are this list's, and it only counts them (`keep`).
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
function recordAlone(c: ConnectionCapture, parts: readonly Buffer[]): void {
  for (const p of parts) c.outbound(p);
}

/** One direction's decoder and assembler, and the frame events of its open message. */
class DirectionCapture {
  readonly decoder: FrameDecoder;
  readonly assembler: MessageAssembler;
  /** Events and ids of the open fragmented message's frames. */
  private pendingEvents: FrameEvent[] = [];
  private pendingIds: number[] = [];
  private lastEvent: FrameEvent | undefined;
  private lastId = 0;
  /** While pushShared decodes: the other recipients of what it decodes. */
  private alsoSentTo: readonly string[] | undefined;
  /** The close frame this direction sent, if any: code 1005 when it had none. */
  close: { code: number; reason: string } | undefined;

  constructor(
    private readonly owner: ConnectionCapture,
    private readonly sink: CaptureSink,
    private readonly connectionId: string,
    private readonly direction: Direction,
    private readonly maxPayload: number,
    readonly deflate: DeflateParams | undefined,
  ) {
    this.decoder = new FrameDecoder({
      direction,
      maxPayload,
      rsv1Allowed: deflate !== undefined,
      // The frame's event is appended and sealed within the same push (see push), as reserveBytes requires.
      allocate: sink.reserveBytes !== undefined && sink.seal !== undefined ? (n) => sink.reserveBytes!(n) : undefined,
      onWholeData: sink.appendWholeFrame !== undefined ? this.onWholeData : undefined,
      onFrame: this.onFrame,
      onError: this.onError,
    });
    this.assembler = new MessageAssembler({
      direction,
      maxMessageSize: maxPayload,
      inflater: deflate ? PassiveInflater.forDirection(deflate, direction, maxPayload) : undefined,
      onMessage: this.onMessage,
      onError: this.onError,
    });
  }

  /** Decodes the next bytes of this direction. */
  push(chunk: Buffer): void {
    this.decoder.push(chunk);
    this.sink.seal?.();
    // Only this push needed it (a fragment's frames are in pendingEvents). Held until the connection's next message
    // (100 ms away for a client sending 10/s), a thousand connections' last frames would outlive a scavenge or two
    // and die in the old generation, which is what made full collections frequent under load.
    this.lastEvent = undefined;
  }

  /**
   * Decodes a frame this process also wrote to the connections of `alsoSentTo` (see recordFanOut): its frame and
   * message events carry the list from the start.
   */
  pushShared(chunk: Buffer, alsoSentTo: readonly string[] | undefined): void {
    this.alsoSentTo = alsoSentTo;
    try {
      this.push(chunk);
    } finally {
      this.alsoSentTo = undefined;
    }
  }

  /**
   * Records `parts` when they are one whole unmasked text or binary frame with FIN set and no RSV bit, written between
   * messages: its frame and message are recorded from its header, equal to what the decoder gives, without the
   * decoder's work (a fan-out records one such frame per message it relays). Returns false and records nothing for
   * anything else; the caller then decodes the parts.
   */
  recordWholeFrame(parts: readonly Buffer[], alsoSentTo: readonly string[] | undefined): boolean {
    const head = parts[0];
    if (parts.length > 2 || head.length < 2 || !this.between()) return false;
    const b0 = head[0];
    const b1 = head[1];
    const opcode = b0 & 0x0f;
    // FIN, no RSV bit, text or binary; not masked.
    if ((b0 & 0xf0) !== 0x80 || (opcode !== 1 && opcode !== 2) || (b1 & 0x80) !== 0) return false;
    const hl = headerLengthOf(b1);
    if (head.length < hl) return false;
    const n = payloadLengthIn(head, 0, b1);
    if (n < 0 || n > this.maxPayload) return false;
    const sink = this.sink;
    // Invalid UTF-8 is an error event too: the decoder's path records it.
    if (parts.length === 1) {
      if (head.length !== hl + n || (opcode === 1 && !isUtf8(new Uint8Array(head.buffer, head.byteOffset + hl, n)))) return false;
      if (sink.appendWholeFrame !== undefined) {
        sink.appendWholeFrame(this.connectionId, now(), this.direction, opcode as 1 | 2, head, 0, hl, n, alsoSentTo);
      } else {
        const payload = n === 0 ? EMPTY_BUFFER : head.subarray(hl);
        appendWholeFrameEvents(sink, this.connectionId, now(), this.direction, opcode as 1 | 2, head.subarray(0, hl), payload, alsoSentTo);
      }
    } else {
      if (head.length !== hl || parts[1].length !== n || (opcode === 1 && !isUtf8(parts[1]))) return false;
      appendWholeFrameEvents(sink, this.connectionId, now(), this.direction, opcode as 1 | 2, head, parts[1], alsoSentTo);
    }
    sink.seal?.();
    return true;
  }

  /**
   * A whole text or binary frame the decoder offers (see FrameDecoderOptions.onWholeData): taken, and appended without
   * its events, when it is a message of its own (no fragmented message open) and not invalid UTF-8, which the
   * assembler's path records as an error. The assembler, idle, stays idle.
   */
  private readonly onWholeData = (bytes: Buffer, at: number, hl: number, n: number, time: number): boolean => {
    if (this.pendingIds.length !== 0 || !this.assembler.idle) return false;
    const opcode = bytes[at] & 0x0f;
    if (opcode === 1 && !isUtf8(new Uint8Array(bytes.buffer, bytes.byteOffset + at + hl, n))) return false;
    this.lastEvent = undefined;
    this.sink.appendWholeFrame!(this.connectionId, time, this.direction, opcode as 1 | 2, bytes, at, hl, n, this.alsoSentTo);
    return true;
  };

  /** Between messages: a chunk starting here starts a new frame and a new message. */
  between(): boolean {
    return this.decoder.idle && this.assembler.idle && this.pendingIds.length === 0;
  }

  private readonly onFrame = (f: DecodedFrame): void => {
    // Every field is present from the start (the store's `id` and the later closeCode/messageId included), so the
    // object keeps one shape: adding properties after creation costs a map transition on the hot path.
    const ev: FrameEvent = {
      id: 0,
      kind: 'frame',
      connectionId: this.connectionId,
      time: f.time,
      direction: this.direction,
      fin: f.fin,
      rsv1: f.rsv1,
      rsv2: f.rsv2,
      rsv3: f.rsv3,
      opcode: f.opcode,
      masked: f.masked,
      maskKey: f.maskKey,
      payloadLength: f.payloadLength,
      lengthForm: f.lengthForm,
      headerLength: f.headerLength,
      header: f.header,
      payload: f.payload,
      closeCode: undefined,
      closeReason: undefined,
      messageId: undefined,
      alsoSentTo: this.alsoSentTo,
    };
    const id = this.sink.append(ev);
    const op = f.opcode;
    if (op < 0x8) {
      this.lastEvent = ev;
      this.lastId = id;
      if (op !== 0) {
        if (this.pendingIds.length !== 0) this.clearPending();
        if (!f.fin) {
          this.pendingEvents.push(ev);
          this.pendingIds.push(id);
        }
      } else {
        this.pendingEvents.push(ev);
        this.pendingIds.push(id);
      }
    }
    const close = this.assembler.push(f);
    if (close !== undefined) {
      // Mutating after append is fine: the store keeps this object.
      ev.closeCode = close.code;
      ev.closeReason = close.reason;
      if (op === OPCODE_CLOSE && this.close === undefined) this.close = { code: close.code ?? 1005, reason: close.reason ?? '' };
    }
  };

  private readonly onMessage = (m: AssembledMessage): void => {
    let frameIds: number[];
    let events: FrameEvent[] | undefined;
    if (m.frames.length === 1) {
      frameIds = [this.lastId];
    } else {
      const k = m.frames.length;
      frameIds = this.pendingIds.slice(this.pendingIds.length - k);
      events = this.pendingEvents.slice(this.pendingEvents.length - k);
      this.clearPending();
    }
    const last = m.frames[m.frames.length - 1];
    const ev: MessageEvent = {
      id: 0,
      kind: 'message',
      connectionId: this.connectionId,
      time: last.time,
      direction: this.direction,
      opcode: m.opcode,
      data: m.data,
      wireLength: m.wireLength,
      compressed: m.compressed,
      inflatedLength: m.inflatedLength,
      inflateError: m.inflateError,
      utf8Valid: m.utf8Valid,
      frameIds,
      alsoSentTo: this.alsoSentTo,
    };
    const messageId = this.sink.append(ev);
    if (events === undefined) {
      if (this.lastEvent !== undefined) this.lastEvent.messageId = messageId;
    } else {
      for (const e of events) e.messageId = messageId;
    }
  };

  private readonly onError = (err: WireError): void => {
    this.owner.recordError(err, this.direction);
  };

  private clearPending(): void {
    this.pendingEvents = [];
    this.pendingIds = [];
  }
}

/**
 * The capture of one connection. Feed it every byte the socket read (`inbound`) and wrote (`outbound`), each exactly
 * once and in order, then call `end()`. It never throws: an internal failure is recorded as `WS_ERR_CAPTURE_INTERNAL`
 * and capture stops.
 */
export class ConnectionCapture {
  readonly connectionId: string;
  /** Frame and message size limit (see ConnectionCaptureOptions). */
  readonly maxPayload: number;
  /**
   * True when a whole frame this process writes next may be recorded by another capture's record of the same write
   * (see recordFanOut): capture running, and the direction this process writes is between messages and without
   * deflate (whose context is per connection). Kept up to date by every write (in the fan-out's slot, too).
   */
  private shareable = false;
  /** This capture's slot in the fan-out's arrays, once a fan-out asked for it; -1 before and after. */
  private slot = -1;
  private _bytesOut = 0;
  private readonly role: 'server' | 'client';
  private readonly sink: CaptureSink;
  private readonly meta: Record<string, string> | undefined;
  private readonly maxFailedBodyBytes: number;
  private readonly maxEarlyDataBytes: number;

  private _bytesIn = 0;
  private stopped = false;
  private ended = false;

  private c2sState = HEAD;
  private s2cState = HEAD;
  private readonly requestParser = new HttpHeadParser();
  private readonly responseParser = new HttpHeadParser();
  private request: HttpHead | undefined;
  private response: HttpHead | undefined;
  private firstRequestByteTime = 0;
  private responseHeadTime = 0;
  private early: Buffer[] = [];
  private earlyBytes = 0;

  private _handshake: HandshakeEvent | undefined;
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private contentLength: number | undefined;

  private c2s: DirectionCapture | undefined;
  private s2c: DirectionCapture | undefined;

  constructor(o: ConnectionCaptureOptions) {
    this.connectionId = o.connectionId;
    this.role = o.role;
    this.sink = o.sink;
    this.meta = o.meta;
    this.maxPayload = o.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.maxFailedBodyBytes = o.maxFailedBodyBytes ?? 4096;
    this.maxEarlyDataBytes = o.maxEarlyDataBytes ?? 1024 * 1024;
  }

  /** The handshake event once it was appended. */
  get handshake(): HandshakeEvent | undefined {
    return this._handshake;
  }

  get bytesIn(): number {
    return this._bytesIn;
  }

  get bytesOut(): number {
    if (this.slot < 0) return this._bytesOut;
    foldPendingBytes();
    return this._bytesOut + slots.sharedBytes[this.slot];
  }

  /**
   * Where recordFanOut finds this capture. Only a writer that sends this connection's bytes past its socket tap and
   * records them with recordFanOut asks for it (the broadcast server, once per client). Undefined once ended.
   */
  fanOutSlot(): FanOutSlot | undefined {
    if (this.ended) return undefined;
    if (this.slot < 0) {
      this.slot = slots.take(this);
      slots.shareLimit[this.slot] = this.shareable ? this.maxPayload : -1;
    }
    return { slot: this.slot, generation: slots.generation[this.slot] };
  }

  /** Bytes the socket read. */
  inbound(chunk: Buffer): void {
    this._bytesIn += chunk.length;
    if (!this.stopped) this.feed(this.role === 'server' ? 'c2s' : 's2c', chunk);
  }

  /** Bytes the socket wrote. */
  outbound(chunk: Buffer): void {
    // After end() nothing is recorded: the connection's 'closed' event was the last (a fan-out may still write).
    if (this.ended) return;
    this._bytesOut += chunk.length;
    if (this.stopped) return;
    this.feed(this.role === 'server' ? 's2c' : 'c2s', chunk);
    this.updateShareable();
  }

  /** Records `parts`, written to this connection and to those of `alsoSentTo` (see recordFanOut). */
  recordShared(parts: readonly Buffer[], alsoSentTo: readonly string[] | undefined): void {
    if (!this.shareable) {
      for (const p of parts) this.outbound(p);
      return;
    }
    const d = (this.role === 'server' ? this.s2c : this.c2s)!;
    for (const p of parts) this._bytesOut += p.length;
    try {
      if (!d.recordWholeFrame(parts, alsoSentTo)) for (const p of parts) d.pushShared(p, alsoSentTo);
    } catch (e) {
      this.internal(e);
      return;
    }
    this.updateShareable();
  }

  private updateShareable(): void {
    const d = this.role === 'server' ? this.s2c : this.c2s;
    this.setShareable(!this.stopped && !this.ended && d !== undefined && d.between() && d.deflate === undefined);
  }

  private setShareable(v: boolean): void {
    this.shareable = v;
    if (this.slot < 0) return;
    const limit = v ? this.maxPayload : -1;
    if (slots.shareLimit[this.slot] !== limit) {
      slots.shareLimit[this.slot] = limit;
      slotsEpoch++;
    }
  }

  /** The socket is gone: flushes a pending handshake and appends the 'connection' closed event. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.setShareable(false);
    if (this.slot >= 0) {
      foldPendingBytes();
      this._bytesOut += slots.sharedBytes[this.slot];
      slots.release(this.slot);
      this.slot = -1;
    }
    try {
      // A failed upgrade whose body never completed, or a request that got no response.
      if (!this.stopped && this.request !== undefined && this._handshake === undefined) this.emitHandshake(now());
      const peer = this.role === 'server' ? this.c2s : this.s2c;
      const local = this.role === 'server' ? this.s2c : this.c2s;
      const close = peer?.close ?? local?.close;
      this.sink.append({
        kind: 'connection',
        connectionId: this.connectionId,
        time: now(),
        state: 'closed',
        role: this.role,
        meta: this.meta,
        code: close?.code,
        reason: close?.reason,
        clean: this.c2s?.close !== undefined && this.s2c?.close !== undefined,
        bytesIn: this._bytesIn,
        bytesOut: this._bytesOut,
      });
    } catch (e) {
      this.internal(e);
    }
  }

  /** @internal Used by the direction captures. */
  recordError(err: WireError, direction: Direction | undefined): void {
    const ev: Omit<ErrorEvent, 'id'> = {
      kind: 'error',
      connectionId: this.connectionId,
      time: now(),
      direction: err.direction ?? direction,
      code: err.code,
      closeCode: err.closeCode,
      message: err.message,
    };
    this.sink.append(ev);
  }

  private feed(dir: Direction, chunk: Buffer): void {
    try {
      if (dir === 'c2s') this.feedC2s(chunk);
      else this.feedS2c(chunk);
    } catch (e) {
      this.internal(e);
    }
  }

  private feedC2s(chunk: Buffer): void {
    switch (this.c2sState) {
      case FRAMES:
        this.c2s!.push(chunk);
        return;
      case HEAD: {
        if (this.firstRequestByteTime === 0) this.firstRequestByteTime = now();
        const r = this.parseHead(this.requestParser, chunk, 'c2s');
        if (r === undefined) return;
        this.request = r.head;
        this.c2sState = WAIT;
        if (r.rest.length > 0) this.feedC2s(r.rest);
        return;
      }
      case WAIT:
        this.earlyBytes += chunk.length;
        if (this.earlyBytes > this.maxEarlyDataBytes) {
          this.c2sState = IGNORE;
          this.early = [];
          this.recordError(
            createWireError('WS_ERR_EARLY_DATA_TOO_LARGE', `over ${this.maxEarlyDataBytes} bytes sent before the handshake response`, 1009),
            'c2s',
          );
          return;
        }
        this.early.push(chunk);
        return;
      default:
        return;
    }
  }

  private feedS2c(chunk: Buffer): void {
    switch (this.s2cState) {
      case FRAMES:
        this.s2c!.push(chunk);
        return;
      case HEAD: {
        const r = this.parseHead(this.responseParser, chunk, 's2c');
        if (r === undefined) return;
        this.response = r.head;
        this.responseHeadTime = now();
        this.onResponseHead(r.rest);
        return;
      }
      case BODY:
        this.collectBody(chunk);
        return;
      default:
        return;
    }
  }

  private parseHead(parser: HttpHeadParser, chunk: Buffer, dir: Direction): ReturnType<HttpHeadParser['push']> {
    try {
      return parser.push(chunk);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      if (dir === 'c2s') this.c2sState = IGNORE;
      else this.s2cState = IGNORE;
      this.recordError(e, dir);
      return undefined;
    }
  }

  private onResponseHead(rest: Buffer): void {
    const response = this.response!;
    const status = parseStatusLine(response.startLine)?.status ?? 0;
    if (status !== 101) {
      this.c2sState = IGNORE;
      this.early = [];
      this.s2cState = BODY;
      const cl = getHeader(response, 'content-length');
      this.contentLength = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : undefined;
      if (this.contentLength === 0 || this.isBodyless(status)) this.emitHandshake(this.responseHeadTime);
      else if (rest.length > 0) this.collectBody(rest);
      return;
    }

    let deflate: DeflateParams | undefined;
    try {
      deflate = negotiatedDeflate(getHeader(response, 'sec-websocket-extensions'));
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.recordError(e, 's2c');
    }
    this.emitHandshake(this.responseHeadTime, deflate);
    this.sink.append({
      kind: 'connection',
      connectionId: this.connectionId,
      time: this.responseHeadTime,
      state: 'open',
      role: this.role,
      meta: this.meta,
    });

    // The bytes after a 101 are frames, even if the upgrade was invalid: decode them so the inspector shows them.
    this.c2s = new DirectionCapture(this, this.sink, this.connectionId, 'c2s', this.maxPayload, deflate);
    this.s2c = new DirectionCapture(this, this.sink, this.connectionId, 's2c', this.maxPayload, deflate);
    this.s2cState = FRAMES;
    if (this.c2sState === WAIT) {
      this.c2sState = FRAMES;
      const early = this.early;
      this.early = [];
      for (const b of early) this.c2s.decoder.push(b);
    }
    if (rest.length > 0) this.s2c.decoder.push(rest);
  }

  private isBodyless(status: number): boolean {
    return (status >= 100 && status < 200) || status === 204 || status === 304;
  }

  private collectBody(chunk: Buffer): void {
    const room = this.maxFailedBodyBytes - this.bodyBytes;
    const total = this.bodyBytes + chunk.length;
    if (room > 0) this.body.push(chunk.length <= room ? chunk : chunk.subarray(0, room));
    this.bodyBytes = total;
    const cl = this.contentLength;
    if (total > this.maxFailedBodyBytes || (cl !== undefined && total >= cl)) {
      this.emitHandshake(now());
      this.s2cState = IGNORE;
    }
  }

  private emitHandshake(time: number, deflate?: DeflateParams): void {
    const request = this.request;
    if (request === undefined || this._handshake !== undefined) return;
    const response = this.response;
    const status = response ? parseStatusLine(response.startLine)?.status ?? 0 : 0;
    const problem = response !== undefined && status === 101 ? upgradeProblem(request, response) : 'no 101';
    const ok = problem === undefined;
    const ev: Omit<HandshakeEvent, 'id'> = { kind: 'handshake', connectionId: this.connectionId, time, request, status, ok };
    if (response !== undefined) {
      ev.response = response;
      if (this.firstRequestByteTime !== 0) ev.openMs = this.responseHeadTime - this.firstRequestByteTime;
      if (status === 101) {
        const sub = getHeader(response, 'sec-websocket-protocol');
        if (sub !== undefined) ev.subprotocol = sub;
        const ext = getHeader(response, 'sec-websocket-extensions');
        if (ext !== undefined) ev.extensions = ext;
        if (deflate !== undefined) ev.deflate = deflate;
      } else {
        const cl = this.contentLength;
        const kept = Math.min(this.bodyBytes, this.maxFailedBodyBytes);
        if (kept > 0) ev.body = Buffer.concat(this.body, kept);
        this.body = [];
        if (this.bodyBytes > kept || (cl !== undefined && cl > kept)) ev.bodyTruncated = true;
      }
    }
    this._handshake = ev as HandshakeEvent;
    this.sink.append(ev);
    if (status === 101 && !ok) this.recordError(createWireError('WS_ERR_INVALID_HANDSHAKE', `invalid upgrade: ${problem}`, 1002), 's2c');
  }

  private internal(e: unknown): void {
    this.stopped = true;
    this.setShareable(false);
    try {
      const msg = e instanceof Error ? (e.stack ?? e.message) : String(e);
      this.recordError(createWireError('WS_ERR_CAPTURE_INTERNAL', `capture stopped: ${msg}`, 1011), undefined);
    } catch {
      // The sink itself failed: nothing more can be recorded.
    }
  }
}
