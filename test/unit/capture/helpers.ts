// Shared by the capture tests: a sink that keeps every event, an opening handshake's two heads, and events made by
// hand for the store and its queries.
import type { CaptureEvent, FrameEvent, NewCaptureEvent } from '../../../src/core/capture/events';
export { ArraySink } from '../../support/arraySink';
import { computeAccept } from '../../../src/core/wire/handshake';

export const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
export const MASK = Buffer.from('37fa213d', 'hex');
export const request = (extra = '') =>
  Buffer.from(
    `GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n${extra}\r\n`,
    'latin1',
  );
export const response101 = (extra = '') =>
  Buffer.from(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${computeAccept(KEY)}\r\n` +
      `Sec-WebSocket-Protocol: chat\r\n${extra}\r\n`,
    'latin1',
  );

let t0 = 1_700_000_000_000;

/** Epoch ms for an event made by hand: one ms after the last one. */
export const nextTime = (): number => t0++;

/** A final unmasked text frame on c1, c2s, unless `o` says otherwise. */
export function frame(payload: string | Buffer, o: Partial<FrameEvent> = {}): NewCaptureEvent {
  const p = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.from([0x81, p.length < 126 ? p.length : 126]);
  return {
    kind: 'frame',
    connectionId: 'c1',
    time: nextTime(),
    direction: 'c2s',
    fin: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode: 1,
    masked: false,
    payloadLength: p.length,
    lengthForm: 7,
    headerLength: header.length,
    header,
    payload: p,
    ...o,
  } as NewCaptureEvent;
}

export function conn(connectionId: string, state: 'open' | 'closed' = 'open'): NewCaptureEvent {
  return { kind: 'connection', connectionId, time: nextTime(), state, role: 'server' };
}

export const ids = (evs: CaptureEvent[]) => evs.map((e) => e.id);
export const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
