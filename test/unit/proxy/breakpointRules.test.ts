// Breakpoint rules (src/core/proxy/breakpointRules.ts): where a rule applies (appliesTo) and what match() uses there.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RuleSet, scopesOf, validateRule, type BreakpointRule } from '../../../src/core/proxy/breakpointRules';

const rule = (r: Partial<BreakpointRule>): BreakpointRule => ({ id: r.id ?? 'r1', enabled: true, ...r });
const text = (s: string) => Buffer.from(s);

describe('breakpoint rules: appliesTo', () => {
  test('appliesTo is a non-empty list of proxy, server and client; absent means the proxy only', () => {
    assert.equal(validateRule({ id: 'a', appliesTo: ['proxy', 'server', 'client'] }), undefined);
    assert.match(validateRule({ id: 'a', appliesTo: [] })!, /^rule "a": appliesTo must be a non-empty list of "proxy", "server" and "client"$/);
    assert.match(validateRule({ id: 'a', appliesTo: ['browser'] })!, /appliesTo must be .* \(not "browser"\)/);
    assert.match(validateRule({ id: 'a', appliesTo: 'server' })!, /appliesTo must be a non-empty list/);
    assert.deepEqual(scopesOf(rule({})), ['proxy']);
    assert.deepEqual(new RuleSet([rule({ id: 'd', appliesTo: ['server', 'server'] })]).rules, [{ id: 'd', enabled: true, appliesTo: ['server'] }]);
  });

  test('match() uses only the rules that apply where the frame is; scope absent = proxy', () => {
    const set = new RuleSet([
      rule({ id: 'server-only', appliesTo: ['server'], textPattern: 'order' }),
      rule({ id: 'default', textPattern: 'order' }),
      rule({ id: 'client-and-server', appliesTo: ['client', 'server'], opcode: 2 }),
    ]);
    const m = (scope: 'proxy' | 'server' | 'client' | undefined, payload: string, opcode = 1) =>
      set.match({ scope, direction: 'c2s', opcode, payload: text(payload), isText: opcode === 1 });
    assert.equal(m(undefined, 'order 1'), 'default');
    assert.equal(m('proxy', 'order 1'), 'default');
    assert.equal(m('server', 'order 1'), 'server-only');
    assert.equal(m('client', 'order 1'), undefined);
    assert.equal(m('client', 'x', 2), 'client-and-server');
    assert.equal(m('proxy', 'x', 2), undefined);
    assert.equal(set.wants('c2s', 9, 'client'), false);
    assert.equal(set.wants('c2s', 2, 'client'), true);
    assert.equal(set.wants('s2c', 1), true, 'the proxy by default');
    assert.equal(set.anyEnabled('client'), true);
    assert.equal(new RuleSet([rule({ enabled: false, appliesTo: ['client'] })]).anyEnabled(), false);
  });
});
