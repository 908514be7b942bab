// activate() wires the features; each registers its commands, views and listeners from its own file.
import * as vscode from 'vscode';
import { registerBackplane } from './backplane';
import { registerBreakpoints } from './breakpointCommands';
import { registerBrowserInspection } from './browserCommands';
import { registerClientConnections } from './clientCommands';
import { commandRegistrar } from './commands';
import { ConnectionsTree, registerConnectionsTree } from './connectionsTree';
import { DebugSessionIntegration, registerDebugSessions } from './debugSessions';
import { DebugSessionTracker } from './debugSessionTracker';
import { registerExport } from './exportSession';
import { registerInspectorPanel } from './inspectorCommands';
import { registerLog } from './log';
import * as notify from './notify';
import { registerProtectedSettings } from './protectedSettings';
import { registerProxy } from './proxyCommands';
import { registerScenarios, type ScenarioApi } from './scenarioFeature';
import { registerSecurity } from './securityCommands';
import { registerServer } from './serverCommands';
import { Session } from './session';
import { BREAKPOINT_TIMEOUT_DEFAULT_MS, CAPTURE_DEFAULTS, readBreakpointTimeoutMs, readCaptureSettings, readOrDefault } from './settings';
import { registerStatusBar } from './statusBar';

/** What the extension-host tests read; not a public API. */
export interface ExtensionApi {
  session: Session;
  debug: DebugSessionIntegration;
  tree: ConnectionsTree;
  scenarios: ScenarioApi;
  statusBarText(): string | undefined;
  /** The last notifications shown, as VS Code was given them. */
  notifications(): readonly notify.ShownNotification[];
  /** Which protected settings the workspace's settings files set (ignored; the user is told once). */
  protectedSettings: { check(): Promise<string[]> };
  activationMs: number;
}

let session: Session | undefined;

export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const started = performance.now();
  const log = registerLog(context);
  const protectedSettings = registerProtectedSettings(context, log);
  const s = new Session(
    readOrDefault(readCaptureSettings, CAPTURE_DEFAULTS, log),
    readOrDefault(readBreakpointTimeoutMs, BREAKPOINT_TIMEOUT_DEFAULT_MS, log),
  );
  session = s;
  context.subscriptions.push({ dispose: () => void s.dispose() });
  const command = commandRegistrar(context, log);
  const tracker = new DebugSessionTracker();
  context.subscriptions.push(tracker);

  const statusBar = registerStatusBar(context, s);
  const tree = registerConnectionsTree(context, s);
  registerInspectorPanel(context, s, command);
  registerServer(context, s, log, command);
  registerSecurity(context, s, log, command);
  registerClientConnections(context, s, log, command);
  registerProxy(context, s, log, command);
  registerBreakpoints(context, s, log, command);
  registerBrowserInspection(context, s, log, tracker, command);
  registerBackplane(context, s, log, command);
  registerExport(context, s, command);
  const debug = registerDebugSessions(context, s, log, tracker);
  const scenarios = registerScenarios(context, s, log, command);

  const activationMs = performance.now() - started;
  log.info(`WebSocket Inspector activated in ${activationMs.toFixed(1)} ms.`);
  return { session: s, debug, tree, scenarios, statusBarText: () => statusBar.text, notifications: notify.recentNotifications, protectedSettings, activationMs };
}

export async function deactivate(): Promise<void> {
  await session?.dispose();
  session = undefined;
}
