import * as vscode from 'vscode';
import type { Session } from './session';

/** `$(broadcast) WS :8765 · 3 clients` while a server runs; hidden otherwise. Clicking opens the inspector. */
export class ServerStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('wsInspector.server', vscode.StatusBarAlignment.Left, 50);
  private readonly sub: vscode.Disposable;

  constructor(private readonly session: Session) {
    this.item.name = 'WebSocket Inspector server';
    this.item.command = 'wsInspector.openInspector';
    this.sub = session.onDidChange(() => this.update());
    this.update();
  }

  update(): void {
    const addr = this.session.serverAddress;
    if (!addr) {
      this.item.hide();
      return;
    }
    const n = this.session.clientCount;
    this.item.text = `$(broadcast) WS :${addr.port} · ${n} ${n === 1 ? 'client' : 'clients'}`;
    this.item.tooltip = `WebSocket broadcast server at ${addr.url} — click to open the inspector`;
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
