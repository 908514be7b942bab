// Outgoing client connections: "Connect to Endpoint…" (a quick pick of saved and recent endpoints that also takes a
// typed URL, forgivingly read), disconnect and reconnect; abnormal closes and untrusted certificates told loudly.
import * as vscode from 'vscode';
import type { ClientConnection, ClientStateChange, ConnectionError } from '../core/client/clientConnection';
import { readEndpointUrl } from '../shared/endpointUrl';
import type { RegisterCommand } from './commands';
import type { TreeNode } from './connectionsTree';
import type { Session } from './session';
import { readEndpointTls } from './security';
import { readSavedEndpoints, type SavedEndpoint } from './settings';
import { saveEndpoint } from './connectEndpoints';
import { ConnectFormPanel } from './connectForm';
import { abnormalCloseText, isAbnormalClose, isUntrustedCertificate, reconnectOptions, untrustedCertificateText } from './connectText';
import * as notify from './notify';
import { uiText, untrusted } from './uiText';

const RECENT_KEY = 'wsInspector.recentEndpoints';
const MAX_RECENT = 10;
export const TRUST_ACTION = 'Trust this certificate for this endpoint…';

/** The first row: the full form, for headers, subprotocols, query parameters, TLS and reconnect. */
const FORM_ITEM: vscode.QuickPickItem = { label: '$(edit) Open the connect form…', description: 'headers, subprotocols, query, TLS, reconnect', alwaysShow: true };

interface EndpointItem extends vscode.QuickPickItem {
  endpoint: SavedEndpoint;
}

function savedItem(e: SavedEndpoint): EndpointItem {
  const details = [
    e.subprotocols?.length ? uiText`subprotocols: ${e.subprotocols.join(', ')}` : '',
    e.allowSelfSigned ? '$(warning) unsafe: certificate checks off' : e.caFile ? uiText`CA: ${e.caFile}` : '',
    reconnectOptions(e.reconnect)?.enabled ? 'reconnects' : '',
  ].filter(Boolean);
  return {
    label: untrusted(e.name ?? e.url),
    ...(e.name ? { description: untrusted(e.url) } : {}),
    detail: details.join(' · ') || undefined,
    endpoint: e,
  };
}

/** The typed text as the first row: "Connect" (with what was corrected) when usable, the reason when not. */
function typedItem(typed: string, endpoints: SavedEndpoint[], reconnect: boolean): EndpointItem | vscode.QuickPickItem {
  const r = readEndpointUrl(typed);
  // The reason on a line of its own, where its width does not cut it.
  if (!r.url) return { label: '$(error) Cannot connect to this URL', detail: uiText`${r.problem}`, alwaysShow: true };
  const saved = endpoints.find((e) => e.url === r.url);
  const endpoint: SavedEndpoint = saved ?? { url: r.url, ...(reconnect ? { reconnect: true } : {}) };
  return { label: untrusted(r.url), description: r.note ? uiText`Connect (${r.note})` : 'Connect', alwaysShow: true, endpoint };
}

function reconnectButton(on: boolean): vscode.QuickInputButton {
  return {
    iconPath: new vscode.ThemeIcon(on ? 'sync' : 'sync-ignored'),
    tooltip: on ? 'Reconnect automatically: on (click to turn off)' : 'Reconnect automatically: off (click to turn on)',
  };
}

async function pickEndpoint(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): Promise<SavedEndpoint | undefined> {
  const { endpoints, problems } = readSavedEndpoints();
  for (const p of problems) log.warn(p);
  const savedUrls = new Set(endpoints.map((e) => e.url));
  const recentOnly = context.globalState.get<string[]>(RECENT_KEY, []).filter((u) => !savedUrls.has(u));
  const items: Array<EndpointItem | vscode.QuickPickItem> = [
    FORM_ITEM,
    ...(endpoints.length ? [{ label: 'Saved', kind: vscode.QuickPickItemKind.Separator }] : []),
    ...endpoints.map(savedItem),
    ...(recentOnly.length ? [{ label: 'Recent', kind: vscode.QuickPickItemKind.Separator }] : []),
    ...recentOnly.map((url) => ({ label: untrusted(url), endpoint: { url } })),
  ];
  const qp = vscode.window.createQuickPick<EndpointItem | vscode.QuickPickItem>();
  qp.title = 'Connect to WebSocket Endpoint';
  qp.placeholder = 'ws://127.0.0.1:8765/, localhost:8080, wss://host/path or ws+unix:///path/to.sock:/path';
  qp.items = items;
  qp.ignoreFocusOut = true;
  let reconnect = false;
  qp.buttons = [reconnectButton(reconnect)];
  return new Promise((resolve) => {
    const subs: vscode.Disposable[] = [];
    const finish = (v: SavedEndpoint | undefined) => {
      subs.forEach((d) => d.dispose());
      qp.dispose();
      resolve(v);
    };
    const refresh = () => {
      const typed = qp.value.trim();
      qp.items = typed ? [typedItem(typed, endpoints, reconnect), ...items] : items;
    };
    subs.push(
      qp.onDidChangeValue(refresh),
      qp.onDidTriggerButton(() => {
        reconnect = !reconnect;
        qp.buttons = [reconnectButton(reconnect)];
        refresh();
      }),
      qp.onDidAccept(() => {
        const picked = qp.selectedItems[0] as EndpointItem | undefined;
        if ((picked as vscode.QuickPickItem | undefined) === FORM_ITEM) {
          void vscode.commands.executeCommand('wsInspector.openConnectForm', readEndpointUrl(qp.value).url);
          finish(undefined);
          return;
        }
        if (!picked?.endpoint) return;
        finish(reconnect && picked.endpoint.reconnect === undefined ? { ...picked.endpoint, reconnect: true } : picked.endpoint);
      }),
      qp.onDidHide(() => finish(undefined)),
    );
    qp.show();
  });
}

/** The endpoint an argument names: a saved one by URL, else the URL as typed (read forgivingly). */
function endpointOf(arg: unknown): SavedEndpoint | undefined {
  if (typeof arg === 'string') {
    const r = readEndpointUrl(arg);
    if (!r.url) throw new Error(r.problem);
    return readSavedEndpoints().endpoints.find((e) => e.url === r.url) ?? { url: r.url };
  }
  if (arg && typeof arg === 'object' && typeof (arg as SavedEndpoint).url === 'string') {
    const e = arg as SavedEndpoint;
    const r = readEndpointUrl(e.url);
    if (!r.url) throw new Error(r.problem);
    return { ...e, url: r.url };
  }
  return undefined;
}

/** Connects to `arg` (asked for when absent). Returns the capture id of the open connection. */
async function connectCommand(context: vscode.ExtensionContext, session: Session, log: vscode.LogOutputChannel, arg?: unknown): Promise<string | undefined> {
  const endpoint = endpointOf(arg) ?? (await pickEndpoint(context, log));
  if (!endpoint) return undefined;
  // A bad CA file or a refused unsafe switch is a settings problem, reported as such (not as a failed connection).
  const tls = readEndpointTls(endpoint);
  log.info(`Connecting to ${endpoint.url}…`);
  try {
    const conn = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: uiText`Connecting to ${endpoint.url}` }, () =>
      session.connect(endpoint.url, { headers: endpoint.headers, subprotocols: endpoint.subprotocols, tls, reconnect: reconnectOptions(endpoint.reconnect) }),
    );
    log.info(`Connected to ${endpoint.url}${conn.protocol ? ` (subprotocol ${conn.protocol})` : ''}.`);
    // Only a connection that opened is worth offering again: failed attempts do not pile up in "Recent".
    const recent = context.globalState.get<string[]>(RECENT_KEY, []).filter((u) => u !== endpoint.url);
    await context.globalState.update(RECENT_KEY, [endpoint.url, ...recent].slice(0, MAX_RECENT));
    watchCloses(conn, session, log);
    return conn.connectionId;
  } catch (err) {
    return connectFailed(err as ConnectionError, endpoint, context, session, log);
  }
}

async function connectFailed(
  e: ConnectionError,
  endpoint: SavedEndpoint,
  context: vscode.ExtensionContext,
  session: Session,
  log: vscode.LogOutputChannel,
): Promise<string | undefined> {
  log.error(`Connecting to ${endpoint.url} failed: ${e.message}`);
  if (isUntrustedCertificate(e.code)) {
    const host = new URL(endpoint.url).host;
    const pick = await notify.showErrorMessage(uiText`Could not connect to ${endpoint.url}: ${untrustedCertificateText(host, endpoint.name ?? endpoint.url)}`, TRUST_ACTION, 'Show Log');
    if (pick === 'Show Log') log.show();
    if (pick !== TRUST_ACTION) return undefined;
    const files = await vscode.window.showOpenDialog({
      title: uiText`CA or certificate (PEM) to trust for ${endpoint.url}`,
      canSelectMany: false,
      openLabel: 'Trust',
      filters: { 'PEM certificate': ['pem', 'crt', 'cer'], 'All files': ['*'] },
    });
    if (!files?.[0]) return undefined;
    const saved = { ...endpoint, caFile: files[0].fsPath, allowSelfSigned: false, fromWorkspace: undefined };
    await saveEndpoint(saved);
    return connectCommand(context, session, log, saved);
  }
  const pick = await notify.showErrorMessage(uiText`Could not connect to ${endpoint.url}: ${e.message}`, ...(e.handshake ? ['Show Handshake'] : []), 'Show Log');
  if (pick === 'Show Handshake') void vscode.commands.executeCommand('wsInspector.openInspector', e.handshake?.connectionId);
  if (pick === 'Show Log') log.show();
  return undefined;
}

/** Tells the user when an open connection closes abnormally (its code, 1006 included, and the cause). */
function watchCloses(conn: ClientConnection, session: Session, log: vscode.LogOutputChannel): void {
  let wasOpen = true;
  conn.onDidChangeState((e: ClientStateChange) => {
    if (e.state === 'open') wasOpen = true;
    if ((e.state !== 'closed' && e.state !== 'reconnecting') || !wasOpen) return;
    wasOpen = false;
    if (!isAbnormalClose(e.code, conn.isClosedByUser)) return;
    const id = conn.connectionId ?? conn.id;
    const what = abnormalCloseText(e.code, e.error?.code);
    const then = e.state === 'reconnecting' ? ` Reconnecting in ${Math.round((e.delayMs ?? 0) / 100) / 10} s.` : '';
    log.warn(`Connection to ${conn.url} ${what}${e.reason ? `, reason ${JSON.stringify(e.reason)}` : ''}.`);
    const why = e.reason ? uiText`, reason "${e.reason}"` : '';
    // Reconnecting on its own: a warning; closed for good: an error, with Reconnect.
    const shown =
      e.state === 'reconnecting'
        ? notify.showWarningMessage(uiText`Connection to ${conn.url} ${what}${why}.${then}`, 'Show Frames')
        : notify.showErrorMessage(uiText`Connection to ${conn.url} ${what}${why}.`, 'Reconnect', 'Show Frames');
    void shown.then((pick) => {
      if (pick === 'Show Frames') void vscode.commands.executeCommand('wsInspector.openInspector', id);
      if (pick === 'Reconnect') {
        session.reconnect(id).then(
          (c) => watchCloses(c, session, log),
          (err: ConnectionError) => void notify.showErrorMessage(uiText`Could not reconnect to ${conn.url}: ${err.message}`),
        );
      }
    });
  });
}

export function registerClientConnections(context: vscode.ExtensionContext, s: Session, log: vscode.LogOutputChannel, command: RegisterCommand): void {
  command('wsInspector.connect', (arg?: unknown) => connectCommand(context, s, log, arg));
  command('wsInspector.openConnectForm', (arg?: unknown) => void ConnectFormPanel.show(context, endpointOf(arg)));
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
    watchCloses(await s.reconnect(id), s, log);
  });
}
