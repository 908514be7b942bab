// Reads `wsInspector.*` settings into plain option objects for the core, with a readable problem for each bad value
// (the user sees it instead of a server that silently runs with something else).
import * as vscode from 'vscode';

export type RelayMode = 'broadcast' | 'broadcastOthers' | 'echo' | 'none';

export interface ServerSettings {
  host: string;
  port: number;
  relay: RelayMode;
  maxPayload: number;
  maxClients: number;
  perMessageDeflate: boolean;
  heartbeatIntervalMs: number;
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

function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('wsInspector');
}

function int(c: vscode.WorkspaceConfiguration, key: string, fallback: number, min: number, max: number): number {
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
  const raw = config().get<unknown>('endpoints', []);
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
