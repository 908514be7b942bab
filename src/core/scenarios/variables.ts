// The values behind `${…}` during a run: the file's variables (filled in when used), captures, a repeat's item, the
// environment, the host's secrets, and for a mock's reply the message it answers.

import { interpolate, interpolateValue, MissingValueError, valueText, type Ref } from './interpolate';
import { parseJsonPath, valueAt } from './jsonPath';
import type { ScenarioFile } from './model';
import type { SecretMasker } from './secrets';

/** What `${secret:NAME}` reads: the extension's SecretStorage, the CLI's environment. Called once per name, before the run. */
export type SecretProvider = (name: string) => string | undefined | Promise<string | undefined>;

/** Asks `provider` for every secret the file names; the values go into `masker` so that no report shows them. */
export async function loadSecrets(file: ScenarioFile, provider: SecretProvider | undefined, masker: SecretMasker): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (!provider) return out;
  for (const name of new Set(file.secretRefs.map((r) => r.name))) {
    const v = await provider(name);
    if (v === undefined) continue;
    out.set(name, v);
    masker.add(v);
  }
  return out;
}

export class Variables {
  private readonly own = new Map<string, unknown>();
  private readonly resolving = new Set<string>();
  /** Set for a mock's reply: the JSON of the message it answers (undefined when it is not JSON). */
  messageJson: unknown;
  readonly resolve = (ref: Ref): unknown => this.lookup(ref);

  constructor(
    private readonly file: ScenarioFile,
    private readonly env: Readonly<Record<string, string | undefined>>,
    private readonly secrets: ReadonlyMap<string, string>,
    private readonly parent?: Variables,
  ) {}

  /** A scope over this one (a mock's reply): its own values hide this one's. */
  child(): Variables {
    return new Variables(this.file, this.env, this.secrets, this);
  }

  set(name: string, value: unknown): void {
    this.own.set(name, value);
  }

  /** Sets `name` for the duration of `fn` (a repeat's item), then puts back what was there. */
  async with<T>(values: Record<string, unknown>, fn: () => Promise<T>): Promise<T> {
    const saved = Object.keys(values).map((k) => [k, this.own.has(k), this.own.get(k)] as const);
    for (const [k, v] of Object.entries(values)) this.own.set(k, v);
    try {
      return await fn();
    } finally {
      for (const [k, had, v] of saved) {
        if (had) this.own.set(k, v);
        else this.own.delete(k);
      }
    }
  }

  text(s: string): string {
    return interpolate(s, this.resolve);
  }

  value(v: unknown): unknown {
    return interpolateValue(v, this.resolve);
  }

  lookup(ref: Ref): unknown {
    switch (ref.kind) {
      case 'env': {
        const v = this.env[ref.name];
        if (v === undefined) throw new MissingValueError(`environment variable ${ref.name} is not set (nor in a .env file)`);
        return v;
      }
      case 'secret': {
        const v = this.secrets.get(ref.name);
        if (v === undefined) throw new MissingValueError(`secret "${ref.name}" has no value: store it in VS Code's secret storage, or for the CLI set the environment variable ${ref.name}`);
        return v;
      }
      case 'path':
        return this.messagePath(ref.name);
      default:
        return this.variable(ref.name);
    }
  }

  private messagePath(path: string): unknown {
    if (this.messageJson === undefined) {
      if (this.parent) return this.parent.messagePath(path);
      throw new MissingValueError(`\${${path}} reads the message being answered, and it is not JSON`);
    }
    const segments = parseJsonPath(path);
    if (typeof segments === 'string') throw new MissingValueError(segments);
    const { found, value } = valueAt(this.messageJson, segments);
    if (!found) throw new MissingValueError(`${path} is not in the message being answered`);
    return value;
  }

  private variable(name: string): unknown {
    const direct = this.named(name);
    if (direct.found) return direct.value;
    // `${user.id}`: the longest defined prefix, then a path into its value.
    for (let i = name.lastIndexOf('.'); i > 0; i = name.lastIndexOf('.', i - 1)) {
      const base = this.named(name.slice(0, i));
      if (!base.found) continue;
      const { found, value } = valueAt(base.value, name.slice(i + 1).split('.'));
      if (!found) throw new MissingValueError(`"${name.slice(i + 1)}" is not in the variable "${name.slice(0, i)}" (${valueText(base.value).slice(0, 80)})`);
      return value;
    }
    throw new MissingValueError(`variable "${name}" has no value at this step (is the step that captures it after this one, or did it not run?)`);
  }

  private named(name: string): { found: boolean; value?: unknown } {
    if (this.own.has(name)) return { found: true, value: this.own.get(name) };
    if (this.parent) return this.parent.named(name);
    const spec = this.file.variables.get(name);
    if (!spec) return { found: false };
    if (this.resolving.has(name)) throw new MissingValueError(`variable "${name}" refers to itself`);
    this.resolving.add(name);
    try {
      return { found: true, value: this.value(spec.value) };
    } finally {
      this.resolving.delete(name);
    }
  }

  /** The names and values defined now (file variables, captures, items), as text with secrets masked: for a debugger. */
  snapshot(masker: SecretMasker): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of this.file.variables.keys()) {
      try {
        out[name] = masker.text(valueText(this.variable(name)));
      } catch (err) {
        out[name] = `(${(err as Error).message})`;
      }
    }
    for (const [k, v] of this.parent ? [] : this.own) out[k] = masker.text(valueText(v));
    return out;
  }
}
