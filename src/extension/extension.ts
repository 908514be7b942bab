import * as vscode from 'vscode';
import { connectCommand } from './connectCommand';
import { setUnexpectedErrorHandler } from '../core/util/events';
import { ConnectionsTree, type TreeNode } from './connectionsTree';
import { exportSession } from './exportSession';
import { InspectorPanel } from './inspectorPanel';
import { Session } from './session';
import { registerSecurityCommands, resolveServerSecurity, throttledWarn } from './security';
import { readBreakpointTimeoutMs, readCaptureSettings, readScaleSettings, readServerSettings, SettingsError, type ServerSettings } from './settings';
import { DebugSessionIntegration } from './debugSessions';
import { registerProxyCommands, startProxy } from './proxyCommands';
import { ServerStatusBar } from './statusBar';
import * as notify from './notify';
import { registerProtectedSettings } from './protectedSettings';
import { uiText, untrusted } from './uiText';

/** What the extension-host tests read; not a public API. */
export interface ExtensionApi {
  session: Session;
  debug: DebugSessionIntegration;
  tree: ConnectionsTree;
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
  const log = vscode.window.createOutputChannel('WebSocket Inspector', { log: true });
  context.subscriptions.push(log, notify.logNotificationsTo(log));
  setUnexpectedErrorHandler((err) => log.error(err instanceof Error ? (err.stack ?? err.message) : String(err)));
  const protectedSettings = registerProtectedSettings(context, log);

  let capture;
  try {
    capture = readCaptureSettings();
  } catch (err) {
    log.error(String(err));
    void notify.showWarningMessage(uiText`${errorMessage(err)} Using the defaults.`);
    capture = { maxEvents: 100_000, maxBytes: 268435456 };
  }
  let breakpointTimeoutMs = 30_000;
  try {
    breakpointTimeoutMs = readBreakpointTimeoutMs();
  } catch (err) {
    log.error(String(err));
  }
  const s = new Session(capture, breakpointTimeoutMs);
  session = s;
  context.subscriptions.push({ dispose: () => void s.dispose() });

  const statusBar = new ServerStatusBar(s);
  const tree = new ConnectionsTree(s);
  context.subscriptions.push(statusBar, tree, vscode.window.registerTreeDataProvider('wsInspector.connections', tree));

  const command = (id: string, fn: (...args: never[]) => unknown) =>
    context.subscriptions.push(
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

  // Rejections and breaches are logged as events; the token is never part of them.
  const rejectLog = throttledWarn(log);
  const breachLog = throttledWarn(log);
  context.subscriptions.push(
    rejectLog,
    breachLog,
    s.onDidReject((e) => rejectLog(`Refused ${e.remoteAddress} before the upgrade: HTTP ${e.status} ${e.code} (${e.reason}).`)),
    s.onDidBreachLimit((e) => breachLog(`Client ${e.clientId} over the ${e.limit} limit (${e.action}): ${e.detail}.`)),
  );
  registerSecurityCommands(context, s, log, command, readServerSettings);

  context.subscriptions.push(InspectorPanel.registerSerializer(context, s));
  // The tree and the connect error pass a connection id; menus pass other objects, which mean "no selection".
  command('wsInspector.openInspector', (id?: unknown) => {
    InspectorPanel.createOrShow(context, s, typeof id === 'string' ? id : undefined);
  });
  command('wsInspector.startServer', () => startServer(context, s, log));
  registerProxyCommands(context, s, log, command);
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
  const debug = new DebugSessionIntegration(
    {
      startProxy: async (o) => {
        const p = await startProxy(s, log, o);
        return { id: p.id, url: p.url };
      },
      stopProxy: async (id) => void (await s.proxies.stop(id)),
      startServer: async (o) => {
        if (s.serverAddress) throw new Error(`The broadcast server already runs at ${s.serverAddress.url}; stop it first.`);
        const url = await startServer(context, s, log, o.port === undefined ? undefined : { port: o.port }, o.tag);
        return url === undefined ? undefined : { url };
      },
      stopServer: async () => void (await s.stopServer()),
      openInspector: () => InspectorPanel.createOrShow(context, s),
    },
    log,
  );
  context.subscriptions.push(debug);
  command('wsInspector.stopServer', async () => {
    const addr = s.serverAddress;
    if (!(await s.stopServer())) {
      void notify.showInformationMessage('No WebSocket server is running.');
      return;
    }
    log.info(`Server stopped (${addr?.url}).`);
    void vscode.window.setStatusBarMessage(uiText`WebSocket server ${addr?.url ?? ''} stopped`, 3000);
  });
  command('wsInspector.sendToAll', async (text?: string) => {
    if (!s.serverAddress) throw new Error('No server is running. Start one with "WebSocket: Start Broadcast Server".');
    const message =
      typeof text === 'string'
        ? text
        : await vscode.window.showInputBox({
            title: uiText`Send to all ${s.clientCount} clients`,
            prompt: 'Text message to send to every connected client',
            placeHolder: '{"type":"hello"}',
          });
    if (message === undefined) return undefined;
    const n = s.sendToAll(message);
    log.info(`Sent ${Buffer.byteLength(message)} bytes to ${n} clients.`);
    return n;
  });
  command('wsInspector.sendToClient', async (node?: TreeNode | string, text?: string) => {
    const id = typeof node === 'string' ? node : node?.type === 'serverClient' ? node.connection.id : undefined;
    if (!id) throw new Error('Pick a client in the Connections view.');
    const message = text ?? (await vscode.window.showInputBox({ title: uiText`Send to client ${id}`, prompt: 'Text message' }));
    if (message === undefined) return;
    await s.send({ kind: 'client', clientId: id }, message);
  });
  command('wsInspector.disconnectClient', async (node?: TreeNode | string) => {
    const id = typeof node === 'string' ? node : node?.type === 'serverClient' ? node.connection.id : undefined;
    if (!id) throw new Error('Pick a client in the Connections view.');
    await s.disconnect(id, 1000, 'disconnected from VS Code');
  });

  command('wsInspector.connect', (arg?: string) => connectCommand(context, s, log, arg));
  command('wsInspector.disconnect', async (node?: TreeNode | string) => {
    let id = typeof node === 'string' ? node : node?.type === 'outgoing' ? node.connection.id : undefined;
    if (!id) {
      const open = s.outgoingConnections();
      if (open.length === 0) {
        void notify.showInformationMessage('There is no outgoing connection to close.');
        return;
      }
      id = open.length === 1 ? open[0].id : (await vscode.window.showQuickPick(open.map((o) => ({ label: untrusted(o.url), description: untrusted(o.state), id: o.id })), { title: 'Disconnect' }))?.id;
    }
    if (id && !s.closeOutgoing(id, 1000, 'closed from VS Code')) throw new Error(`No outgoing connection ${id}.`);
  });
  command('wsInspector.reconnect', async (node?: TreeNode | string) => {
    const id = typeof node === 'string' ? node : node?.type === 'outgoing' ? node.connection.id : undefined;
    if (!id) throw new Error('Pick a connection in the Connections view.');
    await s.reconnect(id);
  });
  command('wsInspector.exportSession', (target?: vscode.Uri) =>
    exportSession(s.store, String(context.extension.packageJSON.version), target),
  );

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (!e.affectsConfiguration('wsInspector.server') || !s.serverAddress) return;
      const pick = await notify.showInformationMessage(
        'WebSocket server settings changed. Restart the running server to apply them? Connected clients will be disconnected.',
        'Restart Server',
      );
      if (pick !== 'Restart Server') return;
      await vscode.commands.executeCommand('wsInspector.stopServer');
      await vscode.commands.executeCommand('wsInspector.startServer');
    }),
  );

  const activationMs = performance.now() - started;
  log.info(`WebSocket Inspector activated in ${activationMs.toFixed(1)} ms.`);
  return { session: s, debug, tree, statusBarText: () => statusBar.text, notifications: notify.recentNotifications, protectedSettings, activationMs };
}

async function startServer(
  context: vscode.ExtensionContext,
  s: Session,
  log: vscode.LogOutputChannel,
  override?: Partial<ServerSettings>,
  tag?: string,
): Promise<string | undefined> {
  const settings = { ...readServerSettings(), ...override };
  const { options: security, generatedToken } = await resolveServerSecurity(settings.security, context.secrets);
  if (generatedToken) {
    log.info('Auth is on and there was no token: a new one was generated and stored in SecretStorage.');
    void notify.showInformationMessage('Auth is on: a token was generated for the server. Clients must send it.', 'Copy Connection URL').then((pick) => {
      if (pick) void vscode.commands.executeCommand('wsInspector.copyConnectionUrl');
    });
  }
  try {
    const addr = await s.startServer(settings, security, tag);
    const protection = [security.tls ? 'TLS' : '', security.auth ? `auth (${security.auth.accept?.join(', ')})` : ''].filter(Boolean).join(', ');
    log.info(`Server listening on ${addr.url} (relay: ${settings.relay}${protection ? `; ${protection}` : ''}).`);
    if (s.serverExposed) {
      log.warn(`The server is reachable from the network at ${addr.url}${security.auth ? '' : ' without authentication'}.`);
      const unauthenticated = security.auth ? '' : ' WITHOUT authentication (wsInspector.server.allowRemote)';
      void notify.showWarningMessage(uiText`The WebSocket server listens on ${addr.host}, reachable from your network${unauthenticated}. Stop it when you are done.`);
    }
    if (readScaleSettings().redisUrl) await joinBackplane(s, log);
    const copy = security.auth ? 'Copy URL with Token' : 'Copy URL';
    void notify.showInformationMessage(uiText`WebSocket server listening on ${addr.url}`, 'Open Inspector', copy).then((pick) => {
      if (pick === 'Open Inspector') void vscode.commands.executeCommand('wsInspector.openInspector');
      if (pick === 'Copy URL') void vscode.env.clipboard.writeText(addr.url);
      if (pick === 'Copy URL with Token') void vscode.commands.executeCommand('wsInspector.copyConnectionUrl');
    });
    return addr.url;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_EXPOSED_WITHOUT_AUTH') {
      log.warn(`Refused to listen on ${settings.host} without auth.`);
      const pick = await notify.showErrorMessage(
        uiText`Listening on ${settings.host} would expose the server to your network. Turn on auth (wsInspector.server.auth.enabled), or bind to 127.0.0.1.`,
        'Enable Auth',
        'Use 127.0.0.1',
        'Open Settings',
      );
      const config = vscode.workspace.getConfiguration('wsInspector');
      if (pick === 'Enable Auth') {
        await config.update('server.auth.enabled', true, vscode.ConfigurationTarget.Global);
        return startServer(context, s, log, override, tag);
      }
      if (pick === 'Use 127.0.0.1') return startServer(context, s, log, { ...override, host: '127.0.0.1' }, tag);
      if (pick === 'Open Settings') void vscode.commands.executeCommand('workbench.action.openSettings', 'wsInspector.server');
      return undefined;
    }
    if ((err as { code?: string }).code !== 'EADDRINUSE') throw err;
    log.warn(`Port ${settings.port} on ${settings.host} is in use.`);
    const next = settings.port === 65535 ? 1024 : settings.port + 1;
    const pick = await notify.showErrorMessage(
      uiText`Port ${settings.port} is already in use on ${settings.host}. Another program (or another VS Code window) is listening there.`,
      `Use Port ${next}`,
      'Use Any Free Port',
      'Change Setting…',
    );
    if (pick === `Use Port ${next}`) return startServer(context, s, log, { ...override, port: next }, tag);
    if (pick === 'Use Any Free Port') return startServer(context, s, log, { ...override, port: 0 }, tag);
    if (pick === 'Change Setting…') void vscode.commands.executeCommand('workbench.action.openSettings', 'wsInspector.server.port');
    return undefined;
  }
}

/** Joins the Redis backplane of the settings; a failure is shown, and the server goes on alone. */
async function joinBackplane(s: Session, log: vscode.LogOutputChannel): Promise<boolean> {
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

function errorMessage(err: unknown): string {
  if (err instanceof SettingsError) return `${err.message} Fix it in Settings (search "wsInspector").`;
  return err instanceof Error ? err.message : String(err);
}

export async function deactivate(): Promise<void> {
  await session?.dispose();
  session = undefined;
}
