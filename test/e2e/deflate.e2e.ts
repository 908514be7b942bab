// Issue 18 as a user meets it: a default Chromium page (its WebSocket offers permessage-deflate) talks through the
// inspecting proxy to a ws target with deflate on. A breakpoint added from the palette holds the page's compressed
// message; the card counts down, holds longer, is edited; the target receives exactly the edit, and later messages
// still inflate on both sides. The panel says the proxy terminates compression, with each leg's parameters. A message
// held when the target closes says so on its card, and the outcome list keeps it. Run by scripts/test-e2e.mjs.
import { after, afterEach, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import { WebSocketServer } from 'ws';
import { acceptPicks, answerInput, pickItem } from './userActions';
import { waitFor } from '../support/waitFor';
import { env, inspectorView, launch, palette, shot } from './workbench';

let browser: Browser;
let page: Page;
/** The program: a plain Chromium page whose WebSocket is Chromium's own. */
let app: Page;
let view: FrameLocator;
let target: WebSocketServer;
let targetPort: number;
/** Serves the page: Chromium lets a page on 127.0.0.1 open a loopback WebSocket (about:blank is blocked). */
let web: http.Server;
let proxyPort: number;
const atTarget: string[] = [];
const targetExtensions: string[] = [];

/** The page opens a WebSocket to the proxy on `port`, kept as window.ws (what it receives in window.got). */
function connectPage(port: number): Promise<string> {
  return app.evaluate(
    (url) =>
      new Promise<string>((resolve, reject) => {
        const w = window as unknown as { ws: WebSocket; got: string[] };
        w.got = [];
        w.ws = new WebSocket(url);
        w.ws.onmessage = (e) => w.got.push(String(e.data));
        w.ws.onopen = () => resolve(w.ws.extensions);
        w.ws.onerror = () => reject(new Error('the page could not connect'));
      }),
    `ws://127.0.0.1:${port}/chat`,
  );
}

/** What the page's WebSocket received so far. */
const pageGot = (): Promise<string[]> => app.evaluate(() => (window as unknown as { got: string[] }).got);

describe('a compressed message from Chromium held, edited and forwarded through the proxy', { timeout: 240_000 }, () => {
  before(async () => {
    target = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
    await new Promise<void>((r) => target.once('listening', () => r()));
    targetPort = (target.address() as AddressInfo).port;
    target.on('connection', (ws) => {
      targetExtensions.push(ws.extensions);
      ws.on('message', (d) => {
        atTarget.push(String(d));
        ws.send(`echo: ${String(d)}`);
      });
    });
    web = http.createServer((_req, res) => res.end('<!doctype html><title>order app</title><p>An app whose WebSocket goes through the proxy.</p>'));
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', () => r()));
    ({ browser, page } = await launch());
    app = await browser.newPage();
    page.on('dialog', (d) => void d.dismiss());
    await page.goto(env.url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  });

  afterEach(async (t) => {
    if (page) await shot(page, `deflate-step-${t.name.slice(0, 40).replace(/\W+/g, '-')}`);
  });

  after(async () => {
    try {
      // The next E2E file runs in the same code-server: leave no proxy, rule or workspace setting behind.
      if (view) {
        fs.rmSync(join(new URL(env.url).searchParams.get('folder')!, '.vscode'), { recursive: true, force: true });
        await palette(page, 'WebSocket: Remove All Frame Breakpoints');
        const headings = view.locator('.connections li.server', { hasText: 'Proxy ws://127.0.0.1:' });
        if ((await headings.count()) > 0) await palette(page, 'WebSocket: Stop Proxy');
        await waitFor('no proxy', async () => (await headings.count()) === 0, 10_000);
      }
    } finally {
      for (const c of target?.clients ?? []) c.terminate();
      target?.close();
      web?.close();
      await browser?.close();
    }
  });

  test('a rule for the proxy from the palette, the proxy in front of the deflate target, the page connected', async () => {
    await palette(page, 'WebSocket: Add Frame Breakpoint…');
    await acceptPicks(page, 'where it holds frames');
    await pickItem(page, 'Program → target');
    await pickItem(page, 'Text matching a regular expression');
    await answerInput(page, 'regular expression', '"order"');
    await palette(page, 'WebSocket: Start Inspecting Proxy…');
    await answerInput(page, 'target', `ws://127.0.0.1:${targetPort}/api`);
    await answerInput(page, 'local port', '0');
    await palette(page, 'WebSocket: Open Inspector');
    view = inspectorView(page);
    const heading = view.locator('.connections li.server', { hasText: 'Proxy ws://127.0.0.1:' });
    await heading.waitFor({ timeout: 30_000 });
    proxyPort = Number(/ws:\/\/127\.0\.0\.1:(\d+)/.exec(await heading.innerText())![1]);

    await app.goto(`http://127.0.0.1:${(web.address() as AddressInfo).port}/`);
    const negotiated = await connectPage(proxyPort);
    assert.match(negotiated, /^permessage-deflate/, 'Chromium negotiated deflate with the proxy');
    await waitFor('the target leg', () => targetExtensions.length === 1);
    assert.match(targetExtensions[0], /^permessage-deflate/, 'the proxy negotiated deflate with the target');

    // For the last test: passthrough in the workspace settings, for proxies started from now on (this one keeps
    // automatic). Written now, so that VS Code has read it when that test starts its proxy.
    const folder = new URL(env.url).searchParams.get('folder')!;
    fs.mkdirSync(join(folder, '.vscode'), { recursive: true });
    fs.writeFileSync(join(folder, '.vscode', 'settings.json'), JSON.stringify({ 'wsInspector.proxy.compression': 'passthrough' }, null, 2));

    // The proxied connection says that the proxy terminates compression (automatic: a rule exists).
    const row = view.locator('.connections li.kind-proxy').first();
    await row.locator('.compression', { hasText: 'deflate terminated' }).waitFor({ timeout: 10_000 });
    assert.match((await row.getAttribute('title')) ?? '', /Program ↔ proxy: permessage-deflate; .*client_max_window_bits=\d+/);
  });

  test('the held card counts down, holds longer, and the target receives exactly the edit', async () => {
    await app.evaluate(() => (window as unknown as { ws: WebSocket }).ws.send('{"type":"order","qty":1}'));
    await view.locator('vscode-panel-tab#tab-breakpoints').click();
    const card = view.locator('.held-frame').first();
    await card.waitFor({ timeout: 15_000 });
    const head = await card.locator('.held-head').innerText();
    assert.match(head, new RegExp(`^Proxy /chat → ws://127\\.0\\.0\\.1:${targetPort}/api/chat · #\\d+ · program → target · text · 24 B \\(inflated\\) · rule bp\\d+`));
    const countdown = card.locator('.countdown');
    assert.match(await countdown.innerText(), /^forwarded unchanged in (2\d|30) s$/);
    await card.getByRole('button', { name: /^Hold held frame \d+ longer$/ }).click();
    await waitFor('the countdown past a minute', async () => /^forwarded unchanged in 1 min \d+ s$/.test(await countdown.innerText()), 10_000);
    for (const name of [/unchanged now$/, /edited$/, /^Drop/]) assert.equal(await card.getByRole('button', { name }).count(), 1, String(name));
    assert.deepEqual(atTarget, [], 'held: nothing reached the target');
    await palette(page, 'Notifications: Clear All Notifications');
    await card.scrollIntoViewIfNeeded();
    await card.screenshot({ path: join(env.shots, 'deflate-1-held-card.png') });
    await shot(page, 'deflate-1-held-card-panel');

    await card.locator('vscode-text-area textarea').fill('{"type":"order","qty":5}');
    await card.getByRole('button', { name: /edited$/ }).click();
    await waitFor('the edit at the target', () => atTarget.length === 1, 15_000);
    assert.deepEqual(atTarget, ['{"type":"order","qty":5}'], 'the target received exactly the edit');
    await view.locator('.outcomes').getByText('forwarded edited').waitFor({ timeout: 10_000 });

    // Both legs' contexts stayed in step: later messages inflate at the target, and the echoes at the page.
    await app.evaluate(() => {
      const ws = (window as unknown as { ws: WebSocket }).ws;
      for (let i = 0; i < 100; i++) ws.send(`after the edit ${i} ${'x'.repeat(i)}`);
    });
    await waitFor('100 more at the target', () => atTarget.length === 101, 15_000);
    assert.deepEqual(atTarget.slice(1), Array.from({ length: 100 }, (_, i) => `after the edit ${i} ${'x'.repeat(i)}`));
    const got = await waitFor('the echoes at the page', async () => ((await pageGot()).length === 101 ? pageGot() : undefined), 15_000);
    assert.equal(got[0], 'echo: {"type":"order","qty":5}');
    assert.equal(got[100], `echo: after the edit 99 ${'x'.repeat(99)}`);
  });

  test('the handshake view of the proxied connection shows the mode and each leg’s parameters', async () => {
    await view.locator('.connections li.kind-proxy').first().click();
    await view.locator('vscode-panel-tab#tab-handshake').click();
    const facts = view.locator('.proxy-compression');
    await facts.waitFor({ timeout: 10_000 });
    const text = await facts.innerText();
    assert.match(text, /The proxy terminates permessage-deflate/);
    assert.match(text, /Program ↔ proxy\s+permessage-deflate; /);
    assert.match(text, /Proxy ↔ target\s+permessage-deflate; /);
    await shot(page, 'deflate-2-handshake-compression');
  });

  test('the target closes while a message is held: the card says so at once, the outcome list keeps it', async () => {
    await view.locator('vscode-panel-tab#tab-breakpoints').click();
    await app.evaluate(() => (window as unknown as { ws: WebSocket }).ws.send('{"type":"order","qty":9}'));
    const card = view.locator('.held-frame').first();
    await card.locator('.countdown', { hasText: 'forwarded unchanged' }).waitFor({ timeout: 15_000 });
    [...target.clients][0].close(4001, 'maintenance');
    const closed = card.locator('.held-closed');
    await closed.waitFor({ timeout: 10_000 });
    assert.match(await closed.innerText(), /^The connection closed while this was held: 4001 “maintenance”, closed by the target at [\d:.]+\. Not delivered\.$/);
    assert.equal(await card.getByRole('button', { name: /^Dismiss/ }).count(), 1);
    assert.equal(await card.getByRole('button', { name: /unchanged now$/ }).count(), 0, 'nothing to forward any more');
    await view.locator('.outcomes li', { hasText: 'not delivered: the connection closed (4001 “maintenance”, closed by the target)' }).waitFor({ timeout: 10_000 });
    assert.equal(atTarget.includes('{"type":"order","qty":9}'), false);
    await palette(page, 'Notifications: Clear All Notifications');
    await card.scrollIntoViewIfNeeded();
    await card.screenshot({ path: join(env.shots, 'deflate-3-closed-card.png') });
    await shot(page, 'deflate-3-closed-while-held');
    await card.getByRole('button', { name: /^Dismiss/ }).click();
    await view.getByText('No frame is held.').waitFor({ timeout: 10_000 });
  });

  test('passthrough set in the workspace settings: the card says why it can only be forwarded, and switches the setting', async () => {
    const settingsFile = join(new URL(env.url).searchParams.get('folder')!, '.vscode', 'settings.json');
    // One proxy at a time (Stop Proxy then needs no pick): this one's page connection closes with it.
    const headings = view.locator('.connections li.server', { hasText: 'Proxy ws://127.0.0.1:' });
    await palette(page, 'WebSocket: Stop Proxy');
    await waitFor('the first proxy to stop', async () => (await headings.count()) === 0, 10_000);
    await palette(page, 'WebSocket: Start Inspecting Proxy…');
    await answerInput(page, 'target', `ws://127.0.0.1:${targetPort}/api`);
    await answerInput(page, 'local port', '0');
    await headings.waitFor({ timeout: 15_000 });
    const heading = await headings.innerText();
    assert.match(heading, / · compression: passthrough$/, 'the heading names the mode set for it');
    const second = Number(/ws:\/\/127\.0\.0\.1:(\d+)/.exec(heading)![1]);
    assert.match(await connectPage(second), /^permessage-deflate/);
    await view.locator('.connections li.kind-proxy .compression', { hasText: 'deflate passed through' }).waitFor({ timeout: 10_000 });

    await app.evaluate(() => (window as unknown as { ws: WebSocket }).ws.send('{"type":"order","qty":3}'));
    const card = view.locator('.held-frame').first();
    await card.locator('.held-switch').waitFor({ timeout: 15_000 });
    assert.equal(await card.locator('pre.held-text').innerText(), '{"type":"order","qty":3}', 'the text is shown, not for editing');
    assert.equal(await card.getByRole('button', { name: /edited$/ }).count(), 0, 'no edit in passthrough');
    assert.match(await card.innerText(), /Cannot be edited or dropped: the message is compressed with context takeover and the proxy passes compression through/);
    assert.match(await card.locator('.held-switch').innerText(), /sets the setting wsInspector\.proxy\.compression to "terminate"/);
    await card.getByRole('button', { name: /^Use terminate next time/ }).click();
    const result = card.locator('.switch-result');
    await waitFor('the switch result', async () => (await result.innerText()).length > 0, 10_000);
    assert.match(await result.innerText(), /^Set wsInspector\.proxy\.compression to "terminate" in your workspace settings\./);
    assert.match(fs.readFileSync(settingsFile, 'utf8'), /"wsInspector\.proxy\.compression": "terminate"/);
    await palette(page, 'Notifications: Clear All Notifications');
    await card.scrollIntoViewIfNeeded();
    await card.screenshot({ path: join(env.shots, 'deflate-4-passthrough-card.png') });
    await shot(page, 'deflate-4-passthrough-panel');

    await card.getByRole('button', { name: /unchanged now$/ }).click();
    await waitFor('the message at the target, unchanged', () => atTarget.includes('{"type":"order","qty":3}'), 15_000);
  });
});
