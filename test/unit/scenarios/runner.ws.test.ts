// The runner against an independent peer: a chat server on plain ws (test/support/wsChatServer.ts), on loopback.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventStore } from '../../../src/core/capture/eventStore';
import type { ConnectionEvent } from '../../../src/core/capture/events';
import { SECRET_MASK, SecretMasker, type StepInfo } from '../../../src/core/scenarios';
import { startWsChatServer, type WsChatServer } from '../../support/wsChatServer';
import { waitFor } from '../../support/waitFor';
import { assertPassed, run, summary, yaml } from './helpers';

let chat: WsChatServer;
before(async () => {
  chat = await startWsChatServer();
});
after(() => chat.stop());

const head = () => ['endpoints:', `  chat: ${chat.url}/room`, 'scenarios:'];

describe('scenario runner against a ws server', () => {
  test('a two-connection chat: alice speaks, bob hears her, with her captured id', async () => {
    const [r] = await run(
      yaml(
        ...head(),
        '  chat:',
        '    - connect: { connection: alice, endpoint: chat }',
        '    - expect: { connection: alice, json: { type: welcome }, capture: { aliceId: $.id } }',
        '    - connect: { connection: bob, endpoint: chat }',
        '    - expect: { connection: bob, json: { type: welcome } }',
        '    - send: { connection: alice, json: { type: say, text: hello bob } }',
        '    - expect: { connection: bob, json: { type: said, from: "${aliceId}", text: hello bob } }',
        '    - send: { connection: bob, json: { type: say, text: "hi ${aliceId}" } }',
        '    - expect: { connection: alice, json: { $.text: "hi ${aliceId}" } }',
        '    - close: { connection: alice, expectCode: 1000 }',
        '    - close: { connection: bob, code: 4000, reason: bye, expectCode: 4000 }',
      ),
    );
    assertPassed([r]);
    assert.equal(r.steps.length, 10);
    assert.deepEqual(Object.keys(r.connections), ['alice', 'bob']);
  });

  test('a capture is reused in a later step, and a capture step reads the last matched message', async () => {
    const [r] = await run(
      yaml(
        ...head(),
        '  whoami:',
        '    - connect: chat',
        '    - expect: { json: { type: welcome } }',
        '    - capture: { as: fromWelcome, from: $.id }',
        '    - send: { json: { type: whoami } }',
        '    - expect: { json: { type: you, id: "${fromWelcome}" }, capture: { me: $.id } }',
        '    - capture: { as: digits, regex: "user-(\\\\d+)" }',
        '    - send: { text: "echo:${me}/${digits}" }',
        '    - expect: { regex: "^user-${digits}/\\\\d+$" }',
      ),
    );
    assertPassed([r]);
  });

  test('an expectation that times out says what it waited for, and what came instead', async () => {
    const [r] = await run(yaml(...head(), '  slow:', '    - connect: chat', '    - expect: { json: { type: welcome } }', '    - expect: { json: { type: never }, within: 200 }'));
    assert.equal(r.status, 'failed', summary(r));
    const s = r.failedStep!;
    assert.equal(s.range.line, 7, 'the expect step');
    assert.equal(s.label, '3 expect on chat');
    assert.equal(s.message, 'timed out after 200 ms waiting on "chat" for the expected message: nothing else came');
    assert.equal(s.expected, '{\n  "type": "never"\n}');
    assert.equal(s.actual, '(nothing received)');
    assert.ok(s.durationMs >= 190 && s.durationMs < 2000, String(s.durationMs));
  });

  test('other messages fail an expect at once unless allowOthers; skipped ones are shown on a time-out', async () => {
    const [strict, lenient] = await run(
      yaml(
        ...head(),
        '  strict:',
        '    - connect: chat',
        '    - expect: { json: { type: you } }',
        '  lenient:',
        '    - connect: chat',
        '    - expect: { json: { type: you }, allowOthers: true, within: 300 }',
      ),
    );
    assert.equal(strict.status, 'failed');
    assert.match(strict.message!, /^the next message on "chat" is not the expected one: \$\.type is "welcome", expected "you" \(set allowOthers: true/);
    assert.equal(strict.failedStep!.expected, '{\n  "type": "you"\n}');
    assert.equal(strict.failedStep!.actual, '{\n  "type": "welcome"\n}');
    assert.ok(strict.failedStep!.durationMs < 1000);
    assert.match(lenient.message!, /timed out after 300 ms .*: 1 other message came and was skipped/);
    assert.match(lenient.failedStep!.actual!, /"type": "welcome"/);
  });

  test('a JSON Schema mismatch is reported as expected and actual', async () => {
    const [r] = await run(
      yaml(...head(), '  schema:', '    - connect: chat', '    - expect: { schema: { type: object, required: [type, id, room], properties: { id: { type: integer } } } }'),
    );
    assert.equal(r.status, 'failed');
    const s = r.failedStep!;
    assert.match(s.message!, /does not match the JSON Schema: \/id: type: must be integer; \/room: required: must be present/);
    assert.equal(s.expected, '/id: type: must be integer\n/room: required: must be present');
    assert.match(s.actual!, /^\/id: "user-\d+"\n\/room: <missing>$/);
  });

  test('close codes: the peer closing with a code, and the code it answers a close with', async () => {
    const [ok, wrong] = await run(
      yaml(
        ...head(),
        '  kicked:',
        '    - connect: chat',
        '    - send: { json: { type: kick, code: 4001, reason: out } }',
        '    - expectClose: { code: 4001, reason: out }',
        '  wrong code:',
        '    - connect: chat',
        '    - send: { json: { type: kick, code: 4001 } }',
        '    - expectClose: 4002',
      ),
    );
    assertPassed([ok]);
    assert.equal(wrong.status, 'failed');
    assert.equal(wrong.message, 'the peer closed with 4001, expected 4002');
    assert.deepEqual([wrong.failedStep!.expected, wrong.failedStep!.actual], ['close code: 4002', 'close code: 4001']);
  });

  test('connect: expected status (a refused upgrade), headers, subprotocol', async () => {
    const results = await run(
      yaml(
        'endpoints:',
        `  private: ${chat.url}/private`,
        `  chat: { url: "${chat.url}/room", subprotocols: [chat.v1, other] }`,
        'scenarios:',
        '  refused as expected: [ { connect: { endpoint: private, status: 401 } } ]',
        '  refused: [ { connect: private } ]',
        '  with a token: [ { connect: { endpoint: private, headers: { Authorization: Bearer good } } } ]',
        '  subprotocol: [ { connect: { endpoint: chat, subprotocol: chat.v1 } } ]',
        '  wrong subprotocol: [ { connect: { endpoint: chat, subprotocol: other } } ]',
      ),
    );
    const [expected401, refused, token, sub, wrongSub] = results;
    assertPassed([expected401, token, sub]);
    assert.match(refused.message!, /cannot connect to .*\/private: Server rejected the upgrade: 401 Unauthorized/);
    assert.deepEqual([refused.failedStep!.expected, refused.failedStep!.actual!.split('\n')[0]], ['status: 101', 'status: 401']);
    assert.equal(wrongSub.message, 'the server chose subprotocol "chat.v1" where "other" was expected');
  });

  test('every frame goes to the capture sink, under labels naming the scenario, the step and the connection', async () => {
    const store = new EventStore();
    try {
      const [r] = await run(yaml(...head(), '  labelled:', '    - connect: { connection: ann, endpoint: chat }', '    - expect: { json: { type: welcome } }', '    - send: { text: "echo:x" }', '    - expect: { text: x }'), { capture: store });
      assertPassed([r]);
      const events = store.query({ limit: 1000 }).events;
      const opened = events.find((e): e is ConnectionEvent => e.kind === 'connection' && e.state === 'open')!;
      assert.deepEqual([opened.meta?.scenario, opened.meta?.step, opened.meta?.name], ['labelled', '1 connect ann to chat', 'ann']);
      assert.equal(opened.connectionId, r.connections.ann[0]);
      const messages = events.filter((e) => e.kind === 'message').map((e) => (e.kind === 'message' ? `${e.direction} ${e.data.toString()}` : ''));
      assert.deepEqual(messages.slice(1), ['c2s echo:x', 's2c x']);
      const send = r.steps[2];
      assert.ok(send.events && send.events.firstId <= send.events.lastId);
      const inSend = events.filter((e) => e.id >= send.events!.firstId && e.id <= send.events!.lastId);
      assert.ok(inSend.some((e) => e.kind === 'message' && e.direction === 'c2s'), 'the send step names its frame');
      await waitFor('the closed event', () => store.query({ limit: 1000 }).events.some((e) => e.kind === 'connection' && e.state === 'closed'));
    } finally {
      store.dispose();
    }
  });

  test('the debug hook pauses before each step, with the variables of the moment', async () => {
    const seen: string[] = [];
    let release: () => void = () => {};
    let vars: Record<string, string> = {};
    const paused = new Promise<StepInfo>((resolvePaused) => {
      const done = run(
        yaml(...head(), '  debugged:', '    - connect: chat', '    - expect: { json: { type: welcome }, capture: { me: $.id } }', '    - send: { json: { type: whoami } }', '    - expect: { json: { id: "${me}" } }'),
        {
          beforeStep: (step, variables) => {
            seen.push(step.label);
            if (step.kind !== 'send') return;
            vars = variables();
            resolvePaused(step);
            return new Promise<void>((r) => (release = r));
          },
        },
      );
      void done.then((results) => seen.push(`done ${results[0].status}`));
    });
    const step = await paused;
    assert.equal(step.range.line, 7);
    assert.deepEqual(seen, ['1 connect chat', '2 expect on chat', '3 send json on chat']);
    assert.match(vars.me, /^user-\d+$/);
    release();
    await waitFor('the run to end', () => seen.at(-1)?.startsWith('done'));
    assert.deepEqual(seen.slice(3), ['4 expect on chat', 'done passed']);
  });

  test('a secret is used on the wire and masked in every result and label', async () => {
    const store = new EventStore();
    const masker = new SecretMasker();
    try {
      const [r] = await run(
        yaml('endpoints:', `  chat: { url: "${chat.url}/room?key=\${secret:KEY}" }`, 'scenarios:', '  s:', '    - connect: chat', '    - send: { text: "echo:${secret:KEY}" }', '    - expect: { text: nope, allowOthers: true, within: 200 }'),
        { secrets: (name) => (name === 'KEY' ? 'hunter2-very-secret' : undefined), capture: store, masker },
      );
      assert.equal(r.status, 'failed');
      assert.ok(!JSON.stringify(r).includes('hunter2'), JSON.stringify(r));
      assert.ok(r.failedStep!.actual!.includes(SECRET_MASK));
      const events = store.query({ limit: 100 }).events;
      const heads = events.filter((e) => e.kind === 'connection' || e.kind === 'handshake');
      assert.ok(heads.length >= 2 && heads.every((e) => !JSON.stringify(e).includes('hunter2')), 'URLs, labels and the upgrade request are masked in the store');
      const sent = events.find((e) => e.kind === 'message' && e.direction === 'c2s');
      assert.equal(sent?.kind === 'message' && sent.data.toString(), 'echo:hunter2-very-secret', 'the payload is what went on the wire');
      assert.equal(masker.size, 1, "the host's masker got the secret, for its exports");
      assert.equal(masker.text('x hunter2-very-secret'), `x ${SECRET_MASK}`);
    } finally {
      store.dispose();
    }
  });

  test('a cancelled run stops at the current step and closes its connections', async () => {
    const ac = new AbortController();
    const done = run(yaml(...head(), '  long:', '    - connect: chat', '    - wait: 10s', '    - send: { text: never }'), { signal: ac.signal });
    await waitFor('the client to connect', () => chat.clients() > 0);
    ac.abort();
    const [r] = await done;
    assert.equal(r.status, 'cancelled');
    assert.ok(r.durationMs < 5000);
    await waitFor('the server to see it leave', () => chat.clients() === 0);
  });
});
