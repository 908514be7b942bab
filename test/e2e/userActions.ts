// Answers to the workbench's quick picks and input boxes, as a user gives them.
import type { Page } from 'playwright-core';

/** Picks the quick-pick row whose label contains `label`. */
export async function pickItem(page: Page, label: string): Promise<void> {
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: label }).first();
  await row.waitFor({ timeout: 10_000 });
  await row.click();
}

/** Types into the open input box (the one whose title contains `title`) and accepts. */
export async function answerInput(page: Page, title: string, value: string): Promise<void> {
  await page.locator('.quick-input-widget .quick-input-title', { hasText: title }).waitFor({ timeout: 10_000 });
  const input = page.locator('.quick-input-widget .quick-input-box input');
  await input.fill(value);
  await page.keyboard.press('Enter');
}
