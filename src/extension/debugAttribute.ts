// The `wsInspector` attribute of a launch configuration: its type, its JSON schema (which
// scripts/generate-contributions.mjs puts into package.json for each debug type) and the check run before a session
// starts. No vscode import: the generator runs this in Node.
import { SETTINGS } from './settingsTable';

/** The values of `wsInspector.proxy.compression`, in launch.json as in the setting. */
export const PROXY_COMPRESSION_VALUES: readonly string[] = SETTINGS['proxy.compression'].enum;

export interface DebugAttribute {
  /** `compression` overrides the setting wsInspector.proxy.compression for this session's proxy. */
  proxy?: { target: string; port?: number; caFile?: string; compression?: (typeof SETTINGS)['proxy.compression']['enum'][number] };
  server?: boolean | { port?: number };
  openInspector?: boolean;
}

/** The proxy's local port when `wsInspector.proxy.port` is left out: the same as the setting's default. */
export const DEBUG_PROXY_DEFAULT_PORT: number = SETTINGS['proxy.port'].default;

const PORT = { type: 'integer', minimum: 0, maximum: 65535 };

/** JSON schema of the attribute, as launch.json's IntelliSense shows it. */
export const DEBUG_ATTRIBUTE_SCHEMA = {
  type: 'object',
  markdownDescription:
    'WebSocket Inspector: start an inspecting proxy or the broadcast server before this session, put its URL in the environment as `WS_INSPECTOR_URL`, open the inspector, and stop it when the session ends.',
  properties: {
    proxy: {
      type: 'object',
      required: ['target'],
      description: 'Start an inspecting proxy in front of a WebSocket backend.',
      properties: {
        target: { type: 'string', pattern: '^wss?://', description: 'The real backend, ws:// or wss://.' },
        port: { ...PORT, default: DEBUG_PROXY_DEFAULT_PORT, description: 'Local port (0 picks a free one).' },
        caFile: {
          type: 'string',
          description: 'PEM CA file for a wss:// target. (To accept any certificate, turn on wsInspector.proxy.allowSelfSigned in your user settings.)',
        },
        compression: {
          type: 'string',
          enum: [...SETTINGS['proxy.compression'].enum],
          enumDescriptions: [
            'terminate while any breakpoint rule exists, else passthrough',
            'the proxy inflates and deflates each leg on its own: held messages can be edited',
            'compression end to end, byte for byte: a compressed held message can only be forwarded',
            'no permessage-deflate on either leg',
          ],
          description: 'permessage-deflate through the proxy, for this session (overrides the setting wsInspector.proxy.compression).',
        },
      },
      additionalProperties: false,
    },
    server: {
      type: ['boolean', 'object'],
      description: 'Start the embedded broadcast server (with the wsInspector.server.* settings); an object may override the port.',
      properties: { port: PORT },
      additionalProperties: false,
    },
    openInspector: { type: 'boolean', default: true, description: 'Open the inspector when the session starts.' },
  },
  additionalProperties: false,
  defaultSnippets: [
    { label: 'WebSocket Inspector proxy', body: { proxy: { target: 'wss://${1:api.example.test/ws}', port: DEBUG_PROXY_DEFAULT_PORT } } },
    { label: 'WebSocket Inspector server', body: { server: true } },
  ],
};

/** Returns a readable problem with the attribute, or undefined when it is usable. */
export function validateDebugAttribute(a: unknown): string | undefined {
  if (typeof a !== 'object' || a === null || Array.isArray(a)) return 'wsInspector must be an object such as {"proxy": {"target": "wss://…"}} or {"server": true}.';
  const o = a as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (k !== 'proxy' && k !== 'server' && k !== 'openInspector') return `wsInspector.${k} is not a known attribute (proxy, server, openInspector).`;
  }
  if (o.proxy !== undefined && o.server !== undefined && o.server !== false) return 'wsInspector takes "proxy" or "server", not both.';
  if (o.proxy === undefined && (o.server === undefined || o.server === false)) return 'wsInspector needs "proxy" (with a target) or "server": true.';
  if (o.proxy !== undefined) {
    const p = o.proxy as Record<string, unknown>;
    if (typeof p !== 'object' || p === null) return 'wsInspector.proxy must be an object with a "target".';
    if (typeof p.target !== 'string' || !/^wss?:\/\/[^/]/i.test(p.target)) return 'wsInspector.proxy.target must be a ws:// or wss:// URL.';
    if (p.port !== undefined && (!Number.isInteger(p.port) || (p.port as number) < 0 || (p.port as number) > 65535)) return 'wsInspector.proxy.port must be a port number (0 picks a free one).';
    if (p.caFile !== undefined && typeof p.caFile !== 'string') return 'wsInspector.proxy.caFile must be a path.';
    if (p.compression !== undefined && !PROXY_COMPRESSION_VALUES.includes(p.compression as string)) {
      return `wsInspector.proxy.compression must be one of ${PROXY_COMPRESSION_VALUES.join(', ')}.`;
    }
    if ((p as { allowSelfSigned?: unknown }).allowSelfSigned !== undefined) {
      return 'wsInspector.proxy.allowSelfSigned is not honoured in launch.json: use caFile, or turn on wsInspector.proxy.allowSelfSigned in your user settings.';
    }
  }
  if (typeof o.server === 'object' && o.server !== null) {
    const port = (o.server as Record<string, unknown>).port;
    if (port !== undefined && (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535)) return 'wsInspector.server.port must be a port number.';
  }
  if (o.openInspector !== undefined && typeof o.openInspector !== 'boolean') return 'wsInspector.openInspector must be true or false.';
  return undefined;
}
