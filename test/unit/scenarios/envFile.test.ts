import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadEnvironment, parseDotEnv } from '../../../src/core/scenarios/envFile';

test('parseDotEnv reads plain, exported, quoted and multi-line values, and skips comments', () => {
  const env = parseDotEnv(['# c', 'A=1', 'export B = two words # note', "C='raw \\n $x'", 'D="a\\nb \\"q\\""', 'E="line1', 'line2"', 'not a line', 'F='].join('\n'));
  assert.deepEqual(env, { A: '1', B: 'two words', C: 'raw \\n $x', D: 'a\nb "q"', E: 'line1\nline2', F: '' });
});

test('loadEnvironment: later files override earlier ones, the process environment overrides both', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'wsx-env-'));
  writeFileSync(join(dir, 'a.env'), 'X=a\nY=a\nZ=a\n');
  writeFileSync(join(dir, 'b.env'), 'Y=b\nZ=b\n');
  assert.deepEqual(await loadEnvironment(['a.env', 'b.env'], dir, { Z: 'process' }), { X: 'a', Y: 'b', Z: 'process' });
  await assert.rejects(loadEnvironment(['missing.env'], dir, {}), /Cannot read the \.env file .*missing\.env: ENOENT/);
  assert.deepEqual(await loadEnvironment(['missing.env', 'a.env'], dir, {}, true), { X: 'a', Y: 'a', Z: 'a' });
});
