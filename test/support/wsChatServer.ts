// A small chat server on plain `ws` (an independent peer for the scenario runner's tests), on a free loopback port:
// - on connect it sends {"type":"welcome","id":"user-1"} (ids count up);
// - {"type":"say","text":…} goes to every other client as {"type":"said","from":id,"text":…};
// - {"type":"whoami"} is answered with {"type":"you","id":…}; {"type":"kick","code":…,"reason":…} closes with them;
// - "echo:<text>" is answered with <text>; a binary message is echoed;
// - the subprotocol chat.v1 is chosen when offered; /private needs `Authorization: Bearer good` (else 401).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

export interface WsChatServer {
  url: string;
  /** Clients connected now. */
  clients(): number;
  /** TCP connections open now (upgraded or not). */
  sockets(): number;
  stop(): Promise<void>;
}

export async function startWsChatServer(): Promise<WsChatServer> {
  const server = http.createServer();
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const wss = new WebSocketServer({
    server,
    handleProtocols: (protocols) => (protocols.has('chat.v1') ? 'chat.v1' : false),
    verifyClient: (info, done) => {
      if (info.req.url?.startsWith('/private') && info.req.headers.authorization !== 'Bearer good') return done(false, 401, 'Unauthorized');
      done(true);
    },
  });
  let next = 0;
  const ids = new Map<WebSocket, string>();
  wss.on('connection', (ws) => {
    const id = `user-${++next}`;
    ids.set(ws, id);
    ws.on('error', () => {});
    ws.on('close', () => ids.delete(ws));
    ws.send(JSON.stringify({ type: 'welcome', id }));
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.send(data, { binary: true });
      const text = data.toString();
      if (text.startsWith('echo:')) return ws.send(text.slice(5));
      let m: { type?: string; text?: string; code?: number; reason?: string };
      try {
        m = JSON.parse(text);
      } catch {
        return;
      }
      if (m.type === 'say') for (const [other] of ids) if (other !== ws) other.send(JSON.stringify({ type: 'said', from: id, text: m.text }));
      if (m.type === 'whoami') ws.send(JSON.stringify({ type: 'you', id }));
      if (m.type === 'kick') ws.close(m.code ?? 1000, m.reason ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    clients: () => ids.size,
    sockets: () => sockets.size,
    stop: async () => {
      for (const ws of wss.clients) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
