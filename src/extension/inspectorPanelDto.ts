// Turns stored capture events into the small DTOs the webview gets, and the webview's filter into a store query.
// Kept free of `vscode` so unit tests can run it under plain Node.
import type { CaptureEvent, CloseFrameInfo, ConnectionEvent, FrameEvent, HttpHead, MessageEvent } from '../core/capture/events';
import type { EventQuery } from '../core/capture/eventQuery';
import type { StoreStats } from '../core/capture/eventStore';
import { stripUndefined } from '../core/util/objects';
import {
  MAX_DETAIL_BYTES,
  PREVIEW_CHARS,
  type CaptureCounters,
  type CloseFrameDto,
  type ConnectionEventDto,
  type ErrorDto,
  type EventDetail,
  type EventDto,
  type FrameDto,
  type HandshakeDetail,
  type HttpHeadDto,
  type HttpHeaderDto,
  type MessageDto,
  type ViewFilter,
} from '../shared/protocol';

const HEX_PREVIEW_BYTES = 64;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export interface Preview {
  preview: string;
  previewHex: boolean;
  previewTruncated: boolean;
}

/** The start of a payload as text (`text` true) or hex; `maybeText` tries strict UTF-8 first and falls back to hex. */
export function makePreview(bytes: Uint8Array, mode: 'text' | 'hex' | 'maybeText'): Preview {
  if (mode !== 'hex') {
    const slice = bytes.subarray(0, PREVIEW_CHARS * 4);
    let text: string | undefined;
    if (mode === 'text') {
      text = Buffer.from(slice.buffer, slice.byteOffset, slice.byteLength).toString('utf8');
    } else {
      // A cut may split a code point: allow up to 3 trailing bytes to be dropped.
      for (let cut = 0; cut <= 3 && cut <= slice.length && text === undefined; cut++) {
        try {
          text = strictUtf8.decode(slice.subarray(0, slice.length - cut));
        } catch {
          if (slice.length === bytes.length) break; // not cut, so no partial code point to forgive
        }
      }
    }
    if (text !== undefined) {
      const truncated = text.length > PREVIEW_CHARS || slice.length < bytes.length;
      return { preview: text.slice(0, PREVIEW_CHARS), previewHex: false, previewTruncated: truncated };
    }
  }
  const n = Math.min(bytes.length, HEX_PREVIEW_BYTES);
  const parts: string[] = new Array(n);
  for (let i = 0; i < n; i++) parts[i] = bytes[i].toString(16).padStart(2, '0');
  return { preview: parts.join(' '), previewHex: true, previewTruncated: bytes.length > n };
}

function frameDto(e: FrameEvent): FrameDto {
  const mode = e.rsv1 || e.opcode === 2 ? 'hex' : e.opcode === 1 ? 'text' : e.opcode === 8 ? 'hex' : 'maybeText';
  // A close frame's preview is its reason; the code shows in its own field.
  const p = e.opcode === 8 ? { preview: e.closeReason ?? '', previewHex: false, previewTruncated: false } : makePreview(e.payload, mode);
  const dto: FrameDto = {
    kind: 'frame',
    id: e.id,
    connectionId: e.connectionId,
    time: e.time,
    direction: e.direction,
    fin: e.fin,
    rsv1: e.rsv1,
    rsv2: e.rsv2,
    rsv3: e.rsv3,
    opcode: e.opcode,
    masked: e.masked,
    payloadLength: e.payloadLength,
    headerLength: e.headerLength,
    ...p,
  };
  if (e.closeCode !== undefined) dto.closeCode = e.closeCode;
  if (e.closeReason !== undefined) dto.closeReason = e.closeReason;
  if (e.messageId !== undefined) dto.messageId = e.messageId;
  if (e.alsoSentTo !== undefined) dto.alsoSentToCount = e.alsoSentTo.length;
  if (e.afterViolation === true) dto.afterViolation = true;
  if (e.unsentTo !== undefined) dto.unsentTo = e.unsentTo.slice();
  return dto;
}

function messageDto(e: MessageEvent): MessageDto {
  const textual = e.opcode === 1 && !e.inflateError;
  const dto: MessageDto = {
    kind: 'message',
    id: e.id,
    connectionId: e.connectionId,
    time: e.time,
    direction: e.direction,
    opcode: e.opcode,
    wireLength: e.wireLength,
    length: e.data.length,
    compressed: e.compressed,
    frameIds: e.frameIds.slice(),
    ...makePreview(e.data, textual ? 'text' : 'hex'),
  };
  if (e.inflatedLength !== undefined) dto.inflatedLength = e.inflatedLength;
  if (e.inflateError !== undefined) dto.inflateError = e.inflateError;
  if (e.utf8Valid !== undefined) dto.utf8Valid = e.utf8Valid;
  if (e.alsoSentTo !== undefined) dto.alsoSentToCount = e.alsoSentTo.length;
  if (e.unsentTo !== undefined) dto.unsentTo = e.unsentTo.slice();
  return dto;
}

/** A close frame's DTO: a copy, `unsent` only when set. */
function closeFrameDto(f: CloseFrameInfo): CloseFrameDto {
  return f.unsent === true ? { code: f.code, reason: f.reason, unsent: true } : { code: f.code, reason: f.reason };
}

function connectionDto(e: ConnectionEvent): ConnectionEventDto {
  const { id, connectionId, time, state, role, meta, code, reason, clean, closeFrames: f, missingClose, unsent: u, bytesIn, bytesOut } = e;
  const closeFrames = f && stripUndefined({ sent: f.sent && closeFrameDto(f.sent), received: f.received && closeFrameDto(f.received) });
  const unsent = u && { bytes: u.bytes, frameIds: u.frameIds.slice(), messageIds: u.messageIds.slice() };
  return stripUndefined<ConnectionEventDto>({
    kind: 'connection', id, connectionId, time, state, role, meta: meta && { ...meta }, code, reason, clean,
    closeFrames, missingClose, unsent, bytesIn, bytesOut,
  });
}

export function toDto(e: CaptureEvent): EventDto {
  switch (e.kind) {
    case 'frame':
      return frameDto(e);
    case 'message':
      return messageDto(e);
    case 'error': {
      const { id, connectionId, time, direction, code, closeCode, message, byteCount } = e;
      const dto: ErrorDto =
        direction === undefined
          ? { kind: 'error', id, connectionId, time, code, closeCode, message }
          : { kind: 'error', id, connectionId, time, direction, code, closeCode, message };
      if (byteCount !== undefined) dto.byteCount = byteCount;
      return dto;
    }
    case 'handshake': {
      const { id, connectionId, time, status, ok, subprotocol, extensions, openMs } = e;
      return stripUndefined({ kind: 'handshake', id, connectionId, time, requestLine: e.request.startLine, status, ok, subprotocol, extensions, openMs });
    }
    case 'connection':
      return connectionDto(e);
  }
}

/** A fresh copy of at most `max` bytes: never hand the webview a view on Node's shared buffer pool. */
function copyBytes(b: Uint8Array, max = MAX_DETAIL_BYTES): { bytes: Uint8Array; truncated: boolean } {
  const n = Math.min(b.length, max);
  const bytes = new Uint8Array(n);
  bytes.set(b.subarray(0, n));
  return { bytes, truncated: b.length > n };
}

function headDto(h: HttpHead): HttpHeadDto {
  const header = ([k, v, w]: HttpHead['headers'][number]): HttpHeaderDto =>
    w ? [k, v, stripUndefined({ latin1: w.latin1, space: w.space && ([w.space[0], w.space[1]] as [string, string]) })] : [k, v];
  return { startLine: h.startLine, headers: h.headers.map(header), length: h.length };
}

export function toDetail(e: CaptureEvent): EventDetail {
  switch (e.kind) {
    case 'frame': {
      const p = copyBytes(e.payload);
      const d: EventDetail = { kind: 'frame', frame: frameDto(e), header: copyBytes(e.header).bytes, payload: p.bytes, truncated: p.truncated };
      if (e.maskKey) d.maskKey = copyBytes(e.maskKey).bytes;
      return d;
    }
    case 'message': {
      const p = copyBytes(e.data);
      return { kind: 'message', message: messageDto(e), data: p.bytes, truncated: p.truncated };
    }
    case 'handshake': {
      const d: HandshakeDetail = stripUndefined({
        kind: 'handshake' as const,
        id: e.id,
        connectionId: e.connectionId,
        time: e.time,
        request: headDto(e.request),
        response: e.response && headDto(e.response),
        status: e.status,
        ok: e.ok,
        subprotocol: e.subprotocol,
        extensions: e.extensions,
        openMs: e.openMs,
        bodyTruncated: e.bodyTruncated,
      });
      if (e.body) d.body = copyBytes(e.body).bytes;
      return d;
    }
    case 'error':
    case 'connection':
      return { kind: 'simple', event: toDto(e) as ErrorDto | ConnectionEventDto };
  }
}

/** The store query for a view filter. The caller catches the `TypeError` a bad regex throws. */
export function filterQuery(f: ViewFilter): EventQuery {
  const q: EventQuery = {};
  if (f.connectionId !== undefined) q.connectionId = f.connectionId;
  if (f.direction !== undefined) q.direction = f.direction;
  if (f.opcodes !== undefined) q.opcodes = f.opcodes;
  if (f.search) {
    if (f.regex) q.regex = f.search;
    else q.text = f.search;
  }
  return q;
}

/** Counts frames, their wire bytes and messages as batches go by, for the panel's live counters. */
export class CaptureCounter {
  private frames = 0;
  private frameBytes = 0;
  private messages = 0;

  add(events: readonly CaptureEvent[]): void {
    for (const e of events) {
      // A broadcast recorded once stands for one frame (and message) per connection it went to.
      const copies = e.kind === 'frame' || e.kind === 'message' ? 1 + (e.alsoSentTo?.length ?? 0) : 0;
      if (e.kind === 'frame') {
        this.frames += copies;
        this.frameBytes += (e.headerLength + e.payloadLength) * copies;
      } else if (e.kind === 'message') {
        this.messages += copies;
      }
    }
  }

  reset(): void {
    this.frames = 0;
    this.frameBytes = 0;
    this.messages = 0;
  }

  snapshot(s: StoreStats): CaptureCounters {
    return {
      frames: this.frames,
      frameBytes: this.frameBytes,
      messages: this.messages,
      storedEvents: s.count,
      evictedEvents: s.evictedEvents,
      evictedBytes: s.evictedBytes,
      firstId: s.firstId,
      lastId: s.lastId,
    };
  }
}
