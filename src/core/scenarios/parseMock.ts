// The `mock` section: the embedded server as a scripted peer (rules on received messages, a greeting, tickers).

import { isScalar, isSeq } from 'yaml';
import { isValidCloseCode } from '../wire/constants';
import type { MessageBody, MockRule, MockSpec, MockTicker, ScenarioFile } from './model';
import { MATCHER_KEYS, readBodyNode, readMatcher } from './parseMessage';
import type { Entry, Reader, YNode } from './reader';

/**
 * Variables a mock's replies may use besides the file's: `client` (the client's id), `tick` (a ticker's count, from 1),
 * `message` (the text of the message a rule answers); and `${$.path}` into that message.
 */
export const MOCK_SCOPE = ['client', 'tick', 'message'] as const;

const RELAYS = ['broadcast', 'broadcastOthers', 'echo', 'none'] as const;

export function readMock(r: Reader, e: Entry, file: ScenarioFile): MockSpec | undefined {
  const at = r.range(e.keyNode);
  const m = r.map(e.value, 'mock', ['port', 'host', 'path', 'relay', 'onConnect', 'rules', 'tickers'], at);
  if (!m) return undefined;
  const spec: MockSpec = { range: at, relay: 'none', onConnect: [], rules: [], tickers: [] };
  if (m.has('port')) spec.port = r.number(m.get('port')!.value, 'port', { min: 0, max: 65535, integer: true });
  if (m.has('host')) spec.host = r.string(m.get('host')!.value, 'host');
  if (m.has('path')) spec.path = r.string(m.get('path')!.value, 'path');
  if (m.has('relay')) {
    const relay = r.string(m.get('relay')!.value, 'relay');
    if (relay !== undefined && !(RELAYS as readonly string[]).includes(relay)) r.error(m.get('relay')!.value, 'WSX_TYPE', `relay must be one of ${RELAYS.join(', ')}; got "${relay}"`);
    else if (relay !== undefined) spec.relay = relay as MockSpec['relay'];
  }
  if (m.has('onConnect')) spec.onConnect = readBodies(r, m.get('onConnect')!, file);
  if (m.has('rules')) {
    for (const item of r.list(m.get('rules')!.value, 'rules', r.range(m.get('rules')!.keyNode)) ?? []) {
      const rule = readRule(r, item, file);
      if (rule) spec.rules.push(rule);
    }
  }
  if (m.has('tickers')) {
    for (const item of r.list(m.get('tickers')!.value, 'tickers', r.range(m.get('tickers')!.keyNode)) ?? []) {
      const t = readTicker(r, item, file);
      if (t) spec.tickers.push(t);
    }
  }
  return spec;
}

/** One body or a list of them. */
function readBodies(r: Reader, e: Entry, file: ScenarioFile): MessageBody[] {
  const n = r.deref(e.value);
  const items: YNode[] = isSeq(n) ? (n.items as YNode[]) : [n];
  return items.flatMap((i) => {
    const b = checkedBody(r, i, 'a greeting (onConnect)', file);
    return b ? [b] : [];
  });
}

function checkedBody(r: Reader, node: YNode, what: string, file: ScenarioFile): MessageBody | undefined {
  const b = readBodyNode(r, node, what, r.range(node));
  if (b?.kind === 'ref' && !file.messages.has(b.name)) {
    return r.error(b.range, 'WSX_UNKNOWN_MESSAGE', `no message named "${b.name}" under messages`);
  }
  return b;
}

function readRule(r: Reader, node: YNode, file: ScenarioFile): MockRule | undefined {
  const at = r.range(node);
  const e = r.map(node, 'a mock rule', ['match', 'reply', 'broadcast', 'close', 'delay'], at);
  if (!e || !r.require(e, ['match'], at, 'a mock rule')) return undefined;
  const mm = r.map(e.get('match')!.value, 'match', MATCHER_KEYS, r.range(e.get('match')!.keyNode));
  const match = mm && readMatcher(r, mm, r.range(e.get('match')!.keyNode), 'match');
  if (!e.has('reply') && !e.has('broadcast') && !e.has('close')) {
    return r.error(at, 'WSX_REQUIRED', 'a mock rule needs what to do: "reply", "broadcast" or "close" (or several)');
  }
  if (!match) return undefined;
  if (match.message !== undefined && !file.messages.has(match.message)) r.error(match.range, 'WSX_UNKNOWN_MESSAGE', `no message named "${match.message}" under messages`);
  const rule: MockRule = { range: at, match, delayMs: 0 };
  if (e.has('reply')) rule.reply = checkedBody(r, e.get('reply')!.value, 'reply', file);
  if (e.has('broadcast')) rule.broadcast = checkedBody(r, e.get('broadcast')!.value, 'broadcast', file);
  if (e.has('close')) rule.close = readMockClose(r, e.get('close')!.value);
  if (e.has('delay')) rule.delayMs = r.duration(e.get('delay')!.value, 'delay') ?? 0;
  return rule;
}

function readMockClose(r: Reader, node: YNode): { code: number; reason: string } | undefined {
  const n = r.deref(node);
  let code: number | undefined;
  let reason = '';
  if (isScalar(n)) {
    code = r.number(n, 'close', { min: 1000, max: 4999, integer: true });
  } else {
    const e = r.map(n, 'close', ['code', 'reason']);
    if (!e || !r.require(e, ['code'], n, 'close')) return undefined;
    code = r.number(e.get('code')!.value, 'code', { min: 1000, max: 4999, integer: true });
    if (e.has('reason')) reason = r.interp(e.get('reason')!.value, 'reason') ?? '';
  }
  if (code !== undefined && !isValidCloseCode(code)) return r.error(n, 'WSX_BAD_CLOSE_CODE', `close code ${code} cannot be sent: expected 1000–1003, 1007–1014 or 3000–4999`);
  return code === undefined ? undefined : { code, reason };
}

function readTicker(r: Reader, node: YNode, file: ScenarioFile): MockTicker | undefined {
  const at = r.range(node);
  const e = r.map(node, 'a ticker', ['every', 'send'], at);
  if (!e || !r.require(e, ['every', 'send'], at, 'a ticker')) return undefined;
  const everyMs = r.duration(e.get('every')!.value, 'every');
  if (everyMs !== undefined && everyMs < 1) return r.error(e.get('every')!.value, 'WSX_TYPE', 'every must be at least 1 ms');
  const body = checkedBody(r, e.get('send')!.value, 'send', file);
  return everyMs === undefined || !body ? undefined : { range: at, everyMs, body };
}
