// The embedded broadcast server: start (with the answers to a busy port and an exposed address), stop, send to its
// clients, and the offer to restart it when its settings change.
import * as vscode from 'vscode';
import type { ServerAddress } from '../core/server/broadcastServer';
import { joinBackplane } from './backplane';
import type { RegisterCommand } from './commands';
import type { TreeNode } from './connectionsTree';
import { clientsText } from './closedConnections';
import * as notify from './notify';
import { resolveServerSecurity } from './security';
import type { ServerSecurityOptions, Session } from './session';
import { readScaleSettings, readServerSettings, updateUserSetting, type ServerSettings } from './settings';
import { uiText } from './uiText';

type Retry = (override?: Partial<ServerSettings>) => Promise<string | undefined>;

/** Starts the server with the settings and `override`; resolves to its URL, or undefined when the user gave up. */
export async function startServer(
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
  let addr: ServerAddress;
  try {
    addr = await s.startServer(settings, security, tag);
  } catch (err) {
    return answerStartError(err, settings, log, (o) => startServer(context, s, log, { ...override, ...o }, tag));
  }
  await announce(s, log, addr, settings, security);
  return addr.url;
}

/** Logs the running server, warns when it is reachable from the network, joins the backplane, and says where it is. */
async function announce(s: Session, log: vscode.LogOutputChannel, addr: ServerAddress, settings: ServerSettings, security: ServerSecurityOptions): Promise<void> {
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
}

/** An exposed address without auth, or a busy port: offers the ways out and retries with the one picked. */
async function answerStartError(err: unknown, settings: ServerSettings, log: vscode.LogOutputChannel, retry: Retry): Promise<string | undefined> {
  if ((err as { code?: string }).code === 'ERR_EXPOSED_WITHOUT_AUTH') {
    log.warn(`Refused to listen on ${settings.host} without auth.`);
    const pick = await notify.showErrorMessage(
      uiText`Listening on ${settings.host} would expose the server to your network. Turn on auth (wsInspector.server.auth.enabled), or bind to 127.0.0.1.`,
      'Enable Auth',
      'Use 127.0.0.1',
      'Open Settings',
    );
    if (pick === 'Enable Auth') {
      await updateUserSetting('server.auth.enabled', true);
      return retry();
    }
    if (pick === 'Use 127.0.0.1') return retry({ host: '127.0.0.1' });
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
  if (pick === `Use Port ${next}`) return retry({ port: next });
  if (pick === 'Use Any Free Port') return retry({ port: 0 });
  if (pick === 'Change Setting…') void vscode.commands.executeCommand('workbench.action.openSettings', 'wsInspector.server.port');
  return undefined;
}

/** The id of a server client: given, or the one picked in the Connections view. */
function clientId(node?: TreeNode | string): string {
  const id = typeof node === 'string' ? node : node?.type === 'serverClient' ? node.connection.id : undefined;
  if (!id) throw new Error('Pick a client in the Connections view.');
  return id;
}

export function registerServer(context: vscode.ExtensionContext, s: Session, log: vscode.LogOutputChannel, command: RegisterCommand): void {
  command('wsInspector.startServer', () => startServer(context, s, log));
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
            title: uiText`Send to all ${s.clientCount === 0 ? 'clients (none connected)' : clientsText(s.clientCount)}`,
            prompt: 'Text message to send to every connected client',
            placeHolder: '{"type":"hello"}',
          });
    if (message === undefined) return undefined;
    const r = s.sendToAll(message);
    if (r.status !== 'sent') {
      // Held by a breakpoint for the server (or queued behind one): it goes out when the user forwards it.
      const why = r.status === 'held' ? `held by breakpoint ${r.frame?.ruleId ?? ''}` : 'queued behind a held Send to all';
      log.info(`Send to all of ${Buffer.byteLength(message)} bytes ${why}.`);
      void notify.showInformationMessage(uiText`Not sent yet: ${why}. Forward, edit or drop it in the inspector's Breakpoints tab.`, 'Open Inspector').then((pick) => {
        if (pick) void vscode.commands.executeCommand('wsInspector.openInspector');
      });
      return 0;
    }
    log.info(`Sent ${Buffer.byteLength(message)} bytes to ${clientsText(r.delivered)}.`);
    // Nobody received it: say so, rather than let "sent" stand for a message that went nowhere.
    if (r.delivered === 0) void notify.showWarningMessage('Not sent: no clients are connected, so nobody received it.');
    return r.delivered;
  });
  command('wsInspector.sendToClient', async (node?: TreeNode | string, text?: string) => {
    const id = clientId(node);
    const message = text ?? (await vscode.window.showInputBox({ title: uiText`Send to client ${s.labelOf(id)}`, prompt: 'Text message' }));
    if (message === undefined) return;
    await s.send({ kind: 'client', clientId: id }, message);
  });
  command('wsInspector.disconnectClient', async (node?: TreeNode | string) => {
    await s.disconnect(clientId(node), 1000, 'disconnected from VS Code');
  });
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
}
