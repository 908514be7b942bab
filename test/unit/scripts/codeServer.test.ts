// `npm start` keeps the user's settings: code-server's settings file is written once, when there is none.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore: a plain .mjs script without types
import { startCodeServer } from '../../../scripts/codeServer.mjs';

describe('startCodeServer settings', () => {
  test('with keepSettings (npm start), a second start keeps what the user changed; without it, tests get fresh defaults', { timeout: 120_000 }, async () => {
    const runDir = mkdtempSync(join(tmpdir(), 'wsi-cs-'));
    const file = join(runDir, 'ud', 'User', 'settings.json');
    try {
      const first = await startCodeServer({ runDir, keepSettings: true, settings: { 'wsInspector.server.port': 8765 } });
      const res = await fetch(first.url);
      assert.equal(res.ok, true, 'code-server answers');
      await first.stop();
      const mine = { 'workbench.colorTheme': 'Default Light Modern', 'wsInspector.server.port': 9999 };
      writeFileSync(file, JSON.stringify(mine));
      const second = await startCodeServer({ runDir, keepSettings: true, settings: { 'wsInspector.server.port': 8765 } });
      await second.stop();
      assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), mine, 'the user’s settings survive a restart');
      const fresh = await startCodeServer({ runDir, settings: { 'wsInspector.server.port': 8765 } });
      await fresh.stop();
      const written = JSON.parse(readFileSync(file, 'utf8'));
      assert.equal(written['wsInspector.server.port'], 8765, 'without keepSettings the file is written again');
      assert.equal(written['telemetry.telemetryLevel'], 'off');
    } finally {
      rmSync(runDir, { recursive: true, force: true });
    }
  });
});
