import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { emptyForm } from '../../../src/shared/connectFormProtocol';
import { endpointOfForm, formOfEndpoint } from '../../../src/extension/connectFormValue';

describe('connectFormValue', () => {
  test('the form becomes an endpoint: URL read forgivingly, query appended, headers, subprotocols, TLS, reconnect bounds', () => {
    const e = endpointOfForm({
      ...emptyForm(),
      name: ' local ',
      url: 'localhost:8080/chat',
      headers: [{ key: 'Authorization', value: 'Bearer x' }, { key: ' ', value: 'dropped' }],
      subprotocols: 'chat.v2, json,',
      query: [{ key: 'room', value: 'a b' }],
      caFile: '/tmp/ca.pem',
      reconnect: true,
      initialDelayMs: '100',
      maxDelayMs: 'x',
    });
    assert.deepEqual(e, {
      name: 'local',
      url: 'ws://localhost:8080/chat?room=a+b',
      headers: { Authorization: 'Bearer x' },
      subprotocols: ['chat.v2', 'json'],
      caFile: '/tmp/ca.pem',
      reconnect: { initialDelayMs: 100 },
    });
    assert.deepEqual(endpointOfForm({ ...emptyForm(), url: 'https://h/', reconnect: true, allowSelfSigned: true }), { url: 'wss://h/', allowSelfSigned: true, reconnect: true });
  });

  test('a #fragment is refused with the reason', () => {
    assert.throws(() => endpointOfForm({ ...emptyForm(), url: 'ws://h/#x' }), /#fragment/);
  });

  test('a saved endpoint fills the form back', () => {
    const f = formOfEndpoint({ name: 'n', url: 'wss://h/', headers: { a: 'b' }, subprotocols: ['p'], reconnect: { maxDelayMs: 900 } });
    assert.deepEqual(f, { name: 'n', url: 'wss://h/', headers: [{ key: 'a', value: 'b' }], subprotocols: 'p', caFile: '', allowSelfSigned: false, reconnect: true, initialDelayMs: '', maxDelayMs: '900' });
  });
});
