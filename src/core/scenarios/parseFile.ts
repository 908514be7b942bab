// Parses a scenario file (YAML, or the same in JSON) into a ScenarioFile and the diagnostics of everything wrong in it,
// each at its line. It never throws: a file in the middle of being typed gives what can be read and the problems.

import { isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { createDiagnostic, LineIndex, type Diagnostic, type SourceRange } from './diagnostics';
import { scanRefs } from './interpolate';
import type { EndpointSpec, MessageBody, ScenarioFile, ScenarioSpec, VariableSpec } from './model';
import { readMock, MOCK_SCOPE } from './parseMock';
import { readBodyNode } from './parseMessage';
import { readSteps, type StepContext } from './parseSteps';
import { Reader, Scope, type Entry, type YNode } from './reader';

export interface ParseResult {
  /** What could be read; with errors among the diagnostics it must not be run. */
  file: ScenarioFile;
  diagnostics: Diagnostic[];
}

const TOP_KEYS = ['$schema', 'version', 'envFiles', 'variables', 'endpoints', 'messages', 'scenarios', 'mock'];
const ENDPOINT_KEYS = ['url', 'headers', 'subprotocols', 'tls', 'reconnect', 'handshakeTimeout'];
/** Variables every scenario has. `mock.url`: the URL of the mock a scenario with `mock: true` started. */
export const BUILTIN_VARIABLES = ['mock.url'] as const;

function emptyFile(): ScenarioFile {
  return { version: 1, envFiles: [], variables: new Map(), endpoints: new Map(), messages: new Map(), scenarios: [], envRefs: [], secretRefs: [] };
}

/** Parses the text of a `*.wsx.yaml` or `*.wsx.json` file (JSON is read as the YAML it also is). */
export function parseScenarioFile(text: string): ParseResult {
  const lines = new LineIndex(text);
  const doc = parseDocument(text, { prettyErrors: false, lineCounter: new LineCounter(), uniqueKeys: true });
  const file = emptyFile();
  const diagnostics: Diagnostic[] = [];
  for (const e of doc.errors) {
    const code = e.code === 'DUPLICATE_KEY' ? 'WSX_DUPLICATE' : 'WSX_YAML';
    diagnostics.push(createDiagnostic(lines.range(e.pos[0], Math.max(e.pos[1], e.pos[0] + 1)), code, yamlMessage(e.code, e.message)));
  }
  const r = new Reader(text, doc, lines);
  const root = doc.contents as YNode;
  if (root === null || root === undefined || (isScalar(root) && root.value === null)) {
    const firstLine = text.indexOf('\n') === -1 ? text.length : text.indexOf('\n');
    if (diagnostics.length === 0) diagnostics.push(createDiagnostic(lines.range(0, Math.max(1, firstLine)), 'WSX_EMPTY', 'the file is empty: expected endpoints, messages and scenarios (see the schema)'));
    return { file, diagnostics };
  }
  const top = r.map(root, 'a scenario file', TOP_KEYS, r.range(root));
  if (top) readTop(r, top, file);
  file.envRefs = r.envRefs;
  file.secretRefs = r.secretRefs;
  return { file, diagnostics: [...diagnostics, ...r.diagnostics].sort((a, b) => a.offset - b.offset) };
}

function yamlMessage(code: string, message: string): string {
  const text = message.replace(/ at line \d+, column \d+:?[\s\S]*$/, '');
  return code === 'DUPLICATE_KEY' ? `${text}: each key may appear once here` : `invalid YAML: ${text}`;
}

function readTop(r: Reader, top: Map<string, Entry>, file: ScenarioFile): void {
  const v = top.get('version');
  if (v) r.number(v.value, 'version', { min: 1, max: 1, integer: true });
  if (top.has('envFiles')) file.envFiles = r.stringList(top.get('envFiles')!.value, 'envFiles') ?? [];
  const fileScope = new Scope();
  if (top.has('variables')) readVariables(r, top.get('variables')!, file, fileScope);
  const global = new Scope(fileScope);
  // Endpoints and named messages may use any scenario's captures; they are checked once all are known.
  r.scope = undefined;
  if (top.has('endpoints')) readEndpoints(r, top.get('endpoints')!, file);
  if (top.has('messages')) readMessages(r, top.get('messages')!, file);
  const deferred = r.deferred.splice(0);
  const ctx = { allCaptures: new Set<string>() };
  if (top.has('mock')) {
    r.scope = new Scope(fileScope, true);
    for (const n of MOCK_SCOPE) r.scope.add(n);
    file.mock = readMock(r, top.get('mock')!, file);
  }
  if (top.has('scenarios')) readScenarios(r, top.get('scenarios')!, file, fileScope, ctx.allCaptures);
  for (const c of ctx.allCaptures) global.add(c);
  if (file.mock) for (const b of BUILTIN_VARIABLES) global.add(b);
  for (const d of deferred) r.checkName(global, d.ref, d.range);
}

function readVariables(r: Reader, e: Entry, file: ScenarioFile, scope: Scope): void {
  const m = r.map(e.value, 'variables', undefined, r.range(e.keyNode));
  if (!m) return;
  for (const x of m.values()) scope.add(x.key);
  r.scope = scope;
  for (const x of m.values()) file.variables.set(x.key, { name: x.key, value: r.value(x.value), range: r.range(x.keyNode) });
  reportCycles(r, file.variables);
}

/** Variables that refer to each other in a circle can never be filled in. */
function reportCycles(r: Reader, vars: Map<string, VariableSpec>): void {
  const refsOf = (name: string): string[] => {
    const out: string[] = [];
    const walk = (v: unknown) => {
      if (typeof v === 'string') for (const ref of scanRefs(v).refs) if (ref.kind === 'var') out.push(ref.name.split('.')[0]);
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(vars.get(name)?.value);
    return out.filter((n) => vars.has(n));
  };
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name];
      r.error(vars.get(name)!.range, 'WSX_VARIABLE_CYCLE', `variables refer to each other in a circle: ${cycle.join(' → ')}`);
      return;
    }
    state.set(name, 'visiting');
    for (const n of refsOf(name)) visit(n, [...path, name]);
    state.set(name, 'done');
  };
  for (const name of vars.keys()) visit(name, []);
}

function readEndpoints(r: Reader, e: Entry, file: ScenarioFile): void {
  const m = r.map(e.value, 'endpoints', undefined, r.range(e.keyNode));
  for (const x of m?.values() ?? []) {
    const ep = readEndpoint(r, x);
    if (ep) file.endpoints.set(ep.name, ep);
  }
}

function readEndpoint(r: Reader, x: Entry): EndpointSpec | undefined {
  const at = r.range(x.keyNode);
  const what = `endpoint "${x.key}"`;
  const n = r.deref(x.value);
  const ep: EndpointSpec = { name: x.key, url: '', headers: {}, subprotocols: [], range: at };
  if (isScalar(n)) {
    const url = r.interp(n, `${what} (its URL)`, at);
    return url === undefined ? undefined : { ...ep, url: checkUrl(r, url, n) };
  }
  const e = r.map(n, what, ENDPOINT_KEYS, at);
  if (!e || !r.require(e, ['url'], at, what)) return undefined;
  const url = r.interp(e.get('url')!.value, 'url');
  if (url === undefined) return undefined;
  ep.url = checkUrl(r, url, e.get('url')!.value);
  if (e.has('headers')) ep.headers = r.stringMap(e.get('headers')!.value, 'headers') ?? {};
  if (e.has('subprotocols')) ep.subprotocols = r.stringList(e.get('subprotocols')!.value, 'subprotocols') ?? [];
  if (e.has('handshakeTimeout')) ep.handshakeTimeoutMs = r.duration(e.get('handshakeTimeout')!.value, 'handshakeTimeout');
  if (e.has('tls')) readTls(r, e.get('tls')!, ep);
  if (e.has('reconnect')) readReconnect(r, e.get('reconnect')!, ep);
  return ep;
}

function checkUrl(r: Reader, url: string, node: YNode): string {
  if (!url.startsWith('${') && !/^(wss?|ws\+unix):\/\//.test(url)) r.error(node, 'WSX_BAD_URL', `a WebSocket URL starts with ws://, wss:// or ws+unix://; got "${url}"`);
  return url;
}

function readTls(r: Reader, e: Entry, ep: EndpointSpec): void {
  const t = r.map(e.value, 'tls', ['caFile', 'rejectUnauthorized', 'servername'], r.range(e.keyNode));
  if (!t) return;
  if (t.has('caFile')) ep.caFile = r.interp(t.get('caFile')!.value, 'caFile');
  if (t.has('rejectUnauthorized')) ep.rejectUnauthorized = r.bool(t.get('rejectUnauthorized')!.value, 'rejectUnauthorized');
  if (t.has('servername')) ep.servername = r.interp(t.get('servername')!.value, 'servername');
}

function readReconnect(r: Reader, e: Entry, ep: EndpointSpec): void {
  const n = r.deref(e.value);
  if (isScalar(n)) {
    const enabled = r.bool(n, 'reconnect');
    if (enabled !== undefined) ep.reconnect = { enabled };
    return;
  }
  const m = r.map(n, 'reconnect', ['enabled', 'initialDelay', 'maxDelay', 'maxAttempts'], r.range(e.keyNode));
  if (!m) return;
  ep.reconnect = { enabled: m.has('enabled') ? r.bool(m.get('enabled')!.value, 'enabled') : true };
  if (m.has('initialDelay')) ep.reconnect.initialDelayMs = r.duration(m.get('initialDelay')!.value, 'initialDelay');
  if (m.has('maxDelay')) ep.reconnect.maxDelayMs = r.duration(m.get('maxDelay')!.value, 'maxDelay');
  if (m.has('maxAttempts')) ep.reconnect.maxAttempts = r.number(m.get('maxAttempts')!.value, 'maxAttempts', { min: 0, integer: true });
}

function readMessages(r: Reader, e: Entry, file: ScenarioFile): void {
  const m = r.map(e.value, 'messages', undefined, r.range(e.keyNode));
  for (const x of m?.values() ?? []) {
    const at = r.range(x.keyNode);
    const body: MessageBody | undefined = readBodyNode(r, x.value, `message "${x.key}"`, at);
    if (body?.kind === 'ref') r.error(body.range, 'WSX_TYPE', 'a named message cannot name another one: give its text, json, hex, base64 or file');
    else if (body) file.messages.set(x.key, { name: x.key, body, range: at });
  }
}

function readScenarios(r: Reader, e: Entry, file: ScenarioFile, fileScope: Scope, allCaptures: Set<string>): void {
  const m = r.map(e.value, 'scenarios', undefined, r.range(e.keyNode));
  for (const x of m?.values() ?? []) {
    const s = readScenario(r, x, file, fileScope, allCaptures);
    if (s) file.scenarios.push(s);
  }
}

function readScenario(r: Reader, x: Entry, file: ScenarioFile, fileScope: Scope, allCaptures: Set<string>): ScenarioSpec | undefined {
  const at = r.range(x.keyNode);
  const spec: ScenarioSpec = { name: x.key, range: at, mock: false, steps: [] };
  const scope = new Scope(fileScope);
  const n = r.deref(x.value);
  let stepsNode: YNode = n;
  let stepsAt: SourceRange = at;
  if (isMap(n)) {
    const e = r.map(n, `scenario "${x.key}"`, ['description', 'mock', 'timeout', 'steps'], at);
    if (!e || !r.require(e, ['steps'], at, `scenario "${x.key}"`)) return undefined;
    if (e.has('mock')) spec.mock = r.bool(e.get('mock')!.value, 'mock') ?? false;
    if (spec.mock && !file.mock) r.error(e.get('mock')!.keyNode, 'WSX_NO_MOCK', 'mock: true starts the file\'s mock, but the file has no "mock" section');
    if (e.has('timeout')) spec.timeoutMs = r.duration(e.get('timeout')!.value, 'timeout');
    stepsNode = e.get('steps')!.value;
    stepsAt = r.range(e.get('steps')!.keyNode);
  }
  if (spec.mock) for (const b of BUILTIN_VARIABLES) scope.add(b);
  r.scope = scope;
  const c: StepContext = {
    r,
    endpoints: new Set(file.endpoints.keys()),
    messages: new Set(file.messages.keys()),
    connections: [],
    scenarioScope: scope,
    allCaptures,
  };
  const problems = r.diagnostics.length;
  spec.steps = readSteps(c, stepsNode, stepsAt);
  if (spec.steps.length === 0 && r.diagnostics.length === problems) {
    r.error(at, 'WSX_REQUIRED', `scenario "${x.key}" has no steps: expected a list of steps (connect, send, expect…)`);
  }
  return spec;
}
