import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventStore } from '../../../src/core/capture/eventStore';
import type { FrameEvent, HandshakeEvent, MessageEvent } from '../../../src/core/capture/events';
import {
  recordSyntheticConnection,
  recordSyntheticFrame,
  recordSyntheticHandshake,
} from '../../../src/core/capture/syntheticCapture';
import { encodeClosePayload, encodeFrame } from '../../../src/core/wire/frameEncoder';

describe('synthetic capture', () => {
  test('a text frame becomes a frame and a message linked both ways, with the header encodeFrame gives', () => {
    const store = new EventStore({});
    const payload = Buffer.from('{"a":1}');
    const { frameId, messageId } = recordSyntheticFrame(store, { connectionId: 'b1', direction: 's2c', opcode: 1, payload });
    const frame = store.get(frameId) as FrameEvent;
    const message = store.get(messageId!) as MessageEvent;
    assert.equal(frame.kind, 'frame');
    assert.equal(frame.messageId, messageId);
    assert.deepEqual(message.frameIds, [frameId]);
    assert.equal(message.data.toString(), '{"a":1}');
    assert.equal(message.utf8Valid, true);
    assert.deepEqual(frame.header, encodeFrame({ opcode: 1, payload }).subarray(0, 2));
    store.dispose();
  });

  test('a masked close frame carries its code and reason, a zero mask key, and no message', () => {
    const store = new EventStore({});
    const { frameId, messageId } = recordSyntheticFrame(store, {
      connectionId: 'b1',
      direction: 'c2s',
      opcode: 8,
      payload: encodeClosePayload(4001, 'bye'),
      masked: true,
    });
    const frame = store.get(frameId) as FrameEvent;
    assert.equal(messageId, undefined);
    assert.equal(frame.closeCode, 4001);
    assert.equal(frame.closeReason, 'bye');
    assert.equal(frame.masked, true);
    assert.equal(frame.headerLength, 6);
    assert.deepEqual(frame.maskKey, Buffer.alloc(4));
    store.dispose();
  });

  test('invalid UTF-8 in a text frame is flagged', () => {
    const store = new EventStore({});
    const { messageId } = recordSyntheticFrame(store, { connectionId: 'b1', direction: 's2c', opcode: 1, payload: Buffer.from([0xc3, 0x28]) });
    assert.equal((store.get(messageId!) as MessageEvent).utf8Valid, false);
    store.dispose();
  });

  test('handshake and connection events', () => {
    const store = new EventStore({});
    const hid = recordSyntheticHandshake(store, {
      connectionId: 'b1',
      request: { startLine: 'GET /ws HTTP/1.1', headers: [['Host', 'x']] },
      response: { startLine: 'HTTP/1.1 101 Switching Protocols', headers: [['Sec-WebSocket-Protocol', 'chat']] },
      status: 101,
    });
    const h = store.get(hid) as HandshakeEvent;
    assert.equal(h.ok, true);
    assert.equal(h.subprotocol, 'chat');
    assert.equal(h.request.length, 'GET /ws HTTP/1.1\r\nHost: x\r\n\r\n'.length);
    const cid = recordSyntheticConnection(store, { connectionId: 'b1', state: 'open', role: 'client', meta: { source: 'browser' } });
    assert.equal(store.get(cid)?.kind, 'connection');
    store.dispose();
  });
});
