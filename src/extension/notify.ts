// Every notification of the extension goes through here (the lint rule refuses vscode.window.show*Message elsewhere),
// so its text passes the same check as the call sites, and what the user was shown is logged and kept for the tests.
import * as vscode from 'vscode';

export interface ShownNotification {
  severity: 'error' | 'warning' | 'info';
  /** The text exactly as VS Code was given it. */
  message: string;
  actions: string[];
}

/** How many of the last notifications are kept. */
const KEEP = 20;
const kept: ShownNotification[] = [];
let log: vscode.LogOutputChannel | undefined;

/** Logs each notification to `channel` until the returned disposable is disposed. */
export function logNotificationsTo(channel: vscode.LogOutputChannel): vscode.Disposable {
  log = channel;
  return { dispose: () => void (log === channel && (log = undefined)) };
}

/** The last notifications shown, oldest first. */
export function recentNotifications(): readonly ShownNotification[] {
  return [...kept];
}

type Rest<T extends string> = T[] | [vscode.MessageOptions, ...T[]];
type Show = typeof vscode.window.showInformationMessage;

function show<T extends string>(severity: ShownNotification['severity'], fn: Show, message: string, rest: Rest<T>): Thenable<T | undefined> {
  const actions = (rest as Array<T | vscode.MessageOptions>).filter((a): a is T => typeof a === 'string');
  kept.push({ severity, message, actions });
  if (kept.length > KEEP) kept.shift();
  log?.info(`Notification (${severity}): ${message}${actions.length ? ` [${actions.join(' | ')}]` : ''}`);
  const [first] = rest;
  return (typeof first === 'object' ? fn(message, first, ...actions) : fn(message, ...actions)) as Thenable<T | undefined>;
}

/** vscode.window.showErrorMessage; `message` must be the extension's own text, or built with uiText / untrusted. */
export function showErrorMessage<T extends string>(message: string, ...rest: Rest<T>): Thenable<T | undefined> {
  // eslint-disable-next-line no-restricted-syntax -- the one place that calls VS Code's
  return show('error', vscode.window.showErrorMessage, message, rest);
}

/** vscode.window.showWarningMessage; `message` as for showErrorMessage. */
export function showWarningMessage<T extends string>(message: string, ...rest: Rest<T>): Thenable<T | undefined> {
  // eslint-disable-next-line no-restricted-syntax -- as above
  return show('warning', vscode.window.showWarningMessage, message, rest);
}

/** vscode.window.showInformationMessage; `message` as for showErrorMessage. */
export function showInformationMessage<T extends string>(message: string, ...rest: Rest<T>): Thenable<T | undefined> {
  // eslint-disable-next-line no-restricted-syntax -- as above
  return show('info', vscode.window.showInformationMessage, message, rest);
}
