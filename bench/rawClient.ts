// A client for the load children that upgrades over a plain TCP socket and then only counts what it reads: the
// cheapest reader there is, so that the load generator costs little beside the server it measures.
import type * as net from 'node:net';
import { connect } from 'node:net';

/** Upgrades a raw socket to `127.0.0.1:port`; `onBytes` gets the length of everything read after the 101. */
export function rawClient(port: number, onBytes: (n: number) => void): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let head = Buffer.alloc(0);
    let upgraded = false;
    s.setNoDelay(true);
    s.on('error', reject);
    s.on('connect', () =>
      s.write(
        'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    s.on('data', (d: Buffer) => {
      if (upgraded) return onBytes(d.length);
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      if (!head.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) return reject(new Error(head.toString()));
      upgraded = true;
      if (head.length > end + 4) onBytes(head.length - end - 4);
      resolve(s);
    });
  });
}
