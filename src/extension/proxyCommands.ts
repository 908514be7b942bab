// The inspecting proxy and its frame breakpoints: start and stop, the rules (from settings, and added with a few
// questions), and the hold timeout.
import * as vscode from 'vscode';
import { validateRule, type BreakpointRule } from '../core/proxy/breakpoints';
import type { RegisterCommand } from './commands';
import type { TreeNode } from './connectionsTree';
import * as notify from './notify';
import type { RunningProxy } from './proxies';
import { readCaPem } from './security';
import type { Session } from './session';
import {
  BREAKPOINT_TIMEOUT_DEFAULT_MS,
  readBreakpointRules,
  readBreakpointTimeoutMs,
  readOrDefault,
  readProxySettings,
  updateUserSetting,
  validateProxyTarget,
} from './settings';
import { uiText, untrusted } from './uiText';

const RECENT_TARGETS = 'wsInspector.recentProxyTargets';

/** Starts a proxy to `target` with the TLS settings (user-level allowSelfSigned, caFile from settings or `caFile`). */
export async function startProxy(
  s: Session,
  log: vscode.LogOutputChannel,
  o: { target: string; port: number; caFile?: string; tag?: string },
): Promise<RunningProxy> {
  const problem = validateProxyTarget(o.target);
  if (problem) throw new Error(problem);
  const settings = readProxySettings();
  const caFile = o.caFile ?? settings.caFile;
  const tls = o.target.startsWith('wss:')
    ? { ca: caFile ? readCaPem(caFile, o.caFile ? 'proxy.caFile (launch.json wsInspector)' : 'proxy.caFile') : undefined, allowSelfSigned: settings.allowSelfSigned }
    : undefined;
  let p: RunningProxy;
  try {
    p = await s.proxies.start({ target: o.target, port: o.port, tls, tag: o.tag });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`Port ${o.port} is already in use on 127.0.0.1. Pick another port (0 picks a free one).`);
    }
    throw err;
  }
  log.info(`Proxy ${p.id} listening on ${p.url}, forwarding to ${o.target}${tls?.allowSelfSigned ? ' (certificate checks OFF)' : ''}.`);
  if (tls?.allowSelfSigned) log.warn(`Proxy ${p.id}: the target's certificate is not checked (wsInspector.proxy.allowSelfSigned).`);
  return p;
}

export function registerProxy(context: vscode.ExtensionContext, s: Session, log: vscode.LogOutputChannel, command: RegisterCommand): void {
  context.subscriptions.push(
    s.proxies.onDidChange(() => void vscode.commands.executeCommand('setContext', 'wsInspector.proxyRunning', s.proxies.list().length > 0)),
    s.proxies.onDidFail(({ proxy, info }) => log.warn(`Proxy ${proxy.id}: ${info.path} → ${info.targetUrl} failed: ${info.error ?? `HTTP ${info.status}`}.`)),
    s.proxies.onDidResolveHeld(({ frame, outcome }) => {
      const line = `Breakpoint ${frame.ruleId}: held frame #${frame.id} (${frame.direction}) on ${frame.connectionId} ${outcome}.`;
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
        s.proxies.breakpoints.timeoutMs = readOrDefault(readBreakpointTimeoutMs, BREAKPOINT_TIMEOUT_DEFAULT_MS, log);
      }
    }),
  );
  command('wsInspector.startProxy', (arg?: string | { target: string; port?: number }) => startProxyCommand(context, s, log, arg));
  command('wsInspector.stopProxy', async (arg?: string | TreeNode) => {
    const running = s.proxies.list();
    let id = typeof arg === 'string' ? arg : arg?.type === 'source' ? arg.source.id : undefined;
    if (id === undefined) {
      if (running.length === 0) {
        void notify.showInformationMessage('No inspecting proxy is running.');
        return;
      }
      id = running.length === 1 ? running[0].id : (await vscode.window.showQuickPick(running.map((p) => ({ label: untrusted(p.url), description: uiText`→ ${p.target}`, id: p.id })), { title: 'Stop Proxy' }))?.id;
    }
    if (id === undefined) return;
    if (!(await s.proxies.stop(id))) throw new Error(`No proxy ${id}.`);
    log.info(`Proxy ${id} stopped.`);
  });

  command('wsInspector.addBreakpoint', async () => {
    const rule = await askBreakpointRule();
    if (!rule) return undefined;
    const rules = readBreakpointRules() as BreakpointRule[];
    rule.id = `bp${rules.length + 1}`;
    while (rules.some((r) => r.id === rule.id)) rule.id += "'";
    const clean = Object.fromEntries(Object.entries(rule).filter(([, v]) => v !== undefined));
    await updateUserSetting('breakpoints.rules', [...rules, clean]);
    log.info(`Breakpoint ${rule.id} added.`);
    return rule.id;
  });
  command('wsInspector.removeBreakpoints', async () => {
    await updateUserSetting('breakpoints.rules', undefined);
    // Frames held by the removed rules go on their way.
    for (const h of s.proxies.breakpoints.held()) s.proxies.breakpoints.forward(h.id);
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
  s.proxies.setRules(rules);
}

/** "Start Inspecting Proxy…": the target and port are asked for unless given. Resolves to the proxy's URL. */
async function startProxyCommand(
  context: vscode.ExtensionContext,
  s: Session,
  log: vscode.LogOutputChannel,
  arg?: string | { target: string; port?: number },
): Promise<string | undefined> {
  const settings = readProxySettings();
  let target = typeof arg === 'string' ? arg : arg?.target;
  let port = typeof arg === 'object' && arg?.port !== undefined ? arg.port : settings.port;
  if (target === undefined) {
    const recent = context.globalState.get<string[]>(RECENT_TARGETS, []);
    target = await vscode.window.showInputBox({
      title: 'Start Inspecting Proxy (1/2): target',
      prompt: 'The real backend. Your program connects to the proxy instead, and is forwarded there (path and query included).',
      placeHolder: 'wss://api.example.test/ws',
      value: settings.target || recent[0] || '',
      ignoreFocusOut: true,
      validateInput: (v) => validateProxyTarget(v),
    });
    if (target === undefined) return undefined;
    const portText = await vscode.window.showInputBox({
      title: 'Start Inspecting Proxy (2/2): local port',
      prompt: 'Your program connects to ws://127.0.0.1:PORT/… (0 picks a free port).',
      value: String(port),
      ignoreFocusOut: true,
      validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) <= 65535 ? undefined : 'A port number from 0 to 65535.'),
    });
    if (portText === undefined) return undefined;
    port = Number(portText.trim());
  }
  target = target.trim();
  const p = await startProxy(s, log, { target, port });
  const recent = context.globalState.get<string[]>(RECENT_TARGETS, []);
  await context.globalState.update(RECENT_TARGETS, [target, ...recent.filter((t) => t !== target)].slice(0, 10));
  void notify.showInformationMessage(uiText`Inspecting proxy on ${p.url} → ${target}. Point your program at it.`, 'Copy URL', 'Open Inspector').then((pick) => {
    if (pick === 'Copy URL') void vscode.env.clipboard.writeText(p.url);
    if (pick === 'Open Inspector') void vscode.commands.executeCommand('wsInspector.openInspector');
  });
  return p.url;
}

/** Asks what a new breakpoint stops on; its id is set when it is saved. */
async function askBreakpointRule(): Promise<BreakpointRule | undefined> {
  const direction = await vscode.window.showQuickPick(
    [
      { label: 'Both directions', value: undefined },
      { label: 'Program → target', value: 'c2s' as const },
      { label: 'Target → program', value: 's2c' as const },
    ],
    { title: 'Add Frame Breakpoint (1/3): direction' },
  );
  if (!direction) return undefined;
  const match = await vscode.window.showQuickPick(
    [
      { label: 'Text matching a regular expression', value: 'regex' },
      { label: 'JSON value at a path', value: 'json' },
      { label: 'Any text message', value: 'text' },
      { label: 'Any binary message', value: 'binary' },
      { label: 'Close frames', value: 'close' },
    ],
    { title: 'Add Frame Breakpoint (2/3): what to stop on' },
  );
  if (!match) return undefined;
  const rule: BreakpointRule = { id: '', enabled: true, direction: direction.value };
  if (match.value === 'text') rule.opcode = 1;
  if (match.value === 'binary') rule.opcode = 2;
  if (match.value === 'close') rule.opcode = 8;
  if (match.value === 'regex') {
    const pattern = await vscode.window.showInputBox({
      title: 'Add Frame Breakpoint (3/3): regular expression',
      placeHolder: '"type":"(order|cancel)"',
      validateInput: (v) => validateRule({ id: 'x', enabled: true, textPattern: v }),
    });
    if (pattern === undefined) return undefined;
    rule.textPattern = pattern;
  }
  if (match.value === 'json') {
    const path = await vscode.window.showInputBox({ title: 'Add Frame Breakpoint (3/3): JSON path', placeHolder: '$.type', validateInput: (v) => validateRule({ id: 'x', enabled: true, jsonPath: v, jsonEquals: '0' }) });
    if (path === undefined) return undefined;
    const value = await vscode.window.showInputBox({
      title: uiText`Add Frame Breakpoint (3/3): value of ${path}`,
      prompt: 'A JSON literal: "chat", 42, true, null…',
      placeHolder: '"chat"',
      validateInput: (v) => validateRule({ id: 'x', enabled: true, jsonPath: path, jsonEquals: v }),
    });
    if (value === undefined) return undefined;
    rule.jsonPath = path;
    rule.jsonEquals = value;
  }
  return rule;
}
