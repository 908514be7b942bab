// The "Connections" view: the server with its clients under it, the inspecting proxies with their connections, the
// inspected browsers with their pages' WebSockets, then the outgoing connections.
import * as vscode from 'vscode';
import type { SourceRow } from '../shared/protocol';
import type { ConnectionSummary, ServerSummary } from './model';
import type { Session } from './session';
import { uiText, untrusted, untrustedLines } from './uiText';

export type TreeNode =
  | { type: 'server'; server: ServerSummary }
  | { type: 'serverClient'; connection: ConnectionSummary }
  | { type: 'outgoing'; connection: ConnectionSummary }
  | { type: 'source'; source: SourceRow }
  | { type: 'sourceConnection'; connection: ConnectionSummary };

const STATE_ICONS: Record<ConnectionSummary['state'], [string, string?]> = {
  connecting: ['loading~spin'],
  open: ['pass-filled', 'testing.iconPassed'],
  closing: ['loading~spin'],
  closed: ['circle-slash', 'disabledForeground'],
  reconnecting: ['sync~spin', 'editorWarning.foreground'],
  failed: ['error', 'errorForeground'],
};

function stateIcon(state: ConnectionSummary['state']): vscode.ThemeIcon {
  const [id, color] = STATE_ICONS[state];
  return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
}

export class ConnectionsTree implements vscode.TreeDataProvider<TreeNode>, vscode.Disposable {
  private readonly _onDidChangeTreeData = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this._onDidChangeTreeData.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly session: Session) {
    this.sub = session.onDidChange(() => this._onDidChangeTreeData.fire());
  }

  getChildren(node?: TreeNode): TreeNode[] {
    if (!node) {
      return [
        ...this.session.servers().map((server) => ({ type: 'server' as const, server })),
        ...this.session.sources().map((source) => ({ type: 'source' as const, source })),
        ...this.session
          .connections()
          .filter((c) => c.kind === 'outgoing')
          .map((connection) => ({ type: 'outgoing' as const, connection })),
      ];
    }
    if (node.type === 'server') {
      return this.session
        .connections()
        .filter((c) => c.kind === 'serverClient' && c.serverId === node.server.id)
        .map((connection) => ({ type: 'serverClient' as const, connection }));
    }
    if (node.type === 'source') {
      return this.session
        .connections()
        .filter((c) => c.parentId === node.source.id)
        .map((connection) => ({ type: 'sourceConnection' as const, connection }));
    }
    return [];
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    if (node.type === 'server') {
      const s = node.server;
      const item = new vscode.TreeItem(uiText`Server :${s.port}`, vscode.TreeItemCollapsibleState.Expanded);
      item.description = uiText`${s.clientCount} ${s.clientCount === 1 ? 'client' : 'clients'} · ${s.relay}`;
      item.tooltip = untrusted(s.url);
      item.iconPath = new vscode.ThemeIcon('broadcast', new vscode.ThemeColor('testing.iconPassed'));
      item.contextValue = 'server';
      item.id = `server:${s.id}`;
      return item;
    }
    if (node.type === 'source') {
      const src = node.source;
      const item = new vscode.TreeItem(src.kind === 'proxy' ? 'Proxy' : 'Browser', vscode.TreeItemCollapsibleState.Expanded);
      item.description = untrusted(src.tag ? `${src.label} · debug: ${src.tag}` : src.label);
      item.tooltip = untrusted(src.label);
      item.iconPath = new vscode.ThemeIcon(src.kind === 'proxy' ? 'arrow-swap' : 'browser', new vscode.ThemeColor('testing.iconPassed'));
      item.contextValue = `source.${src.kind}`;
      item.id = `source:${src.id}`;
      return item;
    }
    const c = node.connection;
    const item = new vscode.TreeItem(untrusted(c.label), vscode.TreeItemCollapsibleState.None);
    item.id = `${node.type}:${c.id}`;
    // ↑ is client → server, as in the panel's frame list: a server client's messages in, a connection's messages out.
    const [up, down] = c.kind === 'serverClient' ? [c.messagesIn, c.messagesOut] : [c.messagesOut, c.messagesIn];
    item.description = untrusted(`${c.note ?? c.state} · ↑${up} ↓${down}`);
    item.tooltip = untrustedLines([c.label, c.userAgent && `User-Agent: ${c.userAgent}`, c.origin && `Origin: ${c.origin}`, c.subprotocol && `Subprotocol: ${c.subprotocol}`]);
    item.iconPath = stateIcon(c.state);
    if (node.type === 'sourceConnection') item.description = untrusted([c.state, c.note, c.tag && `debug: ${c.tag}`].filter(Boolean).join(' · '));
    item.contextValue =
      node.type === 'serverClient' ? (c.state === 'closed' ? 'serverClient.closed' : 'serverClient') : node.type === 'sourceConnection' ? c.kind : `outgoing.${c.state === 'closed' || c.state === 'failed' ? 'closed' : 'live'}`;
    item.command = { command: 'wsInspector.openInspector', title: 'Open Inspector', arguments: [c.id] };
    return item;
  }

  dispose(): void {
    this.sub.dispose();
    this._onDidChangeTreeData.dispose();
  }
}

/** The Connections view. */
export function registerConnectionsTree(context: vscode.ExtensionContext, s: Session): ConnectionsTree {
  const tree = new ConnectionsTree(s);
  context.subscriptions.push(tree, vscode.window.registerTreeDataProvider('wsInspector.connections', tree));
  return tree;
}
