// Putting a capture on a socket (src/core/capture/attachCapture.ts), on the server's end of a real ws connection.
import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type * as net from 'node:net';
import { once } from 'node:events';
import { WebSocket, WebSocketServer } from 'ws';
import { attachCapture, type CaptureHandle } from '../../../src/core/capture/attachCapture';
import { ArraySink } from './helpers';
import { waitFor } from '../../support/waitFor';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * An echo server whose sockets each get a capture into `sink` when accepted, labelled `meta`; the User-Agent is added
 * to the labels when the upgrade request has been read, before the 101 is written.
 */
async function captured(sink: ArraySink, meta: Record<string, string>) {
  const handles: CaptureHandle[] = [];
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true });
  server.on('connection', (socket: net.Socket) => {
    handles.push(attachCapture(socket, { connectionId: `s${handles.length + 1}`, role: 'server', sink, meta }));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    meta.userAgent = req.headers['user-agent'] ?? '';
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(async () => {
    for (const c of wss.clients) c.terminate();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const ws = new WebSocket(`ws://127.0.0.1:${(server.address() as net.AddressInfo).port}/`, { headers: { 'User-Agent': 'probe/1' } });
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  await once(ws, 'open');
  /** Sends `text` and resolves with its echo. */
  const echo = async (text: string): Promise<string> => {
    ws.send(text);
    const [data] = (await once(ws, 'message')) as [Buffer];
    return data.toString();
  };
  return { handles, ws, echo };
}

const dataFrames = (sink: ArraySink) => sink.of('frame').filter((f) => f.opcode === 1).map((f) => [f.direction, f.payload.toString()]);

describe('attachCapture', () => {
  test('records the handshake, the frames both ways and the close, with labels added before the 101; ends when the socket closes', async () => {
    const sink = new ArraySink();
    const { handles, ws, echo } = await captured(sink, { remote: 'test' });
    assert.equal(await echo('hello'), 'hello');
    ws.close(1000, 'done');
    await once(ws, 'close');
    await waitFor('the closed event', () => sink.of('connection').some((e) => e.state === 'closed'));

    const [hs] = sink.of('handshake');
    assert.equal(hs.status, 101);
    assert.equal(hs.request.startLine, 'GET / HTTP/1.1');
    assert.equal(handles[0].handshake, hs);
    assert.deepEqual(dataFrames(sink), [['c2s', 'hello'], ['s2c', 'hello']]);
    const [open, closed] = sink.of('connection');
    assert.deepEqual([open.state, open.connectionId, open.role], ['open', 's1', 'server']);
    assert.deepEqual(open.meta, { remote: 'test', userAgent: 'probe/1' });
    assert.deepEqual([closed.state, closed.code, closed.reason, closed.clean], ['closed', 1000, 'done', true]);
    assert.equal(sink.of('connection').length, 2);
    assert.equal(sink.events.at(-1), closed, 'the closed event is the last');
  });

  test('dispose() ends the capture before the socket closes: its closed event at once, nothing recorded after, the socket unharmed', async () => {
    const sink = new ArraySink();
    const { handles, ws, echo } = await captured(sink, {});
    assert.equal(await echo('before'), 'before');
    await waitFor('the echo recorded', () => dataFrames(sink).length === 2);
    handles[0].dispose();
    const n = sink.events.length;
    assert.deepEqual(sink.kinds().at(-1), 'connection:closed');
    handles[0].dispose();
    assert.equal(await echo('after'), 'after', 'the connection still works');
    ws.close(1000);
    await once(ws, 'close');
    assert.equal(sink.events.length, n, 'nothing after dispose(), not even a second closed event');
    assert.deepEqual(dataFrames(sink), [['c2s', 'before'], ['s2c', 'before']]);
  });
});
