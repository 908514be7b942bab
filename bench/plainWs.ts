// The idiomatic plain-ws broadcast server that benchmarks compare against: every message to every client.

import * as http from 'node:http';
import type * as net from 'node:net';
import { WebSocketServer } from 'ws';

export interface PlainWsBroadcast {
  port: number;
  wss: WebSocketServer;
  /** Terminates every client and closes the server. */
  stop(): Promise<void>;
}

export async function startPlainWsBroadcast(): Promise<PlainWsBroadcast> {
  const httpServer = http.createServer();
  const wss = new WebSocketServer({ server: httpServer });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (m, isBinary) => wss.clients.forEach((c) => c.send(m, { binary: isBinary })));
  });
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
  return {
    port: (httpServer.address() as net.AddressInfo).port,
    wss,
    stop: async () => {
      for (const c of wss.clients) c.terminate();
      wss.close();
      httpServer.closeAllConnections();
      await new Promise((r) => httpServer.close(r));
    },
  };
}
