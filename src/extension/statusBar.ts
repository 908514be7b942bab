import * as vscode from 'vscode';
import type { Session } from './session';
import { uiText } from './uiText';

/** `$(broadcast) WS :8765 · 3 clients` while a server runs; hidden otherwise. Clicking opens the inspector. */
class ServerStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('wsInspector.server', vscode.StatusBarAlignment.Left, 50);
  private readonly sub: vscode.Disposable;
  /** What is shown; each change of the item is a message to the window, so an unchanged one is not set again. */
  private shown = '';

  constructor(private readonly session: Session) {
    this.item.name = 'WebSocket Inspector server';
    this.item.command = 'wsInspector.openInspector';
    this.sub = session.onDidChange(() => this.update());
    this.update();
  }

  update(): void {
    const addr = this.session.serverAddress;
    const key = addr ? `${addr.url}|${this.session.clientCount}|${this.session.serverExposed}|${JSON.stringify(this.session.serverProtection)}` : '';
    if (key === this.shown) return;
    this.shown = key;
    if (!addr) {
      this.item.hide();
      return;
    }
    const n = this.session.clientCount;
    if (this.session.serverExposed) {
      // Bound beyond loopback: other machines can reach it. Say so until it stops, and what protects it.
      const p = this.session.serverProtection;
      const guards = [p?.auth ? 'auth on' : 'NO AUTH', p?.tls ? 'TLS' : 'no TLS'].join(', ');
      this.item.text = uiText`$(warning) WS ${addr.host}:${addr.port} · exposed · ${n} ${n === 1 ? 'client' : 'clients'}`;
      this.item.tooltip = uiText`The WebSocket server at ${addr.url} is reachable from other machines (${guards}). Click to open the inspector.`;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    } else {
      this.item.text = uiText`$(broadcast) WS :${addr.port} · ${n} ${n === 1 ? 'client' : 'clients'}`;
      this.item.tooltip = uiText`WebSocket broadcast server at ${addr.url} — click to open the inspector`;
      this.item.backgroundColor = undefined;
    }
    this.item.show();
  }

  /** For tests and the tree: the text the user sees. */
  get text(): string | undefined {
    return this.session.serverAddress ? this.item.text : undefined;
  }

  dispose(): void {
    this.sub.dispose();
    this.item.dispose();
  }
}

export function registerStatusBar(context: vscode.ExtensionContext, s: Session): ServerStatusBar {
  const statusBar = new ServerStatusBar(s);
  context.subscriptions.push(statusBar);
  return statusBar;
}
