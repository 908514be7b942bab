// A TCP port nothing listens on right now, on 127.0.0.1: for tests that need a port before they start a server
// on it (restarts on the same port) or need one that refuses connections.
import * as net from 'node:net';

export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
