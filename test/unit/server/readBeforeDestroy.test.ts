// A peer that sends and resets: its bytes are read before the server's failing write ends the socket.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { readBeforeDestroy } from '../../../src/core/server/readBeforeDestroy';
import { sleep, waitFor } from '../../support/waitFor';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A loopback pair: the server's end has readBeforeDestroy and records what it reads and how it ends. */
async function pair(options: { paused?: boolean } = {}) {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => server.close());
  const accepted = once(server, 'connection');
  const peer = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  peer.on('error', () => {});
  cleanups.push(() => peer.destroy());
  await once(peer, 'connect');
  const [socket] = (await accepted) as [net.Socket];
  readBeforeDestroy(socket);
  const read: Buffer[] = [];
  const events: string[] = [];
  if (options.paused) socket.pause();
  socket.on('data', (d: Buffer) => read.push(d));
  if (options.paused) socket.pause();
  socket.on('error', (e: NodeJS.ErrnoException) => events.push(`error ${e.syscall} ${e.code}`));
  socket.on('close', () => events.push('close'));
  cleanups.push(() => socket.destroy());
  return { socket, peer, read: () => Buffer.concat(read), events };
}

describe('readBeforeDestroy', () => {
  test('peers that write and reset while the server writes to them: everything they sent is read', async () => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanups.push(() => server.close());
    const port = (server.address() as net.AddressInfo).port;
    const open = new Set<net.Socket>();
    const read: string[] = [];
    const endings: string[] = [];
    server.on('connection', (socket: net.Socket) => {
      readBeforeDestroy(socket);
      open.add(socket);
      socket.on('data', (d: Buffer) => read.push(d.toString()));
      socket.on('error', (e: NodeJS.ErrnoException) => endings.push(`${e.syscall} ${e.code}`));
      socket.on('close', () => open.delete(socket));
    });
    // What a broadcast server does: it writes to every client, the ones that have just reset included.
    const writer = setInterval(() => {
      for (const s of open) s.write('a broadcast');
    }, 1);
    cleanups.push(() => clearInterval(writer));
    const PEERS = 60;
    await Promise.all(
      Array.from({ length: PEERS }, async (_, n) => {
        const peer = net.connect(port, '127.0.0.1');
        peer.on('error', () => {});
        await once(peer, 'connect');
        await sleep(5 + (n % 7));
        peer.write(`message ${n};`);
        peer.resetAndDestroy();
      }),
    );
    await waitFor('every server socket closed', () => open.size === 0);
    const got = read.join('').split(';').filter((m) => m !== '');
    assert.deepEqual(got.sort(), Array.from({ length: PEERS }, (_, n) => `message ${n}`).sort(), 'every message the peers sent was read');
    assert.ok(endings.every((e) => /^(read|write) (ECONNRESET|EPIPE)$/.test(e)), endings.join(', '));
  });

  test('a destroy without an error, or with another error, happens at once', async () => {
    const a = await pair();
    a.socket.destroy();
    assert.equal(a.socket.destroyed, true);
    const b = await pair();
    b.socket.destroy(new Error('something else'));
    assert.equal(b.socket.destroyed, true);
  });

  test('a read side that never reaches its end is destroyed after the wait, with the write’s error', async () => {
    const { socket, events } = await pair();
    const err = Object.assign(new Error('write EPIPE'), { code: 'EPIPE', syscall: 'write' });
    socket.destroy(err);
    assert.equal(socket.destroyed, false, 'waiting for the read side');
    await waitFor('the socket closed', () => events.includes('close'), 3000);
    assert.deepEqual(events, ['error write EPIPE', 'close']);
  });
});
