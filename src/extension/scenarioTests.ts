// Every scenario of every scenario file in the workspace as a test in VS Code's Test Explorer. Run runs it with the
// core's runner into the session's capture store (its connections show in the inspector, labelled with the scenario
// and the step); Debug stops before each step (scenarioDebug.ts). A failure is a TestMessage at the step's line, with
// the expected and the actual message as a diff.
import * as vscode from 'vscode';
import { hasErrors, runScenario, type ScenarioResult, type StepInfo, type StepResult } from '../core/scenarios';
import { toRange, type ParsedScenarioFile, type ScenarioFiles } from './scenarioFiles';
import type { StepGate } from './scenarioDebug';
import type { ScenarioSecrets } from './scenarioSecrets';
import type { Session } from './session';
import { uiText } from './uiText';

export const UNTRUSTED_NOTE = 'Scenario files run only in a trusted workspace.';
/** Between the file's URI and the scenario's name in a test item's id (a URI string never holds a space). */
const SEP = ' » ';

/** What the Test Explorer was told about a scenario's last run (for the extension-host tests). */
export interface ReportedOutcome {
  state: 'passed' | 'failed' | 'errored' | 'skipped';
  message?: string;
  /** 1-based line of the message's location. */
  line?: number;
  expected?: string;
  actual?: string;
  steps: StepResult[];
}

export class ScenarioTests implements vscode.Disposable {
  readonly controller = vscode.tests.createTestController('wsInspector.scenarios', 'WebSocket Scenarios');
  private readonly runProfile: vscode.TestRunProfile;
  private readonly debugProfile: vscode.TestRunProfile;
  private readonly subs: vscode.Disposable[] = [];
  /** Keyed by test item id. */
  readonly outcomes = new Map<string, ReportedOutcome>();

  constructor(
    private readonly session: Session,
    private readonly files: ScenarioFiles,
    private readonly secrets: ScenarioSecrets,
    private readonly gate: StepGate,
  ) {
    const c = this.controller;
    this.runProfile = c.createRunProfile('Run', vscode.TestRunProfileKind.Run, (r, t) => this.runRequest(r, t, false), true);
    this.debugProfile = c.createRunProfile('Debug (step by step)', vscode.TestRunProfileKind.Debug, (r, t) => this.runRequest(r, t, true), true);
    c.resolveHandler = async (item) => {
      if (!item) await files.discover();
    };
    c.refreshHandler = () => files.discover();
    this.subs.push(
      c,
      files.onDidChange((f) => (f instanceof vscode.Uri ? c.items.delete(f.toString()) : this.updateFile(f))),
      vscode.workspace.onDidGrantWorkspaceTrust(() => files.all().forEach((f) => this.updateFile(f))),
    );
    files.all().forEach((f) => this.updateFile(f));
  }

  static itemId(uri: vscode.Uri, scenario: string): string {
    return `${uri.toString()}${SEP}${scenario}`;
  }

  private updateFile(f: ParsedScenarioFile): void {
    const id = f.uri.toString();
    let fileItem = this.controller.items.get(id);
    if (!fileItem) {
      fileItem = this.controller.createTestItem(id, vscode.workspace.asRelativePath(f.uri), f.uri);
      this.controller.items.add(fileItem);
    }
    const firstError = f.diagnostics.find((d) => d.severity === 'error');
    fileItem.error = firstError ? uiText`Line ${firstError.line}: ${firstError.message}` : undefined;
    const trusted = vscode.workspace.isTrusted;
    if (trusted) fileItem.description = '';
    else fileItem.description = 'not run: the workspace is not trusted';
    // A file with errors keeps its last good list, so that a typo does not empty the Test Explorer.
    if (firstError && fileItem.children.size > 0) return;
    const children = f.file.scenarios.map((s) => {
      const child = fileItem.children.get(ScenarioTests.itemId(f.uri, s.name)) ?? this.controller.createTestItem(ScenarioTests.itemId(f.uri, s.name), s.name, f.uri);
      child.range = toRange(s.range);
      if (trusted) child.description = uiText`${s.steps.length} steps${s.mock ? ' · own mock' : ''}`;
      else child.description = 'Scenario files run only in a trusted workspace.';
      return child;
    });
    fileItem.children.replace(children);
  }

  /** Runs (or debugs) one scenario as the Test Explorer would, its result shown there. */
  async runOne(uri: vscode.Uri, scenario: string, debug: boolean): Promise<ReportedOutcome | undefined> {
    const parsed = await this.files.get(uri);
    if (parsed) this.updateFile(parsed);
    const item = this.controller.items.get(uri.toString())?.children.get(ScenarioTests.itemId(uri, scenario));
    if (!item) throw new Error(`No scenario named "${scenario}" in ${vscode.workspace.asRelativePath(uri)}.`);
    const profile = debug ? this.debugProfile : this.runProfile;
    const cts = new vscode.CancellationTokenSource();
    try {
      await this.runRequest(new vscode.TestRunRequest([item], undefined, profile), cts.token, debug);
    } finally {
      cts.dispose();
    }
    return this.outcomes.get(item.id);
  }

  private async runRequest(request: vscode.TestRunRequest, token: vscode.CancellationToken, debug: boolean): Promise<void> {
    const run = this.controller.createTestRun(request);
    const items: vscode.TestItem[] = [];
    const add = (i: vscode.TestItem) => (i.children.size ? i.children.forEach(add) : i.id.includes(SEP) && items.push(i));
    (request.include ?? [...iterate(this.controller.items)]).forEach(add);
    const excluded = new Set((request.exclude ?? []).map((i) => i.id));
    const todo = items.filter((i) => !excluded.has(i.id) && !excluded.has(i.parent?.id ?? ''));
    todo.forEach((i) => run.enqueued(i));
    try {
      for (const item of todo) {
        if (token.isCancellationRequested) this.report(run, item, { state: 'skipped', steps: [] });
        else await this.runItem(run, item, token, debug);
      }
    } finally {
      run.end();
    }
  }

  private async runItem(run: vscode.TestRun, item: vscode.TestItem, token: vscode.CancellationToken, debug: boolean): Promise<void> {
    const uri = item.uri!;
    const name = item.id.slice(item.id.indexOf(SEP) + SEP.length);
    if (!vscode.workspace.isTrusted) return this.report(run, item, { state: 'errored', message: UNTRUSTED_NOTE, steps: [] });
    const parsed = await this.files.get(uri);
    const spec = parsed?.file.scenarios.find((s) => s.name === name);
    const error = parsed?.diagnostics.find((d) => d.severity === 'error');
    if (!parsed || !spec || (error && hasErrors(parsed.diagnostics))) {
      const message = error ? `The file has errors; the first, line ${error.line}: ${error.message}` : `The scenario "${name}" is no longer in the file.`;
      return this.report(run, item, { state: 'errored', message, line: error?.line, steps: [] });
    }
    run.started(item);
    const abort = new AbortController();
    const sub = token.onCancellationRequested(() => abort.abort());
    const steps: StepResult[] = [];
    let inspectorShown = false;
    const beforeStep = async (step: StepInfo) => {
      run.appendOutput(`▶ ${step.label}\r\n`, undefined, item);
      if (!debug) return;
      if (!inspectorShown) {
        inspectorShown = true;
        await vscode.commands.executeCommand('wsInspector.openInspector');
      }
      if (!(await this.gate.wait(step, token))) abort.abort();
    };
    try {
      const result = await runScenario(parsed.file, spec, {
        baseDir: parsed.baseDir,
        capture: this.session.store,
        secrets: this.secrets.provider(true),
        masker: this.secrets.masker,
        signal: abort.signal,
        beforeStep,
        onStep: (r) => {
          steps.push(r);
          const mark = r.status === 'passed' ? '✓' : '✗';
          run.appendOutput(`${mark} ${r.label} (${Math.round(r.durationMs)} ms)${r.message ? `: ${r.message}` : ''}\r\n`, new vscode.Location(uri, toRange(r.range)), item);
        },
      });
      this.report(run, item, outcomeOf(result, steps), uri, result.durationMs);
    } finally {
      sub.dispose();
      this.gate.release(false);
    }
  }

  private report(run: vscode.TestRun, item: vscode.TestItem, o: ReportedOutcome, uri?: vscode.Uri, durationMs?: number): void {
    this.outcomes.set(item.id, o);
    if (o.state === 'passed') return run.passed(item, durationMs);
    if (o.state === 'skipped') return run.skipped(item);
    const message = o.expected !== undefined || o.actual !== undefined ? vscode.TestMessage.diff(o.message ?? 'failed', o.expected ?? '', o.actual ?? '') : new vscode.TestMessage(o.message ?? 'failed');
    const at = uri ?? item.uri;
    if (at && o.line !== undefined) message.location = new vscode.Location(at, new vscode.Position(o.line - 1, 0));
    if (o.state === 'failed') run.failed(item, message, durationMs);
    else run.errored(item, message, durationMs);
  }

  dispose(): void {
    this.subs.forEach((d) => d.dispose());
  }
}

function outcomeOf(result: ScenarioResult, steps: StepResult[]): ReportedOutcome {
  if (result.status === 'passed') return { state: 'passed', steps };
  if (result.status === 'cancelled') return { state: 'skipped', message: result.message, steps };
  const f = result.failedStep;
  const message = f ? `${f.label}: ${f.message ?? result.message ?? 'failed'}` : (result.message ?? 'failed');
  return { state: 'failed', message, line: (f?.range ?? result.range).line, expected: f?.expected, actual: f?.actual, steps };
}

function* iterate(c: vscode.TestItemCollection): Generator<vscode.TestItem> {
  for (const [, item] of c) yield item;
}
