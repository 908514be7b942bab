import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { DisconnectEvent } from '../../../src/core/server/serverEvents';
import { ClosedConnections, clientsText, closeNote } from '../../../src/extension/closedConnections';

const closeOf = (id: string, code: number, reason: string, clean: boolean): DisconnectEvent =>
  ({
    client: { id, remoteAddress: '127.0.0.1', remotePort: 50123, userAgent: 'ua', origin: '', subprotocol: '', connectedAt: 1, messagesIn: 2, messagesOut: 3, bytesIn: 4, bytesOut: 5 },
    code,
    reason,
    clean,
  }) as DisconnectEvent;

describe('closed connections', () => {
  test('a closed client keeps its address as its label, with its close code and reason', () => {
    const closed = new ClosedConnections();
    closed.clientClosed(closeOf('c2', 1000, 'bye', true), 'server', undefined, 40);
    const [row] = closed.list(1);
    assert.equal(row.label, '127.0.0.1:50123');
    assert.equal(row.state, 'closed');
    assert.equal(row.note, 'closed 1000 bye');
    assert.equal(row.messagesOut, 3);
    assert.equal(closed.get('c2')?.label, '127.0.0.1:50123');
    assert.equal(closeNote(1006, '', false), 'closed 1006 (abrupt)');
  });

  test('kept until the capture evicts its events or the user clears them', () => {
    const closed = new ClosedConnections();
    closed.clientClosed(closeOf('c1', 1000, '', true), 'server', undefined, 10);
    closed.clientClosed(closeOf('c2', 1001, '', true), 'server', undefined, 50);
    assert.deepEqual(closed.list(5).map((r) => r.id), ['c1', 'c2']);
    assert.deepEqual(closed.list(11).map((r) => r.id), ['c2']);
    assert.equal(closed.clear(), 1);
    assert.deepEqual(closed.list(0), []);
  });

  test('"1 client", "2 clients": the count agrees with its noun', () => {
    assert.equal(clientsText(1), '1 client');
    assert.equal(clientsText(0), '0 clients');
    assert.equal(clientsText(2), '2 clients');
  });
});
