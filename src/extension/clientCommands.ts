// Outgoing client connections: "Connect to Endpoint…" (a quick pick of saved and recent endpoints that also takes a
// typed URL), disconnect and reconnect.
import * as vscode from 'vscode';
import type { ConnectionError } from '../core/client/clientConnection';
import type { RegisterCommand } from './commands';
import type { TreeNode } from './connectionsTree';
import type { Session } from './session';
import { readEndpointTls } from './security';
import { readSavedEndpoints, validateEndpointUrl, type SavedEndpoint } from './settings';
import * as notify from './notify';
import { uiText, untrusted } from './uiText';

const RECENT_KEY = 'wsInspector.recentEndpoints';
const MAX_RECENT = 10;

interface EndpointItem extends vscode.QuickPickItem {
  endpoint: SavedEndpoint;
}

async function pickEndpoint(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<SavedEndpoint | undefined> {
  const { endpoints, problems } = readSavedEndpoints();
  for (const p of problems) log.warn(p);
  const recent = context.globalState.get<string[]>(RECENT_KEY, []);
  const savedUrls = new Set(endpoints.map((e) => e.url));
  const recentOnly = recent.filter((u) => !savedUrls.has(u));
  const items: Array<EndpointItem | vscode.QuickPickItem> = [
    ...(endpoints.length ? [{ label: 'Saved', kind: vscode.QuickPickItemKind.Separator }] : []),
    ...endpoints.map((e) => {
      const details = [
        e.subprotocols?.length ? uiText`subprotocols: ${e.subprotocols.join(', ')}` : '',
        e.allowSelfSigned ? '$(warning) unsafe: certificate checks off' : e.caFile ? uiText`CA: ${e.caFile}` : '',
      ].filter(Boolean);
      return {
        label: untrusted(e.name ?? e.url),
        ...(e.name ? { description: untrusted(e.url) } : {}),
        // eslint-disable-next-line no-restricted-syntax -- each piece is the extension's own text or uiText above
        detail: details.join(' · ') || undefined,
        endpoint: e,
      };
    }),
    ...(recentOnly.length ? [{ label: 'Recent', kind: vscode.QuickPickItemKind.Separator }] : []),
    ...recentOnly.map((url) => ({ label: untrusted(url), endpoint: { url } })),
  ];
  const qp = vscode.window.createQuickPick<EndpointItem | vscode.QuickPickItem>();
  qp.title = 'Connect to WebSocket Endpoint';
  qp.placeholder = 'ws://127.0.0.1:8765/, wss://host/path or ws+unix:///path/to.sock:/path';
  qp.items = items;
  qp.ignoreFocusOut = true;
  return new Promise((resolve) => {
    const subs: vscode.Disposable[] = [];
    const finish = (v: SavedEndpoint | undefined) => {
      subs.forEach((d) => d.dispose());
      qp.dispose();
      resolve(v);
    };
    subs.push(
      // The typed URL becomes the first row: "Connect to …" when valid, the problem when not.
      qp.onDidChangeValue((v) => {
        const typed = v.trim();
        if (!typed) {
          qp.items = items;
          return;
        }
        const problem = validateEndpointUrl(typed);
        const first: EndpointItem | vscode.QuickPickItem = problem
          ? { label: uiText`$(error) ${problem}`, alwaysShow: true }
          : { label: untrusted(typed), description: 'Connect', alwaysShow: true, endpoint: endpoints.find((e) => e.url === typed) ?? { url: typed } };
        qp.items = [first, ...items];
      }),
      qp.onDidAccept(() => {
        const picked = qp.selectedItems[0] as EndpointItem | undefined;
        if (picked?.endpoint) finish(picked.endpoint);
      }),
      qp.onDidHide(() => finish(undefined)),
    );
    qp.show();
  });
}

/** Connects to `url` (asked for when absent). Returns the capture id of the open connection. */
async function connectCommand(
  context: vscode.ExtensionContext,
  session: Session,
  log: vscode.LogOutputChannel,
  arg?: string | SavedEndpoint,
): Promise<string | undefined> {
  let endpoint: SavedEndpoint | undefined;
  // A URL that is also a saved endpoint connects with that endpoint's headers, subprotocols and TLS options.
  if (typeof arg === 'string') endpoint = readSavedEndpoints().endpoints.find((e) => e.url === arg) ?? { url: arg };
  else if (arg && typeof arg === 'object' && typeof arg.url === 'string') endpoint = arg;
  else endpoint = await pickEndpoint(context, log);
  if (!endpoint) return undefined;
  const problem = validateEndpointUrl(endpoint.url);
  if (problem) throw new Error(problem);

  const recent = context.globalState.get<string[]>(RECENT_KEY, []).filter((u) => u !== endpoint.url);
  await context.globalState.update(RECENT_KEY, [endpoint.url, ...recent].slice(0, MAX_RECENT));

  // A bad CA file or a refused unsafe switch is a settings problem, reported as such (not as a failed connection).
  const tls = readEndpointTls(endpoint);
  log.info(`Connecting to ${endpoint.url}…`);
  try {
    const conn = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Window, title: uiText`Connecting to ${endpoint.url}` },
      () =>
        session.connect(endpoint.url, {
          headers: endpoint.headers,
          subprotocols: endpoint.subprotocols,
          tls,
        }),
    );
    log.info(`Connected to ${endpoint.url}${conn.protocol ? ` (subprotocol ${conn.protocol})` : ''}.`);
    return conn.connectionId;
  } catch (err) {
    const e = err as ConnectionError;
    log.error(`Connecting to ${endpoint.url} failed: ${e.message}`);
    const pick = await notify.showErrorMessage(
      uiText`Could not connect to ${endpoint.url}: ${e.message}`,
      ...(e.handshake ? ['Show Handshake'] : []),
      'Show Log',
    );
    if (pick === 'Show Handshake') void vscode.commands.executeCommand('wsInspector.openInspector', e.handshake?.connectionId);
    if (pick === 'Show Log') log.show();
    return undefined;
  }
}

export function registerClientConnections(context: vscode.ExtensionContext, s: Session, log: vscode.LogOutputChannel, command: RegisterCommand): void {
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
}
