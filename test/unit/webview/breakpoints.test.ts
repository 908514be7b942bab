// What the Breakpoints tab, the composer and the connections list say about issue 18: a held card's place, direction,
// countdown and close; the compression switch of a message held in passthrough; the outcome list; a Send to all that a
// rule holds; a proxied connection's compression; and the checks on the new requests.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { HeldOutcomeDto, ProxyCompressionDto } from '../../../src/shared/breakpointsProtocol';
import { isWebviewToHost, type ConnectionRow } from '../../../src/shared/protocol';
import { sendStatusText } from '../../../webview/composerModel';
import { compressionFacts, compressionShort, compressionTooltip, deflateParamsText, proxyCompressionOf } from '../../../webview/compressionText';
import { closedText, compressionSwitchText, countdownText, directionText, heldCount, holdLongerLabel, notEditableText, outcomeLine, sourceLabel } from '../../../webview/heldText';

const takeover = { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 };

describe('held cards', () => {
  test('the place and connection of a held frame, and its direction in the words of that place', () => {
    assert.equal(sourceLabel({ source: 'proxy', connectionId: 'proxy1-3', connectionLabel: '/chat → ws://127.0.0.1:9001/chat' }), 'Proxy /chat → ws://127.0.0.1:9001/chat');
    assert.equal(sourceLabel({ source: 'server', connectionId: 'c4', connectionLabel: '127.0.0.1:50123' }), 'Server client 127.0.0.1:50123');
    assert.equal(sourceLabel({ source: 'server', connectionId: 'allClients', connectionLabel: 'Send to all' }), 'Server: Send to all');
    assert.equal(sourceLabel({ source: 'client', connectionId: 'o2', connectionLabel: 'wss://api.test/ws' }), 'Client connection wss://api.test/ws');
    // A label from the network stays on one line.
    assert.equal(sourceLabel({ source: 'client', connectionId: 'o2', connectionLabel: 'ws://a\nb' }), 'Client connection ws://a↵b');
    assert.deepEqual(
      (['proxy', 'server', 'client'] as const).map((s) => [directionText(s, 'c2s'), directionText(s, 's2c')]),
      [['program → target', 'target → program'], ['client → server', 'server → clients'], ['sent', 'received']],
    );
  });

  test('the countdown, and Hold longer says what it adds', () => {
    assert.equal(countdownText(29_001), 'forwarded unchanged in 30 s');
    assert.equal(countdownText(1), 'forwarded unchanged in 1 s');
    assert.equal(countdownText(87_000), 'forwarded unchanged in 1 min 27 s');
    assert.equal(countdownText(0), 'forwarding unchanged…');
    assert.equal(countdownText(-500), 'forwarding unchanged…');
    assert.equal(holdLongerLabel(60_000), 'Hold longer (+60 s)');
    assert.equal(holdLongerLabel(300_000), 'Hold longer (+5 min)');
  });

  test('a connection that closed while a frame was held: code, reason and who closed it', () => {
    const at = new Date(2024, 0, 1, 12, 30, 5, 250).getTime();
    assert.equal(closedText({ code: 4001, reason: 'maintenance', by: 'target', at }), 'The connection closed while this was held: 4001 “maintenance”, closed by the target at 12:30:05.250. Not delivered.');
    assert.equal(closedText({ code: 1006, reason: '', by: 'program', at }), 'The connection closed while this was held: 1006 (no close frame), closed by the program at 12:30:05.250. Not delivered.');
    assert.match(closedText({ code: 1005, reason: '', by: 'server', at }), /1005 \(no status code\), closed by the server/);
  });

  test('a compressed message held in passthrough: what the switch sets, and that automatic needs none', () => {
    const setting = compressionSwitchText({ where: 'setting' });
    assert.equal(setting.button, 'Use terminate next time');
    assert.match(setting.text, /sets the setting wsInspector\.proxy\.compression to "terminate"/);
    const launch = compressionSwitchText({ where: 'launch.json', configuration: 'Run app' });
    assert.equal(launch.button, 'Use terminate next time');
    assert.match(launch.text, /"compression": "terminate" in wsInspector\.proxy of the launch configuration “Run app” in launch\.json/);
    const automatic = compressionSwitchText({ where: 'automatic' });
    assert.equal(automatic.button, undefined);
    assert.match(automatic.text, /terminates compression on its next connection/);
    assert.equal(notEditableText('it is compressed. '.trim()), 'Cannot be edited or dropped: it is compressed.');
  });

  test('the outcome list keeps a frame its closed connection never delivered, with the close', () => {
    const o: HeldOutcomeDto = {
      id: 3, source: 'proxy', connectionId: 'proxy1-2', connectionLabel: '/ → ws://t/', direction: 'c2s', ruleId: 'bp1',
      outcome: 'connectionClosed', text: 'not delivered: the connection closed', time: new Date(2024, 0, 1, 9, 0, 0, 0).getTime(),
      closed: { code: 1001, reason: 'bye', by: 'target', at: 0 },
    };
    assert.equal(outcomeLine(o), '09:00:00.000 · #3 Proxy / → ws://t/ · program → target · rule bp1: not delivered: the connection closed (1001 “bye”, closed by the target)');
    const held = { resolved: undefined } as const;
    assert.equal(heldCount([held, { resolved: true }, held] as never), 2, 'closed cards are not counted as held');
  });
});

describe('the composer after a send', () => {
  test('sent, held by a rule, or queued behind a held one', () => {
    const text = { kind: 'text', text: 'hello' } as const;
    const all = { kind: 'allClients' } as const;
    assert.equal(sendStatusText({ status: 'sent', delivered: 3 }, text, all), 'Sent 5 chars to 3 clients.');
    assert.equal(sendStatusText({ status: 'sent', delivered: 1 }, { kind: 'binary', data: new Uint8Array(4) }, { kind: 'connection', connectionId: 'o1' }), 'Sent 4 bytes.');
    assert.equal(sendStatusText({ status: 'held', delivered: 0, heldId: 4, ruleId: 'bp2' }, text, all), 'Held by breakpoint bp2, not sent yet (5 chars): forward, edit or drop it in the Breakpoints tab.');
    assert.match(sendStatusText({ status: 'queued', delivered: 0 }, text, all), /^Queued behind a held message, not sent yet/);
  });
});

describe('a proxied connection’s compression', () => {
  const terminate: ProxyCompressionDto = {
    mode: 'terminate', chosen: 'default', programOffered: true,
    programLeg: { ...takeover, clientMaxWindowBits: 12 }, targetLeg: { ...takeover, serverNoContextTakeover: true },
  };

  test('each leg’s parameters as the extension header spells them, and the mode with where it came from', () => {
    assert.equal(deflateParamsText(terminate.programLeg!), 'permessage-deflate; server_max_window_bits=15; client_max_window_bits=12');
    assert.equal(deflateParamsText(terminate.targetLeg!), 'permessage-deflate; server_no_context_takeover; server_max_window_bits=15; client_max_window_bits=15');
    const facts = compressionFacts(terminate);
    assert.deepEqual(facts.map(([k]) => k), ['Compression', 'Program ↔ proxy', 'Proxy ↔ target']);
    assert.match(facts[0][1], /^The proxy terminates permessage-deflate: .* \(automatic: terminate while a breakpoint rule exists\)\.$/);
    assert.equal(compressionShort(terminate), 'deflate terminated');
    assert.equal(compressionTooltip(terminate).split('\n').length, 3);
  });

  test('passthrough from launch.json, strip, and a program that offered nothing', () => {
    const pass: ProxyCompressionDto = { mode: 'passthrough', chosen: 'option', setIn: 'launch.json', programOffered: true, programLeg: takeover, targetLeg: takeover };
    assert.match(compressionFacts(pass)[0][1], /passes permessage-deflate through, byte for byte: .* \(set in launch\.json\)\.$/);
    assert.equal(compressionShort(pass), 'deflate passed through');
    const strip: ProxyCompressionDto = { mode: 'strip', chosen: 'option', setIn: 'setting', programOffered: true };
    assert.deepEqual(compressionFacts(strip).slice(1), [['Program ↔ proxy', 'none (stripped by the proxy)'], ['Proxy ↔ target', 'none (stripped by the proxy)']]);
    assert.equal(compressionShort(strip), 'deflate stripped');
    const none: ProxyCompressionDto = { mode: 'terminate', chosen: 'default', programOffered: false };
    assert.equal(compressionFacts(none)[1][1], 'none (the program did not offer permessage-deflate)');
    assert.equal(compressionShort(none), 'no deflate');
  });

  test('found from the connection row, a leg’s row, or a leg’s capture id', () => {
    const base = { state: 'open', messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0 } as const;
    const rows: ConnectionRow[] = [
      { ...base, id: 'proxy1-1', kind: 'proxy', parentId: 'proxy1', label: '/ → ws://t/', compression: terminate },
      { ...base, id: 'proxy1-1/program', kind: 'proxySide', parentId: 'proxy1-1', side: 'program', label: 'leg' },
      { ...base, id: 'c1', kind: 'serverClient', label: '127.0.0.1:1' },
    ];
    for (const id of ['proxy1-1', 'proxy1-1/program', 'proxy1-1/target']) assert.equal(proxyCompressionOf(rows, id), terminate, id);
    assert.equal(proxyCompressionOf(rows, 'c1'), undefined);
    assert.equal(proxyCompressionOf(rows, undefined), undefined);
  });
});

describe('the new requests are checked', () => {
  test('hold longer, dismiss, the compression switch, a rule’s places, add a rule', () => {
    assert.ok(isWebviewToHost({ type: 'resolveHeld', requestId: 1, id: 2, action: 'holdLonger' }));
    assert.ok(isWebviewToHost({ type: 'resolveHeld', requestId: 1, id: 2, action: 'dismiss' }));
    assert.equal(isWebviewToHost({ type: 'resolveHeld', requestId: 1, id: 2, action: 'explode' }), false);
    assert.ok(isWebviewToHost({ type: 'switchCompression', requestId: 1, heldId: 2 }));
    assert.equal(isWebviewToHost({ type: 'switchCompression', requestId: 1, heldId: '2' }), false);
    assert.ok(isWebviewToHost({ type: 'setRuleScopes', requestId: 1, ruleId: 'bp1', appliesTo: ['proxy', 'client'] }));
    assert.equal(isWebviewToHost({ type: 'setRuleScopes', requestId: 1, ruleId: 'bp1', appliesTo: [] }), false, 'at least one place');
    assert.equal(isWebviewToHost({ type: 'setRuleScopes', requestId: 1, ruleId: 'bp1', appliesTo: ['proxy', 'proxy'] }), false);
    assert.equal(isWebviewToHost({ type: 'setRuleScopes', requestId: 1, ruleId: 'bp1', appliesTo: ['browser'] }), false);
    assert.ok(isWebviewToHost({ type: 'addBreakpoint', requestId: 1 }));
  });
});
