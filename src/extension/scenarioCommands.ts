// What the CodeLens of a scenario file does: Connect to an endpoint, Send a named message (connecting first when
// needed), Run or Debug a scenario, and Start/Stop Mock Server on the session's embedded server.
import { readFile } from 'node:fs/promises';
import * as vscode from 'vscode';
import { hasErrors, ScenarioMock, type EndpointSpec } from '../core/scenarios';
import { encodeBody, resolvePath } from '../core/scenarios/body';
import { loadEnvironment } from '../core/scenarios/envFile';
import { loadSecrets, Variables } from '../core/scenarios/variables';
import type { RegisterCommand } from './commands';
import * as notify from './notify';
import type { ParsedScenarioFile, ScenarioFiles } from './scenarioFiles';
import type { ScenarioSecrets } from './scenarioSecrets';
import { UNTRUSTED_NOTE, type ScenarioTests } from './scenarioTests';
import type { Session } from './session';
import { uiText } from './uiText';

export interface ScenarioCommandsApi {
  /** The mock running from a file, if any (one at a time). */
  mock(): { uri: vscode.Uri; url: string } | undefined;
  /** Fires when the mock starts or stops (the CodeLens changes its title). */
  onDidChangeMock: vscode.Event<void>;
}

/** Accepts a Uri, its string, or an editor's document (CodeLens and palette). */
function uriOf(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  if (typeof arg === 'string') return arg.includes('://') ? vscode.Uri.parse(arg) : vscode.Uri.file(arg);
  return vscode.window.activeTextEditor?.document.uri;
}

function requireTrust(): void {
  if (!vscode.workspace.isTrusted) throw new Error(UNTRUSTED_NOTE);
}

class ScenarioActions {
  /** The open connection of each file's endpoint (`uri#endpoint` → capture connection id). */
  private readonly open = new Map<string, string>();
  private running: { uri: vscode.Uri; mock: ScenarioMock; startedServer: boolean } | undefined;
  readonly changed = new vscode.EventEmitter<void>();

  constructor(
    private readonly session: Session,
    private readonly files: ScenarioFiles,
    private readonly secrets: ScenarioSecrets,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  async load(arg: unknown): Promise<ParsedScenarioFile> {
    const uri = uriOf(arg);
    const parsed = uri && (await this.files.get(uri));
    if (!parsed) throw new Error('Open a scenario file (*.wsx.yaml or *.wsx.json) first.');
    const error = parsed.diagnostics.find((d) => d.severity === 'error');
    if (error && hasErrors(parsed.diagnostics)) throw new Error(uiText`The scenario file has errors; the first, line ${error.line}: ${error.message}`);
    return parsed;
  }

  private async variables(p: ParsedScenarioFile): Promise<Variables> {
    const env = await loadEnvironment(p.file.envFiles, p.baseDir, process.env, true);
    return new Variables(p.file, env, await loadSecrets(p.file, this.secrets.provider(true), this.secrets.masker));
  }

  /** Opens an outgoing connection to the file's endpoint `name`; returns its capture id. */
  async connect(p: ParsedScenarioFile, name: string): Promise<string> {
    requireTrust();
    const e = p.file.endpoints.get(name);
    if (!e) throw new Error(uiText`No endpoint named ${name} in the file.`);
    const vars = await this.variables(p);
    const url = vars.text(e.url);
    const headers = Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k, vars.text(v)]));
    this.log.info(`Scenario endpoint ${name}: connecting to ${this.secrets.masker.text(url)}…`);
    const conn = await this.session.connect(url, { headers, subprotocols: e.subprotocols, tls: await tlsOf(e, p.baseDir), ...(e.reconnect ? { reconnect: e.reconnect } : {}) });
    const id = conn.connectionId ?? conn.id;
    this.open.set(`${p.uri.toString()}#${name}`, id);
    return id;
  }

  /** Sends the named message on the open connection of an endpoint of the file (asked for when there are several). */
  async send(p: ParsedScenarioFile, message: string, endpointArg?: unknown): Promise<void> {
    requireTrust();
    const m = p.file.messages.get(message);
    if (!m) throw new Error(uiText`No message named ${message} in the file.`);
    const endpoint = typeof endpointArg === 'string' ? endpointArg : await this.pickEndpoint(p);
    if (!endpoint) return;
    const key = `${p.uri.toString()}#${endpoint}`;
    const known = this.open.get(key);
    const live = known && this.session.outgoingConnections().find((c) => c.id === known && c.state === 'open');
    const id = live ? known : await this.connect(p, endpoint);
    const data = await encodeBody(m.body, { file: p.file, baseDir: p.baseDir, vars: await this.variables(p) });
    await this.session.send({ kind: 'connection', connectionId: id }, data);
    this.log.info(`Scenario message ${message} sent on ${id} (${endpoint}).`);
  }

  private async pickEndpoint(p: ParsedScenarioFile): Promise<string | undefined> {
    const names = [...p.file.endpoints.keys()];
    if (names.length === 0) throw new Error('The file has no endpoints to send to.');
    if (names.length === 1) return names[0];
    const picked = await vscode.window.showQuickPick(
      names.map((n) => ({ label: uiText`${n}`, name: n })),
      { title: 'Send to which endpoint?' },
    );
    return picked?.name;
  }

  mock(): { uri: vscode.Uri; url: string } | undefined {
    return this.running && { uri: this.running.uri, url: this.running.mock.url };
  }

  /** Runs the file's mock on the session's server (started first when none runs). */
  async startMock(p: ParsedScenarioFile): Promise<string> {
    requireTrust();
    if (!p.file.mock) throw new Error('The file has no mock section.');
    await this.stopMock();
    let startedServer = false;
    if (!this.session.broadcastServer) {
      await vscode.commands.executeCommand('wsInspector.startServer');
      startedServer = true;
    }
    const server = this.session.broadcastServer;
    if (!server) throw new Error('The broadcast server did not start, so the mock cannot run.');
    const env = await loadEnvironment(p.file.envFiles, p.baseDir, process.env, true);
    const mock = await ScenarioMock.start(p.file, { server, baseDir: p.baseDir, env, secrets: this.secrets.provider(true), masker: this.secrets.masker });
    mock.onDidError((e) => this.log.warn(`Mock: ${this.secrets.masker.text(e.message)}`));
    this.running = { uri: p.uri, mock, startedServer };
    this.changed.fire();
    this.log.info(`Mock of ${vscode.workspace.asRelativePath(p.uri)} running on ${mock.url}.`);
    return mock.url;
  }

  async stopMock(): Promise<boolean> {
    const r = this.running;
    if (!r) return false;
    this.running = undefined;
    await r.mock.stop();
    if (r.startedServer) await this.session.stopServer();
    this.changed.fire();
    return true;
  }
}

async function tlsOf(e: EndpointSpec, baseDir: string) {
  if (!e.caFile && e.rejectUnauthorized === undefined && e.servername === undefined) return undefined;
  return {
    ...(e.caFile ? { ca: await readFile(resolvePath(baseDir, e.caFile), 'utf8') } : {}),
    ...(e.rejectUnauthorized !== undefined ? { rejectUnauthorized: e.rejectUnauthorized } : {}),
    ...(e.servername !== undefined ? { servername: e.servername } : {}),
  };
}

export function registerScenarioCommands(
  context: vscode.ExtensionContext,
  deps: { session: Session; files: ScenarioFiles; secrets: ScenarioSecrets; tests: ScenarioTests; log: vscode.LogOutputChannel },
  command: RegisterCommand,
): ScenarioCommandsApi {
  const a = new ScenarioActions(deps.session, deps.files, deps.secrets, deps.log);
  context.subscriptions.push(a.changed, { dispose: () => void a.stopMock() });
  command('wsInspector.scenarioConnect', async (uri?: unknown, endpoint?: unknown) => {
    const p = await a.load(uri);
    const name = typeof endpoint === 'string' ? endpoint : await pickName([...p.file.endpoints.keys()], 'Connect to which endpoint?');
    if (!name) return undefined;
    const id = await a.connect(p, name);
    await vscode.commands.executeCommand('wsInspector.openInspector', id);
    return id;
  });
  command('wsInspector.scenarioSend', async (uri?: unknown, message?: unknown, endpoint?: unknown) => {
    const p = await a.load(uri);
    const name = typeof message === 'string' ? message : await pickName([...p.file.messages.keys()], 'Send which message?');
    if (name) await a.send(p, name, endpoint);
  });
  const run = (debug: boolean) => async (uri?: unknown, scenario?: unknown) => {
    requireTrust();
    const p = await a.load(uri);
    const name = typeof scenario === 'string' ? scenario : await pickName(p.file.scenarios.map((s) => s.name), 'Run which scenario?');
    return name ? deps.tests.runOne(p.uri, name, debug) : undefined;
  };
  command('wsInspector.runScenario', run(false));
  command('wsInspector.debugScenario', run(true));
  command('wsInspector.startMockServer', async (uri?: unknown) => {
    const url = await a.startMock(await a.load(uri));
    void notify.showInformationMessage(uiText`Mock server running on ${url}.`);
    return url;
  });
  command('wsInspector.stopMockServer', () => a.stopMock());
  return { mock: () => a.mock(), onDidChangeMock: a.changed.event };
}

async function pickName(names: string[], title: string): Promise<string | undefined> {
  if (names.length <= 1) return names[0];
  return (await vscode.window.showQuickPick(names.map((n) => ({ label: uiText`${n}`, name: n })), { title: uiText`${title}` }))?.name;
}
