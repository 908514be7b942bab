// The one tracker of VS Code's debug sessions, as in js-debug: which sessions run, their children, and what is to end
// with each. The launch-configuration tie-in (debugSessions.ts) and browser inspection (browserCommands.ts) use it
// instead of listening to vscode.debug themselves.
import * as vscode from 'vscode';

export class DebugSessionTracker implements vscode.Disposable {
  private readonly sessions = new Map<string, vscode.DebugSession>();
  /** Callbacks to run when a session ends, by session id. */
  private readonly endings = new Map<string, Array<() => void>>();
  private readonly _onDidStart = new vscode.EventEmitter<vscode.DebugSession>();
  /** A debug session started (child sessions included). */
  readonly onDidStart = this._onDidStart.event;
  private readonly disposables: vscode.Disposable[];

  constructor() {
    // The extension may activate while a session runs ("onDebug"); the others show up as they start.
    const active = vscode.debug.activeDebugSession;
    if (active) this.sessions.set(active.id, active);
    this.disposables = [
      this._onDidStart,
      vscode.debug.onDidStartDebugSession((s) => {
        this.sessions.set(s.id, s);
        this._onDidStart.fire(s);
      }),
      vscode.debug.onDidTerminateDebugSession((s) => this.ended(s)),
    ];
  }

  /** The session VS Code's debug UI has selected. */
  get active(): vscode.DebugSession | undefined {
    return vscode.debug.activeDebugSession;
  }

  /** The running session with this id. */
  get(id: string): vscode.DebugSession | undefined {
    return this.sessions.get(id);
  }

  /** The running sessions whose parent is `session` (js-debug's targets: a browser's pages, a Node process). */
  childrenOf(session: vscode.DebugSession): vscode.DebugSession[] {
    return [...this.sessions.values()].filter((d) => d.parentSession?.id === session.id);
  }

  /** Calls `fn` once, when `session` ends. */
  endWith(session: vscode.DebugSession, fn: () => void): void {
    let list = this.endings.get(session.id);
    if (!list) this.endings.set(session.id, (list = []));
    list.push(fn);
  }

  private ended(s: vscode.DebugSession): void {
    this.sessions.delete(s.id);
    const list = this.endings.get(s.id) ?? [];
    this.endings.delete(s.id);
    for (const fn of list) fn();
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    this.sessions.clear();
    this.endings.clear();
  }
}
