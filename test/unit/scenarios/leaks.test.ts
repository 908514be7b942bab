// 100 scenarios in one process leave no socket, server or timer behind: passing and failing ones, against a ws server
// and against mocks of their own.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runFile } from '../../../src/core/scenarios';
import { startWsChatServer, type WsChatServer } from '../../support/wsChatServer';
import { waitFor } from '../../support/waitFor';
import { parsed, summary, yaml } from './helpers';

let chat: WsChatServer;
before(async () => {
  chat = await startWsChatServer();
});
after(() => chat.stop());

/** Open handles of a kind (TCPSocketWrap, TCPServerWrap, Timeout…). */
function handles(kind: string): number {
  return process.getActiveResourcesInfo().filter((k) => k === kind).length;
}

test('100 scenarios in one process: every socket and server they opened is closed', async () => {
  const file = parsed(
    yaml(
      'endpoints: { chat: "${env:CHAT_URL}/room", own: "${mock.url}" }',
      'mock: { relay: echo, tickers: [ { every: 20, send: tick } ] }',
      'scenarios:',
      '  two users, left open:',
      '    - connect: { connection: a, endpoint: chat }',
      '    - connect: { connection: b, endpoint: chat }',
      '    - expect: { connection: a, json: { type: welcome } }',
      '    - send: { connection: a, json: { type: say, text: hi } }',
      '    - expect: { connection: b, json: { type: said }, allowOthers: true }',
      '  times out:',
      '    - connect: chat',
      '    - expect: { text: never, allowOthers: true, within: 20 }',
      '  own mock:',
      '    mock: true',
      '    steps:',
      '      - connect: own',
      '      - send: { text: hello }',
      '      - expect: { text: hello, allowOthers: true }',
      '      - close: { expectCode: 1000 }',
      '  refused:',
      '    - connect: { connection: x, url: "${env:CHAT_URL}/private", status: 401 }',
    ),
  );
  const sockets = handles('TCPSocketWrap');
  const servers = handles('TCPServerWrap');
  const statuses: Record<string, number> = {};
  for (let i = 0; i < 25; i++) {
    for (const r of await runFile(file, { env: { CHAT_URL: chat.url }, timeoutMs: 3000 })) {
      statuses[`${r.name} ${r.status}`] = (statuses[`${r.name} ${r.status}`] ?? 0) + 1;
      if (r.name !== 'times out') assert.equal(r.status, 'passed', summary(r));
    }
  }
  assert.deepEqual(statuses, { 'two users, left open passed': 25, 'times out failed': 25, 'own mock passed': 25, 'refused passed': 25 });
  await waitFor(() => `the sockets to close (open: ${handles('TCPSocketWrap')} of ${sockets} before; server side ${chat.sockets()})`, () => handles('TCPSocketWrap') <= sockets && chat.sockets() === 0, 10_000);
  assert.equal(chat.clients(), 0);
  assert.equal(handles('TCPServerWrap'), servers, 'every mock server is closed');
});
