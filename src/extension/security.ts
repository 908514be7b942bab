// The server's security glue: the auth token and JWT secret in SecretStorage, certificate and key files read with
// errors that name the setting, the development certificate command, and per-endpoint client TLS.
import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import * as notify from './notify';
import { uiText } from './uiText';
import type { ClientTlsOptions } from '../core/client/clientConnection';
import { generateDevCertificate } from '../core/tls/devCertificate';
import type { ServerSecurityOptions, Session } from './session';
import { SettingsError, type SavedEndpoint, type ServerSecuritySettings, type ServerSettings } from './settings';
import { userSettingValue } from './protectedSettings';

/** SecretStorage keys. The values never go to settings, logs or error messages. */
export const TOKEN_SECRET = 'wsInspector.server.auth.token';
export const JWT_SECRET = 'wsInspector.server.auth.jwtSecret';

/** 32 random bytes, base64url: safe in a URL query, a header and a Sec-WebSocket-Protocol token. */
export function newToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/** `~/x` and paths relative to the first workspace folder, made absolute. */
export function resolveUserPath(p: string): string {
  if (p === '~' || p.startsWith('~/')) return path.join(os.homedir(), p.slice(1));
  if (path.isAbsolute(p)) return p;
  const base = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? os.homedir();
  return path.resolve(base, p);
}

/** Reads a file a setting names; an unreadable one is a SettingsError naming the setting and the path. */
async function readSettingFile(setting: string, file: string): Promise<string> {
  const abs = resolveUserPath(file);
  try {
    return await fs.readFile(abs, 'utf8');
  } catch (err) {
    throw new SettingsError(setting, `cannot read ${abs} (${errnoText(err)}).`);
  }
}

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder';
  return err instanceof Error ? err.message : String(err);
}

/** Reads and checks the server's certificate and key: both parse, the key matches, the certificate is in date. */
export async function readServerTls(tls: { certFile: string; keyFile: string }): Promise<{ cert: string; key: string; certificate: crypto.X509Certificate }> {
  // One after the other, so that the error names the certificate first when both are missing.
  const cert = await readSettingFile('server.tls.certFile', tls.certFile);
  const key = await readSettingFile('server.tls.keyFile', tls.keyFile);
  let certificate: crypto.X509Certificate;
  try {
    certificate = new crypto.X509Certificate(cert);
  } catch {
    throw new SettingsError('server.tls.certFile', `${resolveUserPath(tls.certFile)} is not a PEM certificate ("-----BEGIN CERTIFICATE-----").`);
  }
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(key);
  } catch {
    throw new SettingsError('server.tls.keyFile', `${resolveUserPath(tls.keyFile)} is not an unencrypted PEM private key.`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new SettingsError('server.tls.keyFile', `${resolveUserPath(tls.keyFile)} is not the key of the certificate ${resolveUserPath(tls.certFile)}.`);
  }
  if (Date.parse(certificate.validTo) < Date.now()) {
    throw new SettingsError('server.tls.certFile', `the certificate ${resolveUserPath(tls.certFile)} expired on ${certificate.validTo}. Generate a new one.`);
  }
  return { cert, key, certificate };
}

/**
 * Turns the settings into the server's security options: reads the files, and the token and JWT secret from
 * SecretStorage. With auth on and no token yet, one is generated (`generatedToken` tells the caller to say so).
 */
export async function resolveServerSecurity(
  sec: ServerSecuritySettings,
  secrets: vscode.SecretStorage,
): Promise<{ options: ServerSecurityOptions; generatedToken: boolean }> {
  const options: ServerSecurityOptions = {
    allowRemote: sec.allowRemote,
    allowedOrigins: sec.allowedOrigins.length ? sec.allowedOrigins : undefined,
    rateLimit: sec.rateLimit,
    maxBufferedBytes: sec.maxBufferedBytes,
    slowConsumerAction: sec.slowConsumerAction,
    handshakeTimeoutMs: sec.handshakeTimeoutMs,
    idleTimeoutMs: sec.idleTimeoutMs,
  };
  if (sec.tls) {
    const { cert, key } = await readServerTls(sec.tls);
    options.tls = { cert, key };
  }
  let generatedToken = false;
  if (sec.auth.enabled) {
    let token = await secrets.get(TOKEN_SECRET);
    if (!token) {
      token = newToken();
      await secrets.store(TOKEN_SECRET, token);
      generatedToken = true;
    }
    options.auth = { tokens: [token], accept: sec.auth.accept };
    if (sec.auth.jwtAlgorithms.length) {
      const jwt: NonNullable<NonNullable<ServerSecurityOptions['auth']>['jwt']> = {
        algorithms: sec.auth.jwtAlgorithms,
        issuer: sec.auth.jwtIssuer,
        audience: sec.auth.jwtAudience,
      };
      if (sec.auth.jwtAlgorithms.includes('HS256')) {
        jwt.secret = await secrets.get(JWT_SECRET);
        if (!jwt.secret) {
          throw new SettingsError('server.auth.jwt.algorithms', 'HS256 needs a shared secret: run "WebSocket: Set JWT Secret".');
        }
      }
      if (sec.auth.jwtPublicKeyFile) {
        jwt.publicKeyPem = await readSettingFile('server.auth.jwt.publicKeyFile', sec.auth.jwtPublicKeyFile);
        try {
          crypto.createPublicKey(jwt.publicKeyPem);
        } catch {
          throw new SettingsError('server.auth.jwt.publicKeyFile', `${resolveUserPath(sec.auth.jwtPublicKeyFile)} is not a PEM public key.`);
        }
      }
      options.auth.jwt = jwt;
    }
  }
  return { options, generatedToken };
}

/**
 * Client TLS for a saved endpoint: its CA file, and the unsafe "accept any certificate" switch. Synchronous (a PEM
 * is small) so that Session.connect can call it; throws a SettingsError naming the endpoint's setting.
 */
export function readEndpointTls(e: SavedEndpoint, index?: number): ClientTlsOptions | undefined {
  if (!e.caFile && !e.allowSelfSigned) return undefined;
  if (e.allowSelfSigned && e.fromWorkspace) {
    throw new SettingsError(
      `endpoints[${index ?? JSON.stringify(e.name ?? e.url)}].allowSelfSigned`,
      'turning certificate checks off is only honoured in user settings, not in a workspace\'s. Use caFile, or move the endpoint to your user settings.',
    );
  }
  const ca = e.caFile ? readCaPem(e.caFile, `endpoints[${index ?? JSON.stringify(e.name ?? e.url)}].caFile`) : undefined;
  return { ca, rejectUnauthorized: e.allowSelfSigned !== true };
}

/** Reads a PEM CA file named by `setting` (`~` allowed); the SettingsError names the setting and the problem. */
export function readCaPem(file: string, setting: string): string {
  const abs = resolveUserPath(file);
  let ca: string;
  try {
    ca = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new SettingsError(setting, `cannot read ${abs} (${errnoText(err)}).`);
  }
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new SettingsError(setting, `${abs} holds no PEM certificate.`);
  return ca;
}

/**
 * A warning log that a flood cannot drown: at most `max` lines per `windowMs`, then one line with how many were left
 * out. Rejections and breaches come from peers, and a hostile peer can make thousands a second.
 */
export function throttledWarn(log: Pick<vscode.LogOutputChannel, 'warn'>, max = 20, windowMs = 5000): ((line: string) => void) & vscode.Disposable {
  let count = 0;
  let suppressed = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (suppressed) log.warn(`… and ${suppressed} more like these in the last ${windowMs / 1000} s (not logged one by one).`);
    count = suppressed = 0;
  };
  const warn = (line: string) => {
    timer ??= setTimeout(flush, windowMs);
    if (count++ < max) log.warn(line);
    else suppressed++;
  };
  return Object.assign(warn, { dispose: () => clearTimeout(timer) });
}

/** `url` with `?token=` set. */
export function urlWithToken(url: string, token: string): string {
  const u = new URL(url);
  u.searchParams.set('token', token);
  return u.toString();
}

/** The server's URL: the running one, else what the settings would give (undefined with port 0). */
function serverUrl(session: Session, readSettings: () => ServerSettings): string | undefined {
  const running = session.serverAddress?.url;
  if (running) return running;
  const settings = readSettings();
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

/** Registers the security commands. `command` wraps each handler with the extension's error reporting. */
export function registerSecurityCommands(
  context: vscode.ExtensionContext,
  session: Session,
  log: vscode.LogOutputChannel,
  command: (id: string, fn: (...args: never[]) => unknown) => void,
  readSettings: () => ServerSettings,
): void {
  const secrets = context.secrets;

  command('wsInspector.generateToken', async (opts?: { replace?: boolean }) => {
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
    // Raw values here: a bad unrelated setting must not stop these commands.
    const enabled = userSettingValue(vscode.workspace.getConfiguration('wsInspector'), 'server.auth.enabled', false) === true;
    // The running server keeps the token it started with until it restarts.
    const stale = session.serverProtection?.auth === true;
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
      if (pick === 'Enable Auth') {
        void vscode.workspace.getConfiguration('wsInspector').update('server.auth.enabled', true, vscode.ConfigurationTarget.Global);
      }
    });
    return true;
  });

  const tokenOrThrow = async () => {
    const token = await secrets.get(TOKEN_SECRET);
    if (!token) throw new Error('There is no auth token yet. Run "WebSocket: Generate Auth Token" first.');
    return token;
  };

  command('wsInspector.copyConnectionUrl', async () => {
    const token = await tokenOrThrow();
    const url = serverUrl(session, readSettings);
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

  command('wsInspector.setJwtSecret', async () => {
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
  });

  command('wsInspector.generateCertificate', async (opts?: { useForServer?: boolean }) => {
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

    const config = vscode.workspace.getConfiguration('wsInspector');
    const certSetting = config.get<unknown>('server.tls.certFile');
    const current = typeof certSetting === 'string' && certSetting.trim() !== '' ? { certFile: certSetting } : undefined;
    let use = opts?.useForServer;
    if (use === undefined && !current) {
      const pick = await notify.showInformationMessage(
        'Use the new certificate for the WebSocket server (wss://)? This sets wsInspector.server.tls.certFile and keyFile.',
        { modal: true },
        'Use for Server',
      );
      use = pick === 'Use for Server';
    }
    if (use && !current) {
      await config.update('server.tls.certFile', certFile, vscode.ConfigurationTarget.Global);
      await config.update('server.tls.keyFile', keyFile, vscode.ConfigurationTarget.Global);
      log.info('The server will use the development certificate (wss://) from its next start.');
    } else if (use && current) {
      log.info(`wsInspector.server.tls is already set (${current.certFile}); left as it is.`);
    }

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
  });
}
