// Debug-session tie-in: a launch configuration that carries `wsInspector` gets an inspecting proxy or the broadcast
// server started before the program, its URL in the program's environment as WS_INSPECTOR_URL, the inspector
// opened, its connections tagged with the session's name, and what was started stopped when the session ends.
import * as vscode from 'vscode';
import * as notify from './notify';
import { uiText } from './uiText';

/** The `wsInspector` attribute of a launch configuration (its JSON schema is in package.json). */
export interface DebugAttribute {
  proxy?: { target: string; port?: number; caFile?: string };
  server?: boolean | { port?: number };
  openInspector?: boolean;
}

/** What the debug tie-in can start and stop; extension.ts wires it to the session and the commands. */
export interface DebugHooks {
  startProxy(o: { target: string; port: number; caFile?: string; tag: string }): Promise<{ id: string; url: string }>;
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

/** Returns a readable problem with the attribute, or undefined when it is usable. */
export function validateDebugAttribute(a: unknown): string | undefined {
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return 'wsInspector must be an object such as {"proxy": {"target": "wss://…"}} or {"server": true}.';
  const o = a as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'proxy' && k !== 'server' && k !== 'openInspector') return `wsInspector.${k} is not a known attribute (proxy, server, openInspector).`;
  }
  if (o.proxy !== undefined && o.server !== undefined && o.server !== false) return 'wsInspector takes "proxy" or "server", not both.';
  if (o.proxy === undefined && (o.server === undefined || o.server === false)) return 'wsInspector needs "proxy" (with a target) or "server": true.';
  if (o.proxy !== undefined) {
    const p = o.proxy as Record<string, unknown>;
    if (typeof p !== 'object' || p === null) return 'wsInspector.proxy must be an object with a "target".';
    if (typeof p.target !== 'string' || !/^wss?:\/\/[^/]/i.test(p.target)) return 'wsInspector.proxy.target must be a ws:// or wss:// URL.';
    if (p.port !== undefined && (!Number.isInteger(p.port) || (p.port as number) < 0 || (p.port as number) > 65535)) return 'wsInspector.proxy.port must be a port number (0 picks a free one).';
    if (p.caFile !== undefined && typeof p.caFile !== 'string') return 'wsInspector.proxy.caFile must be a path.';
    if ((p as { allowSelfSigned?: unknown }).allowSelfSigned !== undefined) {
      return 'wsInspector.proxy.allowSelfSigned is not honoured in launch.json: use caFile, or turn on wsInspector.proxy.allowSelfSigned in your user settings.';
    }
  }
  if (typeof o.server === 'object' && o.server !== null) {
    const port = (o.server as Record<string, unknown>).port;
    if (port !== undefined && (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535)) return 'wsInspector.server.port must be a port number.';
  }
  if (o.openInspector !== undefined && typeof o.openInspector !== 'boolean') return 'wsInspector.openInspector must be true or false.';
  return undefined;
}

export class DebugSessionIntegration implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly runs = new Map<string, Run>();
  private nextRun = 1;

  constructor(
    private readonly hooks: DebugHooks,
    private readonly log: vscode.LogOutputChannel,
  ) {
    const provider: vscode.DebugConfigurationProvider = {
      resolveDebugConfigurationWithSubstitutedVariables: (_folder, config) => this.resolve(config),
    };
    this.disposables.push(
      vscode.debug.registerDebugConfigurationProvider('*', provider),
      vscode.debug.onDidStartDebugSession((s) => this.started(s)),
      vscode.debug.onDidTerminateDebugSession((s) => void this.terminated(s)),
    );
  }

  /** What runs now, by session name (for tests and the tree). */
  active(): Array<{ name: string; url: string }> {
    return [...this.runs.values()].map((r) => ({ name: r.name, url: r.url }));
  }

  private async resolve(config: vscode.DebugConfiguration): Promise<vscode.DebugConfiguration | undefined> {
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
        const p = await this.hooks.startProxy({ target: a.proxy.target, port: a.proxy.port ?? 9000, caFile: a.proxy.caFile, tag: name });
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
      const message = err instanceof Error ? err.message : String(err);
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
    }
  }

  private async terminated(s: vscode.DebugSession): Promise<void> {
    const run = this.runs.get(s.configuration[RUN_KEY] as string);
    if (run && run.session?.id === s.id) await this.finish(run, 'the debug session ended');
  }

  private async finish(run: Run, why: string): Promise<void> {
    if (!this.runs.delete(run.id)) return;
    clearTimeout(run.orphanTimer);
    try {
      await run.stop();
      this.log.info(`Stopped ${run.url} of debug session "${run.name}": ${why}.`);
    } catch (err) {
      this.log.warn(`Stopping ${run.url} of debug session "${run.name}": ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    for (const run of [...this.runs.values()]) void this.finish(run, 'the extension is shutting down');
  }
}
