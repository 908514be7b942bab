// Scenario files in the editor (issue 20): diagnostics, the Test Explorer, the CodeLens and its commands, the mock,
// Record as scenario and the scenario secrets, registered together.
import * as vscode from 'vscode';
import type { RegisterCommand } from './commands';
import { registerScenarioCodeLens } from './scenarioCodeLens';
import { registerScenarioCommands, type ScenarioCommandsApi } from './scenarioCommands';
import { registerStepGate, type StepGate } from './scenarioDebug';
import { ScenarioFiles } from './scenarioFiles';
import { registerScenarioRecord } from './scenarioRecord';
import { registerScenarioSecrets } from './scenarioSecrets';
import { ScenarioTests } from './scenarioTests';
import type { Session } from './session';

/** What the extension-host tests read. */
export interface ScenarioApi {
  files: ScenarioFiles;
  tests: ScenarioTests;
  gate: StepGate;
  commands: ScenarioCommandsApi;
}

export function registerScenarios(context: vscode.ExtensionContext, session: Session, log: vscode.LogOutputChannel, command: RegisterCommand): ScenarioApi {
  const files = new ScenarioFiles();
  const secrets = registerScenarioSecrets(context, command);
  const gate = registerStepGate(context, command);
  const tests = new ScenarioTests(session, files, secrets, gate);
  context.subscriptions.push(files, tests);
  const commands = registerScenarioCommands(context, { session, files, secrets, tests, log }, command);
  registerScenarioCodeLens(context, files, commands);
  registerScenarioRecord(session, secrets, command);
  void files.discover().catch((err: unknown) => log.warn(`Looking for scenario files: ${String(err)}`));
  return { files, tests, gate, commands };
}
