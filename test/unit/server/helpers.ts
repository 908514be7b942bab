// Shared by the broadcast server tests: a server on port 0 that keeps its events, real ws clients, and a raw upgrade
// for writing bytes by hand. Everything they open is closed by `runCleanups` (each test file's afterEach).
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { once } from 'node:events';
import { WebSocket, type ClientOptions } from 'ws';
import {
  BroadcastServer,
  type BroadcastServerOptions,
  type DisconnectEvent,
  type LimitBreachEvent,
  type RejectEvent,
} from '../../../src/core/server/broadcastServer';
import { waitFor } from '../../support/waitFor';

export const cleanups: Array<() => unknown> = [];

/** Closes what the test opened, the last first. */
export async function runCleanups(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

/** A server on a free port, heartbeat off unless asked for, with the limit breaches, refusals and disconnects it reported. */
export async function startServer(options: BroadcastServerOptions = {}) {
  const server = new BroadcastServer();
  const breaches: LimitBreachEvent[] = [];
  const rejects: RejectEvent[] = [];
  const gone: DisconnectEvent[] = [];
  server.onDidBreachLimit((e) => breaches.push(e));
  server.onDidReject((e) => rejects.push(e));
  server.onDidDisconnect((e) => gone.push(e));
  const address = await server.start({ port: 0, heartbeatIntervalMs: 0, ...options });
  cleanups.push(() => server.stop());
  return { server, address, breaches, rejects, gone };
}

/** A real ws client that keeps each message it receives as text. */
export async function textClient(url: string, options: ClientOptions = {}) {
  const ws = new WebSocket(url, options);
  const received: string[] = [];
  ws.on('message', (data: Buffer) => received.push(data.toString()));
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  await once(ws, 'open');
  return { ws, received };
}

export interface Received {
  data: Buffer;
  isBinary: boolean;
}

/** A real ws client that records what it receives, bytes and type. */
export async function client(url: string, options: ClientOptions = {}) {
  const ws = new WebSocket(url, options);
  const received: Received[] = [];
  ws.on('message', (data: Buffer, isBinary: boolean) => received.push({ data, isBinary }));
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  await once(ws, 'open');
  return { ws, received, texts: () => received.map((r) => r.data.toString()) };
}

/**
 * Waits until every client has all that the server has sent it so far, instead of sleeping for strays: the server
 * writes each socket in order, so once a marker sent now has arrived, so has anything sent before it. The marker is
 * then taken out of what the client received.
 */
export async function drained(server: BroadcastServer, clients: Array<Awaited<ReturnType<typeof client>>>): Promise<void> {
  const marker = 'marker: all sent before me has arrived';
  for (const c of server.clients()) server.sendTo(c.id, marker);
  await waitFor('the marker at every client', () => clients.every((c) => c.texts().includes(marker)));
  for (const c of clients) c.received.splice(c.texts().indexOf(marker), 1);
}

/** Upgrades a raw TCP socket by hand so the test can write arbitrary bytes afterwards. */
export async function rawUpgrade(port: number): Promise<{ socket: net.Socket; bytes: () => Buffer }> {
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  await once(socket, 'connect');
  let buf = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (buf = Buffer.concat([buf, d])));
  socket.on('error', () => {});
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await waitFor('the response head', () => buf.includes('\r\n\r\n'));
  const headEnd = buf.indexOf('\r\n\r\n') + 4;
  assert.match(buf.subarray(0, headEnd).toString(), /^HTTP\/1\.1 101 /);
  return { socket, bytes: () => buf.subarray(headEnd) };
}
