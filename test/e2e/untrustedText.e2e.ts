// A hostile server's words in VS Code's own UI, as a user sees them: Connect to Endpoint… against a server whose
// refusal carries a command link shows the link's text literally in the error toast, and nothing in the toast runs a
// command. Run by scripts/test-e2e.mjs (code-server + Debian Chromium).
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { env, launch, palette, shot } from './workbench';

const PWNED = 'command:workbench.action.terminal.sendSequence?%7B%22text%22%3A%22echo%20pwned%5Cn%22%7D';

let browser: Browser;
let page: Page;
let hostile: net.Server;
let port: number;

describe('untrusted text in VS Code notifications', { timeout: 120_000 }, () => {
  before(async () => {
    // Refuses every upgrade with a status line and a body that carry command links (and a bidi control).
    hostile = net.createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', () => {
        const body = `[Click here](${PWNED})`;
        s.end(
          Buffer.from(
            `HTTP/1.1 401 [Show details](${PWNED}) user\u202Egnp.exe\u202C admin\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
          ),
        );
      });
    });
    await new Promise<void>((r) => hostile.listen(0, '127.0.0.1', r));
    port = (hostile.address() as net.AddressInfo).port;
    ({ browser, page } = await launch());
    await page.goto(env.url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  });

  after(async () => {
    await browser?.close();
    await new Promise((r) => hostile?.close(r));
  });

  test('the Connect error toast shows the server\'s link as text, and has no command link', async () => {
    const url = `ws://127.0.0.1:${port}/hostile`;
    await palette(page, 'WebSocket: Connect to Endpoint…');
    const input = page.locator('.quick-input-widget:visible .quick-input-box input');
    await input.fill(url);
    await page.locator('.quick-input-widget:visible .monaco-list-row', { hasText: 'Connect' }).first().waitFor({ timeout: 10_000 });
    await input.press('Enter');

    const toast = page.locator('.notifications-toasts .notification-list-item', { hasText: 'Could not connect' }).first();
    await toast.waitFor({ timeout: 20_000 });
    const message = toast.locator('.notification-list-item-message');
    const text = await message.innerText();
    assert.ok(text.includes('[Show details]'), `the toast shows the link's text literally: ${text}`);
    assert.ok(text.includes('command:workbench.action.terminal.sendSequence'), 'and where it pointed, as text');
    assert.ok(text.includes('user⟨U+202E⟩gnp.exe⟨U+202C⟩ admin'), 'the bidi controls as markers');
    assert.equal(await message.locator('a').count(), 0, 'no link in the message');
    assert.equal(await toast.locator('a[href^="command:"]').count(), 0, 'no command link anywhere in the toast');
    await shot(page, 'untrusted-connect-toast');
  });
});
