// The server's security glue: the auth token and JWT secret in SecretStorage, certificate and key files read with
// errors that name the setting, per-endpoint client TLS, and a log a flood cannot drown. The commands are in
// securityCommands.ts.
import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ClientTlsOptions } from '../core/client/clientConnection';
import { errorText } from '../shared/errorText';
import type { ServerSecurityOptions } from './session';
import { SettingsError, type SavedEndpoint, type ServerSecuritySettings } from './settings';

/** SecretStorage keys. The values never go to settings, logs or error messages. */
export const TOKEN_SECRET = 'wsInspector.server.auth.token';
export const JWT_SECRET = 'wsInspector.server.auth.jwtSecret';

/** 32 random bytes, base64url: safe in a URL query, a header and a Sec-WebSocket-Protocol token. */
export function newToken(): string {
  return crypto.randomBytes(32).toString('base64url');
}

/** `~/x` and paths relative to the first workspace folder, made absolute. */
function resolveUserPath(p: string): string {
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
  return errorText(err);
}

/** Reads and checks the server's certificate and key: both parse, the key matches, the certificate is in date. */
async function readServerTls(tls: { certFile: string; keyFile: string }): Promise<{ cert: string; key: string; certificate: crypto.X509Certificate }> {
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
