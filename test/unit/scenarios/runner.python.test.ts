// The runner against another stack: Python's `websockets` (Debian's python3-websockets), which echoes every message and
// closes on "close:<code>:<reason>" (test/support/websocketsServer.py).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startPythonChat, type PythonChat } from '../../support/pythonChat';
import { startPythonWebsockets, type PythonWebsockets } from '../../support/pythonWebsockets';
import { waitFor } from '../../support/waitFor';
import { assertPassed, run, summary, yaml } from './helpers';

let py: PythonWebsockets;
let room: PythonChat;
before(async () => {
  py = await startPythonWebsockets();
  room = await startPythonChat();
});
after(async () => {
  await py.stop();
  await room.stop();
});

const head = () => ['endpoints:', `  py: ${py.url}/echo`, 'scenarios:'];

describe('scenario runner against a Python websockets server', () => {
  test('a two-connection chat through a Python chat room', async () => {
    const [r] = await run(
      yaml(
        'endpoints:',
        `  room: ${room.url}`,
        'scenarios:',
        '  chat:',
        '    - connect: { connection: alice, endpoint: room }',
        '    - expect: { connection: alice, json: { type: welcome }, capture: { alice: $.id } }',
        '    - connect: { connection: bob, endpoint: room }',
        '    - expect: { connection: bob, json: { type: welcome }, capture: { bob: $.id } }',
        '    - send: { connection: alice, json: { type: say, text: "hi, I am ${alice}" } }',
        '    - expect: { connection: bob, json: { type: said, from: "${alice}", text: "hi, I am ${alice}" } }',
        '    - send: { connection: bob, json: { type: say, text: "hello ${alice}" } }',
        '    - expect: { connection: alice, json: { from: "${bob}", text: "hello ${alice}" } }',
        '    - send: { connection: bob, text: "close:4005:gone" }',
        '    - expectClose: { connection: bob, code: 4005, reason: gone }',
        '    - close: { connection: alice, expectCode: 1000 }',
      ),
    );
    assertPassed([r]);
  });

  test('a captured value is sent back in a later step, in text and in JSON', async () => {
    const [r] = await run(
      yaml(
        ...head(),
        '  echo:',
        '    - connect: py',
        '    - send: { json: { session: { id: abc-42 }, n: 3 } }',
        '    - expect: { json: { $.session.id: abc-42, n: 3 }, capture: { sid: $.session.id, n: $.n } }',
        '    - send: { text: "got ${sid}" }',
        '    - expect: { text: got abc-42 }',
        '    - send: { json: { again: "${sid}", count: "${n}" } }',
        '    - expect: { json: { $: { again: abc-42, count: 3 } } }',
        '    - send: { hex: "00ff10" }',
        '    - expect: { opcode: binary, length: 3 }',
        '    - close: { expectCode: 1000 }',
      ),
    );
    assertPassed([r]);
    assert.ok(py.messages().includes('got abc-42'));
  });

  test('the peer closes with a code; a wrong expectation and a time-out fail with what came', async () => {
    const [ok, wrong, late] = await run(
      yaml(
        ...head(),
        '  closes:',
        '    - connect: py',
        '    - send: { text: "close:4003:bye now" }',
        '    - expectClose: { code: 4003, reason: bye now }',
        '  wrong:',
        '    - connect: py',
        '    - send: { text: "hello" }',
        '    - expect: { text: goodbye }',
        '  late:',
        '    - connect: py',
        '    - send: { text: "hello" }',
        '    - expect: { text: hello }',
        '    - expect: { text: more, within: 250 }',
      ),
    );
    assertPassed([ok]);
    assert.equal(wrong.status, 'failed', summary(wrong));
    assert.deepEqual([wrong.failedStep!.expected, wrong.failedStep!.actual, wrong.failedStep!.range.line], ['goodbye', 'hello', 11]);
    assert.match(late.message!, /^timed out after 250 ms waiting on "py" for the expected message: nothing else came$/);
    await waitFor('the Python server to see every connection closed', () => py.events.filter((e) => 'close' in e).length >= 3);
  });
});
