// The far side of the proxy benchmark, in a process of its own: a ws echo server with permessage-deflate on, and two
// inspecting proxies in front of it, one passing compression through and one terminating it. Replies with the ports.
import * as http from 'node:http';
import type * as net from 'node:net';
import { WebSocketServer } from 'ws';
import { InspectingProxy } from '../src/core/proxy/inspectingProxy';

export interface ProxyChildReady {
  target: number;
  passthrough: number;
  terminate: number;
}

async function main(): Promise<void> {
  const server = http.createServer();
  // ws's defaults for deflate (context takeover both ways, every message compressed).
  const wss = new WebSocketServer({ server, perMessageDeflate: true });
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('message', (m, isBinary) => ws.send(m, { binary: isBinary }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const target = (server.address() as net.AddressInfo).port;
  const url = `ws://127.0.0.1:${target}`;
  const passthrough = await new InspectingProxy().start({ target: url, compression: 'passthrough' });
  const terminate = await new InspectingProxy().start({ target: url, compression: 'terminate' });
  const ready: ProxyChildReady = { target, passthrough: passthrough.port, terminate: terminate.port };
  process.send!(ready);
}

main().catch((err) => {
  process.send!({ error: String(err) });
  process.exit(1);
});
