// Frame breakpoints in VS Code: the rules (from settings, added with a few questions, their places changed from the
// panel), the hold timeout, the log of outcomes, and the switch of a proxy's compression to `terminate` for next time.
import * as vscode from 'vscode';
import { BREAKPOINT_SCOPES, validateRule, type BreakpointRule, type BreakpointScope } from '../core/proxy/breakpoints';
import type { RegisterCommand } from './commands';
import * as notify from './notify';
import type { HeldContext } from './breakpointState';
import type { Session } from './session';
import { BREAKPOINT_TIMEOUT_DEFAULT_MS, readBreakpointRules, readBreakpointTimeoutMs, readOrDefault, updateSettingWhereSet } from './settings';
import { uiText, untrusted } from './uiText';

const SCOPE_LABEL: Record<BreakpointScope, { label: string; detail: string }> = {
  proxy: { label: 'Inspecting proxy', detail: 'Connections through the proxy (program ↔ target)' },
  server: { label: 'Server clients', detail: "The embedded server: a client's message before it is relayed, and Send to all" },
  client: { label: 'Client connections', detail: 'Outgoing connections made from VS Code: what they send and receive' },
};

export function registerBreakpoints(context: vscode.ExtensionContext, s: Session, log: vscode.LogOutputChannel, command: RegisterCommand): void {
  context.subscriptions.push(
    s.holds.onDidResolve(({ frame, outcome, label }) => {
      const line = `Breakpoint ${frame.ruleId}: held frame #${frame.id} (${frame.source}, ${frame.direction}) on ${label} ${outcome}.`;
      if (outcome === 'timedOut' || outcome === 'connectionClosed') log.warn(line);
      else log.info(line);
    }),
  );
  applyRules(s, log);
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('wsInspector.breakpoints.rules')) applyRules(s, log);
      // Checked as at activation: a value out of bounds is refused, and the default applies.
      if (e.affectsConfiguration('wsInspector.breakpoints.timeout')) {
        s.holds.controller.timeoutMs = readOrDefault(readBreakpointTimeoutMs, BREAKPOINT_TIMEOUT_DEFAULT_MS, log);
      }
    }),
  );
  command('wsInspector.addBreakpoint', async () => {
    const rule = await askBreakpointRule();
    if (!rule) return undefined;
    const rules = readBreakpointRules() as BreakpointRule[];
    rule.id = `bp${rules.length + 1}`;
    while (rules.some((r) => r.id === rule.id)) rule.id += "'";
    const clean = Object.fromEntries(Object.entries(rule).filter(([, v]) => v !== undefined));
    await updateSettingWhereSet('breakpoints.rules', [...rules, clean]);
    log.info(`Breakpoint ${rule.id} added (${(rule.appliesTo ?? ['proxy']).join(', ')}).`);
    return rule.id;
  });
  command('wsInspector.removeBreakpoints', async () => {
    await updateSettingWhereSet('breakpoints.rules', undefined);
    // Frames held by the removed rules go on their way.
    s.holds.controller.forwardAll();
  });
}

/** Rules come from settings; a bad rule is reported and left out, the others still apply. */
function applyRules(s: Session, log: vscode.LogOutputChannel): void {
  let raw: unknown[];
  try {
    raw = readBreakpointRules();
  } catch (err) {
    log.error(String(err));
    void notify.showErrorMessage(untrusted(err));
    return;
  }
  const rules: BreakpointRule[] = [];
  raw.forEach((r, i) => {
    const problem = validateRule(r);
    if (problem) {
      log.error(`Setting wsInspector.breakpoints.rules[${i}]: ${problem}`);
      void notify.showErrorMessage(uiText`Setting wsInspector.breakpoints.rules[${i}]: ${problem}`);
    } else {
      rules.push({ ...(r as BreakpointRule), enabled: (r as { enabled?: unknown }).enabled !== false });
    }
  });
  s.holds.setRules(rules);
}

/** Sets where the rule `ruleId` applies, in the settings the rules come from. */
export async function setRuleScopes(ruleId: string, appliesTo: BreakpointScope[]): Promise<void> {
  const rules = readBreakpointRules();
  const i = rules.findIndex((r) => typeof r === 'object' && r !== null && (r as { id?: unknown }).id === ruleId);
  if (i < 0) throw new Error(`No breakpoint rule "${ruleId}" in wsInspector.breakpoints.rules.`);
  const scopes = BREAKPOINT_SCOPES.filter((x) => appliesTo.includes(x));
  const next = [...rules];
  next[i] = { ...(rules[i] as object), appliesTo: scopes };
  await updateSettingWhereSet('breakpoints.rules', next);
}

/**
 * For a compressed message held in passthrough: sets `terminate` for next time, where the proxy's mode came from.
 * Resolves to a sentence saying what was changed.
 */
export async function switchCompression(ctx: HeldContext | undefined): Promise<string> {
  const sw = ctx?.compressionSwitch;
  if (sw === undefined) throw new Error('This held frame does not depend on the compression mode.');
  if (sw.where === 'automatic') {
    return 'Nothing to change: wsInspector.proxy.compression is automatic, so the proxy terminates compression on its next connection while a breakpoint rule exists. Reconnect the program.';
  }
  if (sw.where === 'setting') {
    const where = await updateSettingWhereSet('proxy.compression', 'terminate');
    return `Set wsInspector.proxy.compression to "terminate" in your ${where === 'user' ? 'user' : 'workspace'} settings. The proxy terminates compression from the program's next connection on: reconnect the program to edit such messages.`;
  }
  await setLaunchCompression(sw.configuration ?? '', sw.folder);
  return `Set "compression": "terminate" in wsInspector.proxy of the launch configuration "${sw.configuration}" (launch.json). Its next debug session terminates compression.`;
}

/** Sets wsInspector.proxy.compression to terminate in the named launch configuration. */
async function setLaunchCompression(name: string, folder: string | undefined): Promise<void> {
  const launch = vscode.workspace.getConfiguration('launch', folder ? vscode.Uri.parse(folder) : undefined);
  const where = launch.inspect<unknown[]>('configurations');
  const places = [
    { target: vscode.ConfigurationTarget.WorkspaceFolder, list: where?.workspaceFolderValue },
    { target: vscode.ConfigurationTarget.Workspace, list: where?.workspaceValue },
  ];
  for (const { target, list } of places) {
    if (!Array.isArray(list)) continue;
    const i = list.findIndex((c) => isObject(c) && c.name === name && isObject(c.wsInspector) && isObject(c.wsInspector.proxy));
    if (i < 0) continue;
    const next = structuredClone(list) as Array<Record<string, Record<string, Record<string, unknown>>>>;
    next[i].wsInspector.proxy.compression = 'terminate';
    await launch.update('configurations', next, target);
    return;
  }
  throw new Error(`The launch configuration "${name}" with wsInspector.proxy is not in launch.json (it was started some other way): add "compression": "terminate" to its wsInspector.proxy.`);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Asks where a new breakpoint applies and what it stops on; its id is set when it is saved. */
async function askBreakpointRule(): Promise<BreakpointRule | undefined> {
  const places = await vscode.window.showQuickPick(
    BREAKPOINT_SCOPES.map((scope) => ({ ...SCOPE_LABEL[scope], scope, picked: scope === 'proxy' })),
    { title: 'Add Frame Breakpoint (1/4): where it holds frames', canPickMany: true, ignoreFocusOut: true },
  );
  if (!places) return undefined;
  if (places.length === 0) {
    void notify.showInformationMessage('A breakpoint needs at least one place to hold frames: none was picked, so none was added.');
    return undefined;
  }
  const scopes = places.map((p) => p.scope);
  const proxyOnly = scopes.length === 1 && scopes[0] === 'proxy';
  const direction = await vscode.window.showQuickPick(
    [
      { label: 'Both directions', value: undefined },
      proxyOnly
        ? { label: 'Program → target', value: 'c2s' as const }
        : { label: 'Towards the server (c2s)', detail: "program → target; a client's message to the server; what a client connection sends", value: 'c2s' as const },
      proxyOnly
        ? { label: 'Target → program', value: 's2c' as const }
        : { label: 'Towards the client (s2c)', detail: 'target → program; Send to all; what a client connection receives', value: 's2c' as const },
    ],
    { title: 'Add Frame Breakpoint (2/4): direction' },
  );
  if (!direction) return undefined;
  const rule: BreakpointRule = { id: '', enabled: true, direction: direction.value };
  if (!proxyOnly) rule.appliesTo = scopes;
  return (await askMatch(rule)) ? rule : undefined;
}

/** Asks what the rule stops on and fills it in; false when the user cancelled. */
async function askMatch(rule: BreakpointRule): Promise<boolean> {
  const match = await vscode.window.showQuickPick(
    [
      { label: 'Text matching a regular expression', value: 'regex' },
      { label: 'JSON value at a path', value: 'json' },
      { label: 'Any text message', value: 'text' },
      { label: 'Any binary message', value: 'binary' },
      { label: 'Close frames', value: 'close' },
    ],
    { title: 'Add Frame Breakpoint (3/4): what to stop on' },
  );
  if (!match) return false;
  if (match.value === 'text') rule.opcode = 1;
  if (match.value === 'binary') rule.opcode = 2;
  if (match.value === 'close') rule.opcode = 8;
  if (match.value === 'regex') {
    const pattern = await vscode.window.showInputBox({
      title: 'Add Frame Breakpoint (4/4): regular expression',
      placeHolder: '"type":"(order|cancel)"',
      validateInput: (v) => validateRule({ id: 'x', enabled: true, textPattern: v }),
    });
    if (pattern === undefined) return false;
    rule.textPattern = pattern;
  }
  if (match.value === 'json') {
    const path = await vscode.window.showInputBox({ title: 'Add Frame Breakpoint (4/4): JSON path', placeHolder: '$.type', validateInput: (v) => validateRule({ id: 'x', enabled: true, jsonPath: v, jsonEquals: '0' }) });
    if (path === undefined) return false;
    const value = await vscode.window.showInputBox({
      title: uiText`Add Frame Breakpoint (4/4): value of ${path}`,
      prompt: 'A JSON literal: "chat", 42, true, null…',
      placeHolder: '"chat"',
      validateInput: (v) => validateRule({ id: 'x', enabled: true, jsonPath: path, jsonEquals: v }),
    });
    if (value === undefined) return false;
    rule.jsonPath = path;
    rule.jsonEquals = value;
  }
  return true;
}
