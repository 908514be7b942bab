// The inspector under hostile input and under a flood, in a real VS Code (code-server) and a real Chromium:
// violations sent over raw TCP to the server the command started show as error rows with their WS_ERR code and close
// status; during a flood of hundreds of MB through a captured connection the panel still answers the user (the
// flood client's own counter shows it had not finished when each answer was on screen), and afterwards the panel
// says what the capture history evicted. Run by scripts/test-e2e.mjs.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import WebSocket from 'ws';
import { closePayload, frame, prng, runCase, type Case } from '../fuzz/cases';
import { waitFor } from '../support/waitFor';
import { env, freshWorkspaceUrl, inspectorView, launch, palette, shot, shownNumber, stopServerAndFreePort } from './workbench';

/**
 * The flood: this many bytes of binary messages from one client, relayed back to it by the broadcast server. Long
 * enough (tens of seconds here) that the panel's answers must come while it runs; four times the capture history.
 */
const FLOOD_BYTES = 1024 * 1024 * 1024;
const FLOOD_MESSAGE_BYTES = 128 * 1024;
/** Messages handed to the socket and not yet written out: TCP backpressure then paces the flood to the server. */
const FLOOD_WINDOW = 16;
/** The flood client also pings (`marker-<n>`) this often: control frames that stay recent while the flood evicts. */
const PING_EVERY_MS = 100;

let browser: Browser;
let page: Page;
let view: FrameLocator;
const clients: WebSocket[] = [];

async function connect(agent: string): Promise<{ ws: WebSocket; received: string[] }> {
  const received: string[] = [];
  // The server may still be starting: try again until it accepts.
  const ws = await waitFor(`${agent} to connect to :${env.wsPort}`, () => openOnce(`ws://127.0.0.1:${env.wsPort}/robustness`, agent), 15_000);
  ws.on('message', (d, isBinary) => {
    if (!isBinary) received.push(String(d));
  });
  clients.push(ws);
  return { ws, received };
}

/** One attempt: the open socket, or undefined when it was refused. */
function openOnce(url: string, agent: string): Promise<WebSocket | undefined> {
  return new Promise((resolve) => {
    const s = new WebSocket(url, { headers: { 'User-Agent': agent } });
    s.once('open', () => resolve(s));
    s.once('error', () => resolve(undefined));
  });
}

const rng = prng(0xe2e);
const violation = (kind: string, bytes: Buffer, close: number, error: string): Case & { code: string } => ({
  kind,
  bytes,
  http: false,
  expect: { close, error: [error] },
  code: error,
});
/** One of each kind of violation a client can commit after the upgrade, with the close status RFC 6455 calls for. */
const HOSTILE = [
  violation('RSV2 and RSV3 set', frame(rng, { opcode: 1, rsv: 3, payload: Buffer.from('rsv') }), 1002, 'WS_ERR_UNEXPECTED_RSV_2_3'),
  violation('reserved opcode 0xB', frame(rng, { opcode: 0xb, payload: Buffer.from('op') }), 1002, 'WS_ERR_INVALID_OPCODE'),
  violation('unmasked client frame', frame(rng, { opcode: 1, mask: false, payload: Buffer.from('bare') }), 1002, 'WS_ERR_EXPECTED_MASK'),
  violation('ping of 126 bytes', frame(rng, { opcode: 9, payload: Buffer.alloc(126, 0x70) }), 1002, 'WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH'),
  violation('fragmented ping', frame(rng, { opcode: 9, fin: false, payload: Buffer.from('p') }), 1002, 'WS_ERR_EXPECTED_FIN'),
  violation('invalid UTF-8', frame(rng, { opcode: 1, payload: Buffer.from([0x6f, 0x6b, 0xc0, 0x80]) }), 1007, 'WS_ERR_INVALID_UTF8'),
  violation('close code 1005 on the wire', frame(rng, { opcode: 8, payload: closePayload(1005) }), 1002, 'WS_ERR_INVALID_CLOSE_CODE'),
  // Declared 2 GiB, over the default maxPayload (1 MiB): refused on the length, before any payload.
  violation('message over maxPayload', frame(rng, { opcode: 2, length: 2 ** 31, payload: Buffer.alloc(4) }), 1009, 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH'),
];

interface Flood {
  total: number;
  /** Pings sent along the flood. */
  pings: number;
  /** Bytes written out to the socket. */
  sent: number;
  /** Bytes relayed back to the flood client. */
  received: number;
  done: boolean;
}

/**
 * Sends FLOOD_BYTES of binary messages, at most FLOOD_WINDOW unwritten at a time, and a ping every PING_EVERY_MS;
 * `done` once all messages are written.
 */
async function startFlood(): Promise<{ flood: Flood; finished: Promise<void> }> {
  const { ws } = await connect('e2e-flood');
  const flood: Flood = { total: FLOOD_BYTES, pings: 0, sent: 0, received: 0, done: false };
  ws.on('message', (d: Buffer) => (flood.received += d.length));
  const pinger = setInterval(() => ws.ping(`marker-${++flood.pings}`), PING_EVERY_MS);
  const payload = Buffer.alloc(FLOOD_MESSAGE_BYTES);
  for (let i = 0; i < payload.length; i++) payload[i] = i & 0xff;
  const finished = (async () => {
    const t0 = Date.now();
    let inFlight = 0;
    let wake: (() => void) | undefined;
    let failed: Error | undefined;
    for (let queued = 0; queued < FLOOD_BYTES; queued += FLOOD_MESSAGE_BYTES) {
      while (inFlight >= FLOOD_WINDOW && !failed) await new Promise<void>((r) => (wake = r));
      if (failed) throw failed;
      inFlight++;
      ws.send(payload, { binary: true }, (err) => {
        inFlight--;
        if (err) failed ??= err;
        else flood.sent += FLOOD_MESSAGE_BYTES;
        wake?.();
      });
    }
    while (inFlight > 0 && !failed) await new Promise<void>((r) => (wake = r));
    if (failed) throw failed;
    flood.done = true;
    const s = (Date.now() - t0) / 1000;
    console.log(`# flood: ${FLOOD_BYTES / 2 ** 20} MB sent in ${s.toFixed(1)} s (${(FLOOD_BYTES / 2 ** 20 / s).toFixed(0)} MB/s), ${(flood.received / 2 ** 20).toFixed(0)} MB relayed back, ${flood.pings} pings`);
  })().finally(() => clearInterval(pinger));
  return { flood, finished };
}

describe('the inspector under hostile input and a flood', { timeout: 300_000 }, () => {
  before(async () => {
    ({ browser, page } = await launch());
    await page.goto(freshWorkspaceUrl());
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  });

  after(async () => {
    for (const c of clients) c.terminate();
    // Leave the port free for the next file (its window has an extension host of its own).
    if (page) await stopServerAndFreePort(page);
    await browser?.close();
  });

  test('the server starts and the panel opens', async () => {
    await palette(page, 'WebSocket: Start Broadcast Server');
    await palette(page, 'WebSocket: Open Inspector');
    view = inspectorView(page);
    await view.getByRole('grid', { name: 'Frames' }).waitFor({ timeout: 30_000 });
    const heading = view.locator('.connections li.server', { hasText: 'Server ws://' }).first();
    await heading.waitFor({ timeout: 30_000 });
    assert.match(await heading.innerText(), new RegExp(`^Server ws://127\\.0\\.0\\.1:${env.wsPort}/? · `));
    await connect('e2e-well-behaved');
    const client = view.locator('.connections li.kind-serverClient');
    await waitFor('the client in the connections list', async () => (await client.count()) === 1);
    assert.match((await client.getAttribute('aria-label')) ?? '', /, open$/, 'listed as open');
  });

  test('hostile frames over raw TCP show as error rows with their WS_ERR code and close status', async () => {
    for (const c of HOSTILE) {
      // The client's side: the server's close frame carries the RFC status (runCase checks it).
      await runCase(env.wsPort, prng(1), c);
    }
    const grid = view.getByRole('grid', { name: 'Frames' });
    // Every violation arrived live; the search (over error codes and messages too) then shows only them.
    await grid.getByText(HOSTILE.at(-1)!.code).first().waitFor({ timeout: 15_000 });
    const search = view.locator('vscode-text-field[aria-label="Search payloads"]');
    await search.click();
    await page.keyboard.type('WS_ERR_');
    for (const c of HOSTILE) {
      const row = grid.locator('.frow.k-error', { hasText: c.code });
      await row.first().waitFor({ timeout: 10_000 });
      assert.equal(await row.count(), 1, `one row for ${c.kind}`);
      assert.equal(await row.locator('.cell.op').innerText(), 'error');
      assert.equal(await row.locator('.cell.len').innerText(), String((c.expect as { close: number }).close), `close status of ${c.kind}`);
      assert.match(await row.locator('.cell.preview').innerText(), new RegExp(`^${c.code}: \\S`), `${c.kind}: the code, then what went wrong`);
    }
    // The bytes after the over-maxPayload header cannot be framed: the capture counts them in one record of their own.
    const unframed = grid.locator('.frow', { hasText: 'WS_ERR_UNFRAMED_BYTES' });
    assert.equal(await unframed.count(), 1, 'the bytes after the over-limit length, counted');
    assert.equal(await grid.locator('.frow').count(), HOSTILE.length + 1, 'the search shows the violations and nothing else');
    await grid.locator('.frow', { hasText: 'WS_ERR_INVALID_UTF8' }).click();
    const detail = view.locator('.detail');
    await detail.getByText('protocol error #').waitFor();
    const field = (name: string) => detail.locator('.kv').filter({ has: view.locator('.k', { hasText: name }) }).locator('.v').innerText();
    assert.equal(await field('Code'), 'WS_ERR_INVALID_UTF8');
    assert.equal(await field('Close status'), '1007');
    assert.match(await field('Message'), /UTF-8/i);
    await shot(page, '11-hostile-violations');

    // Clear the search: the rest of the traffic is there too, with the server's close frames.
    await search.click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Backspace');
    await waitFor('all rows back', async () => (await grid.locator('.frow').count()) > HOSTILE.length);
  });

  test('after the violations the panel and the server still work', async () => {
    const grid = view.getByRole('grid', { name: 'Frames' });
    const c = await connect('e2e-after-hostile');
    c.ws.send('still alive after the violations');
    await grid.getByText('still alive after the violations').first().waitFor({ timeout: 10_000 });
    const area = view.locator('vscode-text-area[aria-label="Message to send"] textarea');
    await area.fill('the composer still sends');
    await area.press('Control+Enter');
    await waitFor('the client to receive the composer message', () => c.received.includes('the composer still sends'));
    assert.equal(c.ws.readyState, WebSocket.OPEN, 'the server kept the new client');
    await grid.getByText('the composer still sends').first().waitFor();
    await shot(page, '12-after-violations');
  });

  test(`a ${FLOOD_BYTES / 2 ** 20} MB flood: the panel answers while it runs, then reports the eviction`, async () => {
    // Only the flood client remains: what the server relays goes back to it.
    for (const c of clients.splice(0)) c.terminate();
    const grid = view.getByRole('grid', { name: 'Frames' });
    const counters = view.locator('.counters');
    const frames = async () => shownNumber(await counters.innerText(), 'frames');
    const before = await frames();
    const { flood, finished } = await startFlood();
    let floodError: unknown;
    finished.catch((err) => (floodError = err));
    const running = (what: string) => {
      assert.equal(floodError, undefined, 'the flood went on');
      assert.ok(!flood.done && flood.sent < flood.total, `${what} while the flood was running (${(flood.sent / 2 ** 20).toFixed(0)} of ${flood.total / 2 ** 20} MB sent)`);
    };

    // The counters move with the flood.
    await waitFor('the flood in the counters', async () => (await frames()) >= before + 100, 60_000);
    running('the counters moved');

    // A filter: only control frames, so the flood client's pings and the server's pongs, and no flood frames.
    const kind = view.locator('vscode-dropdown[aria-label="Frame kind"]');
    await kind.click();
    await kind.locator('vscode-option', { hasText: 'Control frames' }).click();
    const pings = grid.locator('.frow').filter({ has: view.locator('.cell.preview', { hasText: /^marker-\d+$/ }) });
    // Pings showed before too, among the flood's frames: the filter is applied when only they are left.
    await waitFor('only control frames in the table', async () => (await grid.locator('.frow.k-data').count()) === 0 && (await pings.count()) > 0, 30_000);
    running('the filtered table was on screen');

    // Selecting a row: the detail pane answers for it, fetched from the busy extension host. The flood turns the
    // whole capture history over every few seconds, so the answer is the row's frame or, as truthfully, the notice
    // that it was evicted in the meantime.
    await pings.last().click();
    const id = (await grid.getAttribute('aria-activedescendant'))?.replace(/^frow-/, '');
    assert.match(id ?? '', /^\d+$/, 'a row is selected');
    const answer = view.locator('.detail-summary', {
      hasText: new RegExp(`^(#${id} · (ping|pong) · .*|This event has been evicted from the capture history\\.)$`),
    });
    await answer.waitFor({ timeout: 60_000 }).catch(async (err) => {
      await shot(page, '13-flood-detail-FAILED');
      throw new Error(`${(err as Error).message}\nthe detail said: ${await view.locator('.detail').innerText()}`);
    });
    running('the detail pane answered for the selected row');
    const said = await answer.innerText();
    console.log(`# flood: the detail of row #${id} answered with "${said}"`);
    if (said.startsWith('#')) assert.match(await view.locator('.detail pre.payload').innerText(), /^marker-\d+$/);
    await shot(page, '13-flood-running-filter-and-detail');

    await finished;
    assert.equal(flood.sent, FLOOD_BYTES);
    await kind.click();
    await kind.locator('vscode-option', { hasText: 'All frames' }).click();
    // The capture history (256 MiB by default) could not hold it all: the panel says what was evicted.
    const evicted = view.locator('.counters .evicted');
    await evicted.waitFor({ state: 'visible', timeout: 60_000 });
    const notice = await evicted.innerText();
    assert.match(notice, /^[\d,]+ events evicted \([\d.]+ (MB|GB)\): the capture history is full$/);
    assert.ok(shownNumber(notice, 'events evicted') > 0);
    // Relayed copies may be dropped for a slow consumer (the server's policy); what the client sent is all there.
    assert.ok((await frames()) >= before + FLOOD_BYTES / FLOOD_MESSAGE_BYTES, 'every frame the flood client sent was counted');
    await grid.locator('.frow.k-data').first().waitFor();
    await shot(page, '14-flood-evicted');

    // And the panel goes on: a new client's message shows.
    const c = await connect('e2e-after-flood');
    c.ws.send('after the flood');
    await grid
      .getByText('after the flood')
      .first()
      .waitFor({ timeout: 30_000 })
      .catch(async (err) => {
        await shot(page, '15-after-flood-FAILED');
        throw new Error(`${(err as Error).message}\nthe counters said: ${await counters.innerText()}`);
      });
  });
});
