// What the steps of one running scenario share: its variables, its connections, the options of the run.

import type { CaptureSink } from '../capture/events';
import type { BreakpointController } from '../proxy/breakpoints';
import type { BroadcastServerOptions } from '../server/serverOptions';
import type { BodyContext } from './body';
import type { LabellingSink } from './captureLabels';
import type { SchemaFiles } from './match';
import type { ScenarioFile, ScenarioSpec, Step } from './model';
import type { StepInfo, StepResult } from './results';
import type { ScenarioConnection } from './scenarioConnection';
import type { SecretMasker } from './secrets';
import type { SecretProvider, Variables } from './variables';

export interface RunOptions {
  /** The scenario file's folder: `.env` files, CA files, `file:` bodies and schema files are relative to it. Default: the working directory. */
  baseDir?: string;
  /** The environment for `${env:…}`. Default: the file's envFiles and `envFiles` below, under the process environment. */
  env?: Readonly<Record<string, string | undefined>>;
  /** More .env files (the CLI's --env-file), read after the file's own. Relative to the working directory. */
  envFiles?: string[];
  /** Values of `${secret:NAME}`, asked once per name before the run; they are masked in every result. */
  secrets?: SecretProvider;
  /**
   * Gets the secrets' values too, so that the host can mask them where the run does not reach: an export of the
   * inspector's history (`masker.event(e)` per event), its log. Default: a masker of the run's own.
   */
  masker?: SecretMasker;
  /** Where every frame of the run goes (the inspector's EventStore). Default: none, capture off. */
  capture?: CaptureSink;
  /** Frame breakpoints on the scenario's connections (the inspector's). Default none. */
  breakpoints?: BreakpointController;
  /**
   * Called before each step, and awaited: the debugger's pause (resolve to go on). Without a debugger it is the
   * step-start event of the Test Explorer.
   */
  beforeStep?: (step: StepInfo, variables: () => Record<string, string>) => void | Promise<void>;
  /** Called after each step with its result. */
  onStep?: (result: StepResult) => void;
  /** Cancels the run: the current step fails as cancelled and the connections close. */
  signal?: AbortSignal;
  /** Default time an expect, connect, close or expectClose step waits (ms), unless it or its scenario says. Default 5000. */
  timeoutMs?: number;
  /** How long the end of a scenario waits for each connection to finish its close handshake (ms). Default 2000. */
  closeTimeoutMs?: number;
  /** For a scenario with `mock: true`: options of the mock's server (port 0 and the file's host/path/relay prevail). */
  mockServerOptions?: BroadcastServerOptions;
}

export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_CLOSE_TIMEOUT_MS = 2000;

export interface RunState {
  readonly file: ScenarioFile;
  readonly spec: ScenarioSpec;
  readonly options: RunOptions;
  readonly vars: Variables;
  readonly masker: SecretMasker;
  readonly body: BodyContext;
  readonly schemas: SchemaFiles;
  /** The named connections, the latest of each name. */
  readonly connections: Map<string, ScenarioConnection>;
  /** Every connection the run made, for the end (a name connected twice has two). */
  readonly made: ScenarioConnection[];
  readonly labels: LabellingSink | undefined;
  /** Each name's capture connection ids. */
  readonly connectionIds: Record<string, string[]>;
  /** The scenario's default wait. */
  readonly timeoutMs: number;
  /** The step running now (for labels). */
  current: StepInfo | undefined;
  /** Runs a list of steps (a repeat's body). */
  runSteps(steps: readonly Step[], path: number[], iteration: number[]): Promise<void>;
}
