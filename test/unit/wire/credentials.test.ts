// Where an upgrade request carries a token (src/core/wire/credentials.ts), as the server's auth and the export's
// redactor both read it. The server's answers to each form are in test/unit/server/auth.test.ts and the redaction
// corpus (test/unit/capture/redactionCorpus.test.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { credentialCandidates, readCredentials, splitRequestLine } from '../../../src/core/wire/credentials';

describe('credentials: one reading for auth and redaction', () => {
  const lines = (...l: Array<[string, string]>) => l;

  test('reads each location as Node hands the request over: the first Authorization, protocol lines joined', () => {
    assert.deepEqual(readCredentials('/?room=1&token=q%2Bx', lines(['authorization', 'Bearer   h  '], ['Sec-WebSocket-Protocol', 'chat, bearer, p'])), {
      tokens: { header: 'h', query: 'q+x', subprotocol: 'p' },
    });
    const split = readCredentials('/', lines(['Authorization', 'Bearer a'], ['Authorization', 'Bearer b'], ['Sec-WebSocket-Protocol', 'bearer,'], ['Sec-WebSocket-Protocol', 'p']));
    assert.deepEqual(split.tokens, { header: 'a', subprotocol: 'p' }, 'what the server would have taken');
    assert.equal(split.problem, 'more than one Authorization header');
    assert.equal(readCredentials('/', lines(['Sec-WebSocket-Protocol', 'bearer'], ['Sec-WebSocket-Protocol', 'p'])).problem?.startsWith('the bearer offer is split'), true);
    assert.equal(readCredentials('/', lines(['Sec-WebSocket-Protocol', 'bearer,, p'])).problem, 'empty entry in Sec-WebSocket-Protocol');
    assert.equal(readCredentials('/', lines(['Sec-WebSocket-Protocol', 'chat'], ['Sec-WebSocket-Protocol', 'superchat'])).problem, undefined, 'split lines without bearer are plain RFC 6455');
    assert.equal(readCredentials('/?token=', []).problem, undefined);
    assert.deepEqual(readCredentials('/?token=', []).tokens, {});
  });

  test('candidates cover every line and piece a token could be in, longest first, never "bearer" itself', () => {
    assert.deepEqual(credentialCandidates('GET /?token=abc HTTP/1.1', lines(['Authorization', 'Bearer hdr'])), ['hdr', 'abc']);
    assert.deepEqual(
      credentialCandidates('GET\t/?a=1;token=%41b+c#x  HTTP/1.1', lines(['Authorization', 'Bearer'], ['Authorization', 'tail'], ['Sec-WebSocket-Protocol', 'p1'], ['Sec-WebSocket-Protocol', 'Bearer, p2'])),
      ['%41b+c', 'tail', 'Ab+c', 'Ab c', 'p1', 'p2'],
    );
    assert.deepEqual(splitRequestLine('GET  /x?y=1 \tHTTP/1.1'), { method: 'GET', target: '/x?y=1', version: 'HTTP/1.1' });
    assert.equal(splitRequestLine('HTTP/1.1 101 Switching Protocols'), undefined);
  });
});
