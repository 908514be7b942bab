// What a run reports: each step as it starts and ends, and each scenario's outcome. Plain data, so the Test Explorer,
// the CLI and the webview can all take it.

import type { SourceRange } from './diagnostics';
import type { StepKind } from './model';

/** A step about to run (what the debug hook and a step-start event get). */
export interface StepInfo {
  scenario: string;
  /** 1-based position in its list, one number per level: [4] is the 4th step, [4, 2] the 2nd inside repeat 4. */
  path: number[];
  /** 0-based iteration of each enclosing repeat (empty outside one). */
  iteration: number[];
  kind: StepKind;
  /** "4.2 send hello on alice", for lists and connection labels. */
  label: string;
  /** The step in the file: a failure is shown at `range.line`. */
  range: SourceRange;
  /** The named connection the step works on, if any. */
  connection?: string;
}

export interface StepResult extends StepInfo {
  status: 'passed' | 'failed';
  durationMs: number;
  /** Why it failed, secrets masked. */
  message?: string;
  /** For a diff (TestMessage.diff): what the step expected and what came instead, secrets masked. */
  expected?: string;
  actual?: string;
  /** Capture connection ids (`o7.1`) of the step's connection. */
  connectionIds: string[];
  /** With capture on: the ids of the events the sink got while the step ran (all connections'), if any. */
  events?: { firstId: number; lastId: number };
}

export interface ScenarioResult {
  name: string;
  range: SourceRange;
  status: 'passed' | 'failed' | 'cancelled';
  durationMs: number;
  /** Every step that ran, in order (a repeat's body once per iteration, then the repeat itself). */
  steps: StepResult[];
  /** The failing step; absent when the run failed before any step (an .env file, the mock) or passed. */
  failedStep?: StepResult;
  /** Why it failed or was cancelled, secrets masked. */
  message?: string;
  /** Each named connection's capture connection ids (a reconnect or a second connect adds one). */
  connections: Record<string, string[]>;
}

/** A step's failure, thrown by its runner: `expected` and `actual` are for a diff. */
export class StepFailure extends Error {
  constructor(
    message: string,
    readonly expected?: string,
    readonly actual?: string,
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}
