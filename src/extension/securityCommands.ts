// The server's security commands: the auth token and JWT secret in SecretStorage, copying what clients need, the
// development certificate; and the log of refused upgrades and limit breaches.
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { generateDevCertificate } from '../core/tls/devCertificate';
import type { RegisterCommand } from './commands';
import * as notify from './notify';
import { JWT_SECRET, newToken, throttledWarn, TOKEN_SECRET, urlWithToken } from './security';
import type { Session } from './session';
import { readAuthEnabled, readConfiguredCertFile, readServerSettings, updateUserSetting } from './settings';
import { uiText } from './uiText';

export function registerSecurity(context: vscode.ExtensionContext, s: Session, log: vscode.LogOutputChannel, command: RegisterCommand): void {
  // Rejections and breaches are logged as events; the token is never part of them.
  const rejectLog = throttledWarn(log);
  const breachLog = throttledWarn(log);
  context.subscriptions.push(
    rejectLog,
    breachLog,
    s.onDidReject((e) => rejectLog(`Refused ${e.remoteAddress} before the upgrade: HTTP ${e.status} ${e.code} (${e.reason}).`)),
    s.onDidBreachLimit((e) => breachLog(`Client ${e.clientId} over the ${e.limit} limit (${e.action}): ${e.detail}.`)),
  );
  const secrets = context.secrets;
  const tokenOrThrow = async () => {
    const token = await secrets.get(TOKEN_SECRET);
    if (!token) throw new Error('There is no auth token yet. Run "WebSocket: Generate Auth Token" first.');
    return token;
  };
  command('wsInspector.generateToken', (opts?: { replace?: boolean }) => generateToken(secrets, s, log, opts));
  command('wsInspector.copyConnectionUrl', async () => {
    const token = await tokenOrThrow();
    const url = serverUrl(s);
    if (!url) throw new Error('The server port is 0 (any free port): start the server first, then copy its URL.');
    await vscode.env.clipboard.writeText(urlWithToken(url, token));
    log.info(`Copied the connection URL with its token for ${url}.`);
    void vscode.window.setStatusBarMessage('WebSocket URL with token copied', 3000);
  });
  command('wsInspector.copyAuthHeader', async () => {
    const token = await tokenOrThrow();
    await vscode.env.clipboard.writeText(`Authorization: Bearer ${token}`);
    log.info('Copied the Authorization header.');
    void vscode.window.setStatusBarMessage('Authorization header copied', 3000);
  });
  command('wsInspector.setJwtSecret', () => setJwtSecret(secrets, log));
  command('wsInspector.generateCertificate', (opts?: { useForServer?: boolean }) => generateCertificate(context, log, opts));
}

/** The server's URL: the running one, else what the settings would give (undefined with port 0). */
function serverUrl(s: Session): string | undefined {
  const running = s.serverAddress?.url;
  if (running) return running;
  const settings = readServerSettings();
  if (settings.port === 0) return undefined;
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  return `${settings.security.tls ? 'wss' : 'ws'}://${host}:${settings.port}/`;
}

const TRUST_INSTRUCTIONS = (certFile: string, fingerprint: string) => `# Trusting the WebSocket Inspector development certificate

Certificate: \`${certFile}\`
SHA-256 fingerprint: \`${fingerprint}\`

It is self-signed and valid for \`localhost\`, \`127.0.0.1\` and \`::1\` only. Clients must be told to trust it.

## Node.js clients (ws, undici, your app)
Start them with the certificate as an extra CA:

\`\`\`sh
NODE_EXTRA_CA_CERTS="${certFile}" node your-client.js
\`\`\`

or pass it in code: \`new WebSocket(url, { ca: fs.readFileSync("${certFile}") })\`.

## Browsers
- **Chrome, Edge (Windows, macOS)** use the OS store. Windows: double-click the file → Install Certificate →
  Current User → "Trusted Root Certification Authorities". macOS: \`security add-trusted-cert -r trustRoot -k ~/Library/Keychains/login.keychain-db "${certFile}"\`.
- **Chrome on Linux**: Settings → Privacy and security → Security → Manage certificates → Authorities → Import.
- **Firefox**: Settings → Privacy & Security → Certificates → View Certificates → Authorities → Import.

Remove it from the store when you no longer need it. Never trust a development certificate you did not make.

## Saved endpoints in WebSocket Inspector
Set \`"caFile": "${certFile}"\` on the endpoint in \`wsInspector.endpoints\`.
`;

/** Replaces (after asking, unless `opts.replace`) the server's auth token. Resolves to false when the user declined. */
async function generateToken(secrets: vscode.SecretStorage, s: Session, log: vscode.LogOutputChannel, opts?: { replace?: boolean }): Promise<boolean> {
  const existing = await secrets.get(TOKEN_SECRET);
  if (existing && opts?.replace !== true) {
    const pick = await notify.showWarningMessage(
      'Replace the server\'s auth token? Clients that use the current one will be refused.',
      { modal: true },
      'Replace Token',
    );
    if (pick !== 'Replace Token') return false;
  }
  await secrets.store(TOKEN_SECRET, newToken());
  log.info('A new server auth token was generated and stored in SecretStorage.');
  // This setting alone: a bad unrelated setting must not stop these commands.
  const enabled = readAuthEnabled();
  // The running server keeps the token it started with until it restarts.
  const stale = s.serverProtection?.auth === true;
  const actions = enabled ? ['Copy Connection URL', 'Copy Authorization Header'] : ['Enable Auth', 'Copy Connection URL'];
  if (stale) actions.unshift('Restart Server');
  const note = stale ? ' The running server still accepts the old one until it restarts.' : '';
  void notify.showInformationMessage(uiText`A new auth token is in VS Code's secret storage.${note}`, ...actions).then(async (pick) => {
    if (pick === 'Restart Server') {
      await vscode.commands.executeCommand('wsInspector.stopServer');
      await vscode.commands.executeCommand('wsInspector.startServer');
    }
    if (pick === 'Copy Connection URL') void vscode.commands.executeCommand('wsInspector.copyConnectionUrl');
    if (pick === 'Copy Authorization Header') void vscode.commands.executeCommand('wsInspector.copyAuthHeader');
    if (pick === 'Enable Auth') void updateUserSetting('server.auth.enabled', true);
  });
  return true;
}

async function setJwtSecret(secrets: vscode.SecretStorage, log: vscode.LogOutputChannel): Promise<void> {
  const value = await vscode.window.showInputBox({
    title: 'JWT secret (HS256)',
    prompt: 'The shared secret clients sign their tokens with. Kept in VS Code\'s secret storage. Empty removes it.',
    password: true,
    ignoreFocusOut: true,
  });
  if (value === undefined) return;
  if (value === '') {
    await secrets.delete(JWT_SECRET);
    log.info('The JWT secret was removed.');
  } else {
    if (Buffer.byteLength(value) < 32) void notify.showWarningMessage('HS256 secrets shorter than 32 bytes are easy to guess.');
    await secrets.store(JWT_SECRET, value);
    log.info('A JWT secret was stored in SecretStorage.');
  }
}

/** Writes a self-signed certificate for localhost, offers it to the server, and says how clients can trust it. */
async function generateCertificate(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, opts?: { useForServer?: boolean }) {
  const dir = vscode.Uri.joinPath(context.globalStorageUri, 'dev-certificate').fsPath;
  const cert = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Generating a development certificate…' },
    () => generateDevCertificate({ hosts: ['localhost', '127.0.0.1', '::1'], days: 365 }),
  );
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const certFile = path.join(dir, 'localhost.crt.pem');
  const keyFile = path.join(dir, 'localhost.key.pem');
  // Write the key private from the start (mode applies on create); chmod covers a file left from an older run.
  await fs.writeFile(keyFile, cert.keyPem, { mode: 0o600 });
  await fs.chmod(keyFile, 0o600);
  await fs.writeFile(certFile, cert.certPem, { mode: 0o644 });
  log.info(`Development certificate written to ${certFile} (SHA-256 ${cert.fingerprint256}, valid until ${cert.notAfter.toISOString()}).`);

  await useForServer(certFile, keyFile, log, opts?.useForServer);
  void notify
    .showInformationMessage(
      uiText`Development certificate created (SHA-256 ${cert.fingerprint256.slice(0, 23)}…). Clients must trust it: for Node, NODE_EXTRA_CA_CERTS=${certFile}; browsers, import it into the trust store.`,
      'Copy Certificate Path',
      'Show Instructions',
    )
    .then(async (pick) => {
      if (pick === 'Copy Certificate Path') await vscode.env.clipboard.writeText(certFile);
      if (pick === 'Show Instructions') {
        const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: TRUST_INSTRUCTIONS(certFile, cert.fingerprint256) });
        await vscode.window.showTextDocument(doc);
      }
    });
  return { certFile, keyFile, fingerprint256: cert.fingerprint256 };
}

/** Sets the server's TLS settings to the new files, if the user wants that and they are not set already. */
async function useForServer(certFile: string, keyFile: string, log: vscode.LogOutputChannel, wanted: boolean | undefined): Promise<void> {
  const configured = readConfiguredCertFile();
  const current = configured ? { certFile: configured } : undefined;
  let use = wanted;
  if (use === undefined && !current) {
    const pick = await notify.showInformationMessage(
      'Use the new certificate for the WebSocket server (wss://)? This sets wsInspector.server.tls.certFile and keyFile.',
      { modal: true },
      'Use for Server',
    );
    use = pick === 'Use for Server';
  }
  if (use && !current) {
    await updateUserSetting('server.tls.certFile', certFile);
    await updateUserSetting('server.tls.keyFile', keyFile);
    log.info('The server will use the development certificate (wss://) from its next start.');
  } else if (use && current) {
    log.info(`wsInspector.server.tls is already set (${current.certFile}); left as it is.`);
  }
}
