import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { parseScenarioFile } from '../../../src/core/scenarios';

// The tests run from the repository's root (scripts/test-unit.mjs).
const SCHEMA = join(process.cwd(), 'schemas', 'wsx.schema.json');
const EXAMPLES = join(process.cwd(), 'schemas', 'examples');

const ajv = new Ajv({ allErrors: true, strict: false });
const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')));

function schemaErrors(doc: unknown): string[] {
  return validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

describe('schemas/wsx.schema.json', () => {
  const examples = readdirSync(EXAMPLES).filter((f) => /\.wsx\.(ya?ml|json)$/.test(f));

  test('there are examples, in YAML and in JSON', () => {
    assert.ok(examples.some((f) => f.endsWith('.yaml')) && examples.some((f) => f.endsWith('.json')), examples.join(', '));
  });

  for (const f of examples) {
    test(`the example ${f} validates against the schema and parses without a problem`, () => {
      const text = readFileSync(join(EXAMPLES, f), 'utf8');
      assert.deepEqual(schemaErrors(parse(text)), []);
      assert.deepEqual(parseScenarioFile(text).diagnostics.map((d) => `${d.line}: ${d.message}`), []);
    });
  }

  test('every step form the parser takes, the schema takes too', () => {
    const text = [
      'endpoints: { chat: "ws://127.0.0.1:1", other: { url: "${mock.url}", tls: { caFile: ca.pem }, reconnect: true } }',
      'messages: { hello: { json: { type: hello } }, plain: hi, pic: { file: p.bin, binary: true } }',
      'mock: { relay: echo, onConnect: [hi, { message: hello }], rules: [ { match: { text: a }, reply: b, close: 4000, delay: 1s } ], tickers: [ { every: 100, send: { json: {} } } ] }',
      'scenarios:',
      '  s:',
      '    - connect: chat',
      '    - connect: { connection: b, url: "ws://127.0.0.1:1", status: 401, subprotocol: null }',
      '    - send: { connection: b, text: 42 }',
      '    - send: { connection: b, message: hello }',
      '    - expect: { connection: b, messages: [hello, { regex: x }], ordered: false, capture: { id: $.id, n: { regex: "n(\\\\d)" } } }',
      '    - expect: { connection: b, opcode: 2, length: { max: 9 } }',
      '    - capture: { connection: b, as: x, regex: "(.)" }',
      '    - wait: 10ms',
      '    - repeat: { over: "${items}", steps: [] }',
      '    - close: 4000',
      '    - expectClose:',
      '    - { name: n, close: { connection: chat, expectCode: 1000 } }',
    ].join('\n');
    assert.deepEqual(schemaErrors(parse(text)), []);
  });

  const rejected: Array<[string, unknown]> = [
    ['an unknown step', { scenarios: { s: [{ sned: 'x' }] } }],
    ['an unknown top-level key', { endpoint: {} }],
    ['two bodies in a send', { scenarios: { s: [{ send: { text: 'a', json: {} } }] } }],
    ['two step kinds in one item', { scenarios: { s: [{ send: 'a', wait: 1 }] } }],
    ['a wait that is not a duration', { scenarios: { s: [{ wait: 'soon' }] } }],
    ['an expect that tests nothing', { scenarios: { s: [{ expect: { within: 100 } }] } }],
    ['a capture step without as', { scenarios: { s: [{ capture: { from: '$.id' } }] } }],
    ['a repeat with neither times nor over', { scenarios: { s: [{ repeat: { steps: [] } }] } }],
    ['an endpoint URL that is not ws', { endpoints: { e: 'http://x' } }],
    ['a mock rule that does nothing', { mock: { rules: [{ match: { text: 'a' } }] } }],
    ['an unknown relay', { mock: { relay: 'all' } }],
  ];
  for (const [name, doc] of rejected) {
    test(`the schema rejects ${name}, as the parser does`, () => {
      assert.notDeepEqual(schemaErrors(doc), []);
      const errors = parseScenarioFile(JSON.stringify(doc)).diagnostics.filter((d) => d.severity === 'error');
      assert.ok(errors.length > 0, 'the parser reports it too');
    });
  }
});
