// The inspecting proxy and a frame breakpoint, as a user drives them: a rule added from the palette, a proxy
// started in front of a real ws server, a program's message held, edited in the panel and forwarded. Run by
// scripts/test-e2e.mjs (code-server + Debian Chromium).
import { after, afterEach, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { Browser, FrameLocator, Page } from 'playwright-core';
import WebSocket, { WebSocketServer } from 'ws';
import { acceptPicks, answerInput, pickItem } from './userActions';
import { waitFor } from '../support/waitFor';
import { env, inspectorView, launch, palette, shot } from './workbench';

let browser: Browser;
let page: Page;
let view: FrameLocator;
let target: WebSocketServer;
let targetPort: number;
const atTarget: string[] = [];
const binaryAtTarget: Buffer[] = [];
const atProgram: string[] = [];
let program: WebSocket | undefined;

describe('inspecting proxy and frame breakpoints in code-server', { timeout: 240_000 }, () => {
  before(async () => {
    target = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise<void>((r) => target.once('listening', () => r()));
    targetPort = (target.address() as AddressInfo).port;
    target.on('connection', (ws) => {
      ws.on('message', (d: Buffer, isBinary: boolean) => {
        if (isBinary) {
          binaryAtTarget.push(Buffer.from(d));
          return;
        }
        atTarget.push(String(d));
        ws.send(`target got: ${String(d)}`);
      });
    });
    ({ browser, page } = await launch());
    page.on('dialog', (d) => void d.dismiss());
    await page.goto(env.url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  });

  afterEach(async (t) => {
    // Each step leaves a picture of what was on screen at its end (a failed one too).
    if (page) await shot(page, `proxy-step-${t.name.slice(0, 40).replace(/\W+/g, '-')}`);
  });

  after(async () => {
    program?.terminate();
    for (const c of target?.clients ?? []) c.terminate();
    target?.close();
    await browser?.close();
  });

  test('a breakpoint rule is added from the palette', async () => {
    await palette(page, 'WebSocket: Add Frame Breakpoint…');
    await acceptPicks(page, 'where it holds frames');
    await pickItem(page, 'Program → target');
    await pickItem(page, 'Text matching a regular expression');
    await answerInput(page, 'regular expression', 'secret');
    // The rule is in the user's settings, as the settings file shows it.
    await palette(page, 'Preferences: Open User Settings (JSON)');
    const lines = page.locator('.monaco-editor .view-lines').first();
    const settings = await waitFor('the rule in settings.json', async () => {
      const text = (await lines.innerText().catch(() => '')).replace(/\u00a0/g, ' ');
      return text.includes('"secret"') && text;
    }, 15_000);
    assert.match(settings, /"wsInspector\.breakpoints\.rules":\s*\[/);
    assert.match(settings, /"textPattern":\s*"secret"/);
    await palette(page, 'View: Close Editor');
  });

  test('the proxy starts in front of the target and shows in the panel', async () => {
    await palette(page, 'WebSocket: Start Inspecting Proxy…');
    await answerInput(page, 'target', `ws://127.0.0.1:${targetPort}/api`);
    await answerInput(page, 'local port', '0');
    await palette(page, 'WebSocket: Open Inspector');
    view = inspectorView(page);
    const heading = view.locator('.connections li.server', { hasText: 'Proxy ws://127.0.0.1:' });
    await heading.waitFor({ timeout: 30_000 });
    assert.match(await heading.innerText(), new RegExp(`^Proxy ws://127\\.0\\.0\\.1:\\d+\\S* → ws://127\\.0\\.0\\.1:${targetPort}/api$`));
    await view.locator('vscode-panel-tab#tab-breakpoints').click();
    const rules = view.locator('.breakpoints .rules li');
    await rules.first().waitFor({ timeout: 10_000 });
    assert.match(await rules.first().innerText(), /^bp\d+: .*secret/, 'the rule from the palette is in force');
  });

  test('a held message is edited in the panel and the target receives the edit', async () => {
    const heading = await view.locator('.connections li.server', { hasText: 'Proxy ws://127.0.0.1:' }).innerText();
    const port = Number(/ws:\/\/127\.0\.0\.1:(\d+)/.exec(heading)![1]);
    program = await new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
    program.on('message', (d) => atProgram.push(String(d)));
    program.send('a public note');
    program.send('the secret plan');
    program.send('after the secret');
    await waitFor('the first message to pass', () => atTarget.includes('a public note'));

    const held = view.locator('.held-frame').first();
    await held.waitFor({ timeout: 15_000 });
    assert.match(await held.innerText(), /rule bp\d/);
    assert.equal(await held.locator('vscode-text-area textarea').inputValue(), 'the secret plan');
    // Order is kept: the message behind the held one has not reached the target.
    assert.deepEqual(atTarget, ['a public note']);
    await shot(page, 'proxy-1-held-frame');

    await held.locator('vscode-text-area textarea').fill('the edited plan');
    await held.getByRole('button', { name: /edited/ }).click();
    await waitFor('the edited message at the target', () => atTarget.includes('the edited plan'), 15_000);
    assert.equal(atTarget.includes('the secret plan'), false, 'the original text never reached the target');

    // "after the secret" matches too: it is held next; forward it unchanged.
    const next = view.locator('.held-frame').first();
    await waitFor('the next held message', async () => (await next.locator('vscode-text-area textarea').inputValue().catch(() => '')) === 'after the secret', 15_000);
    await next.getByRole('button', { name: /unchanged/ }).click();
    await waitFor('the last message at the target', () => atTarget.length === 3, 15_000);
    assert.deepEqual(atTarget, ['a public note', 'the edited plan', 'after the secret']);
    await waitFor('the echoes at the program', () => atProgram.length === 3, 15_000);

    const outcomes = view.locator('.outcomes');
    await outcomes.getByText('forwarded edited').waitFor({ timeout: 10_000 });
    await outcomes.getByText('forwarded unchanged').first().waitFor();
    await shot(page, 'proxy-2-edited-and-forwarded');
  });

  test('both legs of the proxied connection are in the connections list and the frames table', async () => {
    await view.locator('.connections li.side', { hasText: 'program ↔ proxy' }).first().waitFor();
    await view.locator('.connections li.side', { hasText: 'proxy ↔ target' }).first().waitFor();
    const legs = await view.locator('.connections li.side .label').allInnerTexts();
    assert.ok(legs.some((l) => l.includes('program ↔ proxy')) && legs.some((l) => l.includes('proxy ↔ target')), legs.join(' | '));
    await view.locator('.connections li.kind-proxy').first().click();
    const grid = view.getByRole('grid', { name: 'Frames' });
    await grid.getByText('the edited plan').first().waitFor({ timeout: 10_000 });
    await grid.getByText('the secret plan').first().waitFor({ timeout: 10_000 });
    // The program's original and the edit the target got, both sent towards the target.
    for (const text of ['the secret plan', 'the edited plan']) {
      assert.equal(await grid.locator('.frow', { hasText: text }).first().locator('.cell.dir.c2s').count(), 1, `${text}: client → server`);
    }
    await shot(page, 'proxy-3-both-legs');
  });

  test('a held binary message is edited as hex in the panel; text that is not hex is refused; the target gets the bytes', async () => {
    await palette(page, 'WebSocket: Add Frame Breakpoint…');
    await acceptPicks(page, 'where it holds frames');
    await pickItem(page, 'Program → target');
    await pickItem(page, 'Any binary message');
    await view.locator('vscode-panel-tab#tab-breakpoints').click();
    // The panel lists the rules the proxy holds frames by: once the new one is there, it is in force.
    const rules = view.locator('.breakpoints .rules');
    await waitFor('the binary rule in force', async () => / binary\b/.test(await rules.innerText()), 10_000);
    // Not UTF-8 (0xff): no text form, so the panel shows it as hex.
    program!.send(Buffer.from([0xff, 0x00, 0x01, 0x02]));
    const held = view.locator('.held-frame').first();
    await held.waitFor({ timeout: 15_000 });
    const editor = held.locator('vscode-text-area textarea');
    assert.equal(await editor.inputValue(), 'ff 00 01 02');

    await editor.fill('ff 00 zz');
    await held.getByRole('button', { name: /edited/ }).click();
    await view.getByText('The edited payload is not hex: "z" at position 7 is not a hex digit (0-9, a-f).').waitFor({ timeout: 10_000 });
    assert.deepEqual(binaryAtTarget, [], 'nothing went on');
    await shot(page, 'proxy-4-binary-held-as-hex');

    await editor.fill('ff 00 aa bb cc');
    await held.getByRole('button', { name: /edited/ }).click();
    await waitFor('the edited bytes at the target', () => binaryAtTarget.length === 1, 15_000);
    assert.deepEqual(binaryAtTarget[0], Buffer.from([0xff, 0x00, 0xaa, 0xbb, 0xcc]));
    await view.locator('.outcomes').getByText('forwarded edited').nth(1).waitFor({ timeout: 10_000 });
    await shot(page, 'proxy-5-binary-edited-as-hex');
  });
});
