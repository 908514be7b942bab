// The live view tells the truth (issue 19, points 1–4 and 16), in a real VS Code (code-server) and a real Chromium:
// the empty panel says what runs; Auto-scroll survives the bottom panel, another editor tab and a resize, and only the
// user's scroll pauses it ("N new ↓" and End bring it back); one time base, never negative nor going backwards;
// counts follow Send to Client and Send to All, whose prompt agrees with its count and which says when nobody got it;
// a closed client keeps its place, its address and its handshake. Run by scripts/test-e2e.mjs.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Browser, FrameLocator, Locator, Page } from 'playwright-core';
import WebSocket from 'ws';
import { waitFor } from '../support/waitFor';
import { answerInput } from './userActions';
import { env, freshWorkspaceUrl, inspectorView, launch, palette, shot, stopServerAndFreePort } from './workbench';

let browser: Browser;
let page: Page;
let view: FrameLocator;
let grid: Locator;
let client: WebSocket | undefined;
let label = '';
const received: string[] = [];

function connect(): Promise<WebSocket> {
  return waitFor(
    `a client to connect at :${env.wsPort}`,
    () =>
      new Promise<WebSocket | undefined>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${env.wsPort}/live`, { headers: { 'User-Agent': 'e2e-live-view' } });
        ws.once('open', () => resolve(ws));
        ws.once('error', () => resolve(undefined));
      }),
    15_000,
  );
}

const autoScroll = () => view.locator('vscode-checkbox', { hasText: 'Auto-scroll' });
const isChecked = async () => (await autoScroll().evaluate((e) => (e as HTMLElement & { checked: boolean }).checked)) === true;
const clientsCell = async (col: number) => (await view.locator('.clients tbody tr').first().locator('td').nth(col).innerText()).trim();
const seconds = (t: string) => Number(t.replace(/^\+| s$/g, ''));

/** The time column of the rows on screen, top to bottom. */
async function shownTimes(): Promise<string[]> {
  return grid.locator('.frow .cell.time').evaluateAll((cells) =>
    cells
      .map((c) => ({ top: c.getBoundingClientRect().top, text: c.textContent ?? '' }))
      .sort((a, b) => a.top - b.top)
      .map((c) => c.text),
  );
}

async function flood(n: number, tag: string): Promise<void> {
  for (let i = 0; i < n; i++) client!.send(`${tag} ${i}`);
  await grid.getByText(`${tag} ${n - 1}`, { exact: true }).first().waitFor({ timeout: 15_000 });
}

async function expectFollowing(why: string): Promise<void> {
  await waitFor(`Auto-scroll still on after ${why}`, isChecked, 5_000);
}

describe('the live view tells the truth', { timeout: 240_000 }, () => {
  before(async () => {
    ({ browser, page } = await launch());
    await page.goto(freshWorkspaceUrl());
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  });

  after(async () => {
    client?.terminate();
    if (page) await stopServerAndFreePort(page);
    await browser?.close();
  });

  test('the empty panel says what runs and what to do next (point 16)', async () => {
    await palette(page, 'WebSocket: Open Inspector');
    view = inspectorView(page);
    grid = view.getByRole('grid', { name: 'Frames' });
    await grid.waitFor({ timeout: 30_000 });
    const empty = view.locator('.frames-empty');
    await empty.getByText(/Nothing is running: start the broadcast server/).waitFor({ timeout: 10_000 });
    await palette(page, 'WebSocket: Start Broadcast Server');
    await empty.getByText(`The server at ws://127.0.0.1:${env.wsPort}`).waitFor({ timeout: 10_000 });
    const text = await empty.innerText();
    assert.match(text, /running with no clients\. Connect a client to ws:\/\/127\.0\.0\.1:\d+/);
    assert.doesNotMatch(text, /start the/i);
    await shot(page, 'live-1-empty-server-running');
  });

  test('Send to All with nobody connected says nobody received it (point 4)', async () => {
    await palette(page, 'WebSocket: Send to All Clients');
    await answerInput(page, 'Send to all clients (none connected)', 'to nobody');
    const toast = page.locator('.notifications-toasts .notification-list-item', { hasText: 'nobody received it' });
    await toast.waitFor({ timeout: 10_000 });
    assert.doesNotMatch(await toast.innerText(), /^Sent/);
    await shot(page, 'live-2-send-to-all-nobody');
    await page.keyboard.press('Escape');
  });

  test('Auto-scroll stays on through the bottom panel, another tab and a resize; only the user pauses it (point 1)', async () => {
    client = await connect();
    client.on('message', (m) => received.push(m.toString()));
    label = `127.0.0.1:${(client as unknown as { _socket: { localPort: number } })._socket.localPort}`;
    await flood(150, 'flood-a');
    assert.ok(await isChecked(), 'on at the start');

    await page.keyboard.press('Control+j');
    await flood(20, 'after-panel-toggle');
    await page.keyboard.press('Control+j');
    await expectFollowing('the bottom panel opened and closed');
    await palette(page, 'File: New Untitled Text File');
    // Frames arrive while the panel is behind another tab.
    for (let i = 0; i < 20; i++) client.send(`while-hidden ${i}`);
    await page.keyboard.press('Control+PageUp');
    await grid.getByText('while-hidden 19', { exact: true }).first().waitFor({ timeout: 10_000 });
    await expectFollowing('switching editor tabs');
    await page.setViewportSize({ width: 1100, height: 720 });
    await flood(10, 'after-resize');
    await expectFollowing('a resize');
    await page.setViewportSize({ width: 1500, height: 950 });
    await grid.getByText('after-resize 9', { exact: true }).first().waitFor({ timeout: 10_000 });
    await expectFollowing('a resize back');
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+k');
    await page.keyboard.press('Control+t');
    const themeInput = page.locator('.quick-input-widget:visible .quick-input-box input');
    await themeInput.waitFor();
    await themeInput.fill('Light Modern');
    await page.locator('.quick-input-widget:visible .monaco-list-row', { hasText: 'Light Modern' }).first().waitFor({ timeout: 10_000 });
    await themeInput.press('Enter');
    await flood(10, 'after-theme');
    await expectFollowing('a theme change');
    // The scrolls the browser makes on its own: the list hidden and shown again (Chromium then starts it at the top),
    // and its position clamped by a layout change. Neither is the user's, so neither pauses.
    await view.locator('.frames-viewport').evaluate((vp: HTMLElement) => {
      vp.style.display = 'none';
      void vp.offsetHeight;
      vp.style.display = '';
      vp.scrollTop = 0;
    });
    await flood(10, 'after-hide-show');
    await expectFollowing('the list hidden and shown');
    assert.equal(await view.locator('button.frames-new').isVisible(), false, 'no "new" button while following');

    // The user scrolls up: it pauses, and what arrives then is counted on a button.
    await grid.hover();
    for (let i = 0; i < 5; i++) await page.mouse.wheel(0, -400);
    await waitFor('Auto-scroll off after the user scrolled up', async () => !(await isChecked()), 5_000);
    client.send('new while paused 1');
    client.send('new while paused 2');
    const newRows = view.locator('button.frames-new');
    await newRows.waitFor({ timeout: 10_000 });
    assert.match(await newRows.innerText(), /^\d+ new ↓$/);
    await shot(page, 'live-3-paused-new-rows-button');
    await newRows.click();
    await waitFor('Auto-scroll on after "N new ↓"', isChecked, 5_000);
    await grid.getByText('new while paused 2', { exact: true }).first().waitFor({ timeout: 5_000 });
    await newRows.waitFor({ state: 'hidden' });
    // And End, after another scroll up.
    await grid.hover();
    await page.mouse.wheel(0, -600);
    await waitFor('paused again', async () => !(await isChecked()), 5_000);
    await grid.click({ position: { x: 40, y: 40 } });
    await page.keyboard.press('End');
    await waitFor('Auto-scroll on after End', isChecked, 5_000);
  });

  test('one time base: since start under All, since the handshake for one connection, clock time (point 3)', async () => {
    await view.locator('.frames-header .cell.time', { hasText: 'Since start' }).waitFor({ timeout: 5_000 });
    const all = (await shownTimes()).map(seconds);
    assert.ok(all.length > 10, 'rows on screen');
    assert.ok(all.every((t) => t >= 0), `never negative: ${all.join(', ')}`);
    assert.ok(all.every((t, i) => i === 0 || t >= all[i - 1]), `never backwards: ${all.join(', ')}`);

    await view.locator('.connections li[role="option"]', { hasText: label }).click();
    await view.locator('.frames-header .cell.time', { hasText: 'Since handshake' }).waitFor({ timeout: 5_000 });
    await grid.hover();
    for (let i = 0; i < 30; i++) await page.mouse.wheel(0, -2000);
    await grid.locator('.frow.k-meta', { hasText: 'handshake' }).waitFor({ timeout: 10_000 });
    const one = (await shownTimes()).map(seconds);
    assert.equal(one[0], 0, 'the handshake starts the clock');
    assert.ok(one.every((t, i) => i === 0 || t >= one[i - 1]), `never backwards: ${one.join(', ')}`);
    await shot(page, 'live-4-time-since-handshake');

    const mode = view.locator('vscode-dropdown[aria-label="Time format"]');
    await mode.click();
    await mode.locator('vscode-option', { hasText: 'Clock time' }).click();
    await waitFor('clock times', async () => (await shownTimes()).every((t) => /^\d\d:\d\d:\d\d\.\d{3}$/.test(t)), 5_000);
    await mode.click();
    await mode.locator('vscode-option', { hasText: 'Time: automatic' }).click();
    await view.locator('.connections li[role="option"]').first().click();
    await page.keyboard.press('End');
  });

  test("a client's messages out follow Send to Client and Send to All; the prompt's count agrees (point 4)", async () => {
    await view.locator('vscode-panel-tab#tab-clients').click();
    await view.locator('.clients tbody tr').first().waitFor();
    const out0 = Number(await clientsCell(6));
    await view.locator(`vscode-button[aria-label="Send to ${label}"]`).click();
    const area = view.locator('vscode-text-area[aria-label="Message to send"] textarea');
    await area.fill('just for you');
    await area.press('Control+Enter');
    await waitFor('the client got it', () => received.includes('just for you'));
    await waitFor('Msgs out +1 after Send to Client', async () => Number(await clientsCell(6)) === out0 + 1, 5_000);

    await palette(page, 'WebSocket: Send to All Clients');
    // One client: "1 client", not "1 clients".
    await answerInput(page, 'Send to all 1 client', 'for everyone');
    await waitFor('the client got the broadcast', () => received.includes('for everyone'));
    await waitFor('Msgs out +2 after Send to All', async () => Number(await clientsCell(6)) === out0 + 2, 5_000);
    // The Connections view's arrows mean the frame list's: ↑ is client → server (the client's Msgs in at the server).
    await palette(page, 'WebSocket Inspector: Focus on Connections View');
    const treeRow = page.locator('.monaco-list-row', { hasText: label });
    await treeRow.waitFor({ timeout: 10_000 });
    await waitFor(
      'the tree to count as the Clients tab does',
      async () => (await treeRow.innerText()).includes(`↑${await clientsCell(5)} ↓${await clientsCell(6)}`),
      5_000,
    );
    await shot(page, 'live-5-clients-counts');
  });

  test('a closed client keeps its place, its address and its handshake (point 2)', async () => {
    client!.close(1000, 'bye now');
    const item = view.locator('.connections li.state-closed', { hasText: label });
    await item.waitFor({ timeout: 10_000 });
    assert.match(await item.innerText(), /closed 1000 bye now/);
    await waitFor('the Clients tab says closed', async () => /closed 1000/.test(await clientsCell(4)), 5_000);
    const disabled = await view.locator(`vscode-button[aria-label="Send to ${label}"]`).evaluate((e) => (e as HTMLElement & { disabled: boolean }).disabled);
    assert.equal(disabled, true, 'nothing can be sent to a closed client');
    // Its rows still say its address, never an internal id.
    const conns = await grid.locator('.frow .cell.conn').allInnerTexts();
    assert.ok(conns.length > 0 && conns.every((t) => t.startsWith(label)), `rows name the address: ${[...new Set(conns)].join(', ')}`);
    await waitFor('the tree keeps the closed client', async () => /closed 1000 bye now/.test(await page.locator('.monaco-list-row', { hasText: label }).innerText()), 5_000);
    await shot(page, 'live-6-closed-client-kept');

    await item.click();
    await view.locator('vscode-panel-tab#tab-handshake').click();
    await view.locator('.handshake-pane').getByText('GET /live HTTP/1.1').waitFor({ timeout: 10_000 });
    await shot(page, 'live-7-closed-client-handshake');
    await view.locator('.connections li[role="option"]').first().click();

    // Clear: the empty list says it was cleared and what runs, never "start the server" while it runs.
    await view.locator('vscode-button[aria-label="Clear the view"]').click();
    const empty = view.locator('.frames-empty');
    await empty.getByText('View cleared: no new frames yet.').waitFor({ timeout: 5_000 });
    assert.match(await empty.innerText(), /The server at ws:\/\/127\.0\.0\.1:\d+\/? is running with no clients\./);
    assert.doesNotMatch(await empty.innerText(), /start the/i);
    // The closed client goes from the panel's lists with the Clear; the open ones would stay.
    await view.locator('.connections li.state-closed').waitFor({ state: 'detached', timeout: 5_000 });
    await view.locator('vscode-panel-tab#tab-clients').click();
    await view.locator('.clients tbody tr').first().waitFor({ state: 'detached', timeout: 5_000 });
    await shot(page, 'live-8-cleared');
  });
});
