// Reads `wsInspector.*` settings into plain option objects for the core, with a readable problem for each bad value
// (the user sees it instead of a server that silently runs with something else).
import * as vscode from 'vscode';
import { PROTECTED_SETTINGS, userSettingValue } from './protectedSettings';

export type RelayMode = 'broadcast' | 'broadcastOthers' | 'echo' | 'none';

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

export type TokenLocation = 'header' | 'query' | 'subprotocol';
export type JwtAlgorithm = 'HS256' | 'RS256';
export type LimitAction = 'drop' | 'close';

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
  /** Empty: any origin. */
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

const RELAYS: readonly RelayMode[] = ['broadcast', 'broadcastOthers', 'echo', 'none'];

/** What the readers below use of a configuration. */
type SettingsReader = Pick<vscode.WorkspaceConfiguration, 'get' | 'inspect'>;

/** `wsInspector.*`, with the protected keys read from the user's settings only (see protectedSettings.ts). */
function config(): SettingsReader {
  const c = vscode.workspace.getConfiguration('wsInspector');
  const get = <T>(key: string, fallback?: T): T | undefined =>
    (PROTECTED_SETTINGS.has(key) ? userSettingValue(c, key, fallback) : c.get<T>(key, fallback as T)) as T | undefined;
  return { get: get as vscode.WorkspaceConfiguration['get'], inspect: (key) => c.inspect(key) };
}

/** `wsInspector.export.includeSecrets`, from the user's settings only. */
export function readIncludeSecrets(): boolean {
  return config().get<unknown>('export.includeSecrets', false) === true;
}

function int(c: SettingsReader, key: string, fallback: number, min: number, max: number): number {
  const v = c.get<unknown>(key, fallback);
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new SettingsError(key, `expected a whole number from ${min} to ${max}, got ${JSON.stringify(v)}.`);
  }
  return v;
}

export function readServerSettings(): ServerSettings {
  const c = config();
  const host = c.get<unknown>('server.host', '127.0.0.1');
  if (typeof host !== 'string' || host.trim() === '') throw new SettingsError('server.host', 'expected an address such as 127.0.0.1.');
  const relay = c.get<unknown>('server.relay', 'broadcast');
  if (!RELAYS.includes(relay as RelayMode)) {
    throw new SettingsError('server.relay', `expected one of ${RELAYS.join(', ')}, got ${JSON.stringify(relay)}.`);
  }
  return {
    host: host.trim(),
    port: int(c, 'server.port', 8765, 0, 65535),
    relay: relay as RelayMode,
    maxPayload: int(c, 'server.maxPayload', 1048576, 1, 2 ** 31 - 1),
    maxClients: int(c, 'server.maxClients', 1000, 1, 1_000_000),
    perMessageDeflate: c.get<boolean>('server.perMessageDeflate', false) === true,
    heartbeatIntervalMs: int(c, 'server.heartbeatInterval', 30000, 0, 24 * 3600 * 1000),
    security: readSecuritySettings(c),
  };
}

function str(c: SettingsReader, key: string): string | undefined {
  const v = c.get<unknown>(key, '');
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new SettingsError(key, `expected a string, got ${JSON.stringify(v)}.`);
  return v.trim() || undefined;
}

function oneOf<T extends string>(c: SettingsReader, key: string, allowed: readonly T[], fallback: T): T {
  const v = c.get<unknown>(key, fallback);
  if (!allowed.includes(v as T)) throw new SettingsError(key, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}.`);
  return v as T;
}

function listOf<T extends string>(c: SettingsReader, key: string, allowed: readonly T[] | undefined, fallback: T[]): T[] {
  const v = c.get<unknown>(key, fallback);
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || (allowed && !allowed.includes(x as T)))) {
    const what = allowed ? `a list of ${allowed.join(', ')}` : 'a list of strings';
    throw new SettingsError(key, `expected ${what}, got ${JSON.stringify(v)}.`);
  }
  return [...new Set(v as T[])];
}

const TOKEN_LOCATIONS: readonly TokenLocation[] = ['header', 'query', 'subprotocol'];
const JWT_ALGORITHMS: readonly JwtAlgorithm[] = ['HS256', 'RS256'];
const LIMIT_ACTIONS: readonly LimitAction[] = ['drop', 'close'];

function readSecuritySettings(c: SettingsReader): ServerSecuritySettings {
  const certFile = str(c, 'server.tls.certFile');
  const keyFile = str(c, 'server.tls.keyFile');
  if (!certFile !== !keyFile) {
    const missing = certFile ? 'server.tls.keyFile' : 'server.tls.certFile';
    throw new SettingsError(missing, 'wss:// needs both a certificate file and a key file; this one is empty. Run "WebSocket: Generate Development Certificate" to make both.');
  }
  const accept = listOf(c, 'server.auth.accept', TOKEN_LOCATIONS, [...TOKEN_LOCATIONS]);
  const enabled = c.get<unknown>('server.auth.enabled', false) === true;
  if (enabled && accept.length === 0) throw new SettingsError('server.auth.accept', 'auth is enabled but no token location is accepted.');
  const jwtAlgorithms = listOf(c, 'server.auth.jwt.algorithms', JWT_ALGORITHMS, []);
  const jwtPublicKeyFile = str(c, 'server.auth.jwt.publicKeyFile');
  if (jwtAlgorithms.includes('RS256') && !jwtPublicKeyFile) {
    throw new SettingsError('server.auth.jwt.publicKeyFile', 'RS256 is in server.auth.jwt.algorithms, so a public key (PEM) file is needed.');
  }
  const allowedOrigins = listOf<string>(c, 'server.allowedOrigins', undefined, []).map((o) => o.trim()).filter((o) => o !== '');
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
    allowRemote: c.get<unknown>('server.allowRemote', false) === true,
    rateLimit: {
      messagesPerSecond: int(c, 'server.rateLimit.messagesPerSecond', 100, 1, 1_000_000),
      burst: int(c, 'server.rateLimit.burst', 200, 1, 10_000_000),
      action: oneOf(c, 'server.rateLimit.action', LIMIT_ACTIONS, 'drop'),
    },
    maxBufferedBytes: int(c, 'server.maxBufferedBytes', 4 * 1024 * 1024, 1024, 2 ** 31 - 1),
    slowConsumerAction: oneOf(c, 'server.slowConsumerAction', LIMIT_ACTIONS, 'drop'),
    handshakeTimeoutMs: int(c, 'server.handshakeTimeout', 10_000, 100, 600_000),
    idleTimeoutMs: int(c, 'server.idleTimeout', 0, 0, 24 * 3600 * 1000),
  };
}

export function readCaptureSettings(): CaptureSettings {
  const c = config();
  return {
    maxEvents: int(c, 'capture.maxFrames', 100_000, 100, 50_000_000),
    maxBytes: int(c, 'capture.maxBytes', 268435456, 1048576, 2 ** 40),
  };
}

/** Saved endpoints; invalid entries are skipped and reported, so one typo does not hide the rest. */
export function readSavedEndpoints(): { endpoints: SavedEndpoint[]; problems: string[] } {
  const c = config();
  const raw = c.get<unknown>('endpoints', []);
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

export interface ProxySettings {
  port: number;
  /** Empty when not set. */
  target: string;
  caFile?: string;
  /** From user settings only (the setting is machine-scoped). */
  allowSelfSigned: boolean;
}

export function readProxySettings(): ProxySettings {
  const c = config();
  const target = str(c, 'proxy.target') ?? '';
  if (target !== '') {
    const problem = validateProxyTarget(target);
    if (problem) throw new SettingsError('proxy.target', problem);
  }
  return {
    port: int(c, 'proxy.port', 9000, 0, 65535),
    target,
    caFile: str(c, 'proxy.caFile'),
    allowSelfSigned: c.get<unknown>('proxy.allowSelfSigned', false) === true,
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
  const channel = str(c, 'scale.channel') ?? 'ws-inspector';
  return { redisUrl, channel, envelope: oneOf(c, 'scale.envelope', ['json', 'bare'] as const, 'json') };
}

export function readBreakpointTimeoutMs(): number {
  return int(config(), 'breakpoints.timeout', 30_000, 1000, 3_600_000);
}

/** The raw rule objects; the proxy's validateRule checks each (see breakpointsCommand.ts). */
export function readBreakpointRules(): unknown[] {
  const v = config().get<unknown>('breakpoints.rules', []);
  if (!Array.isArray(v)) throw new SettingsError('breakpoints.rules', 'expected a list of rules.');
  return v;
}
