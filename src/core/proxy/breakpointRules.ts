// Breakpoint rules: their shape, their checks, and matching a message or control frame against them.
import { isUtf8 } from 'node:buffer';
import { isDeepStrictEqual } from 'node:util';
import { OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG, OPCODE_TEXT } from '../wire/constants';

/**
 * Where a frame is held: in the inspecting proxy, in the embedded broadcast server (a client's message before it is
 * relayed, or a Send to all), or on an outgoing client connection (its sends and receives).
 */
export type BreakpointScope = 'proxy' | 'server' | 'client';

/** Every scope, in the order the UI lists them. */
export const BREAKPOINT_SCOPES: readonly BreakpointScope[] = ['proxy', 'server', 'client'];

/**
 * One breakpoint. Every condition that is given must hold; a rule with no condition matches every frame.
 * Data messages are matched whole (a fragmented message once its last fragment is in); control frames one by one.
 */
export interface BreakpointRule {
  /** Unique among the rules; reported as `HeldFrame.ruleId`. */
  id: string;
  /** A disabled rule never matches. (validateRule and setRules take an absent value as true, as settings may omit it.) */
  enabled: boolean;
  /**
   * Where the rule holds frames. Default `['proxy']`. `c2s`/`s2c` read from the point of view of that place: in the
   * server c2s is a client's message to the server; on a client connection c2s is what it sends.
   */
  appliesTo?: BreakpointScope[];
  /** `c2s` = program→target, `s2c` = target→program. Default: both. */
  direction?: 'c2s' | 's2c';
  /** 1 text, 2 binary, 8 close, 9 ping, 10 pong. For a fragmented message, the opcode of its first frame. Default: any. */
  opcode?: number;
  /**
   * JavaScript regular expression source (no flags), searched in the message's text: the (inflated) payload of a text
   * message, or of any other frame whose payload is valid UTF-8. A payload that is not text never matches.
   */
  textPattern?: string;
  /**
   * A JSON path into the message text parsed as JSON: `$`, then `.name`, `['name']`, `["name"]` or `[index]` steps,
   * e.g. `$.type` or `$.items[0]['user id']`. Alone, it matches when the path exists; a payload that is not JSON never
   * matches.
   */
  jsonPath?: string;
  /** A JSON literal (`"chat"`, `42`, `true`, `{"a":1}`) the value at `jsonPath` must equal, compared by value. Needs jsonPath. */
  jsonEquals?: string;
}

/** @internal What a holder (the proxy, the server, a client connection) asks the controller to match. */
export interface MatchInput {
  /** Where the frame is. Default 'proxy': only rules that apply there are used. */
  scope?: BreakpointScope;
  direction: 'c2s' | 's2c';
  opcode: number;
  payload: Buffer;
  /** The payload is a text message (so it is decoded as UTF-8 even when invalid). */
  isText: boolean;
}

type PathStep = string | number;

interface CompiledRule {
  rule: BreakpointRule;
  scopes: ReadonlySet<BreakpointScope>;
  regex?: RegExp;
  path?: PathStep[];
  hasEquals: boolean;
  equals?: unknown;
}

const OPCODES = new Set([OPCODE_TEXT, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG]);
const NOT_FOUND = Symbol('not found');

/** A readable reason why `rule` is not a valid BreakpointRule, or undefined when it is. */
export function validateRule(rule: unknown): string | undefined {
  try {
    compileRule(rule);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The places a rule applies to (its appliesTo, or the default `['proxy']`). */
export function scopesOf(rule: BreakpointRule): BreakpointScope[] {
  return rule.appliesTo !== undefined ? [...rule.appliesTo] : ['proxy'];
}

/** The text a rule sees: a text message decoded as UTF-8, other payloads only when they are valid UTF-8. */
export function textOf(payload: Buffer, isText: boolean): string | undefined {
  if (isText || isUtf8(payload)) return payload.toString('utf8');
  return undefined;
}

/** Parses a JSON path (see BreakpointRule.jsonPath). Throws a readable Error. */
function parseJsonPath(path: string): PathStep[] {
  if (!path.startsWith('$')) throw new Error(`jsonPath must start with "$": ${JSON.stringify(path)}`);
  const steps: PathStep[] = [];
  let i = 1;
  const fail = (why: string): never => {
    throw new Error(`jsonPath ${JSON.stringify(path)}: ${why} at ${i}`);
  };
  while (i < path.length) {
    const c = path[i];
    if (c === '.') {
      const m = /^[A-Za-z_$][\w$-]*/.exec(path.slice(i + 1));
      if (!m) fail('expected a name after "."');
      steps.push(m![0]);
      i += 1 + m![0].length;
    } else if (c === '[') {
      const rest = path.slice(i + 1);
      const num = /^(\d+)\]/.exec(rest);
      if (num) {
        steps.push(Number(num[1]));
        i += 1 + num[0].length;
        continue;
      }
      const q = rest[0];
      if (q !== "'" && q !== '"') fail('expected an index or a quoted name after "["');
      let j = 1;
      let name = '';
      while (j < rest.length && rest[j] !== q) {
        if (rest[j] === '\\' && j + 1 < rest.length) j++;
        name += rest[j++];
      }
      if (rest[j] !== q || rest[j + 1] !== ']') fail('unterminated quoted name');
      steps.push(name);
      i += 1 + j + 2;
    } else {
      fail(`unexpected ${JSON.stringify(c)}`);
    }
  }
  return steps;
}

function compileScopes(v: unknown, at: (why: string) => never): ReadonlySet<BreakpointScope> {
  if (v === undefined) return new Set(['proxy']);
  const why = 'appliesTo must be a non-empty list of "proxy", "server" and "client"';
  if (!Array.isArray(v) || v.length === 0) at(why);
  const out = new Set<BreakpointScope>();
  for (const s of v as unknown[]) {
    if (!BREAKPOINT_SCOPES.includes(s as BreakpointScope)) at(`${why} (not ${JSON.stringify(s)})`);
    out.add(s as BreakpointScope);
  }
  return out;
}

function compileRule(raw: unknown): CompiledRule {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('a rule must be an object');
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id === '') throw new Error('id must be a non-empty string');
  const at = (why: string): never => {
    throw new Error(`rule "${r.id as string}": ${why}`);
  };
  if (r.enabled !== undefined && typeof r.enabled !== 'boolean') at('enabled must be true or false');
  const scopes = compileScopes(r.appliesTo, at);
  if (r.direction !== undefined && r.direction !== 'c2s' && r.direction !== 's2c') at('direction must be "c2s" or "s2c"');
  if (r.opcode !== undefined && !(typeof r.opcode === 'number' && OPCODES.has(r.opcode))) {
    at('opcode must be 1 (text), 2 (binary), 8 (close), 9 (ping) or 10 (pong)');
  }
  const rule = { ...(r as unknown as BreakpointRule), enabled: r.enabled !== false };
  if (Array.isArray(r.appliesTo)) rule.appliesTo = [...scopes];
  const out: CompiledRule = { rule, scopes, hasEquals: false };
  if (r.textPattern !== undefined) {
    if (typeof r.textPattern !== 'string') at('textPattern must be a string');
    try {
      out.regex = new RegExp(r.textPattern as string);
    } catch (e) {
      at(`textPattern is not a valid regular expression: ${(e as Error).message}`);
    }
  }
  if (r.jsonPath !== undefined) {
    if (typeof r.jsonPath !== 'string') at('jsonPath must be a string');
    try {
      out.path = parseJsonPath(r.jsonPath as string);
    } catch (e) {
      at((e as Error).message);
    }
  }
  if (r.jsonEquals !== undefined) {
    if (typeof r.jsonEquals !== 'string') at('jsonEquals must be a string holding a JSON literal');
    if (out.path === undefined) at('jsonEquals needs a jsonPath');
    try {
      out.equals = JSON.parse(r.jsonEquals as string);
      out.hasEquals = true;
    } catch (e) {
      at(`jsonEquals is not valid JSON (strings need quotes: '"chat"'): ${(e as Error).message}`);
    }
  }
  return out;
}

function valueAt(doc: unknown, path: PathStep[]): unknown {
  let v: unknown = doc;
  for (const step of path) {
    if (typeof step === 'number') {
      if (!Array.isArray(v) || step >= v.length) return NOT_FOUND;
      v = v[step];
    } else {
      if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.prototype.hasOwnProperty.call(v, step)) {
        return NOT_FOUND;
      }
      v = (v as Record<string, unknown>)[step];
    }
  }
  return v;
}

type ActiveKey = `${BreakpointScope}:${'c2s' | 's2c'}`;

/** A checked list of rules, with what any enabled rule could match per place and direction. */
export class RuleSet {
  private readonly compiled: CompiledRule[];
  private readonly active = new Map<ActiveKey, Set<number>>();

  /** Throws a TypeError naming the first invalid rule (see validateRule) or a duplicate id. */
  constructor(rules: BreakpointRule[]) {
    if (!Array.isArray(rules)) throw new TypeError('rules must be an array');
    const ids = new Set<string>();
    this.compiled = rules.map((r, i) => {
      let c: CompiledRule;
      try {
        c = compileRule(r);
      } catch (e) {
        throw new TypeError(`breakpoint ${i + 1}: ${(e as Error).message}`);
      }
      if (ids.has(c.rule.id)) throw new TypeError(`breakpoint ${i + 1}: duplicate id "${c.rule.id}"`);
      ids.add(c.rule.id);
      return c;
    });
    for (const { rule, scopes } of this.compiled) {
      if (!rule.enabled) continue;
      for (const scope of scopes) {
        for (const dir of ['c2s', 's2c'] as const) {
          if (rule.direction !== undefined && rule.direction !== dir) continue;
          const key: ActiveKey = `${scope}:${dir}`;
          let set = this.active.get(key);
          if (set === undefined) this.active.set(key, (set = new Set()));
          for (const op of rule.opcode !== undefined ? [rule.opcode] : OPCODES) set.add(op);
        }
      }
    }
  }

  /** Copies of the rules. */
  get rules(): BreakpointRule[] {
    return this.compiled.map((c) => ({ ...c.rule, ...(c.rule.appliesTo ? { appliesTo: [...c.rule.appliesTo] } : {}) }));
  }

  /** True when some rule is enabled for `scope` (any scope when absent). */
  anyEnabled(scope?: BreakpointScope): boolean {
    for (const key of this.active.keys()) if (scope === undefined || key.startsWith(`${scope}:`)) return true;
    return false;
  }

  /** True when some enabled rule could match a frame of this place, direction and opcode. */
  wants(direction: 'c2s' | 's2c', opcode: number, scope: BreakpointScope = 'proxy'): boolean {
    return this.active.get(`${scope}:${direction}`)?.has(opcode) ?? false;
  }

  /** The id of the first enabled rule that matches, if any. */
  match(input: MatchInput): string | undefined {
    const scope = input.scope ?? 'proxy';
    if (!this.wants(input.direction, input.opcode, scope)) return undefined;
    let text: string | undefined | null = null; // null: not computed yet
    let json: unknown = NOT_FOUND;
    let jsonTried = false;
    for (const c of this.compiled) {
      const r = c.rule;
      if (!r.enabled || !c.scopes.has(scope)) continue;
      if (r.direction !== undefined && r.direction !== input.direction) continue;
      if (r.opcode !== undefined && r.opcode !== input.opcode) continue;
      if (c.regex !== undefined || c.path !== undefined) {
        if (text === null) text = textOf(input.payload, input.isText);
        if (text === undefined) continue;
        if (c.regex !== undefined && !c.regex.test(text)) continue;
        if (c.path !== undefined) {
          if (!jsonTried) {
            jsonTried = true;
            try {
              json = JSON.parse(text);
            } catch {
              json = NOT_FOUND;
            }
          }
          if (json === NOT_FOUND) continue;
          const v = valueAt(json, c.path);
          if (v === NOT_FOUND) continue;
          if (c.hasEquals && !isDeepStrictEqual(v, c.equals)) continue;
        }
      }
      return r.id;
    }
    return undefined;
  }
}
