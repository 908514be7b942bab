// Every `wsInspector.*` setting with its default, its bounds and whether only the user's settings may set it: the one
// source. settings.ts reads and checks through it; scripts/generate-contributions.mjs writes it into package.json's
// `contributes.configuration` and fails lint when package.json disagrees. No vscode import: the generator runs in Node.

interface Common {
  /** Only the user's settings may set it (package.json: `"scope": "machine"`); see protectedSettings.ts. */
  protected?: true;
}
export type SettingSpec = Common &
  (
    | { type: 'integer'; default: number; minimum: number; maximum: number }
    | { type: 'boolean'; default: boolean }
    | { type: 'string'; default: string; enum?: readonly string[] }
    | { type: 'array'; default: readonly unknown[]; itemEnum?: readonly string[] }
  );

const MS_PER_DAY = 24 * 3600 * 1000;
const INT32_MAX = 2 ** 31 - 1;

export const SETTINGS = {
  'server.port': { type: 'integer', default: 8765, minimum: 0, maximum: 65535 },
  'server.host': { type: 'string', default: '127.0.0.1', protected: true },
  'server.relay': { type: 'string', default: 'broadcast', enum: ['broadcast', 'broadcastOthers', 'echo', 'none'] },
  'server.maxPayload': { type: 'integer', default: 1048576, minimum: 1, maximum: INT32_MAX },
  'server.maxClients': { type: 'integer', default: 1000, minimum: 1, maximum: 1_000_000 },
  'server.perMessageDeflate': { type: 'boolean', default: false },
  'server.heartbeatInterval': { type: 'integer', default: 30000, minimum: 0, maximum: MS_PER_DAY },
  'server.tls.certFile': { type: 'string', default: '' },
  'server.tls.keyFile': { type: 'string', default: '' },
  'server.auth.enabled': { type: 'boolean', default: false, protected: true },
  'server.auth.accept': { type: 'array', default: ['header', 'query', 'subprotocol'], itemEnum: ['header', 'query', 'subprotocol'], protected: true },
  'server.auth.jwt.algorithms': { type: 'array', default: [], itemEnum: ['HS256', 'RS256'], protected: true },
  'server.auth.jwt.publicKeyFile': { type: 'string', default: '', protected: true },
  'server.auth.jwt.issuer': { type: 'string', default: '', protected: true },
  'server.auth.jwt.audience': { type: 'string', default: '', protected: true },
  'server.allowedOrigins': { type: 'array', default: [], protected: true },
  'server.allowRemote': { type: 'boolean', default: false, protected: true },
  'server.rateLimit.messagesPerSecond': { type: 'integer', default: 100, minimum: 1, maximum: 1_000_000 },
  'server.rateLimit.burst': { type: 'integer', default: 200, minimum: 1, maximum: 10_000_000 },
  'server.rateLimit.action': { type: 'string', default: 'drop', enum: ['drop', 'close'] },
  'server.maxBufferedBytes': { type: 'integer', default: 4194304, minimum: 1024, maximum: INT32_MAX },
  'server.slowConsumerAction': { type: 'string', default: 'drop', enum: ['drop', 'close'] },
  'server.handshakeTimeout': { type: 'integer', default: 10000, minimum: 100, maximum: 600_000 },
  'server.idleTimeout': { type: 'integer', default: 0, minimum: 0, maximum: MS_PER_DAY },
  'capture.maxFrames': { type: 'integer', default: 100000, minimum: 100, maximum: 50_000_000 },
  'capture.maxBytes': { type: 'integer', default: 268435456, minimum: 1048576, maximum: 2 ** 40 },
  'export.includeSecrets': { type: 'boolean', default: false, protected: true },
  endpoints: { type: 'array', default: [] },
  'proxy.port': { type: 'integer', default: 9000, minimum: 0, maximum: 65535 },
  'proxy.target': { type: 'string', default: '' },
  'proxy.caFile': { type: 'string', default: '', protected: true },
  'proxy.allowSelfSigned': { type: 'boolean', default: false, protected: true },
  'proxy.compression': { type: 'string', default: 'automatic', enum: ['automatic', 'terminate', 'passthrough', 'strip'] },
  'breakpoints.timeout': { type: 'integer', default: 30000, minimum: 1000, maximum: 3_600_000 },
  'breakpoints.rules': { type: 'array', default: [] },
  'scale.redisUrl': { type: 'string', default: '', protected: true },
  'scale.channel': { type: 'string', default: 'ws-inspector' },
  'scale.envelope': { type: 'string', default: 'json', enum: ['json', 'bare'] },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
type KeysOf<T extends SettingSpec['type']> = { [K in SettingKey]: (typeof SETTINGS)[K]['type'] extends T ? K : never }[SettingKey];
export type IntegerSettingKey = KeysOf<'integer'>;
export type StringSettingKey = KeysOf<'string'>;

/** Keys under `wsInspector.` that only the user's own settings may set. */
export const PROTECTED_SETTINGS: ReadonlySet<string> = new Set(
  Object.entries(SETTINGS as Record<string, SettingSpec>)
    .filter(([, spec]) => spec.protected)
    .map(([key]) => key),
);
