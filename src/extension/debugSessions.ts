// Debug-session tie-in: a launch configuration that carries `wsInspector` gets an inspecting proxy or the broadcast
// server started before the program, its URL in the program's environment as WS_INSPECTOR_URL, the inspector
// opened, its connections tagged with the session's name, and what was started stopped when the session ends.
import * as vscode from 'vscode';
import { errorText } from '../shared/errorText';
import { DEBUG_PROXY_DEFAULT_PORT, validateDebugAttribute, type DebugAttribute } from './debugAttribute';
import type { DebugSessionTracker } from './debugSessionTracker';
import { InspectorPanel } from './inspectorPanel';
import * as notify from './notify';
import { startProxy, type StartProxyOptions } from './proxyCommands';
import { startServer } from './serverCommands';
import type { Session } from './session';
import { uiText } from './uiText';

/** What the debug tie-in can start and stop; registerDebugSessions wires it to the session and the commands. */
export interface DebugHooks {
  startProxy(o: StartProxyOptions & { tag: string }): Promise<{ id: string; url: string }>;
  stopProxy(id: string): Promise<void>;
  /** Resolves to undefined when the user cancelled (for example a busy port they did not replace). */
  startServer(o: { port?: number; tag: string }): Promise<{ url: string } | undefined>;
  stopServer(): Promise<void>;
  openInspector(): void;
}

/** Set on the resolved configuration, so the started session can be matched with what was started for it. */
const RUN_KEY = '__wsInspectorRun';
/** A run whose session never started (the launch failed after we resolved it) is stopped after this long. */
const ORPHAN_MS = 60_000;

interface Run {
  id: string;
  name: string;
  url: string;
  stop(): Promise<void>;
  session?: vscode.DebugSession;
  orphanTimer?: NodeJS.Timeout;
}

export class DebugSessionIntegration implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly runs = new Map<string, Run>();
  private nextRun = 1;

  constructor(
    private readonly hooks: DebugHooks,
    private readonly tracker: DebugSessionTracker,
    private readonly log: vscode.LogOutputChannel,
  ) {
    const provider: vscode.DebugConfigurationProvider = {
      resolveDebugConfigurationWithSubstitutedVariables: (folder, config) => this.resolve(config, folder),
    };
    this.disposables.push(vscode.debug.registerDebugConfigurationProvider('*', provider), tracker.onDidStart((s) => this.started(s)));
  }

  /** What runs now, by session name (for tests and the tree). */
  active(): Array<{ name: string; url: string }> {
    return [...this.runs.values()].map((r) => ({ name: r.name, url: r.url }));
  }

  private async resolve(config: vscode.DebugConfiguration, folder?: vscode.WorkspaceFolder): Promise<vscode.DebugConfiguration | undefined> {
    const attr = config.wsInspector as unknown;
    if (attr === undefined || config[RUN_KEY] !== undefined) return config;
    const problem = validateDebugAttribute(attr);
    if (problem) {
      this.log.error(`Debug configuration "${config.name}": ${problem}`);
      void notify.showErrorMessage(uiText`Debug configuration "${config.name}": ${problem}`);
      return undefined;
    }
    const a = attr as DebugAttribute;
    const name = String(config.name ?? 'debug session');
    const id = `run${this.nextRun++}`;
    let run: Run;
    try {
      if (a.proxy) {
        const { target, port, caFile, compression } = a.proxy;
        const launch = { name, ...(folder ? { folder: folder.uri.toString() } : {}) };
        const p = await this.hooks.startProxy({ target, port: port ?? DEBUG_PROXY_DEFAULT_PORT, caFile, compression, tag: name, launch });
        run = { id, name, url: p.url, stop: () => this.hooks.stopProxy(p.id) };
        this.log.info(`Debug session "${name}": proxy ${p.url} → ${a.proxy.target}.`);
      } else {
        const port = typeof a.server === 'object' ? a.server.port : undefined;
        const started = await this.hooks.startServer({ port, tag: name });
        if (!started) return undefined;
        run = { id, name, url: started.url, stop: () => this.hooks.stopServer() };
        this.log.info(`Debug session "${name}": server ${started.url}.`);
      }
    } catch (err) {
      const message = errorText(err);
      this.log.error(`Debug session "${name}": ${message}`);
      void notify.showErrorMessage(uiText`WebSocket Inspector could not prepare debug session "${name}": ${message}`);
      return undefined;
    }
    run.orphanTimer = setTimeout(() => {
      if (run.session === undefined) void this.finish(run, 'its debug session did not start');
    }, ORPHAN_MS);
    this.runs.set(id, run);
    if (a.openInspector !== false) this.hooks.openInspector();
    return { ...config, env: { ...(config.env as Record<string, string> | undefined), WS_INSPECTOR_URL: run.url }, [RUN_KEY]: id };
  }

  private started(s: vscode.DebugSession): void {
    const run = this.runs.get(s.configuration[RUN_KEY] as string);
    // js-debug starts a child session with a copy of the configuration: the first session owns the run.
    if (run && run.session === undefined) {
      run.session = s;
      clearTimeout(run.orphanTimer);
      this.tracker.endWith(s, () => void this.finish(run, 'the debug session ended'));
    }
  }

  private async finish(run: Run, why: string): Promise<void> {
    if (!this.runs.delete(run.id)) return;
    clearTimeout(run.orphanTimer);
    try {
      await run.stop();
      this.log.info(`Stopped ${run.url} of debug session "${run.name}": ${why}.`);
    } catch (err) {
      this.log.warn(`Stopping ${run.url} of debug session "${run.name}": ${errorText(err)}`);
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    for (const run of [...this.runs.values()]) void this.finish(run, 'the extension is shutting down');
  }
}

/** Launch configurations with a `wsInspector` attribute start a proxy or the server for their session. */
export function registerDebugSessions(
  context: vscode.ExtensionContext,
  s: Session,
  log: vscode.LogOutputChannel,
  tracker: DebugSessionTracker,
): DebugSessionIntegration {
  const hooks: DebugHooks = {
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
  };
  const debug = new DebugSessionIntegration(hooks, tracker, log);
  context.subscriptions.push(debug);
  return debug;
}
