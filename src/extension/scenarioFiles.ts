// Scenario files (`*.wsx.yaml`, `*.wsx.json`) as the editor sees them: parsed from the open document or from disk,
// their problems in the Problems view, and an event when one changes (the CodeLens and the Test Explorer follow it).
import { dirname } from 'node:path';
import * as vscode from 'vscode';
import { hasErrors, missingEnvDiagnostics, parseScenarioFile, SCENARIO_FILE_PATTERN, type Diagnostic, type ParseResult, type SourceRange } from '../core/scenarios';
import { loadEnvironment } from '../core/scenarios/envFile';

/** What the workspace's file search and watchers look for. */
export const SCENARIO_GLOB = '**/*.wsx.{yaml,yml,json}';
export const SCENARIO_SELECTOR: vscode.DocumentSelector = [{ scheme: 'file', pattern: SCENARIO_GLOB }];

export interface ParsedScenarioFile extends ParseResult {
  uri: vscode.Uri;
  baseDir: string;
}

export function isScenarioUri(uri: vscode.Uri): boolean {
  return uri.scheme === 'file' && SCENARIO_FILE_PATTERN.test(uri.fsPath);
}

/** The editor range of a place the parser reported (its lines and columns count from 1). */
export function toRange(r: SourceRange): vscode.Range {
  return new vscode.Range(r.line - 1, r.column - 1, r.endLine - 1, r.endColumn - 1);
}

function toDiagnostic(d: Diagnostic): vscode.Diagnostic {
  const v = new vscode.Diagnostic(toRange(d), d.message, d.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning);
  v.code = d.code;
  v.source = 'wsx';
  return v;
}

/** The parsed scenario files of the workspace, kept up to date, and their diagnostics. */
export class ScenarioFiles implements vscode.Disposable {
  private readonly parsed = new Map<string, ParsedScenarioFile>();
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('wsInspector.scenarios');
  private readonly _onDidChange = new vscode.EventEmitter<ParsedScenarioFile | vscode.Uri>();
  /** A file parsed again (its new contents), or deleted (its uri). */
  readonly onDidChange = this._onDidChange.event;
  private readonly subs: vscode.Disposable[] = [];

  constructor() {
    this.subs.push(
      this.diagnostics,
      this._onDidChange,
      vscode.workspace.onDidOpenTextDocument((d) => void this.fromDocument(d)),
      vscode.workspace.onDidChangeTextDocument((e) => void this.fromDocument(e.document)),
      // A closed editor falls back to the file on disk (unsaved edits are gone).
      vscode.workspace.onDidCloseTextDocument((d) => void (isScenarioUri(d.uri) && this.fromDisk(d.uri))),
    );
    for (const f of vscode.workspace.workspaceFolders ?? []) this.watch(f);
    this.subs.push(vscode.workspace.onDidChangeWorkspaceFolders((e) => e.added.forEach((f) => this.watch(f))));
    for (const d of vscode.workspace.textDocuments) void this.fromDocument(d);
  }

  private watch(folder: vscode.WorkspaceFolder): void {
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(folder, SCENARIO_GLOB));
    this.subs.push(
      watcher,
      watcher.onDidCreate((u) => void this.fromDisk(u)),
      watcher.onDidChange((u) => void this.fromDisk(u)),
      watcher.onDidDelete((u) => this.forget(u)),
    );
  }

  /** Finds every scenario file of the workspace (node_modules left out) and parses it. */
  async discover(): Promise<void> {
    const uris = await vscode.workspace.findFiles(SCENARIO_GLOB, '**/node_modules/**');
    await Promise.all(uris.map((u) => this.get(u)));
  }

  all(): ParsedScenarioFile[] {
    return [...this.parsed.values()];
  }

  /** The file as it is now: the open document's text when it is open, else the file on disk. */
  async get(uri: vscode.Uri): Promise<ParsedScenarioFile | undefined> {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    return doc ? this.fromDocument(doc) : (this.parsed.get(uri.toString()) ?? this.fromDisk(uri));
  }

  /** Parses now, without waiting for an edit's event (the CodeLens asks in the same tick as the edit). */
  parseDocument(doc: vscode.TextDocument): ParsedScenarioFile {
    const known = this.parsed.get(doc.uri.toString());
    if (known && (known as { version?: number }).version === doc.version) return known;
    return this.update(doc.uri, doc.getText(), doc.version);
  }

  private async fromDocument(doc: vscode.TextDocument): Promise<ParsedScenarioFile | undefined> {
    if (!isScenarioUri(doc.uri)) return undefined;
    return this.parseDocument(doc);
  }

  private async fromDisk(uri: vscode.Uri): Promise<ParsedScenarioFile | undefined> {
    if (vscode.workspace.textDocuments.some((d) => d.uri.toString() === uri.toString() && !d.isClosed)) return this.get(uri);
    try {
      const bytes = await vscode.workspace.fs.readFile(uri);
      return this.update(uri, Buffer.from(bytes).toString('utf8'), undefined);
    } catch {
      this.forget(uri);
      return undefined;
    }
  }

  private update(uri: vscode.Uri, text: string, version: number | undefined): ParsedScenarioFile {
    const parsed: ParsedScenarioFile & { version?: number } = { ...parseScenarioFile(text), uri, baseDir: dirname(uri.fsPath), version };
    this.parsed.set(uri.toString(), parsed);
    this.diagnostics.set(uri, parsed.diagnostics.map(toDiagnostic));
    void this.addEnvWarnings(parsed);
    this._onDidChange.fire(parsed);
    return parsed;
  }

  /** `${env:NAME}` that neither the file's .env files nor the extension host's environment set. */
  private async addEnvWarnings(p: ParsedScenarioFile): Promise<void> {
    if (!p.file.envRefs.length || hasErrors(p.diagnostics)) return;
    const env = await loadEnvironment(p.file.envFiles, p.baseDir, process.env, true).catch(() => undefined);
    if (!env || this.parsed.get(p.uri.toString()) !== p) return;
    this.diagnostics.set(p.uri, [...p.diagnostics, ...missingEnvDiagnostics(p.file, env)].map(toDiagnostic));
  }

  private forget(uri: vscode.Uri): void {
    this.parsed.delete(uri.toString());
    this.diagnostics.delete(uri);
    this._onDidChange.fire(uri);
  }

  dispose(): void {
    this.subs.forEach((d) => d.dispose());
  }
}
