// Runs the scenarios of a parsed file against real endpoints: step by step (with a hook before each, for a debugger),
// each step's result as data, every frame into the capture sink under the scenario's labels, and every connection
// (and the scenario's mock) closed at the end, whatever happened.

import { labellingSink } from './captureLabels';
import { loadEnvironment } from './envFile';
import { MissingValueError } from './interpolate';
import { ScenarioMock } from './mock';
import type { ScenarioFile, ScenarioSpec, Step } from './model';
import { StepFailure, type ScenarioResult, type StepInfo, type StepResult } from './results';
import { DEFAULT_CLOSE_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, type RunOptions, type RunState } from './runState';
import { SecretMasker } from './secrets';
import { STEP_RUNNERS } from './stepRunners';
import { loadSecrets, Variables } from './variables';

export type { RunOptions } from './runState';

/** What every scenario of a file run shares: the environment and the secrets, read once. */
interface Prepared {
  env: Readonly<Record<string, string | undefined>>;
  secrets: Map<string, string>;
  masker: SecretMasker;
}

async function prepare(file: ScenarioFile, options: RunOptions): Promise<Prepared> {
  const masker = options.masker ?? new SecretMasker();
  const baseDir = options.baseDir ?? process.cwd();
  let env = options.env;
  if (env === undefined) {
    const fromFile = await loadEnvironment(file.envFiles, baseDir, {}, true);
    const extra = await loadEnvironment(options.envFiles ?? [], process.cwd(), {});
    env = { ...fromFile, ...extra, ...process.env };
  }
  return { env, secrets: await loadSecrets(file, options.secrets, masker), masker };
}

/** Runs every scenario of `file` (or those `filter` keeps), one after the other. */
export async function runFile(file: ScenarioFile, options: RunOptions = {}, filter?: (s: ScenarioSpec) => boolean): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  let prepared: Prepared | Error;
  try {
    prepared = await prepare(file, options);
  } catch (err) {
    prepared = err as Error;
  }
  for (const spec of file.scenarios) {
    if (filter && !filter(spec)) continue;
    if (options.signal?.aborted) break;
    results.push(prepared instanceof Error ? failedBeforeSteps(spec, prepared.message, 0) : await run(file, spec, options, prepared));
  }
  return results;
}

/** Runs one scenario of `file`, by name or as given. */
export async function runScenario(file: ScenarioFile, scenario: string | ScenarioSpec, options: RunOptions = {}): Promise<ScenarioResult> {
  const spec = typeof scenario === 'string' ? file.scenarios.find((s) => s.name === scenario) : scenario;
  if (!spec) throw new TypeError(`no scenario named "${String(scenario)}" in the file`);
  let prepared: Prepared;
  try {
    prepared = await prepare(file, options);
  } catch (err) {
    return failedBeforeSteps(spec, (err as Error).message, 0);
  }
  return run(file, spec, options, prepared);
}

function failedBeforeSteps(spec: ScenarioSpec, message: string, durationMs: number): ScenarioResult {
  return { name: spec.name, range: spec.range, status: 'failed', durationMs, steps: [], message, connections: {} };
}

async function run(file: ScenarioFile, spec: ScenarioSpec, options: RunOptions, p: Prepared): Promise<ScenarioResult> {
  const t0 = performance.now();
  const vars = new Variables(file, p.env, p.secrets);
  const baseDir = options.baseDir ?? process.cwd();
  const steps: StepResult[] = [];
  const st: RunState = {
    file,
    spec,
    options,
    vars,
    masker: p.masker,
    body: { file, baseDir, vars },
    schemas: new Map(),
    connections: new Map(),
    made: [],
    labels: options.capture && labellingSink(options.capture, p.masker),
    connectionIds: {},
    timeoutMs: spec.timeoutMs ?? options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    current: undefined,
    runSteps: (list, path, iteration) => runSteps(st, list, path, iteration, steps),
  };
  let mock: ScenarioMock | undefined;
  let failure: string | undefined;
  try {
    if (spec.mock) {
      if (!file.mock) throw new Error('the scenario has mock: true, and the file has no mock section');
      mock = await ScenarioMock.start(file, { baseDir, env: p.env, secrets: (name) => p.secrets.get(name), serverOptions: { ...options.mockServerOptions, port: 0 } });
      vars.set('mock.url', mock.url);
    }
    await st.runSteps(spec.steps, [], []);
  } catch (err) {
    if (!(err instanceof StepFailure)) failure = p.masker.text((err as Error).message);
  } finally {
    const closeMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
    if (st.labels) for (const c of st.made) st.labels.label(c.client.id, { step: 'end of the scenario' });
    await Promise.all(st.made.map((c) => c.shutdown(closeMs)));
    await mock?.stop();
  }
  const failedStep = steps.find((s) => s.status === 'failed');
  const cancelled = options.signal?.aborted === true;
  const status = cancelled ? 'cancelled' : failedStep || failure !== undefined ? 'failed' : 'passed';
  const message = cancelled ? 'cancelled' : (failedStep?.message ?? failure);
  return { name: spec.name, range: spec.range, status, durationMs: performance.now() - t0, steps, failedStep, message, connections: st.connectionIds };
}

/** Runs `list` in order; the first failure is recorded in `out` and thrown on (as a StepFailure) to end the scenario. */
async function runSteps(st: RunState, list: readonly Step[], path: number[], iteration: number[], out: StepResult[]): Promise<void> {
  for (let i = 0; i < list.length; i++) {
    if (st.options.signal?.aborted) throw new StepFailure('cancelled');
    const step = list[i];
    const info = stepInfo(st, step, [...path, i + 1], iteration);
    st.current = info;
    if (st.labels) for (const c of st.connections.values()) st.labels.label(c.client.id, { step: info.label });
    if (st.options.beforeStep) await st.options.beforeStep(info, () => st.vars.snapshot(st.masker));
    st.labels?.beginStep();
    const t0 = performance.now();
    let failure: StepFailure | undefined;
    try {
      await (STEP_RUNNERS[step.kind] as (s: RunState, x: Step, p: number[], it: number[]) => Promise<void>)(st, step, info.path, iteration);
    } catch (err) {
      failure = toFailure(err, st);
    }
    const result = finish(st, info, failure, performance.now() - t0);
    out.push(result);
    st.options.onStep?.(result);
    if (failure) throw failure;
  }
}

function toFailure(err: unknown, st: RunState): StepFailure {
  if (err instanceof StepFailure) return new StepFailure(st.masker.text(err.message), err.expected && st.masker.text(err.expected), err.actual && st.masker.text(err.actual));
  if (err instanceof MissingValueError) return new StepFailure(st.masker.text(err.message));
  return new StepFailure(st.masker.text((err as Error)?.message ?? String(err)));
}

function finish(st: RunState, info: StepInfo, failure: StepFailure | undefined, durationMs: number): StepResult {
  const r: StepResult = { ...info, status: failure ? 'failed' : 'passed', durationMs, connectionIds: info.connection ? [...(st.connectionIds[info.connection] ?? [])] : [] };
  if (failure) {
    r.message = failure.message;
    if (failure.expected !== undefined) r.expected = failure.expected;
    if (failure.actual !== undefined) r.actual = failure.actual;
  }
  const events = st.labels?.endStep();
  if (events) r.events = events;
  return r;
}

function stepInfo(st: RunState, step: Step, path: number[], iteration: number[]): StepInfo {
  const connection = 'connection' in step ? step.connection : undefined;
  const what = step.name ?? describeStep(step);
  const label = `${path.join('.')} ${st.masker.text(what)}${iteration.length ? ` (iteration ${iteration.map((i) => i + 1).join('.')})` : ''}`;
  return { scenario: st.spec.name, path, iteration, kind: step.kind, label, range: step.range, ...(connection !== undefined ? { connection } : {}) };
}

/** "send hello on alice", "expect on bob", "wait 100 ms". */
export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'connect':
      return `connect ${step.connection}${step.endpoint && step.endpoint !== step.connection ? ` to ${step.endpoint}` : ''}`;
    case 'send':
      return `send ${step.body.kind === 'ref' ? step.body.name : step.body.kind} on ${step.connection}`;
    case 'expect':
      return `expect on ${step.connection}${step.matchers.length === 1 && step.matchers[0].message ? ` ${step.matchers[0].message}` : ''}`;
    case 'capture':
      return `capture ${step.captures.map((c) => c.as).join(', ')} on ${step.connection}`;
    case 'wait':
      return `wait ${step.ms} ms`;
    case 'repeat':
      return step.times !== undefined ? `repeat ${step.times}×` : 'repeat over a list';
    case 'close':
      return `close ${step.connection}`;
    case 'expectClose':
      return `expect ${step.connection} closed`;
  }
}
