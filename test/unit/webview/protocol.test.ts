import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { isWebviewToHost, opcodeName, PREVIEW_CHARS, MAX_DETAIL_BYTES } from '../../../src/shared/protocol';
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
});
