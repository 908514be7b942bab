// Shared by the E2E files: the environment scripts/test-e2e.mjs passes, the browser, the palette, the inspector's
// webview and screenshots. Waits go through test/support/waitFor.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as net from 'node:net';
import { chromium, type Browser, type FrameLocator, type Page } from 'playwright-core';

export const env = {
  /** code-server with the workspace folder (and, with --dev, the extension development path). */
  url: process.env.E2E_URL!,
  /** The broadcast server's port (wsInspector.server.port in the run's settings). */
  wsPort: Number(process.env.E2E_WS_PORT),
  shots: process.env.E2E_SHOTS!,
};

/** The same workbench URL on a new empty folder: a window whose panel state starts afresh. */
export function freshWorkspaceUrl(): string {
  const u = new URL(env.url);
  u.searchParams.set('folder', mkdtempSync(join(tmpdir(), 'wsi-e2e-ws-')));
  return u.toString();
}

export async function launch(): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  return { browser, page };
}

export async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(env.shots, `${name}.png`) });
}

/** Runs a command from the palette; retries while the extension's contributions are still loading. */
export async function palette(page: Page, command: string): Promise<void> {
  const input = page.locator('.quick-input-widget .quick-input-box input');
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: command.split(': ')[1] }).first();
  for (let attempt = 0; ; attempt++) {
    await page.keyboard.press('F1');
    await input.waitFor({ state: 'visible' });
    await input.fill(`>${command}`);
    try {
      await row.waitFor({ timeout: 5000 });
      break;
    } catch (err) {
      if (attempt === 5) throw err;
      await page.keyboard.press('Escape');
    }
  }
  // The row itself, not Enter: Enter takes the highlighted row, and a recently used command with a similar name
  // ("Stop Mock Server" for "Stop Server") is ranked above the one asked for.
  await row.click();
}

/** The inspector panel's content frame. */
export function inspectorView(page: Page): FrameLocator {
  return page.frameLocator('iframe.webview').frameLocator('iframe#active-frame');
}

/** The number shown before `label` in a text such as "12,345 frames": 12345 (NaN when absent). */
export function shownNumber(text: string, label: string): number {
  const m = new RegExp(`([\\d,]+)\\s+${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).exec(text);
  return m ? Number(m[1].replace(/,/g, '')) : NaN;
}

/** True when nothing accepts connections on the port any more. */
function portRefuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
}

/**
 * Stops this window's broadcast server and waits until its port is free: the next test file opens a window with an
 * extension host of its own, whose server needs the same port (a server still closing after a flood held it, and the
 * next file's clients then reached the old window's server).
 */
export async function stopServerAndFreePort(page: Page): Promise<void> {
  await palette(page, 'WebSocket: Stop Server').catch(() => {});
  const deadline = Date.now() + 20_000;
  while (!(await portRefuses(env.wsPort))) {
    if (Date.now() > deadline) throw new Error(`port ${env.wsPort} still accepts connections 20 s after Stop Server`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
