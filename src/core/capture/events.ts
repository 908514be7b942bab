// The records a capture produces. They are plain data (no sockets, no classes) so that the store can
// page them, the extension can export them, and the webview protocol can carry them.
import type { DecodedFrame } from '../wire/frameDecoder';
import type { AssembledMessage } from '../wire/messageAssembler';
import type { DeflateParams, Direction, HttpHead } from '../wire/types';

export type { DeflateParams, Direction, HttpHead } from '../wire/types';

interface EventBase {
  /** Monotonic across the whole store; assigned by the store on append. */
  id: number;
  connectionId: string;
  /** Epoch milliseconds with sub-millisecond resolution (performance.timeOrigin + performance.now()). */
  time: number;
}

export interface HandshakeEvent extends EventBase {
  kind: 'handshake';
  request: HttpHead;
  /** Absent when the peer closed before any response arrived. */
  response?: HttpHead;
  /** HTTP status of the response, 0 if none. */
  status: number;
  /** True only for 101 with a valid upgrade. */
  ok: boolean;
  subprotocol?: string;
  /** Raw `Sec-WebSocket-Extensions` of the response. */
  extensions?: string;
  deflate?: DeflateParams;
  /** From the first byte of the request to the end of the response head, in ms. */
  openMs?: number;
  /** For a failed upgrade: the start of the response body, bounded (see captureLimits.maxFailedBodyBytes). */
  body?: Buffer;
  bodyTruncated?: boolean;
}

/** A frame as the decoder read it (see DecodedFrame for each field), with what the capture and the sink know of it. */
export interface FrameEvent extends EventBase, Omit<DecodedFrame, 'time' | 'afterViolation'> {
  kind: 'frame';
  direction: Direction;
  /** For close frames. */
  closeCode?: number;
  closeReason?: string;
  /**
   * The id of the message the frame belongs to. The sink gives it, from the message's `frameIds` (the frame is
   * appended first, and nobody changes it after): undefined as appended, and until the message is.
   */
  messageId?: number;
  /**
   * A broadcast: the other connections that this same frame was written to, in the same tick, byte for byte.
   * The event then stands for one frame per connection (`connectionId` first) at the time of the first write.
   * Recording it once keeps capture cheap when one message fans out to thousands of clients.
   */
  alsoSentTo?: readonly string[];
  /**
   * Read after this direction's first header violation (the violating frame included): framed as the bytes say,
   * without the checks, and not assembled into messages. Undefined or false before.
   */
  afterViolation?: boolean;
  /**
   * Connections (of `connectionId` and `alsoSentTo`) this frame was written to and never left for: their socket closed
   * before the kernel took its bytes (see ConnectionEvent.unsent). Absent when it left for all of them.
   */
  unsentTo?: readonly string[];
}

/** A reassembled message (see AssembledMessage for each field), with the ids of its frames instead of the frames. */
export interface MessageEvent extends EventBase, Omit<AssembledMessage, 'frames'> {
  kind: 'message';
  direction: Direction;
  frameIds: number[];
  /** As on FrameEvent: the other connections this same message went to, byte for byte, in the same tick. */
  alsoSentTo?: readonly string[];
  /** As on FrameEvent: the connections this message did not wholly leave for. */
  unsentTo?: readonly string[];
}

/** A protocol violation. The capture goes on recording; the error says what the RFC would close with. */
export interface ErrorEvent extends EventBase {
  kind: 'error';
  direction?: Direction;
  /** Stable `WS_ERR_*` code. */
  code: string;
  /** The RFC 6455 close status this violation calls for (1002, 1007, 1009…). */
  closeCode: number;
  message: string;
  /**
   * `WS_ERR_UNFRAMED_BYTES`: bytes of one read that can't be framed (a direction's bytes after a length that can't be
   * trusted), recorded as their count.
   */
  byteCount?: number;
}

/** A close frame's status and reason: code 1005 when the frame carried none. */
export interface CloseFrameInfo {
  code: number;
  reason: string;
  /** This end wrote it, and the connection closed before it left (see ConnectionEvent.unsent). */
  unsent?: boolean;
}

/**
 * On close: what this end wrote and never sent, because the socket closed (reset, or destroyed) before the kernel took
 * it. The frames are those the capture had recorded: this connection's own, or broadcasts that also went to it.
 */
export interface UnsentRecord {
  /** Bytes written and never handed to the kernel. */
  bytes: number;
  frameIds: number[];
  /** The messages of those frames (a message with one unsent frame did not wholly leave). */
  messageIds: number[];
}

/** Connection lifecycle as seen by the capture. */
export interface ConnectionEvent extends EventBase {
  kind: 'connection';
  state: 'open' | 'closed';
  role: 'server' | 'client';
  /** Free-form labels: remote address, url, user agent, debug session… */
  meta?: Record<string, string>;
  /**
   * On close: the code of the close frame the peer sent, or else of the one this end sent, with its reason; and whether
   * the close handshake completed (both sides sent one). `closeFrames` tells the two apart.
   */
  code?: number;
  reason?: string;
  clean?: boolean;
  /**
   * On close, from a capture of the wire (absent on events made from other sources): the first close frame each side
   * sent, seen from this end (`role`). `sent` is this end's, `received` its peer's; each is absent when that side sent
   * none.
   */
  closeFrames?: { sent?: CloseFrameInfo; received?: CloseFrameInfo };
  /**
   * On close, when `clean` is false and frames were captured: whose close frame did not cross the wire. `sent` is this
   * end's (none written, or written and never sent), `received` the peer's.
   */
  missingClose?: 'sent' | 'received' | 'both';
  /** On close, when this end wrote bytes that never left (see UnsentRecord). */
  unsent?: UnsentRecord;
  bytesIn?: number;
  /** Bytes this end sent: handed to the kernel, not only written. */
  bytesOut?: number;
}

export type CaptureEvent = HandshakeEvent | FrameEvent | MessageEvent | ErrorEvent | ConnectionEvent;

/** An event before the store has given it an id. */
export type NewCaptureEvent = CaptureEvent extends infer E ? (E extends CaptureEvent ? Omit<E, 'id'> : never) : never;

/**
 * True when `e` belongs to connection `id` (see `alsoSentTo`), or to a connection of the group `id`: the two legs
 * of a proxied connection are `<id>/program` and `<id>/target`, so picking `<id>` shows both sides.
 */
export function eventHasConnection(e: CaptureEvent, id: string): boolean {
  const own = e.connectionId;
  if (own === id) return true;
  if (own.length > id.length && own.charCodeAt(id.length) === 0x2f && own.startsWith(id)) return true;
  return (e.kind === 'frame' || e.kind === 'message') && e.alsoSentTo !== undefined && e.alsoSentTo.includes(id);
}

/**
 * The frames a socket that closed with `bytes` of its writes unsent never sent: the newest frames of `connectionId`
 * (its own and broadcasts that also went to it) in `direction`, from `lastId` back to `afterId` (exclusive), until
 * their wire bytes cover `bytes`; and their messages. `get` reads the sink's events (undefined once evicted).
 */
export function framesInLastBytes(
  get: (id: number) => CaptureEvent | undefined,
  lastId: number,
  afterId: number,
  connectionId: string,
  direction: Direction,
  bytes: number,
): Pick<UnsentRecord, 'frameIds' | 'messageIds'> {
  const frameIds: number[] = [];
  const messageIds: number[] = [];
  let left = bytes;
  for (let id = lastId; id > afterId && left > 0; id--) {
    const e = get(id);
    if (e === undefined) break;
    if (e.kind !== 'frame' || e.direction !== direction || !eventHasConnection(e, connectionId)) continue;
    frameIds.push(id);
    if (e.messageId !== undefined && !messageIds.includes(e.messageId)) messageIds.push(e.messageId);
    left -= e.headerLength + e.payloadLength;
  }
  return { frameIds: frameIds.reverse(), messageIds: messageIds.reverse() };
}

/** Payload bytes an event holds, for the store's byte cap. */
export function eventPayloadBytes(e: Omit<CaptureEvent, 'id'>): number {
  switch (e.kind) {
    case 'frame':
      return (e as FrameEvent).payload.length + (e as FrameEvent).header.length;
    case 'message':
      return (e as MessageEvent).data.length;
    case 'handshake':
      return (e as HandshakeEvent).body?.length ?? 0;
    default:
      return 0;
  }
}

/** Where capture events go. The EventStore implements it; tests may collect into an array. */
export interface CaptureSink {
  /**
   * Appends and returns the id given to the event (the sink sets its `id`). The event is complete: nobody changes it
   * afterwards, so the sink may keep the object or copy it at once. A frame's `messageId` is the sink's to give, from
   * the `frameIds` of the message appended after it (the EventStore does).
   */
  append(event: NewCaptureEvent): number;
  /**
   * The capture is done with the bytes of every event appended so far: the EventStore moves them into its compact
   * history now instead of at the end of the turn, while those bytes, just decoded, are still in the CPU's caches (at
   * the end of a server's turn, its writes to every client have pushed them out).
   */
  seal?(): void;
  /**
   * Room for `n` bytes in the sink's own storage, or undefined. The capture copies a masked frame it decodes (a whole
   * message or a control frame, read in one piece) straight there, and appends its event and seals it in the same
   * turn; the sink then keeps those bytes where they are instead of copying them again. A sink that offers this must
   * offer `seal` too. Bytes reserved and never appended are only lost space.
   */
  reserveBytes?(n: number): Buffer | undefined;
  /**
   * Appends a whole frame and the one-frame message it is, as `append` of the frame's event and then of the message's
   * would (see appendWholeFrameEvents for the two events), without the capture building them: the path of nearly
   * every frame on a busy connection. Only for a frame with FIN set, no RSV bit, text (valid UTF-8) or binary, between
   * messages, and within the size limit. Its header (mask key included) is the `headerLength` bytes of `bytes` from
   * `at`, and its unmasked payload the `payloadLength` bytes after them; they are read during the call only (or kept
   * where they are when `bytes` is room reserveBytes gave). Returns the frame's id; the message's is the next one.
   */
  /**
   * See framesInLastBytes: the sink's frames that a socket closing with `bytes` unsent never sent. A sink without it
   * gets an UnsentRecord without frames.
   */
  framesInLastBytes?(connectionId: string, direction: Direction, bytes: number, afterId: number): Pick<UnsentRecord, 'frameIds' | 'messageIds'>;
  appendWholeFrame?(
    connectionId: string,
    time: number,
    direction: Direction,
    opcode: 1 | 2,
    bytes: Buffer,
    at: number,
    headerLength: number,
    payloadLength: number,
    alsoSentTo: readonly string[] | undefined,
  ): number;
}

/**
 * Appends the two events of a whole frame (see CaptureSink.appendWholeFrame) to `sink`, equal to what the decoder and
 * the message assembler give for it: the frame's, then its message's. Returns the frame's id.
 */
export function appendWholeFrameEvents(
  sink: Pick<CaptureSink, 'append'>,
  connectionId: string,
  time: number,
  direction: Direction,
  opcode: 1 | 2,
  header: Buffer,
  payload: Buffer,
  alsoSentTo: readonly string[] | undefined,
): number {
  const hl = header.length;
  const len7 = header[1] & 0x7f;
  const masked = (header[1] & 0x80) !== 0;
  const n = payload.length;
  const frame: FrameEvent = {
    id: 0,
    kind: 'frame',
    connectionId,
    time,
    direction,
    fin: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode,
    masked,
    maskKey: masked ? header.subarray(hl - 4) : undefined,
    payloadLength: n,
    lengthForm: len7 === 126 ? 16 : len7 === 127 ? 64 : 7,
    headerLength: hl,
    header,
    payload,
    closeCode: undefined,
    closeReason: undefined,
    messageId: undefined,
    alsoSentTo,
    afterViolation: false,
  };
  const frameId = sink.append(frame);
  const message: MessageEvent = {
    id: 0,
    kind: 'message',
    connectionId,
    time,
    direction,
    opcode,
    data: payload,
    wireLength: n,
    compressed: false,
    inflatedLength: undefined,
    inflateError: undefined,
    utf8Valid: opcode === 1 ? true : undefined,
    frameIds: [frameId],
    alsoSentTo,
  };
  sink.append(message);
  return frameId;
}
