// The connect form's panel: an editor tab of its own, like a request tab in Postman or REST clients, so that it can
// stay open beside the inspector while the user tries headers and TLS settings. One panel; opening again reveals it.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { ConnectFormToHost, ConnectFormToWebview, ConnectFormValue } from '../shared/connectFormProtocol';
import { errorText } from '../shared/errorText';
import { saveEndpoint } from './connectEndpoints';
import { endpointOfForm, formOfEndpoint } from './connectFormValue';
import type { SavedEndpoint } from './settings';

export class ConnectFormPanel implements vscode.Disposable {
  private static current: ConnectFormPanel | undefined;
  private readonly subs: vscode.Disposable[] = [];
  private pending: Partial<ConnectFormValue> | undefined;

  /** Opens the form (or shows the open one), filled with `endpoint` when given. */
  static show(context: vscode.ExtensionContext, endpoint?: SavedEndpoint): ConnectFormPanel {
    const form = endpoint ? formOfEndpoint(endpoint) : undefined;
    if (ConnectFormPanel.current) {
      ConnectFormPanel.current.panel.reveal();
      if (form) ConnectFormPanel.current.postMessage({ type: 'init', form });
      return ConnectFormPanel.current;
    }
    const panel = vscode.window.createWebviewPanel('wsInspector.connectForm', 'New WebSocket Connection', vscode.ViewColumn.Active, {
      enableScripts: true,
      retainContextWhenHidden: true,
      localResourceRoots: [vscode.Uri.joinPath(context.extensionUri, 'dist'), vscode.Uri.joinPath(context.extensionUri, 'media')],
    });
    ConnectFormPanel.current = new ConnectFormPanel(context, panel, form);
    return ConnectFormPanel.current;
  }

  private constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly panel: vscode.WebviewPanel,
    form: Partial<ConnectFormValue> | undefined,
  ) {
    this.pending = form;
    panel.webview.html = this.html();
    this.subs.push(
      panel.webview.onDidReceiveMessage((m: ConnectFormToHost) => void this.handle(m)),
      panel.onDidDispose(() => this.dispose()),
    );
    context.subscriptions.push(this);
  }

  private postMessage(m: ConnectFormToWebview): void {
    void this.panel.webview.postMessage(m);
  }

  private async handle(m: ConnectFormToHost): Promise<void> {
    switch (m.type) {
      case 'ready':
        if (this.pending) this.postMessage({ type: 'init', form: this.pending });
        this.pending = undefined;
        return;
      case 'pickCaFile': {
        const files = await vscode.window.showOpenDialog({ title: 'CA or certificate (PEM) to trust', canSelectMany: false, filters: { 'PEM certificate': ['pem', 'crt', 'cer'], 'All files': ['*'] } });
        if (files?.[0]) this.postMessage({ type: 'caFile', path: files[0].fsPath });
        return;
      }
      case 'connect':
      case 'save':
        try {
          const endpoint = endpointOfForm(m.form);
          if (m.type === 'save') {
            const where = await saveEndpoint(endpoint);
            const place = where === vscode.ConfigurationTarget.Global ? 'your user settings' : 'the workspace settings';
            this.postMessage({ type: 'status', ok: true, text: `Saved to ${place} (wsInspector.endpoints).` });
            return;
          }
          // The command tells failures in a notification (with its actions) and resolves when it is dismissed.
          const id = await vscode.commands.executeCommand<string | undefined>('wsInspector.connect', endpoint);
          this.postMessage(id ? { type: 'status', ok: true, text: `Connected to ${endpoint.url}.` } : { type: 'status', ok: false, text: 'Not connected: see the notification.' });
        } catch (err) {
          this.postMessage({ type: 'status', ok: false, text: errorText(err) });
        }
    }
  }

  private html(): string {
    const webview = this.panel.webview;
    const nonce = randomBytes(16).toString('base64');
    const asset = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, ...p)).toString();
    const csp = ["default-src 'none'", `script-src 'nonce-${nonce}'`, `style-src ${webview.cspSource} 'nonce-${nonce}'`, `font-src ${webview.cspSource}`].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('media', 'connectForm.css')}" nonce="${nonce}">
<title>New WebSocket Connection</title>
</head>
<body>
<div id="app"></div>
<script type="module" nonce="${nonce}" src="${asset('dist', 'connectForm.js')}"></script>
</body>
</html>`;
  }

  dispose(): void {
    if (ConnectFormPanel.current === this) ConnectFormPanel.current = undefined;
    this.subs.splice(0).forEach((d) => d.dispose());
    this.panel.dispose();
  }
}
