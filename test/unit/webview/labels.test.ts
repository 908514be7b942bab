import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { ConnectionRow } from '../../../src/shared/protocol';
import { ViewStore } from '../../../webview/store';

const row = (id: string, label: string): ConnectionRow => ({
  id, kind: 'proxySide', label, state: 'open', messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0,
});

describe('connection labels in the view', () => {
  test('a connection that leaves the model (a stopped proxy) keeps its label, never its internal id', () => {
    const s = new ViewStore();
    s.model = { servers: [], connections: [row('proxy1-1/program', 'program 127.0.0.1:40000')] };
    s.model = { servers: [], connections: [] };
    assert.equal(s.labelOf('proxy1-1/program'), 'program 127.0.0.1:40000');
  });

  test('a renamed connection shows its latest label', () => {
    const s = new ViewStore();
    s.model = { servers: [], connections: [row('c1', 'a')] };
    s.model = { servers: [], connections: [row('c1', 'b')] };
    assert.equal(s.labelOf('c1'), 'b');
  });
});
