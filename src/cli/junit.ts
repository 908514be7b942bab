// JUnit XML for CI systems: one testsuite per scenario file, one testcase per scenario, and a failure naming the step.

import type { Diagnostic, ScenarioResult } from '../core/scenarios';

export interface FileReport {
  /** As shown (relative to the working folder). */
  file: string;
  /** The file's errors: it was not run, and is one failed testcase. */
  diagnostics: Diagnostic[];
  results: ScenarioResult[];
}

/** Text as XML character data or an attribute value: escaped, without the characters XML 1.0 cannot hold. */
export function xmlText(s: string): string {
  return s
    .replace(/[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/gu, '\ufffd')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

const seconds = (ms: number) => (ms / 1000).toFixed(3);

/** A scenario's failure as one line: the step, its line, why. */
export function failureLine(r: ScenarioResult): string {
  const s = r.failedStep;
  if (!s) return r.message ?? r.status;
  return `step ${s.label} (line ${s.range.line}): ${s.message ?? 'failed'}`;
}

function testcase(file: string, r: ScenarioResult): string {
  const attrs = `name="${xmlText(r.name)}" classname="${xmlText(file)}" file="${xmlText(file)}" line="${r.range.line}" time="${seconds(r.durationMs)}"`;
  if (r.status === 'passed') return `    <testcase ${attrs}/>`;
  if (r.status === 'cancelled') return `    <testcase ${attrs}>\n      <skipped message="cancelled"/>\n    </testcase>`;
  const s = r.failedStep;
  const detail = [failureLine(r), s?.expected !== undefined ? `expected:\n${s.expected}` : '', s?.actual !== undefined ? `actual:\n${s.actual}` : ''].filter(Boolean).join('\n\n');
  const type = s ? s.kind : 'setup';
  return `    <testcase ${attrs}>\n      <failure message="${xmlText(failureLine(r))}" type="${type}">${xmlText(detail)}</failure>\n    </testcase>`;
}

function suite(f: FileReport): string {
  const cases: string[] = [];
  let failures = 0;
  let skipped = 0;
  let time = 0;
  const errors = f.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    failures++;
    const text = errors.map((d) => `${f.file}:${d.line}:${d.column}: ${d.code} ${d.message}`).join('\n');
    cases.push(`    <testcase name="(scenario file)" classname="${xmlText(f.file)}" file="${xmlText(f.file)}" line="${errors[0].line}" time="0.000">\n      <failure message="${xmlText(`${errors.length} error(s) in the file`)}" type="parse">${xmlText(text)}</failure>\n    </testcase>`);
  }
  for (const r of f.results) {
    if (r.status === 'failed') failures++;
    if (r.status === 'cancelled') skipped++;
    time += r.durationMs;
    cases.push(testcase(f.file, r));
  }
  const tests = cases.length;
  return `  <testsuite name="${xmlText(f.file)}" tests="${tests}" failures="${failures}" errors="0" skipped="${skipped}" time="${seconds(time)}">\n${cases.join('\n')}\n  </testsuite>`;
}

/** The whole report. */
export function junitXml(files: readonly FileReport[], totalMs: number): string {
  const suites = files.map(suite);
  const tests = files.reduce((n, f) => n + f.results.length + (f.diagnostics.some((d) => d.severity === 'error') ? 1 : 0), 0);
  const failures = files.reduce((n, f) => n + f.results.filter((r) => r.status === 'failed').length + (f.diagnostics.some((d) => d.severity === 'error') ? 1 : 0), 0);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="ws-inspector" tests="${tests}" failures="${failures}" errors="0" time="${seconds(totalMs)}">\n${suites.join('\n')}\n</testsuites>\n`;
}
