// A scenario file in the editor, as a user runs it: open the file, click Run in its CodeLens, see the result in the
// Test Explorer and the run's frames in the inspector; a failing scenario's message at its step. Run by
// scripts/test-e2e.mjs (code-server + Debian Chromium) against a real ws server on loopback.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { WebSocketServer } from 'ws';
import { waitFor } from '../support/waitFor';
import { env, inspectorView, launch, palette, shot } from './workbench';

let browser: Browser;
let page: Page;
let server: WebSocketServer;
let file: string;
const received: string[] = [];

const scenarioText = (port: number) => `version: 1
endpoints:
  shop: ws://127.0.0.1:${port}/shop
messages:
  order: { json: { type: order, item: tea, qty: 2 } }
scenarios:
  order tea:
    steps:
      - connect: shop
      - send: order
      - expect: { json: { type: confirmed, item: tea } }
      - close: { code: 1000 }
  order coffee:
    timeout: 1s
    steps:
      - connect: shop
      - send: { json: { type: order, item: coffee } }
      - expect: { json: { type: confirmed, item: coffee } }
`;

describe('scenario files: Run from the CodeLens', { timeout: 180_000 }, () => {
  before(async () => {
    server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => server.once('listening', r));
    // Confirms tea; has no coffee (so the second scenario fails at its expect).
    server.on('connection', (ws) =>
      ws.on('message', (d) => {
        received.push(String(d));
        const m = JSON.parse(String(d)) as { item: string };
        ws.send(JSON.stringify(m.item === 'tea' ? { type: 'confirmed', item: 'tea', id: received.length } : { type: 'sold out', item: m.item }));
      }),
    );
    const folder = new URL(env.url).searchParams.get('folder')!;
    file = join(folder, 'shop.wsx.yaml');
    writeFileSync(file, scenarioText((server.address() as { port: number }).port));
    ({ browser, page } = await launch());
    await page.goto(env.url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  });

  after(async () => {
    await browser?.close();
    for (const c of server?.clients ?? []) c.terminate();
    await new Promise((r) => server?.close(r));
    rmSync(file, { force: true });
  });

  test('Run in the CodeLens passes in the Test Explorer, and the frames are in the inspector', async () => {
    await page.keyboard.press('Control+P');
    const input = page.locator('.quick-input-widget .quick-input-box input');
    await input.fill('shop.wsx.yaml');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'shop.wsx.yaml' }).first().waitFor({ timeout: 20_000 });
    await page.keyboard.press('Enter');
    const run = page.locator('.monaco-editor .codelens-decoration a', { hasText: 'Run' });
    await run.first().waitFor({ timeout: 30_000 });
    await shot(page, 'scenario-1-codelens');
    await run.first().click();
    await waitFor('the order at the server', () => received.some((m) => m.includes('"tea"')), 20_000);

    await palette(page, 'Testing: Focus on Test Explorer View');
    // The file's row starts collapsed: open it to see its scenarios.
    const fileRow = page.locator('.part.sidebar .monaco-list-row', { hasText: 'shop.wsx.yaml' }).first();
    await fileRow.waitFor({ timeout: 20_000 });
    await fileRow.click();
    await page.keyboard.press('ArrowRight');
    const row = page.locator('.part.sidebar .monaco-list-row', { hasText: 'order tea' }).first();
    await row.waitFor({ timeout: 20_000 });
    await row.locator('.codicon-testing-passed-icon').waitFor({ timeout: 20_000 });
    await shot(page, 'scenario-2-test-explorer-passed');

    await palette(page, 'WebSocket: Open Inspector');
    const view = inspectorView(page);
    await view.getByText('"type":"confirmed"').first().waitFor({ timeout: 30_000 });
    await view.getByText('"item":"tea"').first().waitFor({ timeout: 10_000 });
    // The connection's open row carries the scenario and the step that opened it.
    await view.getByText(/scenario=order tea/).first().click();
    await view.getByText('1 connect shop').first().waitFor({ timeout: 10_000 });
    await shot(page, 'scenario-3-inspector-frames');
  });

  test('a failing scenario shows its message at the expect step, with the message that came instead', async () => {
    await palette(page, 'View: Close All Editors');
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget .quick-input-box input').fill('shop.wsx.yaml');
    await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'shop.wsx.yaml' }).first().waitFor({ timeout: 20_000 });
    await page.keyboard.press('Enter');
    const run = page.locator('.monaco-editor .codelens-decoration a', { hasText: 'Run' });
    await waitFor('two Run lenses', async () => (await run.count()) >= 2, 20_000);
    await run.nth(1).click();
    await palette(page, 'Testing: Focus on Test Explorer View');
    const row = page.locator('.part.sidebar .monaco-list-row', { hasText: 'order coffee' }).first();
    await row.locator('.codicon-testing-failed-icon').waitFor({ timeout: 20_000 });
    // The failure is shown in the editor at the expect step's line, as VS Code shows a diff: "actual != expected".
    const line = page.locator('.monaco-editor .view-line', { hasText: 'confirmed, item: coffee' }).first();
    await line.waitFor({ timeout: 20_000 });
    const message = page.locator('.monaco-editor', { hasText: '!= {' }).first();
    await message.waitFor({ timeout: 20_000 });
    assert.ok(received.some((m) => m.includes('"coffee"')));
    await shot(page, 'scenario-4-failure');
  });
});
