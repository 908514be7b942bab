// Cross-site WebSocket hijacking, with Debian's Chromium: a page from another site cannot connect to the default
// server, and the same page served from localhost can. evil.test resolves to 127.0.0.1 through Chromium's
// --host-resolver-rules, so the browser sends the Origin a real attacking site would.
import { describe, test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BroadcastServer, type RejectEvent } from '../../../src/core/server/broadcastServer';
import type { CaptureEvent, HandshakeEvent } from '../../../src/core/capture/events';
import { killChromium, launchChromium, type Chromium } from '../../support/chromium';
import { waitFor } from '../../support/waitFor';
import { arraySink } from '../../support/arraySink';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});


describe('browser pages and the default origin check', () => {
  let server: BroadcastServer;
  let wsPort: number;
  let sink: ReturnType<typeof arraySink>;
  const rejects: RejectEvent[] = [];
  /** What the page reported, in arrival order: `open`, `message:<data>`, `close:<code>`. */
  const reports: string[] = [];
  let site: http.Server;
  let sitePort: number;

  before(async () => {
    sink = arraySink();
    server = new BroadcastServer();
    server.onDidReject((e) => rejects.push(e));
    wsPort = (await server.start({ port: 0, heartbeatIntervalMs: 0, capture: sink })).port;
    // The page reports its socket's events back to its own origin, so no CORS is involved.
    const page = `<!doctype html><title>origin page</title><script>
const report = (what) => fetch('/report?' + encodeURIComponent(what));
const ws = new WebSocket('ws://127.0.0.1:${wsPort}/');
ws.onopen = () => report('open');
ws.onmessage = (m) => report('message:' + m.data);
ws.onclose = (c) => report('close:' + c.code);
</script>`;
    site = http.createServer((req, res) => {
      if (req.url?.startsWith('/report?')) reports.push(decodeURIComponent(req.url.slice('/report?'.length)));
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(req.url === '/' ? page : '');
    });
    await new Promise<void>((r) => site.listen(0, '127.0.0.1', () => r()));
    sitePort = (site.address() as AddressInfo).port;
  });

  after(async () => {
    site?.close();
    await server?.stop();
  });

  async function open(url: string): Promise<Chromium> {
    const chromium = await launchChromium(url, ['--host-resolver-rules=MAP evil.test 127.0.0.1', '--no-proxy-server']);
    cleanups.push(() => killChromium(chromium));
    return chromium;
  }

  test('a page on http://evil.test gets 403 naming the setting, and its socket never opens', async () => {
    reports.length = 0;
    rejects.length = 0;
    await open(`http://evil.test:${sitePort}/`);
    await waitFor('the page to see its socket close', () => reports.some((r) => r.startsWith('close:')));
    assert.deepEqual(reports, ['close:1006']);
    const reason = `origin http://evil.test:${sitePort} is not allowed; add it to wsInspector.server.allowedOrigins to allow it`;
    assert.deepEqual(rejects.map((r) => [r.status, r.code, r.reason]), [[403, 'ERR_ORIGIN', reason]]);
    assert.equal(server.clients().length, 0);
    // The panel shows the capture's failed handshake with this body.
    const isRefused = (e: CaptureEvent): e is HandshakeEvent => e.kind === 'handshake' && e.connectionId === rejects[0].connectionId;
    await waitFor('the failed handshake in the capture', () => sink.events.some(isRefused));
    const hs = sink.events.find(isRefused)!;
    assert.equal(hs.status, 403);
    assert.equal(hs.ok, false);
    assert.equal(hs.body?.toString(), `403 Forbidden: ${reason}\n`);
  });

  test('the same page on http://localhost connects and receives a broadcast', async () => {
    reports.length = 0;
    rejects.length = 0;
    await open(`http://localhost:${sitePort}/`);
    await waitFor('the page socket to open', () => reports.includes('open') && server.clients().length === 1);
    assert.equal(server.clients()[0].origin, `http://localhost:${sitePort}`);
    server.sendToAll('hello, local page');
    await waitFor('the page to receive the broadcast', () => reports.includes('message:hello, local page'));
    assert.deepEqual(rejects, []);
  });
});
