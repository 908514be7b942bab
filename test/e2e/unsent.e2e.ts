// Written is not sent (issue 17), in a real VS Code (code-server) and a real Chromium: a client that never reads makes
// the server's writes to it back up; the panel sends it one more message and disconnects it, and the client then
// resets. The rows of what never left turn grey and say "not sent" (the rows were on screen before the close), the
// detail says why and to which connection, and the closed row says whose close frame never crossed. Run by
// scripts/test-e2e.mjs.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import type { Browser, FrameLocator, Locator, Page } from 'playwright-core';
import WebSocket from 'ws';
import { waitFor } from '../support/waitFor';
import { env, freshWorkspaceUrl, inspectorView, launch, palette, shot, stopServerAndFreePort } from './workbench';

/**
 * What a second client sends for the server to relay to every client, the one that never reads included: far more
 * than the kernel's buffers of that connection hold (its receive window stays small while nothing is read), so the
 * server's send buffer passes its slow-consumer limit (4 MiB by default) and stays full.
 */
const RELAY_MESSAGES = 48;
const RELAY_BYTES = 512 * 1024;
const LAST_WORDS = 'never leaves the server';
const NEVER_SENT_TITLE = 'Never sent: the connection closed before these bytes left (reset by the peer or destroyed)';

let browser: Browser;
let page: Page;
let view: FrameLocator;
let writer: WebSocket | undefined;
let silent: net.Socket | undefined;

/** A client upgraded over raw TCP that then reads nothing. The server may still be starting: tries until it accepts. */
function neverReadingClient(): Promise<net.Socket> {
  return waitFor(`a raw client to upgrade at :${env.wsPort}`, upgradeOnce, 15_000);
}

function upgradeOnce(): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(env.wsPort, '127.0.0.1');
    s.once('error', () => resolve(undefined));
    let head = '';
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.off('data', onData);
      s.pause();
      s.on('error', () => undefined);
      if (head.startsWith('HTTP/1.1 101 ')) return resolve(s);
      s.destroy();
      resolve(undefined);
    };
    s.on('data', onData);
    s.write(
      `GET /never-reads HTTP/1.1\r\nHost: 127.0.0.1:${env.wsPort}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: e2e-never-reads\r\n\r\n`,
    );
  });
}

function openWriter(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${env.wsPort}/writer`, { headers: { 'User-Agent': 'e2e-writer' } });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

const classList = async (l: Locator) => ((await l.getAttribute('class')) ?? '').split(/\s+/);
const color = (l: Locator) => l.evaluate((e) => getComputedStyle(e).color);

describe('frames written and never sent', { timeout: 180_000 }, () => {
  before(async () => {
    ({ browser, page } = await launch());
    await page.goto(freshWorkspaceUrl());
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  });

  after(async () => {
    writer?.terminate();
    silent?.destroy();
    // Leave the port free for the next file (its window has an extension host of its own).
    if (page) await stopServerAndFreePort(page);
    await browser?.close();
  });

  test('a client that never reads, then resets: what never left is grey and says "not sent", and the close says whose frame is missing', async () => {
    await palette(page, 'WebSocket: Start Broadcast Server');
    await palette(page, 'WebSocket: Open Inspector');
    view = inspectorView(page);
    const grid = view.getByRole('grid', { name: 'Frames' });
    await grid.waitFor({ timeout: 30_000 });
    silent = await neverReadingClient();
    const label = `127.0.0.1:${silent.localPort}`;
    writer = await openWriter();
    let relayed = 0;
    writer.on('message', () => relayed++);
    const chunk = Buffer.alloc(RELAY_BYTES, 0x2a);
    for (let i = 0; i < RELAY_MESSAGES; i++) {
      // One at a time: the writer's own copy is back before the next, so the server never drops one for the writer
      // as a slow consumer, and each write to the silent client is made by then.
      writer.send(chunk);
      await waitFor(`relayed copy ${i + 1} back at the writer`, () => relayed > i, 10_000);
    }

    // From the panel: one message to the silent client only, then Disconnect (its close frame queues behind).
    await view.locator('vscode-panel-tab#tab-clients').click();
    await view.locator(`vscode-button[aria-label="Send to ${label}"]`).click();
    const area = view.locator('vscode-text-area[aria-label="Message to send"] textarea');
    await area.fill(LAST_WORDS);
    await area.press('Control+Enter');
    await view.getByText(`Sent ${LAST_WORDS.length} chars.`).waitFor({ timeout: 10_000 });
    await view.locator(`vscode-button[aria-label="Disconnect ${label}"]`).click();
    const lastWords = grid.locator('.frow', { hasText: LAST_WORDS });
    const closeFrame = grid.locator('.frow.k-close', { has: view.locator('.cell.dir.s2c') });
    await closeFrame.waitFor({ timeout: 10_000 });
    assert.ok(!(await classList(lastWords)).some((c) => c.startsWith('k-unsent')), 'on screen, and not marked while the connection is open');

    // The client resets with the server's backlog unread: what was written to it and not yet sent never leaves.
    silent.destroy();
    const closedRow = grid.locator('.frow', { has: view.locator('.cell.op', { hasText: /^closed$/ }) });
    await closedRow.waitFor({ timeout: 20_000 });
    const closedText = "not clean — no close frame from the client · server's close frame (1000) never left";
    assert.equal(await closedRow.locator('.cell.preview').innerText(), closedText);
    assert.equal(await closedRow.locator('.cell.preview').getAttribute('title'), closedText, 'all of it on hover, where the column cuts it');
    // The rows already on screen are marked in place.
    for (const [row, text] of [
      [lastWords, `not sent · ${LAST_WORDS}`],
      [closeFrame, 'not sent · 1000'],
    ] as const) {
      await waitFor(`${text}: greyed`, async () => (await classList(row)).includes('k-unsent'), 10_000);
      const preview = row.locator('.cell.preview');
      assert.equal(await preview.innerText(), text);
      assert.equal(await preview.getAttribute('title'), NEVER_SENT_TITLE);
    }
    // Greyed: not the colour of a row that was sent.
    const sentRow = grid.locator('.frow.k-data:not(.k-unsent)').first();
    assert.notEqual(await color(lastWords.locator('.cell.preview')), await color(sentRow.locator('.cell.preview')), 'the row is greyed');
    await shot(page, 'unsent-1-rows-greyed');

    // The detail of the message says it was never sent, why, and to which connection.
    await lastWords.click();
    const detail = view.locator('.detail');
    await detail.locator('.detail-summary', { hasText: '· not sent' }).waitFor({ timeout: 10_000 });
    const field = (name: string) => detail.locator('.kv').filter({ has: view.locator('.k', { hasText: new RegExp(`^${name.replace(/[()]/g, '\\$&')}$`) }) }).locator('.v');
    assert.match(await field('Not sent').innerText(), /^to \S+: the connection closed before these bytes left \(reset by the peer or destroyed\)$/);
    await shot(page, 'unsent-2-frame-detail');

    // The closed connection's detail: what was sent, what was not, whose close frame is missing.
    await closedRow.click();
    await detail.locator('.detail-summary', { hasText: 'connection closed' }).waitFor({ timeout: 10_000 });
    assert.equal(await field('Clean').innerText(), 'no');
    assert.equal(await field('Missing close frame').innerText(), "client's and server's (written, never left)");
    assert.equal(await field('Close frame from server').innerText(), '1000 — written, never left');
    assert.match(await field('Unsent').innerText(), /^[\d,]+ bytes \([\d.]+ MB\), \d+ frames$/);
    assert.match(await field('Bytes out (sent)').innerText(), /^[\d,]+ bytes/);
    await shot(page, 'unsent-3-closed-connection');

    // Further up: the broadcasts relayed into the silent client's full buffer. The writer got them: marked, not greyed.
    const viewport = view.locator('.frames-viewport');
    const partial = grid.locator('.frow', { has: view.locator('.cell.preview', { hasText: /^not sent to 1 of 2 · 2a 2a/ }) }).last();
    await waitFor('a broadcast row "not sent to 1 of 2", scrolling up', async () => {
      if ((await partial.count()) > 0) return true;
      // Half a view at a time, each drawn before the next look (only the rows in view exist).
      await viewport.evaluate((e) => new Promise((r) => (e.scrollBy(0, -e.clientHeight / 2), requestAnimationFrame(() => requestAnimationFrame(r)))));
      return false;
    });
    const classes = await classList(partial);
    assert.ok(classes.includes('k-unsent-partial') && !classes.includes('k-unsent'), `not greyed: ${classes.join(' ')}`);
    assert.match(await partial.locator('.cell.conn').innerText(), /^\S+ \+1$/, 'one broadcast to two connections');
    assert.match(
      (await partial.locator('.cell.preview').getAttribute('title')) ?? '',
      /^Never sent to \S+, 1 of the 2 connections this broadcast was written to: it closed before these bytes left \(reset by the peer or destroyed\)$/,
    );
    await partial.click();
    assert.match(await field('Not sent').innerText(), /^to 1 of 2 connections \(\S+\): the connection closed before these bytes left/);
    await shot(page, 'unsent-4-broadcast-not-sent-to-one');
  });
});
