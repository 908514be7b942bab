// The mock section on the project's own BroadcastServer, run by scenarios (mock: true) and started on its own.
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { BroadcastServer } from '../../../src/core/server/broadcastServer';
import { ScenarioMock, type MockError } from '../../../src/core/scenarios';
import { waitFor } from '../../support/waitFor';
import { assertPassed, parsed, run, summary, yaml } from './helpers';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const MOCK = [
  'mock:',
  '  relay: broadcastOthers',
  '  onConnect: { json: { type: welcome, id: "${client}" } }',
  '  rules:',
  '    - match: { json: { type: ping } }',
  '      reply: { json: { type: pong, n: "${$.n}", text: "pong ${message}" } }',
  '    - match: { regex: ^slow }',
  '      reply: late',
  '      delay: 150ms',
  '    - match: { json: { type: kick } }',
  '      close: { code: 4001, reason: "bye ${client}" }',
  '    - match: { text: shout }',
  '      broadcast: { text: everyone }',
  '    - match: { text: broken }',
  '      reply: { text: "${$.nothing}" }',
  '  tickers:',
  '    - every: 50ms',
  '      send: { json: { type: tick, n: "${tick}" } }',
];

async function rawClient(url: string): Promise<{ ws: WebSocket; got: string[] }> {
  const ws = new WebSocket(url);
  const got: string[] = [];
  ws.on('message', (d) => got.push(d.toString()));
  ws.on('error', () => {});
  cleanups.push(() => ws.terminate());
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return { ws, got };
}

describe('mock servers from the scenario file', () => {
  test('a two-connection chat against the scenario\'s own mock: greeting, relay, replies, ticker, close', async () => {
    const [r] = await run(
      yaml(
        'endpoints: { room: "${mock.url}/room" }',
        ...MOCK,
        'scenarios:',
        '  chat:',
        '    mock: true',
        '    steps:',
        '      - connect: { connection: alice, endpoint: room }',
        '      - expect: { connection: alice, json: { type: welcome }, capture: { aliceId: $.id } }',
        '      - connect: { connection: bob, endpoint: room }',
        '      - expect: { connection: bob, json: { type: welcome } }',
        '      - send: { connection: alice, json: { type: say, from: "${aliceId}" } }',
        '      - expect: { connection: bob, json: { type: say, from: "${aliceId}" }, allowOthers: true }',
        '      - send: { connection: bob, json: { type: ping, n: 5 } }',
        '      - expect: { connection: bob, json: { type: pong, n: 5, text: "pong {\\"type\\":\\"ping\\",\\"n\\":5}" }, allowOthers: true }',
        '      - expect: { connection: alice, json: { type: ping }, allowOthers: true }',
        '      - expect: { connection: alice, json: { type: tick }, allowOthers: true }',
        '      - send: { connection: bob, text: shout }',
        '      - expect: { connection: alice, messages: [ { text: shout }, { text: everyone } ], ordered: false, allowOthers: true }',
        '      - send: { connection: alice, json: { type: kick } }',
        '      - expectClose: { connection: alice, code: 4001, reason: "bye ${aliceId}" }',
      ),
    );
    assertPassed([r]);
  });

  test('a rule with a delay answers after it', async () => {
    const [r] = await run(
      yaml('endpoints: { m: "${mock.url}" }', ...MOCK, 'scenarios:', '  s:', '    mock: true', '    steps:', '      - connect: m', '      - send: { text: slow }', '      - expect: { text: late, allowOthers: true, within: 2s }'),
    );
    assertPassed([r]);
    const send = r.steps[1];
    const expect = r.steps[2];
    assert.ok(expect.durationMs >= 140, `the reply came ${expect.durationMs} ms after the expect started (send took ${send.durationMs})`);
  });

  test('Start Mock Server: the mock drives a running server, then leaves it as it was', async () => {
    const server = new BroadcastServer();
    const address = await server.start({ port: 0, relay: 'echo', heartbeatIntervalMs: 0 });
    cleanups.push(() => server.stop());
    const mock = await ScenarioMock.start(parsed(yaml(...MOCK)), { server });
    cleanups.push(() => mock.stop());
    const errors: MockError[] = [];
    mock.onDidError((e) => errors.push(e));
    assert.equal(server.relayMode, 'broadcastOthers');
    assert.equal(mock.url, `ws://127.0.0.1:${address.port}`);
    const a = await rawClient(address.url);
    await waitFor('the greeting', () => a.got.some((m) => JSON.parse(m).type === 'welcome'));
    a.ws.send(JSON.stringify({ type: 'ping', n: 1 }));
    await waitFor('the pong', () => a.got.find((m) => m.includes('pong')));
    assert.deepEqual(JSON.parse(a.got.find((m) => m.includes('pong'))!), { type: 'pong', n: 1, text: 'pong {"type":"ping","n":1}' });
    a.ws.send('broken');
    await waitFor('the rule error', () => errors.length > 0);
    assert.equal(errors[0].message, '${$.nothing} reads the message being answered, and it is not JSON');
    await waitFor('two ticks', () => a.got.filter((m) => m.includes('tick')).length >= 2);
    await mock.stop();
    assert.equal(server.state, 'running');
    assert.equal(server.relayMode, 'echo');
    const ticks = a.got.filter((m) => m.includes('tick')).length;
    a.ws.send(JSON.stringify({ type: 'ping', n: 2 }));
    await waitFor('the echo', () => a.got.includes(JSON.stringify({ type: 'ping', n: 2 })));
    assert.equal(a.got.filter((m) => m.includes('pong')).length, 1, 'no rule answers after stop()');
    assert.equal(a.got.filter((m) => m.includes('tick')).length, ticks, 'no tick after stop()');
  });

  test('a mock of its own binds to 127.0.0.1 on the file\'s port, and stops', async () => {
    const mock = await ScenarioMock.start(parsed(yaml(...MOCK, '  path: /m')), { serverOptions: { heartbeatIntervalMs: 0 } });
    cleanups.push(() => mock.stop());
    assert.match(mock.url, /^ws:\/\/127\.0\.0\.1:\d+\/m$/);
    const c = await rawClient(mock.url);
    await waitFor('the greeting', () => c.got.length > 0);
    await mock.stop();
    assert.equal(mock.server.state, 'stopped');
  });

  test('a scenario fails clearly when the mock sends nothing that matches', async () => {
    const [r] = await run(yaml('endpoints: { m: "${mock.url}" }', ...MOCK, 'scenarios:', '  s:', '    mock: true', '    steps:', '      - connect: m', '      - expect: { text: nothing, within: 120 }'));
    assert.equal(r.status, 'failed', summary(r));
    assert.match(r.message!, /^the next message on "m" is not the expected one: the text differs/);
    assert.match(r.failedStep!.actual!, /"type": "welcome"/);
  });
});
