// Scenarios: WebSocket conversations as files (`*.wsx.yaml`, `*.wsx.json`), run by the editor and by the CLI. The
// extension and src/cli import from here only.

import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createDiagnostic, type Diagnostic } from './diagnostics';
import type { ScenarioFile } from './model';
import { parseScenarioFile, type ParseResult } from './parseFile';

export { createDiagnostic, formatDiagnostic, type Diagnostic, type DiagnosticCode, type SourceRange } from './diagnostics';
export type * from './model';
export { STEP_KINDS } from './model';
export { parseScenarioFile, BUILTIN_VARIABLES, type ParseResult } from './parseFile';
export { runFile, runScenario, describeStep, type RunOptions } from './runner';
export { StepFailure, type ScenarioResult, type StepInfo, type StepResult } from './results';
export { ScenarioMock, type MockError, type MockOptions } from './mock';
export { loadEnvironment, parseDotEnv } from './envFile';
export { SecretMasker, SECRET_MASK } from './secrets';
export type { SecretProvider } from './variables';
export { labellingSink, type LabellingSink } from './captureLabels';
export { recordScenario, type RecordOptions, type RecordedScenario } from './record';

/** File names the scenario tools take. */
export const SCENARIO_FILE_PATTERN = /\.wsx\.(ya?ml|json)$/i;

export interface LoadedFile extends ParseResult {
  path: string;
  /** Its folder: what the file's relative paths start from (RunOptions.baseDir). */
  baseDir: string;
}

/** Reads and parses a scenario file. Rejects only when the file cannot be read. */
export async function loadScenarioFile(path: string): Promise<LoadedFile> {
  const text = await readFile(path, 'utf8');
  return { ...parseScenarioFile(text), path, baseDir: dirname(path) };
}

/** Warnings for each `${env:NAME}` that `env` does not set: they would fail the steps that use them. */
export function missingEnvDiagnostics(file: ScenarioFile, env: Readonly<Record<string, string | undefined>>): Diagnostic[] {
  return file.envRefs
    .filter((r) => env[r.name] === undefined)
    .map((r) => createDiagnostic(r.range, 'WSX_ENV_MISSING', `environment variable ${r.name} is not set (nor in the file's .env files)`, 'warning'));
}

/** True when the diagnostics hold an error (a file with one is not run). */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}
