// Debugging a scenario: the run stops before each step until the user continues. The pause is a status bar item
// (with Continue and Stop commands) rather than a notification: a toast hides itself after a while and can be lost,
// while the status bar item stays until the step runs, and the same commands work from the palette and in tests.
import * as vscode from 'vscode';
import type { StepInfo } from '../core/scenarios';
import type { RegisterCommand } from './commands';
import { uiText } from './uiText';

interface Pause {
  step: StepInfo;
  resolve(go: boolean): void;
}

export class StepGate implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('wsInspector.scenarioStep', vscode.StatusBarAlignment.Left, 100);
  private pause: Pause | undefined;
  private readonly _onDidPause = new vscode.EventEmitter<StepInfo>();
  /** A run stopped before `step` (the tests continue it from here). */
  readonly onDidPause = this._onDidPause.event;

  constructor() {
    this.item.name = 'Scenario debugging';
    this.item.command = 'wsInspector.scenarioContinue';
  }

  /** The step the run waits before, if one does. */
  get paused(): StepInfo | undefined {
    return this.pause?.step;
  }

  /** Waits for Continue (true) or Stop (false). A cancelled run (`token`) stops. */
  wait(step: StepInfo, token: vscode.CancellationToken): Promise<boolean> {
    this.release(false);
    return new Promise<boolean>((resolve) => {
      const sub = token.onCancellationRequested(() => this.release(false));
      this.pause = {
        step,
        resolve: (go) => {
          sub.dispose();
          resolve(go);
        },
      };
      this.item.text = uiText`$(debug-pause) ${step.scenario}: next ${step.label}`;
      this.item.tooltip = 'Scenario paused before this step. Click to run it (WebSocket: Continue Scenario Step).';
      this.item.show();
      void vscode.commands.executeCommand('setContext', 'wsInspector.scenarioPaused', true);
      this._onDidPause.fire(step);
    });
  }

  /** Lets the waiting run go on (`go`) or stop. */
  release(go: boolean): boolean {
    const p = this.pause;
    if (!p) return false;
    this.pause = undefined;
    this.item.hide();
    void vscode.commands.executeCommand('setContext', 'wsInspector.scenarioPaused', false);
    p.resolve(go);
    return true;
  }

  dispose(): void {
    this.release(false);
    this.item.dispose();
    this._onDidPause.dispose();
  }
}

export function registerStepGate(context: vscode.ExtensionContext, command: RegisterCommand): StepGate {
  const gate = new StepGate();
  context.subscriptions.push(gate);
  command('wsInspector.scenarioContinue', () => gate.release(true));
  command('wsInspector.scenarioStop', () => gate.release(false));
  return gate;
}
