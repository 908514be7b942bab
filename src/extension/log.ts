// The "WebSocket Inspector" log: notifications and the core's unexpected errors are written to it too.
import * as vscode from 'vscode';
import { setUnexpectedErrorHandler } from '../core/util/events';
import * as notify from './notify';

export function registerLog(context: vscode.ExtensionContext): vscode.LogOutputChannel {
  const log = vscode.window.createOutputChannel('WebSocket Inspector', { log: true });
  context.subscriptions.push(log, notify.logNotificationsTo(log));
  setUnexpectedErrorHandler((err) => log.error(err instanceof Error ? (err.stack ?? err.message) : String(err)));
  return log;
}
