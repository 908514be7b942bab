// Frame breakpoints: rules that stop matching messages inside the inspecting proxy until the user forwards, edits or
// drops them (or they time out and go on unchanged).
import { isUtf8 } from 'node:buffer';
import { isDeepStrictEqual } from 'node:util';
import { MAX_CONTROL_PAYLOAD, OPCODE_BINARY, OPCODE_CLOSE, OPCODE_PING, OPCODE_PONG, OPCODE_TEXT } from '../wire/constants';
import { Emitter, type Event } from '../util/events';

/**
 * One breakpoint. Every condition that is given must hold; a rule with no condition matches every frame.
 * Data messages are matched whole (a fragmented message once its last fragment is in); control frames one by one.
 */
export interface BreakpointRule {
  /** Unique among the rules; reported as `HeldFrame.ruleId`. */
  id: string;
  /** A disabled rule never matches. (validateRule and setRules take an absent value as true, as settings may omit it.) */
  enabled: boolean;
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

/** A message or control frame stopped by a rule. */
export interface HeldFrame {
  /** Unique per controller. */
  id: number;
  /** The proxy connection's id (`proxy1-3`), not a capture connection id. */
  connectionId: string;
  direction: 'c2s' | 's2c';
  /** The opcode of the message (its first frame) or of the control frame. */
  opcode: number;
  /** Unmasked, reassembled and inflated (for a compressed message that could not be inflated: the compressed bytes). */
  payload: Buffer;
  /** The payload as UTF-8, when it is a text message or valid UTF-8. */
  text?: string;
  /** The message was sent compressed (RSV1). */
  compressed: boolean;
  ruleId: string;
  /** Epoch ms. */
  heldAt: number;
  /** Epoch ms at which it is forwarded unchanged (`timedOut`). */
  deadline: number;
  /** False when editing or dropping it would break the connection; `forward` is always possible. */
  editable: boolean;
  notEditableReason?: string;
}

export type HeldOutcome = 'forwarded' | 'edited' | 'dropped' | 'timedOut' | 'connectionClosed';

export interface BreakpointControllerOptions {
  /** How long a frame is held before it is forwarded unchanged, in ms. Default 30000. */
  timeoutMs?: number;
}

/** @internal What the proxy asks the controller to match. */
export interface MatchInput {
  direction: 'c2s' | 's2c';
  opcode: number;
  payload: Buffer;
  /** The payload is a text message (so it is decoded as UTF-8 even when invalid). */
  isText: boolean;
}

/** @internal What the proxy hands over when a rule matched. */
export interface HoldInit {
  connectionId: string;
  direction: 'c2s' | 's2c';
  opcode: number;
  payload: Buffer;
  text?: string;
  compressed: boolean;
  ruleId: string;
  editable: boolean;
  notEditableReason?: string;
}

/** @internal How the proxy learns the decision. `payload` is the replacement for 'edited'. */
export type HoldCallback = (outcome: HeldOutcome, payload?: Buffer) => void;

type PathStep = string | number;

interface CompiledRule {
  rule: BreakpointRule;
  regex?: RegExp;
  path?: PathStep[];
  hasEquals: boolean;
  equals?: unknown;
}

interface HeldEntry {
  frame: HeldFrame;
  callback: HoldCallback;
  timer: NodeJS.Timeout;
}

const DEFAULT_TIMEOUT_MS = 30_000;
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

function compileRule(raw: unknown): CompiledRule {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error('a rule must be an object');
  const r = raw as Record<string, unknown>;
  if (typeof r.id !== 'string' || r.id === '') throw new Error('id must be a non-empty string');
  const at = (why: string): never => {
    throw new Error(`rule "${r.id as string}": ${why}`);
  };
  if (r.enabled !== undefined && typeof r.enabled !== 'boolean') at('enabled must be true or false');
  if (r.direction !== undefined && r.direction !== 'c2s' && r.direction !== 's2c') at('direction must be "c2s" or "s2c"');
  if (r.opcode !== undefined && !(typeof r.opcode === 'number' && OPCODES.has(r.opcode))) {
    at('opcode must be 1 (text), 2 (binary), 8 (close), 9 (ping) or 10 (pong)');
  }
  const out: CompiledRule = { rule: { ...(r as unknown as BreakpointRule), enabled: r.enabled !== false }, hasEquals: false };
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

/** The text a rule sees: a text message decoded as UTF-8, other payloads only when they are valid UTF-8. */
export function textOf(payload: Buffer, isText: boolean): string | undefined {
  if (isText || isUtf8(payload)) return payload.toString('utf8');
  return undefined;
}

/**
 * Holds the rules and the frames they stopped. One controller can serve several proxies. The proxy asks it whether
 * a frame matches and hands matching frames over; the user (the panel) resolves them with forward, edit or drop.
 */
export class BreakpointController {
  private compiled: CompiledRule[] = [];
  /** Any enabled rule for each direction, by opcode: lets the proxy skip all buffering when nothing can match. */
  private active = { c2s: new Set<number>(), s2c: new Set<number>() };
  private _timeoutMs: number;
  private readonly entries = new Map<number, HeldEntry>();
  private nextId = 1;
  private disposed = false;

  private readonly _onDidHold = new Emitter<HeldFrame>();
  /** A frame was stopped by a rule. */
  readonly onDidHold: Event<HeldFrame> = this._onDidHold.event;
  private readonly _onDidResolve = new Emitter<{ frame: HeldFrame; outcome: HeldOutcome }>();
  /** A held frame went on (unchanged, edited), was dropped, timed out, or its connection closed. */
  readonly onDidResolve: Event<{ frame: HeldFrame; outcome: HeldOutcome }> = this._onDidResolve.event;
  private readonly _onDidChangeRules = new Emitter<readonly BreakpointRule[]>();
  readonly onDidChangeRules: Event<readonly BreakpointRule[]> = this._onDidChangeRules.event;

  constructor(options: BreakpointControllerOptions = {}) {
    this._timeoutMs = DEFAULT_TIMEOUT_MS;
    if (options.timeoutMs !== undefined) this.timeoutMs = options.timeoutMs;
  }

  /** Replaces every rule. Throws a TypeError naming the first invalid rule (see validateRule) or a duplicate id. */
  setRules(rules: BreakpointRule[]): void {
    if (!Array.isArray(rules)) throw new TypeError('rules must be an array');
    const compiled: CompiledRule[] = [];
    const ids = new Set<string>();
    rules.forEach((r, i) => {
      let c: CompiledRule;
      try {
        c = compileRule(r);
      } catch (e) {
        throw new TypeError(`breakpoint ${i + 1}: ${(e as Error).message}`);
      }
      if (ids.has(c.rule.id)) throw new TypeError(`breakpoint ${i + 1}: duplicate id "${c.rule.id}"`);
      ids.add(c.rule.id);
      compiled.push(c);
    });
    this.compiled = compiled;
    const active = { c2s: new Set<number>(), s2c: new Set<number>() };
    for (const { rule } of compiled) {
      if (!rule.enabled) continue;
      for (const dir of ['c2s', 's2c'] as const) {
        if (rule.direction !== undefined && rule.direction !== dir) continue;
        for (const op of rule.opcode !== undefined ? [rule.opcode] : OPCODES) active[dir].add(op);
      }
    }
    this.active = active;
    this._onDidChangeRules.fire(this.rules);
  }

  /** Copies of the current rules. */
  get rules(): BreakpointRule[] {
    return this.compiled.map((c) => ({ ...c.rule }));
  }

  /** Hold time in ms for frames held from now on (frames already held keep their deadline). */
  get timeoutMs(): number {
    return this._timeoutMs;
  }

  set timeoutMs(v: number) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new TypeError('timeoutMs must be a positive number of ms');
    this._timeoutMs = v;
  }

  /** The frames held now, oldest first. */
  held(): HeldFrame[] {
    return [...this.entries.values()].map((e) => e.frame);
  }

  /** Sends the held frame on unchanged. Throws for an unknown id. */
  forward(id: number): void {
    this.resolve(this.entry(id), 'forwarded');
  }

  /**
   * Sends `payload` instead (a string is UTF-8), as one unfragmented frame with the original opcode, uncompressed.
   * Throws a readable Error for an unknown id, a frame that is not editable, or a control payload over 125 bytes.
   */
  edit(id: number, payload: string | Buffer): void {
    const e = this.entry(id);
    if (!e.frame.editable) throw new Error(`Held frame ${id} cannot be edited: ${e.frame.notEditableReason}`);
    let bytes: Buffer;
    if (typeof payload === 'string') bytes = Buffer.from(payload, 'utf8');
    else if (Buffer.isBuffer(payload)) bytes = payload;
    else if ((payload as unknown) instanceof Uint8Array) bytes = Buffer.from(payload as Uint8Array);
    else throw new TypeError('payload must be a string or a Buffer');
    if (e.frame.opcode >= 0x8 && bytes.length > MAX_CONTROL_PAYLOAD) {
      throw new Error(`A control frame carries at most ${MAX_CONTROL_PAYLOAD} bytes; the edit has ${bytes.length}`);
    }
    if (e.frame.opcode === OPCODE_CLOSE && bytes.length === 1) {
      throw new Error('A close payload is empty or starts with a 2-byte code; 1 byte is invalid');
    }
    this.resolve(e, 'edited', bytes);
  }

  /** Discards the held frame. Throws a readable Error for an unknown id or a frame that is not editable. */
  drop(id: number): void {
    const e = this.entry(id);
    if (!e.frame.editable) throw new Error(`Held frame ${id} cannot be dropped: ${e.frame.notEditableReason}`);
    this.resolve(e, 'dropped');
  }

  /** Forwards every held frame unchanged. */
  forwardAll(): void {
    for (const e of [...this.entries.values()]) this.resolve(e, 'forwarded');
  }

  /** @internal True when some enabled rule could match a frame of this direction and opcode. */
  wants(direction: 'c2s' | 's2c', opcode: number): boolean {
    return this.active[direction].has(opcode);
  }

  /** @internal The id of the first enabled rule that matches, if any. */
  match(input: MatchInput): string | undefined {
    if (!this.wants(input.direction, input.opcode)) return undefined;
    let text: string | undefined | null = null; // null: not computed yet
    let json: unknown = NOT_FOUND;
    let jsonTried = false;
    for (const c of this.compiled) {
      const r = c.rule;
      if (!r.enabled) continue;
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

  /** @internal Holds a frame that matched; `callback` is called once with the outcome. */
  hold(init: HoldInit, callback: HoldCallback): HeldFrame {
    const id = this.nextId++;
    const heldAt = Date.now();
    const frame: HeldFrame = { id, ...init, heldAt, deadline: heldAt + this._timeoutMs };
    if (frame.text === undefined) delete frame.text;
    if (frame.notEditableReason === undefined) delete frame.notEditableReason;
    const entry: HeldEntry = { frame, callback, timer: undefined as unknown as NodeJS.Timeout };
    entry.timer = setTimeout(() => this.resolve(entry, 'timedOut'), this._timeoutMs);
    entry.timer.unref();
    this.entries.set(id, entry);
    this._onDidHold.fire(frame);
    return frame;
  }

  /** @internal The proxy can no longer deliver it: resolves it as `connectionClosed`. Unknown ids are ignored. */
  release(id: number): void {
    const e = this.entries.get(id);
    if (e) this.resolve(e, 'connectionClosed');
  }

  /** Forwards everything still held and stops matching. */
  dispose(): void {
    if (this.disposed) return;
    this.forwardAll();
    this.disposed = true;
    this.compiled = [];
    this.active = { c2s: new Set(), s2c: new Set() };
    this._onDidHold.dispose();
    this._onDidResolve.dispose();
    this._onDidChangeRules.dispose();
  }

  private entry(id: number): HeldEntry {
    const e = this.entries.get(id);
    if (e === undefined) throw new Error(`No held frame with id ${id} (it was already resolved, timed out, or its connection closed)`);
    return e;
  }

  private resolve(e: HeldEntry, outcome: HeldOutcome, payload?: Buffer): void {
    if (!this.entries.delete(e.frame.id)) return;
    clearTimeout(e.timer);
    try {
      e.callback(outcome, payload);
    } finally {
      this._onDidResolve.fire({ frame: e.frame, outcome });
    }
  }
}
