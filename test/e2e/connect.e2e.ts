// Connecting like Postman, as a user does it (issue 19, points 5, 7, 8, 9, 10): the forgiving URL box, the connect
// form with its headers and reconnect, a loud abnormal close, the composer's To, and an untrusted certificate fixed
// with "Trust this certificate for this endpoint…". Run by scripts/test-e2e.mjs (code-server + Debian Chromium).
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import type * as http from 'node:http';
import type * as net from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { WebSocketServer, type WebSocket } from 'ws';
import { waitFor } from '../support/waitFor';
import { devCredentials } from '../unit/tlsCredentials';
import { env, inspectorView, launch, palette, shot } from './workbench';

let browser: Browser;
let page: Page;
let wss: WebSocketServer;
let port: number;
const upgrades: http.IncomingMessage[] = [];
const sockets: WebSocket[] = [];

const quickInput = () => page.locator('.quick-input-widget:visible .quick-input-box input');
const quickRow = (text: string) => page.locator('.quick-input-widget:visible .monaco-list-row', { hasText: text }).first();
const toast = (text: string) => page.locator('.notifications-toasts .notification-list-item', { hasText: text }).first();

describe('connecting like Postman', { timeout: 240_000 }, () => {
  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    await new Promise<void>((r) => wss.once('listening', r));
    port = (wss.address() as net.AddressInfo).port;
    wss.on('connection', (ws, req) => {
      upgrades.push(req);
      sockets.push(ws);
    });
    ({ browser, page } = await launch());
    await page.goto(env.url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  });

  after(async () => {
    for (const c of wss?.clients ?? []) c.terminate();
    wss?.close();
    await browser?.close();
  });

  test('the URL box: a #fragment is refused at once with the reason; host:port is offered as ws://', async () => {
    await palette(page, 'WebSocket: Connect to Endpoint…');
    await quickInput().fill(`localhost:${port}/chat#room`);
    await quickRow('#fragment').waitFor({ timeout: 10_000 });
    await shot(page, 'connect-1-fragment-refused');
    await quickInput().fill(`127.0.0.1:${port}/quick`);
    const row = quickRow('ws:// added');
    await row.waitFor({ timeout: 10_000 });
    assert.match(await row.innerText(), new RegExp(`ws://127\\.0\\.0\\.1:${port}/quick`));
    await shot(page, 'connect-2-scheme-added');
    await quickInput().press('Enter');
    await waitFor('the connection at the server', () => upgrades.find((r) => r.url === '/quick'), 15_000);
  });

  test('selecting the connection sets the composer\'s To, with its full label as a tooltip; an abnormal close is loud and To keeps it, closed', async () => {
    await palette(page, 'WebSocket: Open Inspector');
    const view = inspectorView(page);
    const item = view.locator('.connections li[role="option"]', { hasText: `127.0.0.1:${port}/quick` }).first();
    await item.waitFor({ timeout: 30_000 });
    await item.click();
    const to = view.locator('vscode-dropdown[aria-label="Send to"]');
    await waitFor('To aimed at the connection', async () => (await to.getAttribute('title'))?.includes(`ws://127.0.0.1:${port}/quick`), 10_000);
    await shot(page, 'connect-3-to-follows-selection');

    // The server resets the TCP connection.
    (sockets.at(-1) as unknown as { _socket: net.Socket })._socket.resetAndDestroy();
    const t = toast('closed abnormally');
    await t.waitFor({ timeout: 15_000 });
    assert.match(await t.innerText(), /1006 \(reset\)/);
    await t.getByRole('button', { name: 'Reconnect' }).waitFor();
    await t.getByRole('button', { name: 'Show Frames' }).waitFor();
    await waitFor('To says closed', async () => (await to.innerText()).includes('(closed)') || (await to.getAttribute('title'))?.includes('closed'), 10_000);
    await shot(page, 'connect-4-abnormal-close');
    const before = upgrades.length;
    await t.getByRole('button', { name: 'Reconnect' }).click();
    await waitFor('reconnected', () => upgrades.length > before, 15_000);
    await palette(page, 'View: Close All Editors');
  });

  test('the connect form: a #fragment refused in the box; headers, query and reconnect; Connect; Save as Endpoint', async () => {
    await palette(page, 'WebSocket: New Connection (Headers, TLS, Reconnect)…');
    const form = inspectorView(page);
    const url = form.locator('vscode-text-field[aria-label="URL"]');
    await url.waitFor({ timeout: 30_000 });
    await url.locator('input').fill(`ws://127.0.0.1:${port}/form#x`);
    await form.getByText('cannot have a #fragment').waitFor({ timeout: 5000 });
    await shot(page, 'connect-5-form-fragment');
    await url.locator('input').fill(`localhost:${port}/form`);
    await form.getByText('ws:// added').waitFor({ timeout: 5000 });
    await form.locator('vscode-text-field[aria-label="Name"] input').fill('e2e form');
    await form.getByRole('button', { name: 'Add header' }).click();
    await form.locator('vscode-text-field[aria-label="header name"] input').fill('X-Trace');
    await form.locator('vscode-text-field[aria-label="header value"] input').fill('e2e-42');
    await form.getByRole('button', { name: 'Add query parameter' }).click();
    await form.locator('vscode-text-field[aria-label="query parameter name"] input').fill('room');
    await form.locator('vscode-text-field[aria-label="query parameter value"] input').fill('lobby');
    await form.locator('vscode-text-field[aria-label="Subprotocols"] input').fill('chat.v2');
    await form.getByText('Reconnect automatically, with backoff').click();
    await form.getByText('Allow self-signed certificates (unsafe)').click();
    await form.getByText('Unsafe: any certificate is accepted').waitFor();
    await shot(page, 'connect-6-form-filled');
    await form.getByText('Allow self-signed certificates (unsafe)').click();
    await form.getByRole('button', { name: 'Connect' }).click();
    const req = await waitFor('the form\'s connection', () => upgrades.find((r) => r.url === '/form?room=lobby'), 15_000);
    assert.equal(req.headers['x-trace'], 'e2e-42');
    assert.equal(req.headers['sec-websocket-protocol'], 'chat.v2');
    await form.getByText(`Connected to ws://localhost:${port}/form?room=lobby.`).waitFor({ timeout: 10_000 });
    await form.getByRole('button', { name: 'Save as Endpoint' }).click();
    await form.getByText('Saved to the workspace settings').waitFor({ timeout: 10_000 });
    await shot(page, 'connect-7-form-connected-saved');
    const folder = new URL(env.url).searchParams.get('folder')!;
    const saved = JSON.parse(readFileSync(join(folder, '.vscode', 'settings.json'), 'utf8'))['wsInspector.endpoints'];
    assert.deepEqual(saved, [
      { name: 'e2e form', url: `ws://localhost:${port}/form?room=lobby`, headers: { 'X-Trace': 'e2e-42' }, subprotocols: ['chat.v2'], reconnect: true },
    ]);
    await palette(page, 'View: Close All Editors');
  });

  test('an untrusted certificate: the error names caFile and allowSelfSigned, and Trust… picks the CA file and connects', async () => {
    const { key, cert } = await devCredentials();
    const caPath = join(new URL(env.url).searchParams.get('folder')!, 'dev-ca.pem');
    writeFileSync(caPath, cert);
    const web = https.createServer({ key, cert });
    const tlsWss = new WebSocketServer({ server: web });
    let opened = 0;
    tlsWss.on('connection', () => opened++);
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    try {
      const url = `wss://127.0.0.1:${(web.address() as net.AddressInfo).port}/tls`;
      await palette(page, 'WebSocket: Connect to Endpoint…');
      await quickInput().fill(url);
      await quickRow('Connect').waitFor({ timeout: 10_000 });
      await quickInput().press('Enter');
      const t = toast('is not trusted');
      await t.waitFor({ timeout: 15_000 });
      const text = await t.innerText();
      assert.match(text, /caFile/);
      assert.match(text, /allowSelfSigned/);
      assert.doesNotMatch(text, /tls\.ca|rejectUnauthorized/);
      await shot(page, 'connect-8-tls-untrusted');
      await t.getByRole('button', { name: 'Trust this certificate for this endpoint…' }).click();
      // code-server's file dialog is a quick input that takes a path.
      await page.locator('.quick-input-widget:visible .quick-input-title', { hasText: 'to trust for' }).waitFor({ timeout: 10_000 });
      // It opens in the workspace folder, where the CA file was put: the user clicks the file, which picks it.
      await quickRow('dev-ca.pem').waitFor({ timeout: 10_000 });
      await shot(page, 'connect-9-trust-pick-file');
      await quickRow('dev-ca.pem').click();
      await waitFor('the wss connection with the trusted CA', () => opened > 0, 20_000);
      const folder = new URL(env.url).searchParams.get('folder')!;
      const saved = JSON.parse(readFileSync(join(folder, '.vscode', 'settings.json'), 'utf8'))['wsInspector.endpoints'] as Array<{ url: string; caFile?: string }>;
      assert.equal(saved.find((e) => e.url === url)?.caFile, caPath, 'the endpoint keeps its CA file');
    } finally {
      // Upgraded sockets are no longer the http server's: end them, or close() waits for them.
      for (const c of tlsWss.clients) c.terminate();
      tlsWss.close();
      web.closeAllConnections();
      await new Promise((r) => web.close(r));
    }
  });
});
