// Record as scenario: a conversation captured on a client connection, written as a scenario, run again against the
// same server, passes; its volatile ids became captures and its credentials secret references.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventStore } from '../../../src/core/capture/eventStore';
import { connect, type ClientConnection } from '../../../src/core/client/clientConnection';
import { parseScenarioFile, recordScenario } from '../../../src/core/scenarios';
import { startWsChatServer, type WsChatServer } from '../../support/wsChatServer';
import { waitFor } from '../../support/waitFor';
import { assertPassed, run } from './helpers';

let chat: WsChatServer;
before(async () => {
  chat = await startWsChatServer();
});
after(() => chat.stop());

/** Holds a conversation on a captured client connection, the way a user would in the inspector. */
async function converse(store: EventStore, headers: Record<string, string> = {}): Promise<string> {
  const c: ClientConnection = connect(`${chat.url}/room`, { capture: store, headers });
  const got: string[] = [];
  c.onDidReceive((m) => got.push(m.data.toString()));
  try {
    await waitFor('the welcome', () => got.length === 1);
    const id = JSON.parse(got[0]).id as string;
    c.send(JSON.stringify({ type: 'whoami' }));
    await waitFor('the answer', () => got.length === 2);
    c.send(`echo:${id}`);
    await waitFor('the echo', () => got.length === 3);
    c.send(Buffer.from([1, 2, 3]));
    await waitFor('the binary echo', () => got.length === 4);
    c.send(JSON.stringify({ type: 'kick', code: 4001, reason: 'done' }));
    await waitFor('the close', () => c.state === 'closed');
    return id;
  } finally {
    c.dispose();
  }
}

test('a recorded conversation, run against the same server, passes', async () => {
  const store = new EventStore();
  try {
    const id = await converse(store);
    await waitFor('the closed event', () => store.query({ limit: 1000 }).events.some((e) => e.kind === 'connection' && e.state === 'closed'));
    const { text, secrets } = recordScenario({ events: store.query({ limit: 1000 }).events, name: 'replayed' });
    assert.deepEqual(secrets, []);
    assert.ok(!text.includes(id), `the volatile id ${id} is not written:\n${text}`);
    assert.match(text, /capture:\n\s+id: \$\.id/);
    assert.match(text, /send:\n\s+text: echo:\$\{id\}/);
    assert.match(text, /expectClose:\n\s+code: 4001/);
    assert.deepEqual(parseScenarioFile(text).diagnostics, []);
    const results = await run(text);
    assertPassed(results);
    assert.deepEqual(results[0].steps.map((s) => s.kind), ['connect', 'expect', 'send', 'expect', 'send', 'expect', 'send', 'expect', 'send', 'expectClose']);
  } finally {
    store.dispose();
  }
});

test('credentials of the upgrade request become secret references', async () => {
  const store = new EventStore();
  try {
    await converse(store, { Authorization: 'Bearer s3cr3t-token-value', 'X-Team': 'blue' });
    const { text, secrets } = recordScenario({ events: store.query({ limit: 1000 }).events });
    assert.deepEqual(secrets, ['authorization']);
    assert.ok(!text.includes('s3cr3t'), text);
    assert.match(text, /Authorization: Bearer \$\{secret:authorization\}/);
    assert.match(text, /X-Team: blue/);
    const results = await run(text, { secrets: () => 'anything' });
    assertPassed(results);
  } finally {
    store.dispose();
  }
});
