// The parts of package.json's `contributes` that are generated from TypeScript: the `wsInspector` launch.json attribute
// of each debug type, and each setting's default, bounds, enum and scope. scripts/generate-contributions.mjs writes
// them into package.json (npm run build) and fails when package.json differs (npm run lint).
import { DEBUG_ATTRIBUTE_SCHEMA } from '../extension/debugAttribute';
import { SETTINGS, type SettingSpec } from '../extension/settingsTable';

/** Debug types whose launch and attach configurations may carry `wsInspector`: js-debug's (old names too), Python's, Go's. */
const DEBUG_TYPES = ['node', 'pwa-node', 'chrome', 'pwa-chrome', 'msedge', 'pwa-msedge', 'debugpy', 'python', 'go'] as const;

export interface DebuggerContribution {
  type: string;
  configurationAttributes: Record<'launch' | 'attach', { properties: { wsInspector: unknown } }>;
}

/** `contributes.debuggers` entries: the same attribute schema for each type, launch and attach. */
export function debuggers(): DebuggerContribution[] {
  return DEBUG_TYPES.map((type) => ({
    type,
    configurationAttributes: {
      launch: { properties: { wsInspector: DEBUG_ATTRIBUTE_SCHEMA } },
      attach: { properties: { wsInspector: DEBUG_ATTRIBUTE_SCHEMA } },
    },
  }));
}

/**
 * The generated fields of a setting in `contributes.configuration.properties`. The rest (description, enum
 * descriptions, item schemas) is written by hand in package.json. `scope` is `machine` for a protected setting and
 * absent otherwise; `itemEnum` goes to `items.enum`.
 */
export interface SettingFields {
  type: SettingSpec['type'];
  default: unknown;
  minimum?: number;
  maximum?: number;
  enum?: readonly string[];
  itemEnum?: readonly string[];
  machineScope: boolean;
}

/** Every setting's generated fields, by its full name (`wsInspector.server.port`). */
export function settingFields(): Record<string, SettingFields> {
  const out: Record<string, SettingFields> = {};
  for (const [key, spec] of Object.entries(SETTINGS as Record<string, SettingSpec>)) {
    const fields: SettingFields = { type: spec.type, default: spec.default, machineScope: spec.protected === true };
    if (spec.type === 'integer') Object.assign(fields, { minimum: spec.minimum, maximum: spec.maximum });
    if (spec.type === 'string' && spec.enum) fields.enum = spec.enum;
    if (spec.type === 'array' && spec.itemEnum) fields.itemEnum = spec.itemEnum;
    out[`wsInspector.${key}`] = fields;
  }
  return out;
}
