import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { headerLine, isWebviewToHost, opcodeName, PREVIEW_CHARS, MAX_DETAIL_BYTES } from '../../../src/shared/protocol';
import { parseHttpHead } from '../../../src/core/wire/handshake';
import { makePreview, toDto, toDetail, filterQuery, CaptureCounter } from '../../../src/extension/inspectorPanelDto';
import { EventStore } from '../../../src/core/capture/eventStore';
import type { FrameEvent, MessageEvent } from '../../../src/core/capture/events';

function frameEvent(payload: Buffer, o: Partial<FrameEvent> = {}): Omit<FrameEvent, 'id'> {
  const masked = o.masked ?? true;
  return {
    kind: 'frame', connectionId: 'c1', time: 1, direction: 'c2s', fin: true, rsv1: false, rsv2: false, rsv3: false,
    opcode: 1, masked, maskKey: masked ? Buffer.from('01020304', 'hex') : undefined, payloadLength: payload.length,
    lengthForm: 7, headerLength: 6, header: Buffer.from('818501020304', 'hex'), payload, ...o,
  };
}

describe('protocol validation', () => {
  test('accepts well-formed messages', () => {
    assert.ok(isWebviewToHost({ type: 'ready' }));
    assert.ok(isWebviewToHost({ type: 'subscribe', requestId: 1, filter: { direction: 'c2s' }, floorId: 0, limit: 100 }));
    assert.ok(isWebviewToHost({ type: 'send', requestId: 2, target: { kind: 'client', clientId: 'x' }, payload: { kind: 'binary', data: new Uint8Array(2) } }));
    assert.ok(isWebviewToHost({ type: 'getDetail', requestId: 3, id: 7 }));
    assert.ok(isWebviewToHost({ type: 'resolveHeld', requestId: 4, id: 1, action: 'edit', text: 'new' }));
    assert.ok(isWebviewToHost({ type: 'resolveHeld', requestId: 5, id: 1, action: 'edit', hex: 'ff 00' }));
    assert.ok(isWebviewToHost({ type: 'resolveHeld', requestId: 6, id: 1, action: 'drop' }));
  });

  test('an edit of a held frame carries its payload as text or as hex, not both and not neither', () => {
    assert.equal(isWebviewToHost({ type: 'resolveHeld', requestId: 1, id: 1, action: 'edit' }), false);
    assert.equal(isWebviewToHost({ type: 'resolveHeld', requestId: 1, id: 1, action: 'edit', text: 'a', hex: '61' }), false);
    assert.equal(isWebviewToHost({ type: 'resolveHeld', requestId: 1, id: 1, action: 'edit', hex: 42 }), false);
  });

  test('rejects malformed ones', () => {
    assert.equal(isWebviewToHost(null), false);
    assert.equal(isWebviewToHost({ type: 'eval', requestId: 1 }), false);
    assert.equal(isWebviewToHost({ type: 'getDetail', id: 7 }), false, 'no requestId');
    assert.equal(isWebviewToHost({ type: 'subscribe', requestId: 1, filter: { direction: 'up' }, floorId: 0, limit: 1 }), false);
    assert.equal(isWebviewToHost({ type: 'send', requestId: 1, target: { kind: 'everyone' }, payload: { kind: 'text', text: '' } }), false);
    assert.equal(isWebviewToHost({ type: 'send', requestId: 1, target: { kind: 'allClients' }, payload: { kind: 'binary', data: [1] } }), false);
  });

  test('opcode names', () => {
    assert.deepEqual([0, 1, 2, 8, 9, 10, 3].map(opcodeName), ['continuation', 'text', 'binary', 'close', 'ping', 'pong', '0x3']);
  });
});

describe('DTOs', () => {
  test('previews are bounded', () => {
    const long = makePreview(Buffer.from('é'.repeat(500)), 'text');
    assert.equal(long.preview.length, PREVIEW_CHARS);
    assert.equal(long.previewTruncated, true);
    const hex = makePreview(Buffer.from([0, 1, 255]), 'hex');
    assert.deepEqual(hex, { preview: '00 01 ff', previewHex: true, previewTruncated: false });
    assert.equal(makePreview(Buffer.from([0xff, 0xfe]), 'maybeText').previewHex, true);
    // A cut in the middle of a code point still reads as text.
    const cut = makePreview(Buffer.from('€'.repeat(400)), 'maybeText');
    assert.equal(cut.previewHex, false);
    assert.equal(cut.preview, '€'.repeat(PREVIEW_CHARS));
  });

  test('frame DTO carries flags and preview but no payload; detail carries copies', () => {
    const store = new EventStore();
    try {
      const id = store.append(frameEvent(Buffer.from('<img src=x onerror=alert(1)>')));
      const e = store.get(id)!;
      const dto = toDto(e);
      assert.equal(dto.kind, 'frame');
      assert.ok(!('payload' in dto));
      assert.equal(dto.kind === 'frame' && dto.preview, '<img src=x onerror=alert(1)>');
      const d = toDetail(e);
      assert.ok(d.kind === 'frame');
      assert.equal(Buffer.from(d.payload).toString(), '<img src=x onerror=alert(1)>');
      assert.ok(!(d.payload instanceof Buffer), 'a plain Uint8Array, not a pool view');
      assert.equal(d.payload.buffer.byteLength, d.payload.length);
      assert.deepEqual([...d.maskKey!], [1, 2, 3, 4]);
      assert.deepEqual(JSON.parse(JSON.stringify(dto)), dto, 'plain data');
    } finally {
      store.dispose();
    }
  });

  test('detail payloads are capped', () => {
    const store = new EventStore();
    try {
      const id = store.append(frameEvent(Buffer.alloc(MAX_DETAIL_BYTES + 10, 0x61), { opcode: 2 }));
      const d = toDetail(store.get(id)!);
      assert.ok(d.kind === 'frame' && d.truncated && d.payload.length === MAX_DETAIL_BYTES);
    } finally {
      store.dispose();
    }
  });

  test('close frames preview their reason; compressed frames preview hex', () => {
    const store = new EventStore();
    try {
      const c = store.append(frameEvent(Buffer.from('03e8627965', 'hex'), { opcode: 8, closeCode: 1000, closeReason: 'bye' }));
      const cd = toDto(store.get(c)!);
      assert.ok(cd.kind === 'frame' && cd.closeCode === 1000 && cd.preview === 'bye');
      const z = store.append(frameEvent(Buffer.from('f248cdc9c90700', 'hex'), { rsv1: true }));
      const zd = toDto(store.get(z)!);
      assert.ok(zd.kind === 'frame' && zd.previewHex);
      const msg: Omit<MessageEvent, 'id'> = {
        kind: 'message', connectionId: 'c1', time: 2, direction: 'c2s', opcode: 1, data: Buffer.from('hello'),
        wireLength: 7, compressed: true, inflatedLength: 5, frameIds: [z], utf8Valid: true,
      };
      const m = toDto(store.get(store.append(msg))!);
      assert.ok(m.kind === 'message' && m.preview === 'hello' && m.inflatedLength === 5 && m.wireLength === 7);
    } finally {
      store.dispose();
    }
  });

  test('filter → query, and counters', () => {
    assert.deepEqual(filterQuery({ connectionId: 'a', direction: 's2c', opcodes: 'control', search: 'x' }), {
      connectionId: 'a', direction: 's2c', opcodes: 'control', text: 'x',
    });
    assert.deepEqual(filterQuery({ search: 'a+', regex: true }), { regex: 'a+' });
    assert.deepEqual(filterQuery({ search: '' }), {});
    const store = new EventStore();
    try {
      store.append(frameEvent(Buffer.from('abc')));
      store.append(frameEvent(Buffer.from('de')));
      const c = new CaptureCounter();
      c.add(store.query({}).events);
      const s = c.snapshot(store.stats());
      assert.equal(s.frames, 2);
      assert.equal(s.frameBytes, 6 + 3 + 6 + 2);
      assert.equal(s.storedEvents, 2);
    } finally {
      store.dispose();
    }
  });

  test('a closed connection’s DTO carries each side’s close frame, as copies; the simple detail the same', () => {
    const store = new EventStore();
    try {
      const closeFrames = { sent: { code: 1002, reason: '' }, received: { code: 1000, reason: 'bye' } };
      const id = store.append({ kind: 'connection', connectionId: 'c', time: 1, state: 'closed', role: 'server', code: 1000, reason: 'bye', clean: true, closeFrames });
      const dto = toDto(store.get(id)!);
      assert.deepEqual(dto, { kind: 'connection', id, connectionId: 'c', time: 1, state: 'closed', role: 'server', code: 1000, reason: 'bye', clean: true, closeFrames });
      assert.ok(dto.kind === 'connection' && dto.closeFrames !== closeFrames && dto.closeFrames!.sent !== closeFrames.sent);
      const d = toDetail(store.get(id)!);
      assert.deepEqual(d.kind === 'simple' && d.event, dto);
      const other = toDto(store.get(store.append({ kind: 'connection', connectionId: 'c', time: 2, state: 'closed', role: 'client', reason: 'stopped', clean: true }))!);
      assert.ok(!('closeFrames' in other), 'an event not from the wire says nothing of close frames');
    } finally {
      store.dispose();
    }
  });
});

describe('frames written and never sent', () => {
  test('frame and message DTOs carry unsentTo once the closed event is in; the closed DTO what was unsent and whose close is missing', () => {
    const store = new EventStore();
    try {
      const f = store.append(frameEvent(Buffer.from('lost'), { direction: 's2c', masked: false, alsoSentTo: ['c2'] }));
      const msg: Omit<MessageEvent, 'id'> = {
        kind: 'message', connectionId: 'c1', time: 2, direction: 's2c', opcode: 1, data: Buffer.from('lost'),
        wireLength: 4, compressed: false, frameIds: [f], utf8Valid: true, alsoSentTo: ['c2'],
      };
      const m = store.append(msg);
      const before = toDto(store.get(f)!);
      assert.ok(before.kind === 'frame' && !('unsentTo' in before), 'nothing said while the connection is open');
      const unsent = { bytes: 6, frameIds: [f], messageIds: [m] };
      const closeFrames = { sent: { code: 1000, reason: 'bye', unsent: true }, received: { code: 1001, reason: '' } };
      const c = store.append({
        kind: 'connection', connectionId: 'c1', time: 3, state: 'closed', role: 'server', code: 1001, reason: '', clean: false,
        closeFrames, missingClose: 'sent', unsent, bytesIn: 40, bytesOut: 129,
      });

      const fd = toDto(store.get(f)!);
      const md = toDto(store.get(m)!);
      assert.deepEqual(fd.kind === 'frame' && [fd.unsentTo, fd.alsoSentToCount], [['c1'], 1]);
      assert.deepEqual(md.kind === 'message' && [md.unsentTo, md.alsoSentToCount], [['c1'], 1]);
      const fdetail = toDetail(store.get(f)!);
      assert.deepEqual(fdetail.kind === 'frame' && fdetail.frame.unsentTo, ['c1'], 'the detail of the frame says it too');

      const cd = toDto(store.get(c)!);
      assert.deepEqual(cd, {
        kind: 'connection', id: c, connectionId: 'c1', time: 3, state: 'closed', role: 'server', code: 1001, reason: '', clean: false,
        closeFrames: { sent: { code: 1000, reason: 'bye', unsent: true }, received: { code: 1001, reason: '' } },
        missingClose: 'sent', unsent: { bytes: 6, frameIds: [f], messageIds: [m] }, bytesIn: 40, bytesOut: 129,
      });
      assert.ok(cd.kind === 'connection' && cd.unsent !== unsent && cd.unsent!.frameIds !== unsent.frameIds, 'copies');
      assert.ok(cd.kind === 'connection' && !('unsent' in cd.closeFrames!.received!), 'the peer’s frame has no unsent mark');
      assert.deepEqual(JSON.parse(JSON.stringify([fd, md, cd])), [fd, md, cd], 'plain data');
    } finally {
      store.dispose();
    }
  });
});

describe('the handshake detail', () => {
  test('header lines are shown as on the wire, whitespace and all, with latin-1 values marked', () => {
    const wire = Buffer.concat([
      Buffer.from('GET / HTTP/1.1\r\nHost: a.test\r\n', 'latin1'),
      Buffer.from('X-Name: J\u00fcrgen\r\n', 'utf8'),
      Buffer.from('X-Legacy: M', 'latin1'), Buffer.from([0xfc]), Buffer.from('ller\r\nX-Pad:\t v  \r\n\r\n', 'latin1'),
    ]);
    const request = parseHttpHead(wire);
    const d = toDetail({ kind: 'handshake', id: 1, connectionId: 'c1', time: 0, request, status: 0, ok: false });
    assert.equal(d.kind, 'handshake');
    if (d.kind !== 'handshake') return;
    assert.deepEqual(d.request.headers.map(headerLine), [
      { text: 'Host: a.test', latin1: false },
      { text: 'X-Name: J\u00fcrgen', latin1: false },
      { text: 'X-Legacy: M\u00fcller', latin1: true },
      { text: 'X-Pad:\t v  ', latin1: false },
    ]);
    // The DTO is the host's copy, not the event's objects.
    assert.notEqual(d.request.headers[3][2], request.headers[3][2]);
    assert.deepEqual(d.request.headers[3][2], request.headers[3][2]);
  });
});

describe('after a protocol violation', () => {
  test('a frame read after a violation keeps its mark through the store, the DTO and the NDJSON line; an opaque chunk its length', async () => {
    const { eventToJsonLine } = await import('../../../src/core/capture/sessionExport');
    const store = new EventStore();
    const f = store.get(store.append(frameEvent(Buffer.from('hello'), { afterViolation: true })))!;
    const dto = toDto(f);
    assert.equal(dto.kind === 'frame' && dto.afterViolation, true);
    assert.equal(JSON.parse(eventToJsonLine(f)).afterViolation, true);
    const plain = toDto(store.get(store.append(frameEvent(Buffer.from('hello'))))!);
    assert.equal(plain.kind === 'frame' && plain.afterViolation, undefined);
    const opaque = { kind: 'error', connectionId: 'c1', time: 1, direction: 'c2s', code: 'WS_ERR_UNFRAMED_BYTES', closeCode: 1009, message: 'm', byteCount: 22 } as const;
    const od = toDto(store.get(store.append(opaque))!);
    assert.equal(od.kind === 'error' && od.byteCount, 22);
    assert.equal(JSON.parse(eventToJsonLine(store.get(store.append(opaque))!)).byteCount, 22);
  });
});
