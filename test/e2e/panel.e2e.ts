// The inspector panel in a real VS Code (code-server) and a real Chromium: the user's path from the command palette
// to frames on screen, sending from the composer, and untrusted payloads shown as text. Run by scripts/test-e2e.mjs.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import WebSocket from 'ws';
import { sleep, waitFor } from '../support/waitFor';
import { env, inspectorView, launch, palette, shot, stopServerAndFreePort } from './workbench';

let browser: Browser;
let page: Page;
let view: FrameLocator;
const clients: WebSocket[] = [];
const received: string[][] = [[], []];
const dialogs: string[] = [];

async function connect(n: number): Promise<WebSocket> {
  // The server may still be starting: try again until it accepts.
  const ws = await waitFor(`client ${n} to connect to :${env.wsPort}`, () => openOnce(n), 15_000);
  ws.on('message', (d) => received[n - 1].push(String(d)));
  return ws;
}

/** One attempt: the open socket, or undefined when it was refused. */
function openOnce(n: number): Promise<WebSocket | undefined> {
  return new Promise((resolve) => {
    const s = new WebSocket(`ws://127.0.0.1:${env.wsPort}/e2e`, { headers: { 'User-Agent': `e2e-client-${n}` } });
    s.once('open', () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
}

describe('inspector panel in code-server', { timeout: 240_000 }, () => {
  before(async () => {
    ({ browser, page } = await launch());
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(env.url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  });

  after(async () => {
    for (const c of clients) c.terminate();
    if (page) await stopServerAndFreePort(page);
    await browser?.close();
  });

  test('Open Inspector shows the panel', async () => {
    await palette(page, 'WebSocket: Open Inspector');
    view = inspectorView(page);
    await view.getByRole('grid', { name: 'Frames' }).waitFor({ timeout: 30_000 });
    await view.locator('vscode-text-area[aria-label="Message to send"]').waitFor();
    await assert.doesNotReject(view.getByText('No frames yet').waitFor());
    await shot(page, '1-panel-open');
  });

  test('two clients show in the clients table', async () => {
    await palette(page, 'WebSocket: Start Broadcast Server');
    clients.push(await connect(1), await connect(2));
    await view.locator('vscode-panel-tab#tab-clients').click();
    const rows = view.locator('.clients tbody tr');
    await rows.nth(1).waitFor({ timeout: 10_000 });
    assert.equal(await rows.count(), 2);
    const text = await view.locator('.clients tbody').innerText();
    assert.match(text, /e2e-client-1/);
    assert.match(text, /e2e-client-2/);
    assert.match(text, /127\.0\.0\.1/);
    await shot(page, '2-clients-table');
  });

  test('the handshake of one connection', async () => {
    const first = view.locator('.connections li[role="option"]').nth(1);
    await first.click();
    await view.locator('vscode-panel-tab#tab-handshake').click();
    const hs = view.locator('.handshake-pane');
    await hs.getByText('GET /e2e HTTP/1.1').waitFor({ timeout: 10_000 });
    const text = await hs.innerText();
    assert.match(text, /HTTP\/1\.1 101 Switching Protocols/);
    assert.match(text, /Sec-WebSocket-Key: /i);
    assert.match(text, /Sec-WebSocket-Accept: /i);
    assert.match(text, /101 \(upgraded\)/);
    await shot(page, '3-handshake');
    // Back to all connections for what follows.
    await view.locator('.connections li[role="option"]').first().click();
  });

  test('frames arrive live', async () => {
    clients[0].send('hello from client 1');
    clients[1].send(JSON.stringify({ type: 'greeting', from: 2 }));
    const grid = view.getByRole('grid', { name: 'Frames' });
    await grid.getByText('hello from client 1').first().waitFor({ timeout: 10_000 });
    await grid.getByText('{"type":"greeting","from":2}').first().waitFor();
    // Relayed back by the broadcast server: both directions are in the table.
    await waitFor('the relay', () => received[1].includes('hello from client 1'));
    const arrows = await grid.locator('.cell.dir.s2c').count();
    assert.ok(arrows > 0, 'server-to-client frames shown');
    const flags = await grid.locator('.frow', { hasText: 'hello from client 1' }).first().locator('.cell.flags').innerText();
    assert.equal(flags, 'F...M', 'a client frame is FIN and masked');
    await grid.locator('.frow', { hasText: '{"type":"greeting"' }).first().click();
    await view.locator('.detail pre.payload.json').waitFor();
    assert.match(await view.locator('.detail pre.payload').innerText(), /"type": "greeting",\n\s+"from": 2/);
    assert.match(await view.locator('.detail').innerText(), /Mask key/);
    await shot(page, '4-frames-live');
  });

  test('the composer sends to all clients', async () => {
    const area = view.locator('vscode-text-area[aria-label="Message to send"] textarea');
    await area.fill('hello everyone from the panel');
    await area.press('Control+Enter');
    await waitFor('both clients to receive it', () => received.every((r) => r.includes('hello everyone from the panel')));
    assert.deepEqual(received.map((r) => r.filter((m) => m === 'hello everyone from the panel').length), [1, 1], 'once to each client');
    await view.getByRole('grid', { name: 'Frames' }).getByText('hello everyone from the panel').first().waitFor();
    const status = view.getByText(/Sent \d+ chars/);
    await status.waitFor();
    assert.equal(await status.innerText(), `Sent ${'hello everyone from the panel'.length} chars to 2 clients.`);
    await shot(page, '5-composer-sent');
  });

  test('JSON mode refuses invalid JSON', async () => {
    const before = received[0].length;
    const picker = view.locator('vscode-dropdown[aria-label="Payload type"]');
    await picker.click();
    await picker.locator('vscode-option', { hasText: 'JSON' }).click();
    const area = view.locator('vscode-text-area[aria-label="Message to send"] textarea');
    await area.fill('{not json');
    await area.press('Control+Enter');
    await view.locator('.composer-status.error', { hasText: 'Invalid JSON' }).waitFor();
    await shot(page, '6-composer-invalid-json');
    // Then valid JSON: messages reach the client in order, so once this one has, the invalid one would have too.
    await area.fill('{"valid":true}');
    await area.press('Control+Enter');
    await waitFor('the valid JSON at the client', () => received[0].length > before);
    assert.deepEqual(received[0].slice(before).map((m) => JSON.parse(m)), [{ valid: true }], 'only the valid JSON was sent');
  });

  test('an HTML payload shows literally and runs nothing', async () => {
    const img = '<img src=x onerror=alert(1)>';
    const script = '<script>window.__pwned = 1; alert(2)</script>';
    clients[0].send(img);
    clients[1].send(script);
    const grid = view.getByRole('grid', { name: 'Frames' });
    await grid.getByText(img, { exact: true }).first().waitFor({ timeout: 10_000 });
    await grid.getByText(script, { exact: true }).first().waitFor();
    await grid.locator('.frow', { hasText: script }).first().click();
    await view.locator('.detail pre.payload', { hasText: script }).waitFor();
    // A window, not a condition: an onerror handler or a script would run (and alert) within it, had one been made.
    await sleep(500);
    assert.equal(await view.locator('img').count(), 0, 'no img element was created');
    // VS Code injects its own inline script into the frame; none may carry the payload.
    assert.equal(await view.locator('script', { hasText: '__pwned' }).count(), 0, 'no script element was created');
    const pwned = await view.locator('body').evaluate(() => (window as unknown as { __pwned?: number }).__pwned);
    assert.equal(pwned, undefined);
    assert.deepEqual(dialogs, []);
    await shot(page, '7-html-payload-literal');
  });

  test('bidi-override and huge-line payloads stay inert, readable text', async () => {
    const spoof = 'invoice\u202Efdp.exe';
    const huge = 'A'.repeat(300_000) + 'END-OF-HUGE-LINE';
    clients[0].send(spoof);
    clients[1].send(huge);
    const grid = view.getByRole('grid', { name: 'Frames' });
    // The preview shows the override as a marker, so the name cannot read as "invoiceexe.pdf".
    await grid.getByText('invoice⟨U+202E⟩fdp.exe', { exact: true }).first().waitFor({ timeout: 10_000 });
    await grid.locator('.frow', { hasText: 'invoice⟨U+202E⟩fdp.exe' }).first().click();
    await view.locator('.detail pre.payload', { hasText: 'invoice⟨U+202E⟩fdp.exe' }).waitFor();
    // A 300 KB single line: the row preview is short, the detail holds it as text, and the panel still answers.
    const hugeRow = grid.locator('.frow', { hasText: 'AAAAAAAAAA' }).first();
    await hugeRow.waitFor();
    assert.ok((await hugeRow.innerText()).length < 1000, 'the row shows a short preview');
    await hugeRow.click();
    const pre = view.locator('.detail pre.payload', { hasText: 'END-OF-HUGE-LINE' });
    await pre.waitFor({ timeout: 10_000 });
    assert.equal(await view.locator('.detail pre.payload *').count(), 0, 'the payload is one text node, no elements');
    await grid.locator('.frow', { hasText: 'invoice⟨U+202E⟩fdp.exe' }).first().click();
    await view.locator('.detail pre.payload', { hasText: 'invoice⟨U+202E⟩fdp.exe' }).waitFor({ timeout: 5_000 });
    assert.deepEqual(dialogs, []);
    await shot(page, '7b-bidi-and-huge-line');
  });

  test('keyboard: arrows move the selection, Enter opens the detail', async () => {
    const grid = view.getByRole('grid', { name: 'Frames' });
    await grid.focus();
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    const selected = grid.locator('.frow[aria-selected="true"]');
    assert.equal(await selected.count(), 1);
    await view.locator('.detail-summary', { hasText: '#' }).waitFor();
    await shot(page, '8-keyboard');
  });
  test('thousands of frames: only visible rows in the DOM, older pages load on scroll', async () => {
    const n = 3000;
    for (let i = 0; i < n; i++) clients[0].send(`bulk-${i}`);
    await waitFor('the relay of the bulk', () => received[1].includes(`bulk-${n - 1}`), 30_000);
    const grid = view.getByRole('grid', { name: 'Frames' });
    // The keyboard test moved up, which stops auto-scroll; End goes back to the live end and resumes it.
    await grid.focus();
    await page.keyboard.press('End');
    await grid
      .getByText(`bulk-${n - 1}`)
      .first()
      .waitFor({ timeout: 15_000 })
      .catch(async (err) => {
        await shot(page, '9-paging-FAILED');
        throw err;
      });
    // A filter makes the panel subscribe again: it gets the newest page only and pages back on scroll.
    const dir = view.locator('vscode-dropdown[aria-label="Direction"]');
    await dir.click();
    await dir.locator('vscode-option', { hasText: 'Client → server' }).click();
    const shown = view.locator('.counters', { hasText: 'rows shown' });
    const rowsShown = async () => Number((await shown.innerText()).match(/([\d,]+) rows shown/)![1].replace(/,/g, ''));
    let firstPage = await rowsShown();
    await waitFor(
      () => `a first page of at most 1000 rows (${firstPage} shown)`,
      async () => (firstPage = await rowsShown()) <= 1000,
      10_000,
    );
    await grid.getByText(`bulk-${n - 1}`).first().waitFor();
    const domRows = await grid.locator('.frow').count();
    assert.ok(domRows < 100, `only visible rows are in the DOM (${domRows})`);
    assert.equal(await grid.locator('.cell.dir.s2c').count(), 0, 'the direction filter holds');
    await grid.evaluate((e) => (e.scrollTop = 0));
    await waitFor('an older page', async () => (await rowsShown()) > firstPage, 10_000);
    assert.ok((await grid.locator('.frow').count()) < 100);
    await shot(page, '9-paging');
  });

  test('the panel survives a window reload with its filters', async () => {
    // The paging test left the direction filter on "Client → server"; add a search, then reload the window.
    const search = view.locator('vscode-text-field[aria-label="Search payloads"]');
    await search.click();
    await page.keyboard.type('bulk-7');
    // Wait until the search is applied: only bulk-7, bulk-7x and bulk-7xx rows (111 messages, client → server).
    const shown = view.locator('.counters', { hasText: 'rows shown' });
    let n = 0;
    await waitFor(
      () => `the search to apply (${n} rows shown)`,
      async () => {
        n = Number((await shown.innerText()).match(/([\d,]+) rows shown/)![1].replace(/,/g, ''));
        return n > 0 && n <= 2 * 111;
      },
      10_000,
    );
    await palette(page, 'Developer: Reload Window');
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
    // The serializer revives the panel; the webview restores its own state.
    view = inspectorView(page);
    await view.getByRole('grid', { name: 'Frames' }).waitFor({ timeout: 60_000 });
    const dir = view.locator('vscode-dropdown[aria-label="Direction"]');
    await dir.waitFor();
    await shot(page, '10-after-reload');
    assert.equal(await dir.evaluate((e) => (e as HTMLSelectElement).value), 'c2s');
    assert.equal(await view.locator('vscode-text-field[aria-label="Search payloads"]').evaluate((e) => (e as HTMLInputElement).value), 'bulk-7');
  });
});
