// The "Connections" view: the server with its clients under it, then the outgoing connections.
import * as vscode from 'vscode';
import type { ConnectionSummary, ServerSummary } from './model';
import type { Session } from './session';

export type TreeNode =
  | { type: 'server'; server: ServerSummary }
  | { type: 'serverClient'; connection: ConnectionSummary }
  | { type: 'outgoing'; connection: ConnectionSummary };

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
    return [];
  }

  getTreeItem(node: TreeNode): vscode.TreeItem {
    if (node.type === 'server') {
      const s = node.server;
      const item = new vscode.TreeItem(`Server :${s.port}`, vscode.TreeItemCollapsibleState.Expanded);
      item.description = `${s.clientCount} ${s.clientCount === 1 ? 'client' : 'clients'} · ${s.relay}`;
      item.tooltip = s.url;
      item.iconPath = new vscode.ThemeIcon('broadcast', new vscode.ThemeColor('testing.iconPassed'));
      item.contextValue = 'server';
      item.id = `server:${s.id}`;
      return item;
    }
    const c = node.connection;
    const item = new vscode.TreeItem(c.label, vscode.TreeItemCollapsibleState.None);
    item.id = `${node.type}:${c.id}`;
    item.description = `${c.state} · ↑${c.messagesOut} ↓${c.messagesIn}`;
    item.tooltip = [c.label, c.userAgent && `User-Agent: ${c.userAgent}`, c.origin && `Origin: ${c.origin}`, c.subprotocol && `Subprotocol: ${c.subprotocol}`]
      .filter(Boolean)
      .join('\n');
    item.iconPath = stateIcon(c.state);
    item.contextValue = node.type === 'serverClient' ? 'serverClient' : `outgoing.${c.state === 'closed' || c.state === 'failed' ? 'closed' : 'live'}`;
    item.command = { command: 'wsInspector.openInspector', title: 'Open Inspector', arguments: [c.id] };
    return item;
  }

  dispose(): void {
    this.sub.dispose();
    this._onDidChangeTreeData.dispose();
  }
}
