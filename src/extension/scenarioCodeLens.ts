// The CodeLens of a scenario file: Connect over each endpoint, Send over each named message, Run and Debug over each
// scenario, Start/Stop Mock Server over the mock section. In an untrusted workspace one lens says why nothing runs.
import * as vscode from 'vscode';
import type { ScenarioCommandsApi } from './scenarioCommands';
import { SCENARIO_SELECTOR, toRange, type ScenarioFiles } from './scenarioFiles';
import { UNTRUSTED_NOTE } from './scenarioTests';

class ScenarioCodeLens implements vscode.CodeLensProvider {
  private readonly _onDidChange = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this._onDidChange.event;

  constructor(
    private readonly files: ScenarioFiles,
    private readonly commands: ScenarioCommandsApi,
  ) {}

  refresh(): void {
    this._onDidChange.fire();
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const { file } = this.files.parseDocument(doc);
    const uri = doc.uri;
    const lens = (at: { line: number; column: number; endLine: number; endColumn: number; offset: number; length: number }, title: string, command: string, ...args: unknown[]) =>
      new vscode.CodeLens(toRange(at), { title, command, arguments: [uri, ...args] });
    if (!vscode.workspace.isTrusted) {
      const first = file.scenarios[0]?.range ?? [...file.endpoints.values()][0]?.range;
      return first ? [new vscode.CodeLens(toRange(first), { title: `$(shield) ${UNTRUSTED_NOTE} Manage Workspace Trust…`, command: 'workbench.trust.manage' })] : [];
    }
    const out: vscode.CodeLens[] = [];
    for (const e of file.endpoints.values()) out.push(lens(e.range, '$(plug) Connect', 'wsInspector.scenarioConnect', e.name));
    for (const m of file.messages.values()) out.push(lens(m.range, '$(send) Send', 'wsInspector.scenarioSend', m.name));
    for (const s of file.scenarios) {
      out.push(lens(s.range, '$(play) Run', 'wsInspector.runScenario', s.name), lens(s.range, '$(debug-alt) Debug', 'wsInspector.debugScenario', s.name));
    }
    if (file.mock) {
      const running = this.commands.mock();
      const here = running?.uri.toString() === uri.toString();
      out.push(here ? lens(file.mock.range, `$(debug-stop) Stop Mock Server (${running.url})`, 'wsInspector.stopMockServer') : lens(file.mock.range, '$(server) Start Mock Server', 'wsInspector.startMockServer'));
    }
    return out;
  }

  dispose(): void {
    this._onDidChange.dispose();
  }
}

export function registerScenarioCodeLens(context: vscode.ExtensionContext, files: ScenarioFiles, commands: ScenarioCommandsApi): void {
  const provider = new ScenarioCodeLens(files, commands);
  context.subscriptions.push(
    provider,
    vscode.languages.registerCodeLensProvider(SCENARIO_SELECTOR, provider),
    commands.onDidChangeMock(() => provider.refresh()),
    vscode.workspace.onDidGrantWorkspaceTrust(() => provider.refresh()),
  );
}
