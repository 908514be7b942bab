// Browser WebSockets over the DevTools protocol: a DevTools endpoint, or the browser of a debug session through
// js-debug's DevTools proxy. An inspection started for a debug session ends with it.
import * as vscode from 'vscode';
import { errorText } from '../shared/errorText';
import type { RegisterCommand } from './commands';
import type { TreeNode } from './connectionsTree';
import type { DebugSessionTracker } from './debugSessionTracker';
import * as notify from './notify';
import type { Session } from './session';
import { uiText, untrusted } from './uiText';

const RECENT_ENDPOINTS = 'wsInspector.recentDevToolsEndpoints';

/** What the commands work with. */
interface Env {
  context: vscode.ExtensionContext;
  s: Session;
  log: vscode.LogOutputChannel;
  tracker: DebugSessionTracker;
}

export function registerBrowserInspection(
  context: vscode.ExtensionContext,
  s: Session,
  log: vscode.LogOutputChannel,
  tracker: DebugSessionTracker,
  command: RegisterCommand,
): void {
  context.subscriptions.push(
    s.browsers.onDidChange(() => void vscode.commands.executeCommand('setContext', 'wsInspector.browserInspecting', s.browsers.list().length > 0)),
    s.browsers.onDidWarn((w) => log.warn(`Browser inspection ${w}`)),
    s.browsers.onDidDisconnect(({ inspection, reason }) => {
      log.warn(`Browser inspection ${inspection.id} (${inspection.endpoint}) ended: ${reason}`);
      void notify.showWarningMessage(uiText`Browser WebSocket inspection ended: ${reason}`);
    }),
  );
  const env: Env = { context, s, log, tracker };
  // A DevTools endpoint URL, or a debug session whose browser js-debug can share (as the quick pick offers).
  command('wsInspector.inspectBrowser', (arg?: string | { debugSessionId: string }) => inspectBrowser(env, arg));
  command('wsInspector.stopBrowserInspection', async (arg?: string | TreeNode) => {
    const running = s.browsers.list();
    const given = typeof arg === 'string' ? arg : arg?.type === 'source' ? arg.source.id : undefined;
    if (given === undefined && running.length === 0) {
      void notify.showInformationMessage('No browser is being inspected.');
      return;
    }
    const id = given ?? (running.length === 1 ? running[0].id : (await vscode.window.showQuickPick(running.map((i) => ({ label: untrusted(i.endpoint), id: i.id })), { title: 'Stop Inspecting Browser' }))?.id);
    if (id !== undefined) await s.browsers.stop(id);
  });
}

/**
 * Inspects a debug session's target. The inspection ends with the session: js-debug keeps its DevTools proxy open
 * after a detach (an attach session leaves the browser running), and the rows would go on naming a session that is gone.
 */
async function inspectSession({ s, log, tracker }: Env, target: vscode.DebugSession): Promise<string> {
  const id = await inspectDebugSession(s, log, target);
  tracker.endWith(target, () => {
    if (!s.browsers.list().some((i) => i.id === id)) return;
    log.info(`Browser inspection ${id} ends with the debug session "${target.name}".`);
    s.browsers.stop(id).catch((err) => log.warn(`Browser inspection ${id}: stopping it failed: ${errorText(err)}`));
  });
  return id;
}

async function inspectBrowser(env: Env, arg?: string | { debugSessionId: string }): Promise<string | undefined> {
  const { context, s, log, tracker } = env;
  if (typeof arg === 'object' && arg !== null) {
    const session = tracker.get(arg.debugSessionId);
    if (!session) throw new Error(`No running debug session ${arg.debugSessionId}.`);
    const target = await debugTargetOf(session, tracker);
    return target ? inspectSession(env, target) : undefined;
  }
  let endpoint = arg;
  if (endpoint === undefined) {
    const debugSession = tracker.active;
    const picks: Array<vscode.QuickPickItem & { value: string }> = [
      ...(debugSession ? [{ label: uiText`$(debug) Debug session "${debugSession.name}"`, description: 'through js-debug', value: 'debug' }] : []),
      ...context.globalState.get<string[]>(RECENT_ENDPOINTS, []).map((e) => ({ label: untrusted(e), description: 'recent', value: e })),
      { label: 'http://127.0.0.1:9222', description: 'Chromium started with --remote-debugging-port=9222', value: 'http://127.0.0.1:9222' },
      { label: 'Other DevTools endpoint…', value: 'other' },
    ];
    const pick = await vscode.window.showQuickPick(picks, { title: 'Inspect Browser WebSockets' });
    if (!pick) return undefined;
    if (pick.value === 'debug') {
      const target = await debugTargetOf(debugSession!, tracker);
      return target ? inspectSession(env, target) : undefined;
    }
    endpoint = pick.value;
    if (pick.value === 'other') {
      endpoint = await vscode.window.showInputBox({
        title: 'DevTools endpoint',
        prompt: 'http://host:port of a browser started with --remote-debugging-port, or its ws://…/devtools/… URL',
        validateInput: (v) => (/^(https?|wss?):\/\/[^/]/i.test(v.trim()) ? undefined : 'An http:// or ws:// URL.'),
      });
      if (endpoint === undefined) return undefined;
    }
  }
  endpoint = endpoint.trim();
  const i = await s.browsers.start(endpoint);
  const recent = context.globalState.get<string[]>(RECENT_ENDPOINTS, []);
  await context.globalState.update(RECENT_ENDPOINTS, [endpoint, ...recent.filter((e) => e !== endpoint)].slice(0, 5));
  log.info(`Inspecting browser WebSockets at ${endpoint} (${i.browser ?? 'DevTools'}).`);
  void vscode.commands.executeCommand('wsInspector.openInspector');
  return i.id;
}

/** Debug types of VS Code's JavaScript debugger (js-debug), old names included. */
const JS_DEBUG_TYPES = new Set(['pwa-chrome', 'chrome', 'pwa-msedge', 'msedge', 'pwa-node', 'node', 'node-terminal', 'pwa-extensionHost', 'extensionHost']);
/** How long js-debug may take to open its DevTools proxy (it answers in milliseconds when it can). */
const CDP_PROXY_TIMEOUT_MS = 10_000;

/**
 * The session whose DevTools js-debug can share. The session a launch configuration starts (the one named in
 * launch.json) has no target of its own: the browser's pages, or the Node process, are its child sessions, and
 * js-debug marks those with `__pendingTargetId` (its own DebugSessionTracker.isConcreteSession reads the same field).
 * Asked for a proxy, that top-level session never answers (js-debug logs "Unknown request: requestCDPProxy" and
 * sends no response), so it is never asked: its page is. Undefined when the user closes the pick.
 */
async function debugTargetOf(session: vscode.DebugSession, tracker: DebugSessionTracker): Promise<vscode.DebugSession | undefined> {
  const concrete = (d: vscode.DebugSession) => d.configuration.__pendingTargetId !== undefined;
  if (concrete(session)) return session;
  const children = tracker.childrenOf(session).filter(concrete);
  if (children.length === 0) {
    if (!JS_DEBUG_TYPES.has(session.type)) return session; // another debugger: asked, with a time limit
    throw new Error(`The debug session "${session.name}" has no page or process attached yet. Wait until it shows under the session in the Call Stack view, then try again.`);
  }
  const pages = children.filter((d) => d.configuration.__browserTargetType === 'page');
  const candidates = pages.length > 0 ? pages : children;
  if (candidates.length === 1) return candidates[0];
  const pick = await vscode.window.showQuickPick(
    candidates.map((d) => ({ label: untrusted(d.name), session: d })),
    { title: uiText`Inspect Browser WebSockets: which target of "${session.name}"?` },
  );
  return pick?.session;
}

/** A VS Code browser debug session: js-debug gives a DevTools proxy for its target. */
async function inspectDebugSession(s: Session, log: vscode.LogOutputChannel, session: vscode.DebugSession): Promise<string> {
  let proxy: { host: string; port: number; path?: string } | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    // A debugger that does not know the request may never answer it: bounded.
    proxy = await Promise.race([
      vscode.commands.executeCommand<typeof proxy>('extension.js-debug.requestCDPProxy', session.id),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CDP_PROXY_TIMEOUT_MS / 1000} s`)), CDP_PROXY_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    throw new Error(`The debug session "${session.name}" offers no DevTools access (${errorText(err)}). Browser sessions of VS Code's JavaScript debugger (chrome, msedge) do.`);
  } finally {
    clearTimeout(timer);
  }
  if (!proxy) throw new Error(`The debug session "${session.name}" offers no DevTools access. Browser sessions of VS Code's JavaScript debugger (chrome, msedge) do.`);
  const host = proxy.host.includes(':') ? `[${proxy.host}]` : proxy.host;
  const endpoint = `ws://${host}:${proxy.port}${proxy.path ?? ''}`;
  const i = await s.browsers.start(endpoint, () => session.name);
  log.info(`Inspecting browser WebSockets of debug session "${session.name}" through ${endpoint}.`);
  void vscode.commands.executeCommand('wsInspector.openInspector');
  return i.id;
}

