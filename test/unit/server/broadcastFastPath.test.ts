// The fast path's bytes on the wire: one unmasked FIN frame per message, in every length form, and the same bytes
// whether the frame is written as one buffer (up to 64 KiB) or as header and payload.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { BroadcastServer } from '../../../src/core/server/broadcastServer';
import type { NewCaptureEvent } from '../../../src/core/capture/events';
import { waitFor } from '../../support/waitFor';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A raw TCP client upgraded by hand: what the server writes after the 101 head, byte for byte. */
async function rawClient(port: number): Promise<() => Buffer> {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  socket.on('error', () => {});
  await once(socket, 'connect');
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await waitFor('the 101 head', () => buf.includes('\r\n\r\n'));
  const headEnd = buf.indexOf('\r\n\r\n') + 4;
  return () => buf.subarray(headEnd);
}

const cases: Array<[string, string | Buffer, string]> = [
  ['text, 7-bit length', 'Hello', '8105'],
  ['empty binary', Buffer.alloc(0), '8200'],
  ['binary, 16-bit length', Buffer.alloc(126, 0xab), '827e007e'],
  ['text of 64 KiB, one buffer, 16-bit length', 'x'.repeat(65_535), '817effff'],
  ['binary of 64 KiB, one buffer, 64-bit length', Buffer.alloc(65_536, 1), '827f0000000000010000'],
  ['binary over 64 KiB, header and payload', Buffer.alloc(65_537, 2), '827f0000000000010001'],
];

describe('broadcast fast path', () => {
  for (const capture of [false, true]) {
    test(`each message is one unmasked FIN frame, header then payload (capture ${capture ? 'on' : 'off'})`, async () => {
      const events: NewCaptureEvent[] = [];
      const server = new BroadcastServer();
      const address = await server.start({
        port: 0,
        heartbeatIntervalMs: 0,
        maxPayload: 1 << 20,
        capture: capture ? { append: (e: NewCaptureEvent) => events.push(e) } : undefined,
      });
      cleanups.push(() => server.stop());
      const bytes = await rawClient(address.port);
      await waitFor('1 client connected', () => server.clients().length === 1);
      let expected = Buffer.alloc(0);
      for (const [, data, header] of cases) {
        assert.equal(server.sendToAll(data), 1);
        expected = Buffer.concat([expected, Buffer.from(header, 'hex'), Buffer.from(data)]);
      }
      await waitFor('every frame at the client', () => bytes().length >= expected.length);
      assert.equal(bytes().toString('hex'), expected.toString('hex'));
      if (capture) {
        const frames = events.filter((e) => e.kind === 'frame' && e.direction === 's2c');
        // The capture records the frames as they were written, headers included.
        assert.deepEqual(
          frames.map((f) => f.kind === 'frame' && [f.header.toString('hex'), f.payloadLength]),
          cases.map(([, data, header]) => [header, Buffer.byteLength(data)]),
        );
      }
    });
  }
});
