import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { ConnectionRow, ModelSnapshot } from '../../../src/shared/protocol';
import { emptyStateText, shownModel } from '../../../webview/emptyState';

const server = { id: 'server', url: 'ws://127.0.0.1:8080', host: '127.0.0.1', port: 8080, relay: 'broadcast', clientCount: 0 };
const client = (state: ConnectionRow['state']): ConnectionRow => ({
  id: 'c1', kind: 'serverClient', serverId: 'server', label: '127.0.0.1:50000', state, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0,
});

describe('empty state', () => {
  test('nothing running: says so and what to start', () => {
    const t = emptyStateText({ servers: [], connections: [] }, false);
    assert.match(t, /^No frames yet\. Nothing is running: start the broadcast server/);
    assert.match(t, /Connect to Endpoint/);
  });

  test('the server runs: never "start the server"; says where to connect', () => {
    const m: ModelSnapshot = { servers: [server], connections: [] };
    const t = emptyStateText(m, false);
    assert.doesNotMatch(t, /start the/i);
    assert.equal(t, 'No frames yet. The server at ws://127.0.0.1:8080 is running with no clients. Connect a client to ws://127.0.0.1:8080.');
  });

  test('after Clear, with a client: says the view was cleared and the client is there', () => {
    const t = emptyStateText({ servers: [server], connections: [client('open')] }, true);
    assert.match(t, /^View cleared: no new frames yet\. The server at ws:\/\/127\.0\.0\.1:8080 is running with 1 client\./);
    assert.doesNotMatch(t, /start the/i);
  });

  test('a closed client is not counted as connected', () => {
    assert.match(emptyStateText({ servers: [server], connections: [client('closed')] }, false), /with no clients/);
  });

  test('a closed connection stays listed until a Clear passes its close', () => {
    const closed = { ...client('closed'), closedAtId: 40 };
    const open = { ...client('open'), id: 'c2' };
    const m: ModelSnapshot = { servers: [server], connections: [closed, open] };
    assert.deepEqual(shownModel(m, 0).connections.map((c) => c.id), ['c1', 'c2']);
    assert.deepEqual(shownModel(m, 39).connections.map((c) => c.id), ['c1', 'c2']);
    assert.deepEqual(shownModel(m, 40).connections.map((c) => c.id), ['c2']);
  });

  test('a filter that hides everything says so', () => {
    assert.match(emptyStateText({ servers: [server], connections: [] }, false, { search: 'x' }), /^No frames match the filters\./);
  });
});
