// Settings that open the machine to the network, send traffic elsewhere, trust certificates or release secrets. A
// cloned repository's `.vscode/settings.json` must not change them, even in a trusted workspace: settingsTable.ts
// marks them `protected`, package.json gives them `"scope": "machine"` (generated from that table), settings.ts
// reads them from the user's settings only, and this module tells the user, once per workspace, which of them a
// workspace tried to set.
// The ESM build: esbuild cannot follow the UMD build's run-time require('./impl/…').
import { parse } from 'jsonc-parser/lib/esm/main.js';
import * as vscode from 'vscode';
import { showWarningMessage } from './notify';
import { PROTECTED_SETTINGS } from './settingsTable';

/** Keys under `wsInspector.` that only the user's own settings may set (`protected` in settingsTable.ts). */
export { PROTECTED_SETTINGS };

/**
 * The value of `key` from the user's settings (local or remote), else its default. Workspace and folder values are
 * never read: besides the scope, VS Code merges an unknown key such as `"wsInspector": { "server": … }` from a
 * workspace as an object, which the scope check does not catch.
 */
export function userSettingValue(c: vscode.WorkspaceConfiguration, key: string, fallback: unknown): unknown {
  const where = c.inspect<unknown>(key);
  return where?.globalValue ?? where?.defaultValue ?? fallback;
}

/** Every setting path in a parsed settings object, nested objects flattened: `{"a.b": {"c": 1}}` gives `a.b.c`. */
function settingPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return prefix ? [prefix] : [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const path = prefix ? `${prefix}.${k}` : k;
    // A protected key may hold an object one day; stop there rather than report its members.
    return PROTECTED_SETTINGS.has(path.replace(/^wsInspector\./, '')) ? [path] : settingPaths(v, path);
  });
}

/** Protected keys (`wsInspector.server.host`) set in parsed settings. */
function protectedKeysIn(settings: unknown): string[] {
  const found = settingPaths(settings).filter((p) => p.startsWith('wsInspector.') && PROTECTED_SETTINGS.has(p.slice('wsInspector.'.length)));
  return [...new Set(found)].sort();
}

/** The workspace's settings files: each folder's `.vscode/settings.json` and the `.code-workspace` file's `settings`. */
async function workspaceProtectedKeys(): Promise<string[]> {
  const keys = new Set<string>();
  const read = async (uri: vscode.Uri, member?: 'settings') => {
    let text: string;
    try {
      text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    } catch {
      return; // no such file: nothing set
    }
    // JSON with comments and trailing commas, as VS Code reads settings files.
    const parsed: unknown = parse(text, [], { allowTrailingComma: true });
    const settings = member ? (parsed as { settings?: unknown } | undefined)?.settings : parsed;
    for (const k of protectedKeysIn(settings)) keys.add(k);
  };
  for (const folder of vscode.workspace.workspaceFolders ?? []) await read(vscode.Uri.joinPath(folder.uri, '.vscode', 'settings.json'));
  const file = vscode.workspace.workspaceFile;
  if (file && file.scheme !== 'untitled') await read(file, 'settings');
  return [...keys].sort();
}

/**
 * Tells the user, once for each set of keys in a workspace, that the workspace's values of protected settings were
 * ignored. Checks at activation and whenever a workspace settings file changes. Resolves with the keys it found.
 */
export function registerProtectedSettings(
  context: vscode.ExtensionContext,
  log: vscode.LogOutputChannel,
): { check: () => Promise<string[]> } {
  const STATE_KEY = 'wsInspector.protectedSettingsReported';
  const check = async () => {
    const keys = await workspaceProtectedKeys();
    if (keys.length === 0) return keys;
    const signature = keys.join(',');
    if (context.workspaceState.get<string>(STATE_KEY) === signature) return keys;
    await context.workspaceState.update(STATE_KEY, signature);
    log.warn(`This workspace's settings set ${keys.join(', ')}. They were ignored: only your user settings can set them.`);
    // The keys are members of PROTECTED_SETTINGS (protectedKeysIn filters on it): the extension's own names, not the
    // file's text, and too many for untrusted()'s length cap.
    const names = keys.join(', ');
    // eslint-disable-next-line no-restricted-syntax -- names are the extension's own setting names, see above
    void showWarningMessage(
      `This workspace's settings tried to set ${names}. They were ignored: these settings open your machine, send traffic elsewhere, trust certificates or export secrets, so only your user settings can set them.`,
      'Open User Settings',
    ).then((pick) => {
      if (pick === 'Open User Settings') void vscode.commands.executeCommand('workbench.action.openSettings', '@ext:ws-inspector.websocket-inspector');
    });
    return keys;
  };
  const watcher = vscode.workspace.createFileSystemWatcher('**/{.vscode/settings.json,*.code-workspace}');
  context.subscriptions.push(
    watcher,
    watcher.onDidChange(() => void check()),
    watcher.onDidCreate(() => void check()),
    vscode.workspace.onDidChangeWorkspaceFolders(() => void check()),
  );
  void check();
  return { check };
}
