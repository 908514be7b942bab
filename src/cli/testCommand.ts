// `ws-inspector test`: loads each scenario file, reports its errors or runs its scenarios, and writes the JUnit report
// and the NDJSON export when asked. Returns the exit code: 0 all passed, 1 a failure or a file with errors, 2 a usage
// problem (no file, an unreadable --env-file).

import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import { EventStore } from '../core/capture/eventStore';
import { eventToJsonLine, SecretRedactor } from '../core/capture/sessionExport';
import {
  formatDiagnostic,
  hasErrors,
  loadEnvironment,
  loadScenarioFile,
  missingEnvDiagnostics,
  runFile,
  SCENARIO_FILE_PATTERN,
  SecretMasker,
  type ScenarioResult,
} from '../core/scenarios';
import type { TestArgs } from './args';
import { expandFileArgs } from './glob';
import { failureLine, junitXml, type FileReport } from './junit';

export interface Io {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  out(line: string): void;
  err(line: string): void;
}

/** Lines of an expected or actual text shown under a failure. */
const SHOWN_LINES = 12;

export async function runTests(a: TestArgs, io: Io): Promise<number> {
  const t0 = performance.now();
  const files = expandFileArgs(a.files, io.cwd, (f) => SCENARIO_FILE_PATTERN.test(f));
  if (files.length === 0) {
    io.err('ws-inspector: no scenario files (*.wsx.yaml, *.wsx.json) found');
    return 2;
  }
  let cliEnv: Record<string, string | undefined>;
  try {
    cliEnv = await loadEnvironment(a.envFiles, io.cwd, {});
  } catch (err) {
    io.err(`ws-inspector: ${(err as Error).message}`);
    return 2;
  }
  const masker = new SecretMasker();
  const store = a.exportPath === undefined ? undefined : new EventStore({ maxEvents: 1_000_000, maxBytes: 1024 * 1024 * 1024 });
  const reports: FileReport[] = [];
  for (const path of files) reports.push(await runOne(a, io, path, cliEnv, masker, store));
  const totalMs = performance.now() - t0;
  summary(io, reports, totalMs);
  if (a.reporter === 'junit') {
    const out = resolve(io.cwd, a.output);
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, junitXml(reports, totalMs));
  }
  if (store && a.exportPath !== undefined) {
    const out = resolve(io.cwd, a.exportPath);
    await mkdir(dirname(out), { recursive: true });
    await writeExport(store, out, masker, io);
    store.dispose();
  }
  const failed = reports.some((r) => hasErrors(r.diagnostics) || r.results.some((x) => x.status !== 'passed'));
  return failed ? 1 : 0;
}

async function runOne(a: TestArgs, io: Io, path: string, cliEnv: Record<string, string | undefined>, masker: SecretMasker, store: EventStore | undefined): Promise<FileReport> {
  const shown = relative(io.cwd, path) || path;
  let loaded;
  try {
    loaded = await loadScenarioFile(path);
  } catch (err) {
    const message = `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
    io.out(`✗ ${shown}: ${message}`);
    const at = { offset: 0, length: 0, line: 1, column: 1, endLine: 1, endColumn: 1 };
    return { file: shown, diagnostics: [{ ...at, severity: 'error', code: 'WSX_EMPTY', message }], results: [] };
  }
  let env: Record<string, string | undefined>;
  try {
    env = { ...(await loadEnvironment(loaded.file.envFiles, loaded.baseDir, {}, true)), ...cliEnv, ...io.env };
  } catch (err) {
    io.out(`✗ ${shown}: ${(err as Error).message}`);
    return { file: shown, diagnostics: [], results: loaded.file.scenarios.map((s) => ({ name: s.name, range: s.range, status: 'failed', durationMs: 0, steps: [], message: (err as Error).message, connections: {} })) };
  }
  const diagnostics = [...loaded.diagnostics, ...missingEnvDiagnostics(loaded.file, env)];
  for (const d of diagnostics) io.out(formatDiagnostic(d, shown));
  if (hasErrors(diagnostics)) {
    io.out(`✗ ${shown}: not run (${diagnostics.filter((d) => d.severity === 'error').length} errors)`);
    return { file: shown, diagnostics, results: [] };
  }
  const keep = a.scenarios.length === 0 ? undefined : (s: { name: string }) => a.scenarios.some((x) => s.name.includes(x));
  const results = await runFile(loaded.file, { baseDir: loaded.baseDir, env, secrets: (name) => env[name], masker, capture: store, timeoutMs: a.timeoutMs }, keep);
  for (const r of results) printResult(io, shown, r);
  return { file: shown, diagnostics, results };
}

function printResult(io: Io, file: string, r: ScenarioResult): void {
  const time = r.durationMs >= 1000 ? `${(r.durationMs / 1000).toFixed(1)} s` : `${Math.round(r.durationMs)} ms`;
  const mark = r.status === 'passed' ? '✓' : r.status === 'cancelled' ? '-' : '✗';
  io.out(`${mark} ${file} › ${r.name} (${time})`);
  if (r.status === 'passed') return;
  io.out(`    ${failureLine(r)}`);
  const s = r.failedStep;
  if (s?.expected !== undefined) io.out(block('expected', s.expected));
  if (s?.actual !== undefined) io.out(block('actual', s.actual));
}

function block(title: string, text: string): string {
  const lines = text.split('\n');
  const shown = lines.slice(0, SHOWN_LINES);
  if (lines.length > SHOWN_LINES) shown.push(`… ${lines.length - SHOWN_LINES} more lines`);
  return [`      ${title}:`, ...shown.map((l) => `        ${l}`)].join('\n');
}

function summary(io: Io, reports: readonly FileReport[], totalMs: number): void {
  const results = reports.flatMap((r) => r.results);
  const passed = results.filter((r) => r.status === 'passed').length;
  const failed = results.filter((r) => r.status === 'failed').length;
  const broken = reports.filter((r) => hasErrors(r.diagnostics)).length;
  const files = `${reports.length} file${reports.length === 1 ? '' : 's'}`;
  const errors = broken ? `, ${broken} file${broken === 1 ? '' : 's'} with errors` : '';
  io.out(`\nScenarios in ${files}: ${passed} passed, ${failed} failed${errors} (${(totalMs / 1000).toFixed(1)} s)`);
}

/** Every event of the run, one JSON line each, credentials and secrets replaced. */
async function writeExport(store: EventStore, path: string, masker: SecretMasker, io: Io): Promise<void> {
  const out = createWriteStream(path);
  const redactor = new SecretRedactor();
  const { firstId, lastId, evictedEvents } = store.stats();
  let batch: string[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    if (!out.write(batch.join('\n') + '\n')) await new Promise<void>((r) => out.once('drain', () => r()));
    batch = [];
  };
  for (let id = firstId; id <= lastId; id++) {
    const e = store.get(id);
    if (e) batch.push(eventToJsonLine(masker.event(e), redactor));
    if (batch.length >= 1000) await flush();
  }
  await flush();
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
  if (evictedEvents > 0) io.err(`ws-inspector: the export lacks the ${evictedEvents} oldest events (over the capture's cap)`);
}
