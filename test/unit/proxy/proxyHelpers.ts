// Shared by the proxy tests: a recording target (ws behind http/https, every raw byte kept), raw clients, captures,
// and a proxy in front of a target.
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { once } from 'node:events';
import { WebSocket, WebSocketServer, type ServerOptions } from 'ws';
import type { CaptureEvent, FrameEvent } from '../../../src/core/capture/events';
import { onClientSocket, tapSocket } from '../../../src/core/capture/socketTap';
import { InspectingProxy } from '../../../src/core/proxy/inspectingProxy';
import type { ProxyConnectionInfo } from '../../../src/core/proxy/proxiedConnection';
import { DecodedFrame, FrameDecoder } from '../../../src/core/wire/frameDecoder';
import { HttpHeadParser } from '../../../src/core/wire/handshake';
import type { HttpHead } from '../../../src/core/capture/events';
import { waitFor } from '../../support/waitFor';
export { arraySink } from '../../support/arraySink';


/** The bytes one socket read and wrote, in order. */
export class Recorded {
  inbound: Buffer[] = [];
  outbound: Buffer[] = [];
  get in(): Buffer {
    return Buffer.concat(this.inbound);
  }
  get out(): Buffer {
    return Buffer.concat(this.outbound);
  }
}

export function record(socket: net.Socket): Recorded {
  const r = new Recorded();
  tapSocket(socket, { inbound: (c) => r.inbound.push(Buffer.from(c)), outbound: (c) => r.outbound.push(Buffer.from(c)) });
  return r;
}

/** Splits an HTTP exchange at the end of its head: [head bytes, the rest]. */
export function splitHead(bytes: Buffer): [Buffer, Buffer] {
  const at = bytes.indexOf('\r\n\r\n');
  if (at === -1) return [bytes, Buffer.alloc(0)];
  return [bytes.subarray(0, at + 4), bytes.subarray(at + 4)];
}

export function parseHead(bytes: Buffer): HttpHead {
  const r = new HttpHeadParser().push(bytes);
  if (!r) throw new Error('no complete head');
  return r.head;
}

export function header(head: HttpHead, name: string): string | undefined {
  return head.headers.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

/** Decodes frames without enforcing anything but delimitation. */
export function frames(bytes: Buffer, direction: 'c2s' | 's2c' = 's2c'): DecodedFrame[] {
  const out: DecodedFrame[] = [];
  const d = new FrameDecoder({
    direction,
    enforceMasking: false,
    rsv1Allowed: true,
    onFrame: (f) => out.push({ ...f, header: Buffer.from(f.header), payload: Buffer.from(f.payload) }),
    onError: (e) => {
      throw e;
    },
  });
  d.push(bytes);
  return out;
}

/** A captured frame's wire bytes: its header and its payload masked again with its key. */
export function wireOf(f: FrameEvent): Buffer {
  const p = Buffer.from(f.payload);
  if (f.maskKey) for (let i = 0; i < p.length; i++) p[i] ^= f.maskKey[i & 3];
  return Buffer.concat([f.header, p]);
}

/** The concatenated wire bytes of one leg's captured frames in one direction. */
export function capturedWire(events: CaptureEvent[], connectionId: string, direction: 'c2s' | 's2c'): Buffer {
  return Buffer.concat(
    events.filter((e): e is FrameEvent => e.kind === 'frame' && e.connectionId === connectionId && e.direction === direction).map(wireOf),
  );
}

export interface TargetConn {
  ws: WebSocket;
  req: http.IncomingMessage;
  raw: Recorded;
  messages: Array<{ data: Buffer; isBinary: boolean }>;
  closed?: { code: number; reason: string };
}

export interface Target {
  url: string;
  port: number;
  conns: TargetConn[];
  wss: WebSocketServer;
  close(): Promise<void>;
}

/**
 * A ws server behind http (or https with `tls`) on 127.0.0.1:0 that records each socket's raw bytes and every message.
 * `onConnection` scripts it; by default it echoes.
 */
export async function startTarget(
  o: { wsOptions?: ServerOptions; tls?: { key: Buffer; cert: Buffer }; onConnection?: (c: TargetConn) => void; onUpgrade?: (req: http.IncomingMessage, socket: net.Socket) => boolean } = {},
): Promise<Target> {
  const server = o.tls ? https.createServer({ key: o.tls.key, cert: o.tls.cert }) : http.createServer();
  const wss = new WebSocketServer({ noServer: true, ...o.wsOptions });
  const conns: TargetConn[] = [];
  const raws = new Map<net.Socket, Recorded>();
  server.on(o.tls ? 'secureConnection' : 'connection', (s: net.Socket) => raws.set(s, record(s)));
  const sockets = new Set<net.Socket>();
  server.on('connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => {});
    if (o.onUpgrade?.(req, socket)) return;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const c: TargetConn = { ws, req, raw: raws.get(socket)!, messages: [] };
      conns.push(c);
      ws.on('error', () => {});
      ws.on('message', (data: Buffer, isBinary: boolean) => c.messages.push({ data, isBinary }));
      ws.on('close', (code: number, reason: Buffer) => (c.closed = { code, reason: reason.toString() }));
      if (o.onConnection) o.onConnection(c);
      else ws.on('message', (data: Buffer, isBinary: boolean) => ws.send(data, { binary: isBinary }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `${o.tls ? 'wss' : 'ws'}://127.0.0.1:${port}`,
    port,
    conns,
    wss,
    async close() {
      for (const c of wss.clients) c.terminate();
      // Upgraded sockets are no longer the http server's: end them here.
      for (const sock of sockets) sock.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A plain TCP client that speaks the handshake and frames by hand; every byte it reads is kept. */
export class RawClient {
  readonly socket: net.Socket;
  readonly received: Buffer[] = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (c: Buffer) => this.received.push(c));
    socket.on('error', () => {});
    socket.on('close', () => (this.closed = true));
  }

  static async connect(port: number): Promise<RawClient> {
    const s = net.connect(port, '127.0.0.1');
    await once(s, 'connect');
    return new RawClient(s);
  }

  get bytes(): Buffer {
    return Buffer.concat(this.received);
  }

  /** Sends an upgrade request and waits for the response head. Returns it and the bytes after it. */
  async upgrade(path = '/', extra: Record<string, string> = {}): Promise<{ head: HttpHead; rest: Buffer }> {
    const lines = [
      `GET ${path} HTTP/1.1`,
      'Host: 127.0.0.1',
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
      ...Object.entries(extra).map(([k, v]) => `${k}: ${v}`),
    ];
    this.socket.write(lines.join('\r\n') + '\r\n\r\n');
    await waitFor('response head', () => this.bytes.includes('\r\n\r\n'));
    const [head, rest] = splitHead(this.bytes);
    return { head: parseHead(head), rest };
  }

  /** The bytes after the response head. */
  get frameBytes(): Buffer {
    return splitHead(this.bytes)[1];
  }

  write(b: Buffer): void {
    this.socket.write(b);
  }
}

export const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** What `proxyTo` and `clientWith` opened, closed by `runCleanups` (the test file's afterEach), the last first. */
export const cleanups: Array<() => unknown> = [];

export async function runCleanups(): Promise<void> {
  for (const c of cleanups.splice(0).reverse()) await c();
}

/** A proxy in front of `target`, with the connections it reported opened, failed and closed. */
export async function proxyTo(target: string, extra: Partial<Parameters<InspectingProxy['start']>[0]> = {}) {
  const proxy = new InspectingProxy();
  const opened: ProxyConnectionInfo[] = [];
  const failed: ProxyConnectionInfo[] = [];
  const closed: ProxyConnectionInfo[] = [];
  proxy.onDidOpen((i) => opened.push(i));
  proxy.onDidFail((i) => failed.push(i));
  proxy.onDidClose((i) => closed.push(i));
  const address = await proxy.start({ target, ...extra });
  cleanups.push(() => proxy.dispose());
  cleanups.push(() => proxy.stop());
  return { proxy, address, opened, failed, closed };
}

/** A real ws client; `raw()` is every byte its socket read and wrote. */
export function clientWith(url: string, protocols: string[] = [], options: ConstructorParameters<typeof WebSocket>[2] = {}) {
  const ws = new WebSocket(url, protocols, options);
  let raw: Recorded | undefined;
  onClientSocket(ws, (s) => (raw = record(s)));
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  return { ws, raw: () => raw! };
}
