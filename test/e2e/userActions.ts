// Answers to the workbench's quick picks and input boxes, as a user gives them.
import type { Page } from 'playwright-core';

/** Picks the quick-pick row whose label contains `label`. */
export async function pickItem(page: Page, label: string): Promise<void> {
  const row = page.locator('.quick-input-widget:visible .monaco-list-row', { hasText: label }).first();
  await row.waitFor({ timeout: 10_000 });
  await row.click();
  await row.waitFor({ state: 'detached', timeout: 10_000 }).catch(() => undefined);
}

/**
 * Types into the open input box (the one whose title contains `title`) and accepts. Waits until that box is gone, so
 * that the next answer goes to the next box, not to this one while it closes.
 */
export async function answerInput(page: Page, title: string, value: string): Promise<void> {
  const heading = page.locator('.quick-input-widget:visible .quick-input-title', { hasText: title });
  await heading.waitFor({ timeout: 10_000 });
  const input = page.locator('.quick-input-widget:visible .quick-input-box input');
  await input.fill(value);
  await input.press('Enter');
  await heading.waitFor({ state: 'hidden', timeout: 10_000 });
}

/** Accepts the open multi-select quick pick (the one whose title contains `title`) with what is checked now. */
export async function acceptPicks(page: Page, title: string): Promise<void> {
  const heading = page.locator('.quick-input-widget:visible .quick-input-title', { hasText: title });
  await heading.waitFor({ timeout: 10_000 });
  await page.locator('.quick-input-widget:visible .quick-input-box input').press('Enter');
  await heading.waitFor({ state: 'hidden', timeout: 10_000 });
}
