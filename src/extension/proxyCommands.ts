// Commands of the debugging tie-ins: the inspecting proxy, frame breakpoints and browser WebSockets over the
// DevTools protocol. extension.ts registers them through its error-reporting `command` wrapper.
import * as vscode from 'vscode';
import { validateRule, type BreakpointRule } from '../core/proxy/breakpoints';
import type { TreeNode } from './connectionsTree';
import type { RunningProxy } from './proxies';
import { readCaPem } from './security';
import type { Session } from './session';
import { readBreakpointRules, readProxySettings, validateProxyTarget } from './settings';
import * as notify from './notify';
import { uiText, untrusted } from './uiText';

type Register = (id: string, fn: (...args: never[]) => unknown) => void;

const RECENT_TARGETS = 'wsInspector.recentProxyTargets';
const RECENT_ENDPOINTS = 'wsInspector.recentDevToolsEndpoints';

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

export function registerProxyCommands(context: vscode.ExtensionContext, s: Session, log: vscode.LogOutputChannel, command: Register): void {
  const updateContext = () => {
    void vscode.commands.executeCommand('setContext', 'wsInspector.proxyRunning', s.proxies.list().length > 0);
    void vscode.commands.executeCommand('setContext', 'wsInspector.browserInspecting', s.browsers.list().length > 0);
  };
  context.subscriptions.push(
    s.proxies.onDidChange(updateContext),
    s.browsers.onDidChange(updateContext),
    s.proxies.onDidFail(({ proxy, info }) => log.warn(`Proxy ${proxy.id}: ${info.path} → ${info.targetUrl} failed: ${info.error ?? `HTTP ${info.status}`}.`)),
    s.proxies.onDidResolveHeld(({ frame, outcome }) => {
      const line = `Breakpoint ${frame.ruleId}: held frame #${frame.id} (${frame.direction}) on ${frame.connectionId} ${outcome}.`;
      if (outcome === 'timedOut' || outcome === 'connectionClosed') log.warn(line);
      else log.info(line);
    }),
    s.browsers.onDidWarn((w) => log.warn(`Browser inspection ${w}`)),
    s.browsers.onDidDisconnect(({ inspection, reason }) => {
      log.warn(`Browser inspection ${inspection.id} (${inspection.endpoint}) ended: ${reason}`);
      void notify.showWarningMessage(uiText`Browser WebSocket inspection ended: ${reason}`);
    }),
  );

  // Running debug sessions by id: js-debug's DevTools proxy is asked for by session, and the active one may be a child.
  const debugSessions = new Map<string, vscode.DebugSession>();
  if (vscode.debug.activeDebugSession) debugSessions.set(vscode.debug.activeDebugSession.id, vscode.debug.activeDebugSession);
  // Inspections started for a debug session end with it: js-debug keeps its DevTools proxy open after a detach (an
  // attach session leaves the browser running), and the rows would go on naming a session that is gone.
  const inspectionsOfSession = new Map<string, Set<string>>();
  const inspectSession = async (target: vscode.DebugSession): Promise<string> => {
    const id = await inspectDebugSession(s, log, target);
    let ids = inspectionsOfSession.get(target.id);
    if (!ids) inspectionsOfSession.set(target.id, (ids = new Set()));
    ids.add(id);
    return id;
  };
  context.subscriptions.push(
    vscode.debug.onDidStartDebugSession((d) => debugSessions.set(d.id, d)),
    vscode.debug.onDidTerminateDebugSession((d) => {
      debugSessions.delete(d.id);
      const ids = inspectionsOfSession.get(d.id);
      inspectionsOfSession.delete(d.id);
      for (const id of ids ?? []) {
        if (!s.browsers.list().some((i) => i.id === id)) continue;
        log.info(`Browser inspection ${id} ends with the debug session "${d.name}".`);
        s.browsers.stop(id).catch((err) => log.warn(`Browser inspection ${id}: stopping it failed: ${err instanceof Error ? err.message : String(err)}`));
      }
    }),
  );

  // Rules come from settings; a bad rule is reported and left out, the others still apply.
  const applyRules = () => {
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
  };
  applyRules();
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('wsInspector.breakpoints.rules')) applyRules();
      if (e.affectsConfiguration('wsInspector.breakpoints.timeout')) {
        try {
          s.proxies.breakpoints.timeoutMs = vscode.workspace.getConfiguration('wsInspector').get<number>('breakpoints.timeout', 30_000);
        } catch (err) {
          log.error(String(err));
        }
      }
    }),
  );

  command('wsInspector.startProxy', async (arg?: string | { target: string; port?: number }) => {
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
  });

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
    const direction = await vscode.window.showQuickPick(
      [
        { label: 'Both directions', value: undefined },
        { label: 'Program → target', value: 'c2s' as const },
        { label: 'Target → program', value: 's2c' as const },
      ],
      { title: 'Add Frame Breakpoint (1/3): direction' },
    );
    if (!direction) return;
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
    if (!match) return;
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
      if (pattern === undefined) return;
      rule.textPattern = pattern;
    }
    if (match.value === 'json') {
      const path = await vscode.window.showInputBox({ title: 'Add Frame Breakpoint (3/3): JSON path', placeHolder: '$.type', validateInput: (v) => validateRule({ id: 'x', enabled: true, jsonPath: v, jsonEquals: '0' }) });
      if (path === undefined) return;
      const value = await vscode.window.showInputBox({
        title: uiText`Add Frame Breakpoint (3/3): value of ${path}`,
        prompt: 'A JSON literal: "chat", 42, true, null…',
        placeHolder: '"chat"',
        validateInput: (v) => validateRule({ id: 'x', enabled: true, jsonPath: path, jsonEquals: v }),
      });
      if (value === undefined) return;
      rule.jsonPath = path;
      rule.jsonEquals = value;
    }
    const config = vscode.workspace.getConfiguration('wsInspector');
    const rules = (config.get<unknown[]>('breakpoints.rules', []) ?? []) as BreakpointRule[];
    rule.id = `bp${rules.length + 1}`;
    while (rules.some((r) => r.id === rule.id)) rule.id += "'";
    const clean = Object.fromEntries(Object.entries(rule).filter(([, v]) => v !== undefined));
    await config.update('breakpoints.rules', [...rules, clean], vscode.ConfigurationTarget.Global);
    log.info(`Breakpoint ${rule.id} added.`);
    return rule.id;
  });

  command('wsInspector.removeBreakpoints', async () => {
    const config = vscode.workspace.getConfiguration('wsInspector');
    await config.update('breakpoints.rules', undefined, vscode.ConfigurationTarget.Global);
    // Frames held by the removed rules go on their way.
    for (const h of s.proxies.breakpoints.held()) s.proxies.breakpoints.forward(h.id);
  });

  // A DevTools endpoint URL, or a debug session whose browser js-debug can share (as the quick pick offers).
  command('wsInspector.inspectBrowser', async (arg?: string | { debugSessionId: string }) => {
    if (typeof arg === 'object' && arg !== null) {
      const session = debugSessions.get(arg.debugSessionId);
      if (!session) throw new Error(`No running debug session ${arg.debugSessionId}.`);
      const target = await debugTargetOf(session, debugSessions);
      return target ? inspectSession(target) : undefined;
    }
    let endpoint = arg;
    if (endpoint === undefined) {
      const debugSession = vscode.debug.activeDebugSession;
      const picks: Array<vscode.QuickPickItem & { value: string }> = [
        ...(debugSession ? [{ label: uiText`$(debug) Debug session "${debugSession.name}"`, description: 'through js-debug', value: 'debug' }] : []),
        ...context.globalState.get<string[]>(RECENT_ENDPOINTS, []).map((e) => ({ label: untrusted(e), description: 'recent', value: e })),
        { label: 'http://127.0.0.1:9222', description: 'Chromium started with --remote-debugging-port=9222', value: 'http://127.0.0.1:9222' },
        { label: 'Other DevTools endpoint…', value: 'other' },
      ];
      const pick = await vscode.window.showQuickPick(picks, { title: 'Inspect Browser WebSockets' });
      if (!pick) return undefined;
      if (pick.value === 'debug') {
        const target = await debugTargetOf(debugSession!, debugSessions);
        return target ? inspectSession(target) : undefined;
      }
      endpoint = pick.value;
      if (pick.value === 'other') {
        endpoint = await vscode.window.showInputBox({
          title: 'DevTools endpoint',
          prompt: 'http://host:port of a browser started with --remote-debugging-port, or its ws://…/devtools/… URL',
          validateInput: (v) => (/^(https?|wss?):\/\/[^/]/i.test(v.trim()) ? undefined : 'An http:// or ws:// URL.'),
        });
        if (endpoint === undefined) return undefined;
      }
    }
    endpoint = endpoint.trim();
    const i = await s.browsers.start(endpoint);
    const recent = context.globalState.get<string[]>(RECENT_ENDPOINTS, []);
    await context.globalState.update(RECENT_ENDPOINTS, [endpoint, ...recent.filter((e) => e !== endpoint)].slice(0, 5));
    log.info(`Inspecting browser WebSockets at ${endpoint} (${i.browser ?? 'DevTools'}).`);
    void vscode.commands.executeCommand('wsInspector.openInspector');
    return i.id;
  });

  command('wsInspector.stopBrowserInspection', async (arg?: string | TreeNode) => {
    const running = s.browsers.list();
    const given = typeof arg === 'string' ? arg : arg?.type === 'source' ? arg.source.id : undefined;
    if (given === undefined && running.length === 0) {
      void notify.showInformationMessage('No browser is being inspected.');
      return;
    }
    const id = given ?? (running.length === 1 ? running[0].id : (await vscode.window.showQuickPick(running.map((i) => ({ label: untrusted(i.endpoint), id: i.id })), { title: 'Stop Inspecting Browser' }))?.id);
    if (id !== undefined) await s.browsers.stop(id);
  });
}

/** Debug types of VS Code's JavaScript debugger (js-debug), old names included. */
const JS_DEBUG_TYPES = new Set(['pwa-chrome', 'chrome', 'pwa-msedge', 'msedge', 'pwa-node', 'node', 'node-terminal', 'pwa-extensionHost', 'extensionHost']);
/** How long js-debug may take to open its DevTools proxy (it answers in milliseconds when it can). */
const CDP_PROXY_TIMEOUT_MS = 10_000;

/**
 * The session whose DevTools js-debug can share. The session a launch configuration starts (the one named in
 * launch.json) has no target of its own: the browser's pages, or the Node process, are its child sessions, and
 * js-debug marks those with `__pendingTargetId` (its own DebugSessionTracker.isConcreteSession reads the same field).
 * Asked for a proxy, that top-level session never answers (js-debug logs "Unknown request: requestCDPProxy" and
 * sends no response), so it is never asked: its page is. Undefined when the user closes the pick.
 */
async function debugTargetOf(session: vscode.DebugSession, running: ReadonlyMap<string, vscode.DebugSession>): Promise<vscode.DebugSession | undefined> {
  const concrete = (d: vscode.DebugSession) => d.configuration.__pendingTargetId !== undefined;
  if (concrete(session)) return session;
  const children = [...running.values()].filter((d) => d.parentSession?.id === session.id && concrete(d));
  if (children.length === 0) {
    if (!JS_DEBUG_TYPES.has(session.type)) return session; // another debugger: asked, with a time limit
    throw new Error(`The debug session "${session.name}" has no page or process attached yet. Wait until it shows under the session in the Call Stack view, then try again.`);
  }
  const pages = children.filter((d) => d.configuration.__browserTargetType === 'page');
  const candidates = pages.length > 0 ? pages : children;
  if (candidates.length === 1) return candidates[0];
  const pick = await vscode.window.showQuickPick(
    candidates.map((d) => ({ label: untrusted(d.name), session: d })),
    { title: uiText`Inspect Browser WebSockets: which target of "${session.name}"?` },
  );
  return pick?.session;
}

/** A VS Code browser debug session: js-debug gives a DevTools proxy for its target. */
async function inspectDebugSession(s: Session, log: vscode.LogOutputChannel, session: vscode.DebugSession): Promise<string> {
  let proxy: { host: string; port: number; path?: string } | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    // A debugger that does not know the request may never answer it: bounded.
    proxy = await Promise.race([
      vscode.commands.executeCommand<typeof proxy>('extension.js-debug.requestCDPProxy', session.id),
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CDP_PROXY_TIMEOUT_MS / 1000} s`)), CDP_PROXY_TIMEOUT_MS);
      }),
    ]);
  } catch (err) {
    throw new Error(`The debug session "${session.name}" offers no DevTools access (${err instanceof Error ? err.message : String(err)}). Browser sessions of VS Code's JavaScript debugger (chrome, msedge) do.`);
  } finally {
    clearTimeout(timer);
  }
  if (!proxy) throw new Error(`The debug session "${session.name}" offers no DevTools access. Browser sessions of VS Code's JavaScript debugger (chrome, msedge) do.`);
  const host = proxy.host.includes(':') ? `[${proxy.host}]` : proxy.host;
  const endpoint = `ws://${host}:${proxy.port}${proxy.path ?? ''}`;
  const i = await s.browsers.start(endpoint, session.name);
  log.info(`Inspecting browser WebSockets of debug session "${session.name}" through ${endpoint}.`);
  void vscode.commands.executeCommand('wsInspector.openInspector');
  return i.id;
}

