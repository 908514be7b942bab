// Command registration with the extension's error reporting: a command that fails is logged and its reason shown,
// and resolves to undefined instead of rejecting into VS Code.
import * as vscode from 'vscode';
import * as notify from './notify';
import { errorMessage } from './settings';
import { untrusted } from './uiText';

export type RegisterCommand = (id: string, fn: (...args: never[]) => unknown) => void;

/** A `command(id, fn)` that registers on `context` and reports what `fn` throws. */
export function commandRegistrar(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): RegisterCommand {
  return (id, fn) =>
    void context.subscriptions.push(
      vscode.commands.registerCommand(id, async (...args: never[]) => {
        try {
          return await fn(...args);
        } catch (err) {
          log.error(`${id}: ${errorMessage(err)}`);
          void notify.showErrorMessage(untrusted(errorMessage(err)));
          return undefined;
        }
      }),
    );
}
