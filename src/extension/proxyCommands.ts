// The inspecting proxy: start (with the compression mode of the setting, or of launch.json) and stop. Its frame
// breakpoints are in breakpointCommands.ts.
import * as vscode from 'vscode';
import type { RegisterCommand } from './commands';
import type { TreeNode } from './connectionsTree';
import * as notify from './notify';
import type { RunningProxy } from './proxies';
import { readCaPem } from './security';
import type { Session } from './session';
import { readProxySettings, validateProxyTarget, type ProxyCompressionSetting } from './settings';
import { uiText, untrusted } from './uiText';

const RECENT_TARGETS = 'wsInspector.recentProxyTargets';

export interface StartProxyOptions {
  target: string;
  port: number;
  caFile?: string;
  tag?: string;
  /** From launch.json: overrides the setting wsInspector.proxy.compression. */
  compression?: ProxyCompressionSetting;
  /** The launch configuration that starts it (its name, and its folder's URI). */
  launch?: { name: string; folder?: string };
}

/**
 * Starts a proxy to `target` with the TLS settings (user-level allowSelfSigned, caFile from settings or `caFile`) and
 * the compression mode (launch.json's, else the setting's; `automatic` leaves it to the proxy).
 */
export async function startProxy(s: Session, log: vscode.LogOutputChannel, o: StartProxyOptions): Promise<RunningProxy> {
  const problem = validateProxyTarget(o.target);
  if (problem) throw new Error(problem);
  const settings = readProxySettings();
  const mode = o.compression ?? settings.compression;
  const compression = mode === 'automatic' ? undefined : mode;
  const compressionSetIn = compression === undefined ? undefined : o.compression !== undefined ? 'launch.json' : 'setting';
  const caFile = o.caFile ?? settings.caFile;
  const tls = o.target.startsWith('wss:')
    ? { ca: caFile ? readCaPem(caFile, o.caFile ? 'proxy.caFile (launch.json wsInspector)' : 'proxy.caFile') : undefined, allowSelfSigned: settings.allowSelfSigned }
    : undefined;
  let p: RunningProxy;
  try {
    p = await s.proxies.start({ target: o.target, port: o.port, tls, tag: o.tag, compression, compressionSetIn, launch: o.launch });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`Port ${o.port} is already in use on 127.0.0.1. Pick another port (0 picks a free one).`);
    }
    throw err;
  }
  const how = compression ?? 'automatic (terminate while a breakpoint rule exists, else passthrough)';
  log.info(`Proxy ${p.id} listening on ${p.url}, forwarding to ${o.target}${tls?.allowSelfSigned ? ' (certificate checks OFF)' : ''}; compression: ${how}.`);
  if (tls?.allowSelfSigned) log.warn(`Proxy ${p.id}: the target's certificate is not checked (wsInspector.proxy.allowSelfSigned).`);
  return p;
}

export function registerProxy(context: vscode.ExtensionContext, s: Session, log: vscode.LogOutputChannel, command: RegisterCommand): void {
  context.subscriptions.push(
    s.proxies.onDidChange(() => void vscode.commands.executeCommand('setContext', 'wsInspector.proxyRunning', s.proxies.list().length > 0)),
    s.proxies.onDidFail(({ proxy, info }) => log.warn(`Proxy ${proxy.id}: ${info.path} → ${info.targetUrl} failed: ${info.error ?? `HTTP ${info.status}`}.`)),
  );
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('wsInspector.proxy.compression')) return;
      try {
        const mode = readProxySettings().compression;
        s.proxies.applyCompressionSetting(mode === 'automatic' ? undefined : mode);
        log.info(`Proxy compression: ${mode}, for the connections that open from now on.`);
      } catch (err) {
        log.warn(`wsInspector.proxy.compression: ${(err as Error).message}`);
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
