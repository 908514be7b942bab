// The runner's less common paths: several expected messages in or out of order, wss:// with a CA file, file bodies
// and schema files relative to the scenario file, and a secret or environment variable that has no value.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BroadcastServer } from '../../../src/core/server/broadcastServer';
import { startWsChatServer, type WsChatServer } from '../../support/wsChatServer';
import { devCredentials } from '../tlsCredentials';
import { assertPassed, run, summary, yaml } from './helpers';

let chat: WsChatServer;
before(async () => {
  chat = await startWsChatServer();
});
after(() => chat.stop());

describe('scenario runner options', () => {
  test('several expected messages: in order, or in any order', async () => {
    const steps = (ordered: boolean) => [
      '    - connect: chat',
      '    - expect: { json: { type: welcome } }',
      '    - send: { text: "echo:a" }',
      '    - send: { text: "echo:b" }',
      `    - expect: { messages: [ { text: b }, { text: a } ], ordered: ${ordered} }`,
    ];
    const [inOrder, anyOrder] = await run(yaml('endpoints:', `  chat: ${chat.url}`, 'scenarios:', '  in order:', ...steps(true), '  any order:', ...steps(false)));
    assert.equal(inOrder.status, 'failed', summary(inOrder));
    assert.match(inOrder.message!, /^the next message on "chat" is not expected message 1 of 2: the text differs/);
    assert.deepEqual([inOrder.failedStep!.expected, inOrder.failedStep!.actual], ['b', 'a']);
    assertPassed([anyOrder]);
  });

  test('wss:// with the CA file of the endpoint; file bodies and schema files relative to the scenario file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wsx-files-'));
    const { cert, key } = await devCredentials(['127.0.0.1']);
    writeFileSync(join(dir, 'ca.pem'), cert);
    writeFileSync(join(dir, 'body.json'), '{"type":"file","n":1}');
    writeFileSync(join(dir, 'schema.json'), JSON.stringify({ type: 'object', required: ['type', 'n'] }));
    const server = new BroadcastServer();
    const address = await server.start({ port: 0, relay: 'echo', tls: { cert, key }, heartbeatIntervalMs: 0 });
    try {
      const text = yaml(
        'endpoints:',
        `  secure: { url: "${address.url}", tls: { caFile: ca.pem } }`,
        `  untrusted: "${address.url}"`,
        'scenarios:',
        '  trusted:',
        '    - connect: secure',
        '    - send: { file: body.json, binary: false }',
        '    - expect: { schemaFile: schema.json, json: { type: file }, opcode: text }',
        '  not trusted:',
        '    - connect: untrusted',
      );
      const [trusted, untrusted] = await run(text, { baseDir: dir });
      assertPassed([trusted]);
      assert.equal(untrusted.status, 'failed');
      assert.match(untrusted.message!, /TLS: .*self-signed certificate|TLS: cannot verify/);
    } finally {
      await server.stop();
    }
  });

  test('a missing environment variable or secret fails the step that uses it, saying which', async () => {
    const [env, secret] = await run(
      yaml('endpoints:', `  chat: ${chat.url}`, 'scenarios:', '  env:', '    - connect: chat', '    - send: { text: "${env:WSX_NOT_SET}" }', '  secret:', '    - connect: chat', '    - send: { text: "${secret:NOPE}" }'),
    );
    assert.deepEqual([env.failedStep!.label, env.message], ['2 send text on chat', 'environment variable WSX_NOT_SET is not set (nor in a .env file)']);
    assert.match(secret.message!, /^secret "NOPE" has no value/);
  });
});
