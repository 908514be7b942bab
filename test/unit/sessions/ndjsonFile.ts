// A large NDJSON export, written the way the product writes one (eventToJsonLine), for the streaming test and the
// import benchmark: connections with a handshake, text and binary messages of 200 B to 4 KB, fragmented messages,
// pings and a close each.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { CaptureEvent, FrameEvent, MessageEvent } from '../../../src/core/capture/events';
import { eventToJsonLine } from '../../../src/core/capture/sessionExport';
import { encodeFrameHeader } from '../../../src/core/wire/frameEncoder';

const KEY = Buffer.from('0badf00d', 'hex');

function frame(id: number, connectionId: string, time: number, opcode: number, payload: Buffer, fin = true, c2s = true): FrameEvent {
  const maskKey = c2s ? KEY : undefined;
  const header = encodeFrameHeader({ opcode, payload, maskKey, fin });
  return {
    id,
    kind: 'frame',
    connectionId,
    time,
    direction: c2s ? 'c2s' : 's2c',
    fin,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcode,
    masked: c2s,
    maskKey,
    payloadLength: payload.length,
    lengthForm: payload.length <= 125 ? 7 : payload.length <= 0xffff ? 16 : 64,
    headerLength: header.length,
    header,
    payload,
  };
}

function message(id: number, f: FrameEvent, frameIds: number[], data: Buffer): MessageEvent {
  return {
    id,
    kind: 'message',
    connectionId: f.connectionId,
    time: f.time,
    direction: f.direction,
    opcode: f.opcode === 2 ? 2 : 1,
    data,
    wireLength: data.length,
    compressed: false,
    utf8Valid: f.opcode === 2 ? undefined : true,
    frameIds,
  };
}

/** The events of one connection, ids from `first`, about `bytes` of payload. */
function* connection(first: number, n: number, bytes: number): Generator<CaptureEvent> {
  let id = first;
  const cid = `127.0.0.1:${40000 + (n % 20000)}#${n}`;
  let t = 1_767_000_000_000 + n * 1000;
  yield {
    id: id++, kind: 'handshake', connectionId: cid, time: t, status: 101, ok: true,
    request: { startLine: 'GET /feed HTTP/1.1', headers: [['Host', 'localhost'], ['Upgrade', 'websocket']], length: 60 },
    response: { startLine: 'HTTP/1.1 101 Switching Protocols', headers: [['Upgrade', 'websocket']], length: 60 },
  };
  yield { id: id++, kind: 'connection', connectionId: cid, time: t, state: 'open', role: 'server', meta: { remote: '127.0.0.1' } };
  for (let sent = 0, k = 0; sent < bytes; k++) {
    t += 0.25;
    const size = 200 + ((k * 977) % 3800);
    const text = k % 3 !== 2;
    const payload = text ? Buffer.from(`{"seq":${k},"pad":"${'x'.repeat(size)}"}`) : Buffer.alloc(size, k & 0xff);
    if (k % 25 === 24) {
      const a = frame(id++, cid, t, 1, payload.subarray(0, 100), false);
      const b = frame(id++, cid, t, 0, payload.subarray(100), true);
      yield a;
      yield b;
      yield message(id++, b, [a.id, b.id], payload);
    } else {
      const f = frame(id++, cid, t, text ? 1 : 2, payload, true, k % 2 === 0);
      yield f;
      yield message(id++, f, [f.id], payload);
    }
    if (k % 50 === 49) yield frame(id++, cid, t, 9, Buffer.from('ping'));
    sent += payload.length;
  }
  const close = Buffer.from([0x03, 0xe8, 0x62, 0x79, 0x65]);
  yield frame(id++, cid, t + 1, 8, close);
  yield frame(id++, cid, t + 2, 8, close, true, false);
  yield { id: id++, kind: 'connection', connectionId: cid, time: t + 3, state: 'closed', role: 'server', code: 1000, reason: 'bye', clean: true, bytesIn: bytes, bytesOut: 0 };
}

/** Writes an export of about `targetBytes` to `path`; resolves with its events and bytes. */
export async function writeLargeNdjson(path: string, targetBytes: number): Promise<{ events: number; bytes: number }> {
  const out = createWriteStream(path);
  let bytes = 0;
  let id = 1;
  let batch: string[] = [];
  let batchBytes = 0;
  for (let n = 0; bytes + batchBytes < targetBytes; n++) {
    for (const e of connection(id, n, 2 * 1024 * 1024)) {
      const line = eventToJsonLine(e) + '\n';
      batch.push(line);
      batchBytes += line.length;
      id = e.id + 1;
      if (batchBytes >= 4 * 1024 * 1024) {
        if (!out.write(batch.join(''))) await once(out, 'drain');
        bytes += batchBytes;
        batch = [];
        batchBytes = 0;
      }
    }
  }
  out.write(batch.join(''));
  bytes += batchBytes;
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  return { events: id - 1, bytes };
}
