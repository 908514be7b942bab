// Reads `wsInspector.*` settings into plain option objects for the core, with a readable problem for each bad value
// (the user sees it instead of a server that silently runs with something else). The only reader of the settings:
// defaults and bounds come from settingsTable.ts.
import * as vscode from 'vscode';
import { errorText } from '../shared/errorText';
import * as notify from './notify';
import { userSettingValue } from './protectedSettings';
import { PROTECTED_SETTINGS, SETTINGS, type IntegerSettingKey, type SettingKey, type StringSettingKey } from './settingsTable';
import { uiText } from './uiText';

export type RelayMode = (typeof SETTINGS)['server.relay']['enum'][number];

export interface ServerSettings {
  host: string;
  port: number;
  relay: RelayMode;
  maxPayload: number;
  maxClients: number;
  perMessageDeflate: boolean;
  heartbeatIntervalMs: number;
  /** TLS, auth, origins, exposure and per-client limits. File contents and secrets are read later (security.ts). */
  security: ServerSecuritySettings;
}

export type TokenLocation = (typeof SETTINGS)['server.auth.accept']['itemEnum'][number];
export type JwtAlgorithm = (typeof SETTINGS)['server.auth.jwt.algorithms']['itemEnum'][number];
export type LimitAction = (typeof SETTINGS)['server.rateLimit.action']['enum'][number];

export interface ServerSecuritySettings {
  /** Both files, or undefined for plain ws://. */
  tls?: { certFile: string; keyFile: string };
  auth: {
    enabled: boolean;
    accept: TokenLocation[];
    /** Empty: no JWT verification, only the generated token. */
    jwtAlgorithms: JwtAlgorithm[];
    jwtPublicKeyFile?: string;
    jwtIssuer?: string;
    jwtAudience?: string;
  };
  /** Added to the local origins (localhost, 127.0.0.1, [::1], VS Code webviews), which are always allowed. */
  allowedOrigins: string[];
  allowRemote: boolean;
  rateLimit: { messagesPerSecond: number; burst: number; action: LimitAction };
  maxBufferedBytes: number;
  slowConsumerAction: LimitAction;
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
}

export interface CaptureSettings {
  maxEvents: number;
  maxBytes: number;
}

export interface SavedEndpoint {
  name?: string;
  url: string;
  headers?: Record<string, string>;
  subprotocols?: string[];
  /** PEM file of the CA (or self-signed certificate) to trust for this wss:// endpoint, besides the system's. */
  caFile?: string;
  /** Accept any certificate (self-signed, expired, wrong name). Unsafe: anyone on the path can read the traffic. */
  allowSelfSigned?: boolean;
  /** Reconnect after an unexpected close: `true`, or backoff bounds (read by connectText.ts reconnectOptions). */
  reconnect?: unknown;
  /** The list came from workspace settings (a cloned repository may carry them): its allowSelfSigned is not honoured. */
  fromWorkspace?: boolean;
}

export class SettingsError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`Setting wsInspector.${setting}: ${message}`);
  }
}

/** A readable message for `err`; a SettingsError also says where to fix it. */
export function errorMessage(err: unknown): string {
  if (err instanceof SettingsError) return `${err.message} Fix it in Settings (search "wsInspector").`;
  return errorText(err);
}

/**
 * `read()`, or `fallback` when a setting is refused: the problem is logged and shown, and the extension goes on with
 * the defaults (at activation, and when the setting changes while it runs).
 */
export function readOrDefault<T>(read: () => T, fallback: T, log: vscode.LogOutputChannel): T {
  try {
    return read();
  } catch (err) {
    log.error(String(err));
    void notify.showWarningMessage(uiText`${errorMessage(err)} Using the defaults.`);
    return fallback;
  }
}

/** What the readers below use of a configuration. */
type SettingsReader = Pick<vscode.WorkspaceConfiguration, 'get' | 'inspect'>;

/** `wsInspector.*`, with the protected keys read from the user's settings only (see protectedSettings.ts). */
function config(): SettingsReader {
  const c = vscode.workspace.getConfiguration('wsInspector');
  const get = <T>(key: string, fallback?: T): T | undefined =>
    (PROTECTED_SETTINGS.has(key) ? userSettingValue(c, key, fallback) : c.get<T>(key, fallback as T)) as T | undefined;
  return { get: get as vscode.WorkspaceConfiguration['get'], inspect: (key) => c.inspect(key) };
}

/** Changes a setting in the user's settings (`undefined` removes it there). */
export async function updateUserSetting(key: SettingKey, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('wsInspector').update(key, value, vscode.ConfigurationTarget.Global);
}

/**
 * Changes a setting where its value comes from (a workspace folder's, the workspace's or the user's settings), so that
 * the change takes effect; the user's settings when none sets it. Resolves to where it wrote.
 */
export async function updateSettingWhereSet(key: SettingKey, value: unknown): Promise<'workspaceFolder' | 'workspace' | 'user'> {
  const c = vscode.workspace.getConfiguration('wsInspector');
  const where = c.inspect(key);
  if (where?.workspaceFolderValue !== undefined) {
    await c.update(key, value, vscode.ConfigurationTarget.WorkspaceFolder);
    return 'workspaceFolder';
  }
  if (where?.workspaceValue !== undefined) {
    await c.update(key, value, vscode.ConfigurationTarget.Workspace);
    return 'workspace';
  }
  await c.update(key, value, vscode.ConfigurationTarget.Global);
  return 'user';
}

function bool(c: SettingsReader, key: SettingKey): boolean {
  return c.get<unknown>(key, SETTINGS[key].default) === true;
}

/** `wsInspector.export.includeSecrets`, from the user's settings only. */
export function readIncludeSecrets(): boolean {
  return bool(config(), 'export.includeSecrets');
}

/** `wsInspector.server.auth.enabled` alone, so that a bad unrelated setting does not stop the token commands. */
export function readAuthEnabled(): boolean {
  return bool(config(), 'server.auth.enabled');
}

/** `wsInspector.server.tls.certFile` as set (unchecked), or undefined when empty. */
export function readConfiguredCertFile(): string | undefined {
  const v = config().get<unknown>('server.tls.certFile');
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

function int(c: SettingsReader, key: IntegerSettingKey): number {
  const { default: fallback, minimum: min, maximum: max } = SETTINGS[key];
  const v = c.get<unknown>(key, fallback);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new SettingsError(key, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}.`);
  }
  return v;
}

export function readServerSettings(): ServerSettings {
  const c = config();
  const host = c.get<unknown>('server.host', SETTINGS['server.host'].default);
  if (typeof host !== 'string' || host.trim() === '') throw new SettingsError('server.host', 'expected an address such as 127.0.0.1.');
  return {
    host: host.trim(),
    port: int(c, 'server.port'),
    relay: oneOf(c, 'server.relay'),
    maxPayload: int(c, 'server.maxPayload'),
    maxClients: int(c, 'server.maxClients'),
    perMessageDeflate: bool(c, 'server.perMessageDeflate'),
    heartbeatIntervalMs: int(c, 'server.heartbeatInterval'),
    security: readSecuritySettings(c),
  };
}

function str(c: SettingsReader, key: StringSettingKey): string | undefined {
  const v = c.get<unknown>(key, SETTINGS[key].default);
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new SettingsError(key, `expected a string, got ${JSON.stringify(v)}.`);
  return v.trim() || undefined;
}

type EnumKey = { [K in SettingKey]: (typeof SETTINGS)[K] extends { enum: readonly string[] } ? K : never }[SettingKey];

function oneOf<K extends EnumKey>(c: SettingsReader, key: K): (typeof SETTINGS)[K]['enum'][number] {
  const { default: fallback, enum: allowed } = SETTINGS[key] as { default: string; enum: readonly string[] };
  const v = c.get<unknown>(key, fallback);
  if (typeof v !== 'string' || !allowed.includes(v)) throw new SettingsError(key, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}.`);
  return v as (typeof SETTINGS)[K]['enum'][number];
}

type ListKey = 'server.auth.accept' | 'server.auth.jwt.algorithms' | 'server.allowedOrigins';

function listOf<T extends string>(c: SettingsReader, key: ListKey): T[] {
  const spec = SETTINGS[key] as { default: readonly T[]; itemEnum?: readonly T[] };
  const allowed = spec.itemEnum;
  const v = c.get<unknown>(key, [...spec.default]);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || (allowed && !allowed.includes(x as T)))) {
    const what = allowed ? `a list of ${allowed.join(', ')}` : 'a list of strings';
    throw new SettingsError(key, `expected ${what}, got ${JSON.stringify(v)}.`);
  }
  return [...new Set(v as T[])];
}

function readSecuritySettings(c: SettingsReader): ServerSecuritySettings {
  const certFile = str(c, 'server.tls.certFile');
  const keyFile = str(c, 'server.tls.keyFile');
  if (!certFile !== !keyFile) {
    const missing = certFile ? 'server.tls.keyFile' : 'server.tls.certFile';
    throw new SettingsError(missing, 'wss:// needs both a certificate file and a key file; this one is empty. Run "WebSocket: Generate Development Certificate" to make both.');
  }
  const accept = listOf<TokenLocation>(c, 'server.auth.accept');
  const enabled = bool(c, 'server.auth.enabled');
  if (enabled && accept.length === 0) throw new SettingsError('server.auth.accept', 'auth is enabled but no token location is accepted.');
  const jwtAlgorithms = listOf<JwtAlgorithm>(c, 'server.auth.jwt.algorithms');
  const jwtPublicKeyFile = str(c, 'server.auth.jwt.publicKeyFile');
  if (jwtAlgorithms.includes('RS256') && !jwtPublicKeyFile) {
    throw new SettingsError('server.auth.jwt.publicKeyFile', 'RS256 is in server.auth.jwt.algorithms, so a public key (PEM) file is needed.');
  }
  const allowedOrigins = listOf<string>(c, 'server.allowedOrigins').map((o) => o.trim()).filter((o) => o !== '');
  for (const o of allowedOrigins) {
    if (!/^[a-z][a-z0-9+.-]*:\/\/[^/?#]+\/?$/i.test(o) && o !== 'null') {
      throw new SettingsError('server.allowedOrigins', `${JSON.stringify(o)} is not an origin such as https://app.example.com or http://localhost:3000.`);
    }
  }
  return {
    tls: certFile && keyFile ? { certFile, keyFile } : undefined,
    auth: {
      enabled,
      accept,
      jwtAlgorithms,
      jwtPublicKeyFile,
      jwtIssuer: str(c, 'server.auth.jwt.issuer'),
      jwtAudience: str(c, 'server.auth.jwt.audience'),
    },
    allowedOrigins,
    allowRemote: bool(c, 'server.allowRemote'),
    rateLimit: {
      messagesPerSecond: int(c, 'server.rateLimit.messagesPerSecond'),
      burst: int(c, 'server.rateLimit.burst'),
      action: oneOf(c, 'server.rateLimit.action'),
    },
    maxBufferedBytes: int(c, 'server.maxBufferedBytes'),
    slowConsumerAction: oneOf(c, 'server.slowConsumerAction'),
    handshakeTimeoutMs: int(c, 'server.handshakeTimeout'),
    idleTimeoutMs: int(c, 'server.idleTimeout'),
  };
}

export function readCaptureSettings(): CaptureSettings {
  const c = config();
  return { maxEvents: int(c, 'capture.maxFrames'), maxBytes: int(c, 'capture.maxBytes') };
}

/** What readCaptureSettings gives when nothing is set. */
export const CAPTURE_DEFAULTS: CaptureSettings = { maxEvents: SETTINGS['capture.maxFrames'].default, maxBytes: SETTINGS['capture.maxBytes'].default };

/** Saved endpoints; invalid entries are skipped and reported, so one typo does not hide the rest. */
export function readSavedEndpoints(): { endpoints: SavedEndpoint[]; problems: string[] } {
  const c = config();
  const raw = c.get<unknown>('endpoints', [...SETTINGS.endpoints.default]);
  const where = c.inspect<unknown>('endpoints');
  const fromWorkspace = where?.workspaceFolderValue !== undefined || where?.workspaceValue !== undefined;
  const endpoints: SavedEndpoint[] = [];
  const problems: string[] = [];
  if (!Array.isArray(raw)) return { endpoints, problems: ['wsInspector.endpoints must be an array.'] };
  raw.forEach((e, i) => {
    const problem = validateEndpointUrl(typeof e?.url === 'string' ? e.url : '');
    if (typeof e !== 'object' || e === null || problem) {
      problems.push(`wsInspector.endpoints[${i}]: ${problem ?? 'expected an object with a url.'}`);
      return;
    }
    const headers: Record<string, string> = {};
    if (e.headers && typeof e.headers === 'object') {
      for (const [k, v] of Object.entries(e.headers)) if (typeof v === 'string') headers[k] = v;
    }
    endpoints.push({
      name: typeof e.name === 'string' ? e.name : undefined,
      url: e.url,
      headers,
      subprotocols: Array.isArray(e.subprotocols) ? e.subprotocols.filter((s: unknown) => typeof s === 'string') : undefined,
      caFile: typeof e.caFile === 'string' && e.caFile.trim() !== '' ? e.caFile.trim() : undefined,
      allowSelfSigned: e.allowSelfSigned === true,
      ...(e.reconnect !== undefined ? { reconnect: e.reconnect } : {}),
      fromWorkspace,
    });
  });
  return { endpoints, problems };
}

/** Returns a message when `url` is not a usable WebSocket URL, else undefined. */
export function validateEndpointUrl(url: string): string | undefined {
  const s = url.trim();
  if (!s) return 'Enter a ws://, wss:// or ws+unix:// URL.';
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return `Not a URL: ${s}`;
  }
  if (u.protocol === 'ws+unix:') {
    return u.pathname && u.pathname !== '/' ? undefined : 'A ws+unix:// URL needs a socket path, e.g. ws+unix:///tmp/app.sock:/path';
  }
  if (u.protocol !== 'ws:' && u.protocol !== 'wss:') return `Use ws://, wss:// or ws+unix:// (got ${u.protocol}//).`;
  if (!u.hostname) return 'The URL has no host.';
  return undefined;
}

/** `wsInspector.proxy.compression`: a ProxyCompression, or `automatic` (terminate while a rule exists, else passthrough). */
export type ProxyCompressionSetting = (typeof SETTINGS)['proxy.compression']['enum'][number];

export interface ProxySettings {
  port: number;
  /** Empty when not set. */
  target: string;
  caFile?: string;
  /** From user settings only (the setting is machine-scoped). */
  allowSelfSigned: boolean;
  compression: ProxyCompressionSetting;
}

export function readProxySettings(): ProxySettings {
  const c = config();
  const target = str(c, 'proxy.target') ?? '';
  if (target !== '') {
    const problem = validateProxyTarget(target);
    if (problem) throw new SettingsError('proxy.target', problem);
  }
  return {
    port: int(c, 'proxy.port'),
    target,
    caFile: str(c, 'proxy.caFile'),
    allowSelfSigned: bool(c, 'proxy.allowSelfSigned'),
    compression: oneOf(c, 'proxy.compression'),
  };
}

/** A proxy target is a ws:// or wss:// URL (a unix socket cannot be dialled by the proxy). */
export function validateProxyTarget(url: string): string | undefined {
  const problem = validateEndpointUrl(url);
  if (problem) return problem;
  if (url.trim().startsWith('ws+unix:')) return 'The proxy forwards to ws:// or wss:// targets only.';
  return undefined;
}

export interface ScaleSettings {
  /** Empty: no backplane. */
  redisUrl: string;
  channel: string;
  envelope: 'json' | 'bare';
}

export function readScaleSettings(): ScaleSettings {
  const c = config();
  const redisUrl = str(c, 'scale.redisUrl') ?? '';
  if (redisUrl !== '' && !/^rediss?:\/\/[^/]/i.test(redisUrl)) {
    throw new SettingsError('scale.redisUrl', 'expected a URL such as redis://127.0.0.1:6379 (or rediss:// for TLS).');
  }
  const channel = str(c, 'scale.channel') ?? SETTINGS['scale.channel'].default;
  return { redisUrl, channel, envelope: oneOf(c, 'scale.envelope') };
}

export function readBreakpointTimeoutMs(): number {
  return int(config(), 'breakpoints.timeout');
}

/** What readBreakpointTimeoutMs gives when nothing is set. */
export const BREAKPOINT_TIMEOUT_DEFAULT_MS: number = SETTINGS['breakpoints.timeout'].default;

/** The raw rule objects; the proxy's validateRule checks each (see proxyCommands.ts). */
export function readBreakpointRules(): unknown[] {
  const v = config().get<unknown>('breakpoints.rules', [...SETTINGS['breakpoints.rules'].default]);
  if (!Array.isArray(v)) throw new SettingsError('breakpoints.rules', 'expected a list of rules.');
  return v;
}
