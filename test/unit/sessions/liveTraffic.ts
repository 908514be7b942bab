// Real WebSocket traffic for the session reader tests: ws servers on loopback whose sockets carry the live capture
// (attachCapture, as the product's server does), ws clients, and a script of messages of every kind. What the live
// capture recorded is what a file of the same traffic must give back.
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocket, WebSocketServer } from 'ws';
import { attachCapture } from '../../../src/core/capture/attachCapture';
import type { CaptureEvent } from '../../../src/core/capture/events';
import { encodeFrame } from '../../../src/core/wire/frameEncoder';
import { ArraySink } from '../../support/arraySink';
import { waitFor } from '../../support/waitFor';

export interface LiveServer {
  port: number;
  host: string;
  url(path?: string): string;
  close(): Promise<void>;
}

/** `ip:port` as the pcap reader names endpoints (IPv6 in brackets). */
export function endpoint(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * An http server with ws (noServer) on `host`, every TCP connection captured into `sink` with the client's endpoint
 * as its connection id. `/deny` is refused (401); a plain request gets a 404.
 */
export async function startLiveServer(sink: ArraySink, host: string, perMessageDeflate: boolean): Promise<LiveServer> {
  const server = http.createServer((_req, res) => {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not here');
  });
  const closed: Promise<unknown>[] = [];
  server.on('connection', (socket: net.Socket) => {
    attachCapture(socket, { connectionId: endpoint(socket.remoteAddress!, socket.remotePort!), role: 'server', sink });
    closed.push(once(socket, 'close'));
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: perMessageDeflate ? { threshold: 0 } : false });
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    if (req.url === '/deny') {
      socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: close\r\n\r\nno way');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => {});
      serverScript(ws);
    });
  });
  server.listen(0, host);
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    host,
    url: (path = '/chat') => `ws://${host.includes(':') ? `[${host}]` : host}:${port}${path}`,
    close: async () => {
      await Promise.all(closed);
      wss.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The server's side: echoes, and on `go` sends its own messages of every kind. */
function serverScript(ws: WebSocket): void {
  ws.on('message', (data, isBinary) => {
    const text = isBinary ? '' : data.toString();
    if (text === 'go') {
      ws.send('server says hello '.repeat(20));
      ws.send('server says hello '.repeat(20));
      ws.send(Buffer.from([0, 1, 2, 254, 255]), { binary: true });
      ws.send('frag-one ', { fin: false });
      ws.send('frag-two ', { fin: false });
      ws.send('frag-three', { fin: true });
      ws.ping('are you there');
      ws.send('done');
    } else if (text === 'big') {
      ws.send(BIG, { binary: true });
      ws.send('after big');
    } else if (text === 'close-me') {
      ws.close(1000, 'server done');
    } else {
      ws.send(data, { binary: isBinary });
    }
  });
}

/** A message that spans many TCP segments, whose bytes are found as they are in a capture file (not compressed). */
export const BIG = randomBytes(300 * 1024);

export interface ClientRun {
  /** The client's endpoint: the connection's id in the live capture. */
  id: string;
}

/** Opens a client on `url`, runs the script, closes, and resolves once the socket has closed. */
export async function runClient(url: string, o: { deflate: boolean; big?: boolean; serverCloses?: boolean; localAddress?: string }): Promise<ClientRun> {
  const ws = new WebSocket(url, { perMessageDeflate: o.deflate ? { threshold: 0 } : false, localAddress: o.localAddress });
  ws.on('error', () => {});
  await once(ws, 'open');
  const socket = (ws as unknown as { _socket: net.Socket })._socket;
  const id = endpoint(socket.localAddress!, socket.localPort!);
  const got: string[] = [];
  ws.on('message', (d, isBinary) => got.push(isBinary ? `bin:${(d as Buffer).length}` : d.toString()));
  ws.send('hello hello hello hello');
  ws.send('hello hello hello hello');
  ws.send(Buffer.from('binary \x00\x01 bytes'), { binary: true });
  ws.send('client-part-1 ', { fin: false });
  ws.send('client-part-2 ', { fin: false });
  ws.send('client-part-3', { fin: true });
  ws.ping(Buffer.from('ping!'));
  ws.send('go');
  await waitFor('the server script', () => got.includes('done'));
  if (o.big) {
    ws.send('big');
    await waitFor('the big message', () => got.includes('after big'));
  }
  if (o.serverCloses) ws.send('close-me');
  else ws.close(4001, 'bye now');
  await once(ws, 'close');
  return { id };
}

/** A plain HTTP request, and an upgrade the server refuses: TCP streams that are no WebSocket, or a failed one. */
export async function runOthers(server: LiveServer): Promise<{ refusedId: string }> {
  await new Promise<void>((resolve, reject) => {
    const req = http.get({ host: server.host, port: server.port, path: '/plain', agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
  });
  const ws = new WebSocket(server.url('/deny'));
  let id = '';
  ws.on('upgrade', () => {});
  const req = (ws as unknown as { _req: http.ClientRequest })._req;
  req.on('socket', (s: net.Socket) => s.on('connect', () => (id = endpoint(s.localAddress!, s.localPort!))));
  await new Promise((resolve) => ws.on('error', resolve));
  await waitFor('the refused socket closed', () => id !== '' && (req.socket?.destroyed ?? true));
  return { refusedId: id };
}

/**
 * A raw client that breaks the protocol after a good frame: invalid UTF-8, then a frame with RSV2 set (read after the
 * violation), and a close with a reserved code. The server (ws) closes on the first; the capture records them all.
 */
export async function runViolations(server: LiveServer): Promise<{ id: string }> {
  const socket = net.connect(server.port, server.host);
  await once(socket, 'connect');
  const id = endpoint(socket.localAddress!, socket.localPort!);
  socket.on('error', () => {});
  socket.write(
    `GET /raw HTTP/1.1\r\nHost: ${server.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  let got = Buffer.alloc(0);
  socket.on('data', (d: Buffer) => (got = Buffer.concat([got, d])));
  await waitFor('the 101 response', () => got.includes('\r\n\r\n'));
  const maskKey = Buffer.from('a1b2c3d4', 'hex');
  socket.write(
    Buffer.concat([
      encodeFrame({ opcode: 1, payload: Buffer.from('fine'), maskKey }),
      encodeFrame({ opcode: 1, payload: Buffer.from([0x66, 0xff, 0xfe]), maskKey }),
      encodeFrame({ opcode: 2, rsv2: true, payload: Buffer.from('odd'), maskKey }),
      encodeFrame({ opcode: 8, payload: Buffer.from([0x03, 0xec]), maskKey }),
    ]),
  );
  await once(socket, 'close');
  return { id };
}

/** The events of one connection. */
export function ofConnection(events: readonly CaptureEvent[], id: string): CaptureEvent[] {
  return events.filter((e) => e.connectionId === id);
}

const hex = (b: Buffer | undefined) => (b === undefined ? undefined : b.toString('hex'));

/**
 * What a user compares between two records of one connection, per direction: the frames (opcode, flags, mask, header
 * and payload bytes, close code), the messages (bytes, compression, inflate result) and the errors, in order; and the
 * handshake and the closed event. Ids, times and labels are left out: a file's are its own.
 */
export function wireView(events: readonly CaptureEvent[]): { handshake: unknown; c2s: string[]; s2c: string[]; other: string[]; closed: unknown } {
  const view = { handshake: undefined as unknown, c2s: [] as string[], s2c: [] as string[], other: [] as string[], closed: undefined as unknown };
  for (const e of events) {
    switch (e.kind) {
      case 'handshake':
        view.handshake = { request: e.request, response: e.response, status: e.status, ok: e.ok, deflate: e.deflate, body: hex(e.body), sub: e.subprotocol, ext: e.extensions };
        break;
      case 'frame':
        view[e.direction].push(
          `frame op=${e.opcode} fin=${e.fin} rsv=${+e.rsv1}${+e.rsv2}${+e.rsv3} masked=${e.masked} key=${hex(e.maskKey)} header=${hex(e.header)} ` +
            `len=${e.payloadLength} payload=${hex(e.payload)} close=${e.closeCode}/${e.closeReason} after=${e.afterViolation === true}`,
        );
        break;
      case 'message':
        view[e.direction].push(
          `message op=${e.opcode} frames=${e.frameIds.length} data=${hex(e.data)} wire=${e.wireLength} compressed=${e.compressed} ` +
            `inflated=${e.inflatedLength} inflateError=${e.inflateError} utf8=${e.utf8Valid}`,
        );
        break;
      case 'error':
        (e.direction === undefined ? view.other : view[e.direction]).push(`error ${e.code} ${e.closeCode}`);
        break;
      case 'connection':
        if (e.state === 'closed') {
          view.closed = { code: e.code, reason: e.reason, clean: e.clean, closeFrames: e.closeFrames, missingClose: e.missingClose, bytesIn: e.bytesIn, bytesOut: e.bytesOut };
        } else {
          view.other.push('open');
        }
        break;
    }
  }
  return view;
}
