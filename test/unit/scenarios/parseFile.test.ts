import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { missingEnvDiagnostics, parseScenarioFile, type Diagnostic, type DiagnosticCode, type Step } from '../../../src/core/scenarios';

/** The file, with its lines joined (each given without the trailing newline). */
const yaml = (...lines: string[]) => lines.join('\n') + '\n';

function clean(text: string) {
  const r = parseScenarioFile(text);
  assert.deepEqual(r.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`), []);
  return r.file;
}

/** The one diagnostic with `code`; fails (showing them all) when there is not exactly one. */
function only(text: string, code: DiagnosticCode): Diagnostic {
  const ds = parseScenarioFile(text).diagnostics;
  const hits = ds.filter((d) => d.code === code);
  assert.equal(hits.length, 1, `one ${code} in ${JSON.stringify(ds.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`), null, 1)}`);
  return hits[0];
}

const HEAD = ['endpoints:', '  chat: ws://127.0.0.1:1/chat', 'messages:', '  hello: { json: { type: hello } }', 'scenarios:', '  s:'];

describe('parseScenarioFile: every step type', () => {
  test('short and long forms of each step', () => {
    const file = clean(
      yaml(
        ...HEAD,
        '    - connect: chat',
        '    - send: hello',
        '    - connect: { connection: bob, endpoint: chat, headers: { X-A: b }, subprotocols: [chat.v1], status: 101, subprotocol: chat.v1, within: 2s }',
        '    - send: { connection: bob, text: hi }',
        '    - send: { connection: bob, json: { a: [1, 2] } }',
        '    - send: { connection: bob, hex: "01 ff" }',
        '    - send: { connection: bob, base64: AQI= }',
        '    - send: { connection: bob, file: data.bin, binary: false }',
        '    - send: { connection: bob, message: hello }',
        '    - expect: { connection: bob, json: { type: said, "$.items[0].id": 7 }, within: 500ms, allowOthers: true, capture: { sid: $.id } }',
        '    - expect: { connection: bob, regex: "/^he(llo)$/i", opcode: text, length: { min: 1, max: 9 } }',
        '    - expect: { connection: bob, text: ok, schema: { type: object }, message: hello }',
        '    - expect: { connection: bob, schemaFile: s.json, length: 3 }',
        '    - expect: { connection: bob, messages: [hello, { text: a }], ordered: false }',
        '    - expect: { connection: chat, message: hello }',
        '    - capture: { connection: bob, as: token, from: $.token }',
        '    - capture: { connection: bob, as: n, regex: "n=(\\\\d+)" }',
        '    - wait: 250',
        '    - wait: 1.5s',
        '    - repeat: { times: 2, steps: [ { send: { connection: bob, text: "${index} ${sid}" } } ] }',
        '    - repeat: { over: [a, b], as: letter, index: i, steps: [ { send: { connection: bob, text: "${letter}${i}" } } ] }',
        '    - close: { connection: bob, code: 4000, reason: bye, expectCode: 4000, within: 1s }',
        '    - expectClose: { connection: chat, code: 4001, reason: kicked, within: 3s }',
        '    - name: last one',
        '      close: chat',
      ),
    );
    const steps = file.scenarios[0].steps;
    const kinds = steps.map((s) => s.kind);
    assert.deepEqual(kinds, ['connect', 'send', 'connect', 'send', 'send', 'send', 'send', 'send', 'send', 'expect', 'expect', 'expect', 'expect', 'expect', 'expect', 'capture', 'capture', 'wait', 'wait', 'repeat', 'repeat', 'close', 'expectClose', 'close']);
    const at = <K extends Step['kind']>(i: number) => steps[i] as Extract<Step, { kind: K }>;
    assert.deepEqual(
      { ...at<'connect'>(2), range: undefined },
      { kind: 'connect', connection: 'bob', endpoint: 'chat', headers: { 'X-A': 'b' }, subprotocols: ['chat.v1'], status: 101, subprotocol: 'chat.v1', withinMs: 2000, range: undefined },
    );
    assert.equal(at<'send'>(1).body.kind, 'ref');
    assert.equal(at<'send'>(1).connection, 'chat', 'the only connection open then');
    assert.deepEqual(steps.slice(3, 9).map((s) => (s as Extract<Step, { kind: 'send' }>).body.kind), ['text', 'json', 'hex', 'base64', 'file', 'ref']);
    const e = at<'expect'>(9);
    assert.deepEqual(e.matchers[0].json?.map((j) => [j.path, j.segments, j.value]), [['type', ['type'], 'said'], ['$.items[0].id', ['items', 0, 'id'], 7]]);
    assert.deepEqual([e.withinMs, e.allowOthers, e.ordered, e.captures.map((c) => [c.as, c.path])], [500, true, true, [['sid', ['id']]]]);
    assert.deepEqual(at<'expect'>(10).matchers[0].regex, { source: '^he(llo)$', flags: 'i' });
    assert.deepEqual(at<'expect'>(10).matchers[0].length, { min: 1, max: 9 });
    assert.deepEqual(at<'expect'>(11).matchers[0].schema, { inline: { type: 'object' } });
    assert.deepEqual(at<'expect'>(12).matchers[0], { range: at<'expect'>(12).matchers[0].range, schema: { file: 's.json' }, length: { min: 3, max: 3 } });
    assert.equal(at<'expect'>(13).matchers.length, 2);
    assert.equal(at<'expect'>(13).ordered, false);
    assert.deepEqual(at<'capture'>(16).captures[0].regex, { source: 'n=(\\d+)', flags: '' });
    assert.deepEqual([at<'wait'>(17).ms, at<'wait'>(18).ms], [250, 1500]);
    assert.equal(at<'repeat'>(19).times, 2);
    assert.deepEqual([at<'repeat'>(20).over, at<'repeat'>(20).as, at<'repeat'>(20).index], [['a', 'b'], 'letter', 'i']);
    assert.deepEqual({ ...at<'close'>(21), range: undefined }, { kind: 'close', connection: 'bob', code: 4000, reason: 'bye', expectCode: 4000, withinMs: 1000, range: undefined });
    assert.deepEqual({ ...at<'expectClose'>(22), range: undefined }, { kind: 'expectClose', connection: 'chat', code: 4001, reason: 'kicked', withinMs: 3000, range: undefined });
    assert.equal(at<'close'>(23).name, 'last one');
    // Lines are 1-based: the first step is on line 7, the last one's item starts on line 30.
    assert.equal(steps[0].range.line, 7);
    assert.equal(steps[23].range.line, 30);
  });

  test('endpoints, variables, env files, mock and scenario options', () => {
    const file = clean(
      yaml(
        'version: 1',
        'envFiles: [.env, .env.local]',
        'variables: { room: lobby, list: [1, 2], url: "ws://h/${room}" }',
        'endpoints:',
        '  a: { url: "${url}", headers: { Authorization: "Bearer ${secret:TOKEN}" }, subprotocols: x, tls: { caFile: ca.pem, rejectUnauthorized: false, servername: h }, reconnect: { initialDelay: 1s, maxAttempts: 3 }, handshakeTimeout: 2s }',
        'mock:',
        '  port: 0',
        '  relay: broadcastOthers',
        '  onConnect: hello ${client}',
        '  rules:',
        '    - { match: { json: { type: ping } }, reply: { json: { type: pong, id: "${$.id}" } }, delay: 10 }',
        '    - { match: { regex: ^bye }, close: { code: 4000, reason: bye }, broadcast: left }',
        '  tickers: [ { every: 1s, send: { text: "tick ${tick}" } } ]',
        'scenarios:',
        '  with mock: { mock: true, timeout: 3s, steps: [ { connect: { connection: c, url: "${mock.url}" } }, { expect: { text: "t ${env:HOME_X}" } } ] }',
        '  list form:',
        '    - connect: a',
      ),
    );
    assert.deepEqual(file.envFiles, ['.env', '.env.local']);
    assert.deepEqual([...file.variables.keys()], ['room', 'list', 'url']);
    const a = file.endpoints.get('a')!;
    assert.deepEqual([a.caFile, a.rejectUnauthorized, a.servername, a.reconnect, a.handshakeTimeoutMs, a.subprotocols], ['ca.pem', false, 'h', { enabled: true, initialDelayMs: 1000, maxAttempts: 3 }, 2000, ['x']]);
    assert.deepEqual(file.secretRefs.map((r) => [r.name, r.range.line]), [['TOKEN', 5]]);
    assert.deepEqual(file.envRefs.map((r) => [r.name, r.range.line]), [['HOME_X', 15]]);
    const m = file.mock!;
    assert.deepEqual([m.port, m.relay, m.onConnect.length, m.rules.length, m.tickers[0].everyMs], [0, 'broadcastOthers', 1, 2, 1000]);
    assert.deepEqual(m.rules[1].close, { code: 4000, reason: 'bye' });
    assert.deepEqual([file.scenarios[0].mock, file.scenarios[0].timeoutMs, file.scenarios[1].steps.length], [true, 3000, 1]);
  });

  test('the same file in JSON, with lines of its own', () => {
    const text = ['{', '  "endpoints": { "e": "ws://127.0.0.1:1" },', '  "scenarios": {', '    "s": [', '      { "connect": "e" },', '      { "sendd": { "text": "x" } }', '    ]', '  }', '}'].join('\n');
    const d = only(text, 'WSX_UNKNOWN_STEP');
    assert.deepEqual([d.line, d.column], [6, 9]);
  });
});

describe('parseScenarioFile: every error at its line, saying what is expected', () => {
  const cases: Array<{ name: string; text: string; code: DiagnosticCode; line: number; column?: number; says: RegExp }> = [
    { name: 'bad YAML', text: yaml(...HEAD, '    - send: { text: "x" ', '    - wait: 1'), code: 'WSX_YAML', line: 8, says: /invalid YAML/ },
    { name: 'an empty file', text: '# nothing\n', code: 'WSX_EMPTY', line: 1, says: /expected endpoints, messages and scenarios/ },
    { name: 'a duplicate key', text: yaml(...HEAD, '    - connect: chat', 'scenarios: {}'), code: 'WSX_DUPLICATE', line: 8, says: /once/ },
    { name: 'an unknown top-level key', text: yaml('endpoint: {}'), code: 'WSX_UNKNOWN_KEY', line: 1, column: 1, says: /expected one of .*"endpoints".*did you mean "endpoints"/ },
    { name: 'an unknown step', text: yaml(...HEAD, '    - connect: chat', '    - sned: hello'), code: 'WSX_UNKNOWN_STEP', line: 8, column: 7, says: /unknown step "sned": expected one of "connect", "send".*did you mean "send"/ },
    { name: 'an unknown key in a step', text: yaml(...HEAD, '    - connect: chat', '    - send: { text: a, tex: b }'), code: 'WSX_UNKNOWN_KEY', line: 8, column: 24, says: /unknown key "tex" in a send step: expected one of "connection", "text"/ },
    { name: 'a missing variable', text: yaml(...HEAD, '    - connect: chat', '    - send: { text: "id=${sid}" }'), code: 'WSX_MISSING_VARIABLE', line: 8, column: 25, says: /variable "sid" is not defined here: define it under variables, capture it in an earlier step/ },
    { name: 'a capture used before the step that makes it', text: yaml(...HEAD, '    - connect: chat', '    - send: { text: "${sid}" }', '    - expect: { text: a, capture: { sid: $.id } }'), code: 'WSX_MISSING_VARIABLE', line: 8, says: /"sid"/ },
    { name: 'a message path outside a mock', text: yaml(...HEAD, '    - connect: chat', '    - send: { text: "${$.id}" }'), code: 'WSX_MISSING_VARIABLE', line: 8, says: /only allowed in a mock's reply/ },
    { name: 'mock.url without mock: true', text: yaml(...HEAD, '    - connect: { connection: c, url: "${mock.url}" }'), code: 'WSX_MISSING_VARIABLE', line: 7, says: /"mock.url"/ },
    { name: 'an unclosed ${', text: yaml(...HEAD, '    - connect: chat', '    - send: { text: "${oops" }'), code: 'WSX_MISSING_VARIABLE', line: 8, says: /without its closing/ },
    { name: 'a wrong type', text: yaml(...HEAD, '    - connect: chat', '    - send: { text: [1] }'), code: 'WSX_TYPE', line: 8, says: /text must be a string; got a list/ },
    { name: 'a step that is a string', text: yaml(...HEAD, '    - send'), code: 'WSX_TYPE', line: 7, says: /a step is a mapping/ },
    { name: 'a status out of range', text: yaml(...HEAD, '    - connect: { endpoint: chat, status: 99 }'), code: 'WSX_TYPE', line: 7, says: /status must be an integer from 100 to 599/ },
    { name: 'a missing required key', text: yaml(...HEAD, '    - connect: chat', '    - capture: { from: $.id }'), code: 'WSX_REQUIRED', line: 8, says: /a capture step needs "as"/ },
    { name: 'nothing to send', text: yaml(...HEAD, '    - connect: chat', '    - send: { connection: chat }'), code: 'WSX_REQUIRED', line: 8, says: /needs what to send: one of "text", "json"/ },
    { name: 'an ambiguous connection', text: yaml(...HEAD, '    - connect: chat', '    - connect: { connection: b, endpoint: chat }', '    - send: hello'), code: 'WSX_REQUIRED', line: 9, says: /which connection\? add connection: one of "chat", "b"/ },
    { name: 'two bodies', text: yaml(...HEAD, '    - connect: chat', '    - send: { text: a, json: {} }'), code: 'WSX_CONFLICT', line: 8, says: /got both "text" and "json"/ },
    { name: 'two steps in one item', text: yaml(...HEAD, '    - connect: chat', '      wait: 1'), code: 'WSX_CONFLICT', line: 8, says: /one step per list item/ },
    { name: 'variables in a circle', text: yaml('variables:', '  a: "${b}"', '  b: "${a}"'), code: 'WSX_VARIABLE_CYCLE', line: 2, says: /a → b → a/ },
    { name: 'an unknown endpoint', text: yaml(...HEAD, '    - connect: chta'), code: 'WSX_UNKNOWN_ENDPOINT', line: 7, column: 16, says: /no endpoint named "chta" under endpoints: expected "chat" \(did you mean "chat"\?\)/ },
    { name: 'an unknown message', text: yaml(...HEAD, '    - connect: chat', '    - send: helo'), code: 'WSX_UNKNOWN_MESSAGE', line: 8, says: /no message named "helo" under messages: expected "hello".*write \{ text: helo \}/ },
    { name: 'a connection not opened', text: yaml(...HEAD, '    - connect: chat', '    - send: { connection: bob, text: a }'), code: 'WSX_UNKNOWN_CONNECTION', line: 8, says: /no connection "bob" is opened before this step/ },
    { name: 'a step before any connect', text: yaml(...HEAD, '    - send: hello'), code: 'WSX_UNKNOWN_CONNECTION', line: 7, says: /add a connect step first/ },
    { name: 'a bad regex', text: yaml(...HEAD, '    - connect: chat', '    - expect: { regex: "([" }'), code: 'WSX_BAD_REGEX', line: 8, says: /not a valid regular expression/ },
    { name: 'a bad JSON path', text: yaml(...HEAD, '    - connect: chat', '    - expect: { json: { "$.a[x]": 1 } }'), code: 'WSX_BAD_JSON_PATH', line: 8, says: /expected \[index\] or \['key'\]/ },
    { name: 'a bad JSON Schema', text: yaml(...HEAD, '    - connect: chat', '    - expect: { schema: { type: 12 } }'), code: 'WSX_BAD_SCHEMA', line: 8, says: /not a valid JSON Schema/ },
    { name: 'bad hex', text: yaml(...HEAD, '    - connect: chat', '    - send: { hex: "0g" }'), code: 'WSX_BAD_HEX', line: 8, says: /pairs of hex digits/ },
    { name: 'bad base64', text: yaml(...HEAD, '    - connect: chat', '    - send: { base64: "a*b" }'), code: 'WSX_BAD_BASE64', line: 8, says: /base64 text/ },
    { name: 'a bad duration', text: yaml(...HEAD, '    - connect: chat', '    - wait: soon'), code: 'WSX_BAD_DURATION', line: 8, column: 13, says: /"500ms", "2s", "1m"; got "soon"/ },
    { name: 'a URL that is not ws', text: yaml('endpoints:', '  e: http://x'), code: 'WSX_BAD_URL', line: 2, column: 6, says: /starts with ws:\/\/, wss:\/\/ or ws\+unix:\/\// },
    { name: 'a close code that cannot be sent', text: yaml(...HEAD, '    - connect: chat', '    - close: 1006'), code: 'WSX_BAD_CLOSE_CODE', line: 8, says: /cannot be sent in a close frame/ },
    { name: 'mock: true without a mock', text: yaml('scenarios:', '  s: { mock: true, steps: [ { wait: 1 } ] }'), code: 'WSX_NO_MOCK', line: 2, says: /no "mock" section/ },
    { name: 'a mock rule that does nothing', text: yaml('mock:', '  rules:', '    - match: { text: a }'), code: 'WSX_REQUIRED', line: 3, says: /"reply", "broadcast" or "close"/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const d = only(c.text, c.code);
      assert.equal(d.line, c.line, `line of ${d.code} ${d.message}`);
      if (c.column !== undefined) assert.equal(d.column, c.column, `column of ${d.code} ${d.message}`);
      assert.match(d.message, c.says);
      assert.equal(d.severity, 'error');
      assert.ok(d.length >= 1 && d.offset >= 0 && d.endLine >= d.line);
    });
  }

  test('an environment variable that is not set is a warning at its line', () => {
    const { file } = parseScenarioFile(yaml('endpoints:', '  e: "ws://h/?t=${env:WSX_TEST_TOKEN}"'));
    const [d] = missingEnvDiagnostics(file, {});
    assert.deepEqual([d.code, d.severity, d.line, d.column], ['WSX_ENV_MISSING', 'warning', 2, 17]);
    assert.deepEqual(missingEnvDiagnostics(file, { WSX_TEST_TOKEN: 'x' }), []);
  });

  test('one file reports all its problems, in the order of the text', () => {
    const ds = parseScenarioFile(yaml(...HEAD, '    - connect: nope', '    - sned: hi', '    - wait: later')).diagnostics;
    assert.deepEqual(ds.map((d) => [d.line, d.code]), [[7, 'WSX_UNKNOWN_ENDPOINT'], [8, 'WSX_UNKNOWN_STEP'], [9, 'WSX_BAD_DURATION']]);
  });
});
