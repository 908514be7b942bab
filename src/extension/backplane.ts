// The Redis backplane: joining and leaving it, and the context key the command palette reads.
import * as vscode from 'vscode';
import type { RegisterCommand } from './commands';
import * as notify from './notify';
import type { Session } from './session';
import { errorMessage, readScaleSettings } from './settings';
import { uiText } from './uiText';

/** Joins the Redis backplane of the settings; a failure is shown, and the server goes on alone. */
export async function joinBackplane(s: Session, log: vscode.LogOutputChannel): Promise<boolean> {
  let scale;
  try {
    scale = readScaleSettings();
    if (!scale.redisUrl) throw new Error('Set wsInspector.scale.redisUrl (for example redis://127.0.0.1:6379) to join a backplane.');
    const bp = await s.startBackplane(scale);
    log.info(`Backplane: joined ${bp.displayUrl} channel ${scale.channel} (${scale.envelope} envelope) as server ${bp.serverId}.`);
    return true;
  } catch (err) {
    log.warn(`Backplane: ${errorMessage(err)}`);
    void notify.showWarningMessage(uiText`The server runs without the Redis backplane: ${errorMessage(err)}`, 'Retry', 'Open Settings').then((pick) => {
      if (pick === 'Retry') void vscode.commands.executeCommand('wsInspector.startBackplane');
      if (pick === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'wsInspector.scale');
    });
    return false;
  }
}

export function registerBackplane(context: vscode.ExtensionContext, s: Session, log: vscode.LogOutputChannel, command: RegisterCommand): void {
  command('wsInspector.startBackplane', async () => {
    if (!s.serverAddress) throw new Error('Start the broadcast server first ("WebSocket: Start Broadcast Server"): the backplane joins it to a Redis channel.');
    return joinBackplane(s, log);
  });
  command('wsInspector.stopBackplane', async () => {
    if (!(await s.stopBackplane())) void notify.showInformationMessage('The server is not on a backplane.');
    else log.info('Backplane: left.');
  });
  let onBackplane = false;
  context.subscriptions.push(
    s.onDidChange(() => {
      if (onBackplane === (s.backplaneState !== undefined)) return;
      onBackplane = !onBackplane;
      void vscode.commands.executeCommand('setContext', 'wsInspector.backplaneRunning', onBackplane);
    }),
  );
}
