import { describe, test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import * as http from 'node:http';
import * as net from 'node:net';
import { parseEndpoint, resolveEndpoint } from '../../../src/core/cdp/endpoint';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An HTTP server on 127.0.0.1 answering /json/version with `status` and `body`. */
async function versionServer(status: number, body: string | (() => void)) {
  const seen: string[] = [];
  const server = http.createServer((req, res) => {
    seen.push(`${req.url} host=${req.headers.host}`);
    if (typeof body === 'function') {
      body();
      res.socket?.destroy();
      return;
    }
    res.statusCode = status;
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  cleanups.push(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });
  return { port: (server.address() as net.AddressInfo).port, seen };
}

describe('DevTools endpoint', () => {
  test('http://host:port reads /json/version; the WebSocket URL keeps the host and port the user gave', async () => {
    const s = await versionServer(200, JSON.stringify({
      Browser: 'Chrome/120.0.6099.109',
      'Protocol-Version': '1.3',
      webSocketDebuggerUrl: 'ws://127.0.0.1:9222/devtools/browser/abc-123',
    }));
    const r = await resolveEndpoint(`http://localhost:${s.port}/`);
    assert.deepEqual(r, { wsUrl: `ws://localhost:${s.port}/devtools/browser/abc-123`, browser: 'Chrome/120.0.6099.109' });
    assert.deepEqual(s.seen, [`/json/version host=localhost:${s.port}`]);
    // A bare port and host:port are http.
    assert.equal((await resolveEndpoint(String(s.port))).wsUrl, `ws://127.0.0.1:${s.port}/devtools/browser/abc-123`);
    assert.equal((await resolveEndpoint(` 127.0.0.1:${s.port} `)).wsUrl, `ws://127.0.0.1:${s.port}/devtools/browser/abc-123`);
  });

  test('ws:// and wss:// URLs are used as given, without a request', async () => {
    assert.deepEqual(await resolveEndpoint('ws://127.0.0.1:1/devtools/page/P1'), { wsUrl: 'ws://127.0.0.1:1/devtools/page/P1' });
    assert.deepEqual(await resolveEndpoint('wss://h.test:9/abc'), { wsUrl: 'wss://h.test:9/abc' });
  });

  test('answers that are not a browser DevTools endpoint say what they are', async () => {
    const notFound = await versionServer(404, 'no');
    await assert.rejects(resolveEndpoint(`http://127.0.0.1:${notFound.port}`), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ENOTDEVTOOLS');
      assert.equal(e.message, `127.0.0.1:${notFound.port} answered HTTP 404 for /json/version: it is not a Chromium DevTools port. Start Chromium with --remote-debugging-port=${notFound.port}`);
      return true;
    });
    const html = await versionServer(200, '<html>');
    await assert.rejects(resolveEndpoint(`http://127.0.0.1:${html.port}`), /answered \/json\/version with something other than JSON/);
    // node --inspect answers /json/version without a browser target.
    const node = await versionServer(200, JSON.stringify({ Browser: 'node.js/v20.11.0', 'Protocol-Version': '1.1' }));
    await assert.rejects(resolveEndpoint(`http://127.0.0.1:${node.port}`), /is a DevTools endpoint without a browser target \(node\.js\/v20\.11\.0\); give the ws:\/\/ URL of a page target instead/);
    // Chromium refuses Host names other than an IP or localhost.
    const host = await versionServer(500, 'Host header is specified and is not an IP address or localhost.');
    await assert.rejects(resolveEndpoint(`http://127.0.0.1:${host.port}`), /refuses its host name "127\.0\.0\.1"; use an IP address \(127\.0\.0\.1\) or localhost/);
    const reset = await versionServer(0, () => undefined);
    await assert.rejects(resolveEndpoint(`http://127.0.0.1:${reset.port}`), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ECONNRESET');
      return true;
    });
  });

  test('a server that never answers times out with the endpoint named', async () => {
    const silent = net.createServer((s) => s.on('error', () => {}));
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const port = (silent.address() as net.AddressInfo).port;
    cleanups.push(() => {
      silent.close();
    });
    await assert.rejects(resolveEndpoint(`http://127.0.0.1:${port}`, 100), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ETIMEDOUT');
      assert.equal(e.message, `127.0.0.1:${port} did not answer /json/version within 100 ms`);
      return true;
    });
  });

  test('parseEndpoint refuses what it cannot use', () => {
    assert.throws(() => parseEndpoint('file:///etc/passwd'), /Unsupported scheme file: in "file:\/\/\/etc\/passwd"/);
    assert.throws(() => parseEndpoint('http://[bad'), /Not a DevTools endpoint: "http:\/\/\[bad"/);
    assert.equal(parseEndpoint('9222').href, 'http://127.0.0.1:9222/');
  });
});
