// The example files run and pass: each starts its own mock, so they need nothing but themselves.
import { test } from 'node:test';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { hasErrors, loadScenarioFile, runFile } from '../../../src/core/scenarios';
import assert from 'node:assert/strict';
import { assertPassed } from './helpers';

const EXAMPLES = join(process.cwd(), 'schemas', 'examples');

for (const f of readdirSync(EXAMPLES).filter((n) => /\.wsx\.(ya?ml|json)$/.test(n))) {
  test(`the example ${f} passes`, async () => {
    const loaded = await loadScenarioFile(join(EXAMPLES, f));
    assert.ok(!hasErrors(loaded.diagnostics));
    const results = await runFile(loaded.file, { baseDir: loaded.baseDir, env: {}, secrets: () => 'example-token' });
    assert.ok(results.length > 0);
    assertPassed(results);
  });
}
