// Shared by the scenario tests: parse a file (failing on any error in it) and run it.
import assert from 'node:assert/strict';
import { parseScenarioFile, runFile, type RunOptions, type ScenarioFile, type ScenarioResult } from '../../../src/core/scenarios';

/** A file's text from its lines. */
export const yaml = (...lines: string[]) => lines.join('\n') + '\n';

/** Parses `text`; an error in it fails the test. */
export function parsed(text: string): ScenarioFile {
  const { file, diagnostics } = parseScenarioFile(text);
  assert.deepEqual(diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`), []);
  return file;
}

/** Runs every scenario of `text`, with an empty environment and short waits unless `options` say otherwise. */
export function run(text: string, options: RunOptions = {}): Promise<ScenarioResult[]> {
  return runFile(parsed(text), { env: {}, timeoutMs: 3000, closeTimeoutMs: 1000, ...options });
}

/** The result's steps as "label status" lines, and its failure: what an assertion shows when a run goes wrong. */
export function summary(r: ScenarioResult): string {
  return [`${r.name}: ${r.status} ${r.message ?? ''}`, ...r.steps.map((s) => `  ${s.label} ${s.status} ${s.message ?? ''}`)].join('\n');
}

/** Asserts that every scenario passed, showing the steps when one did not. */
export function assertPassed(results: readonly ScenarioResult[]): void {
  for (const r of results) assert.equal(r.status, 'passed', summary(r));
}
