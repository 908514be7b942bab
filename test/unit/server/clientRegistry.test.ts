import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientRegistry, type ClientRecord } from '../../../src/core/server/clientRegistry';

// The registry only reads a record's id; the fan-out's targets key (broadcastFastPath.ts fanOut) rests on `version`.
const record = (id: string) => ({ info: { id } }) as unknown as ClientRecord;

describe('ClientRegistry.version', () => {
  test('changes on every add and every delete that removes a record, and only then; records keep their order', () => {
    const r = new ClientRegistry();
    const seen = [r.version];
    for (const id of ['c1', 'c2', 'c3']) {
      r.add(record(id));
      seen.push(r.version);
    }
    assert.deepEqual([...r.records()].map((c) => c.info.id), ['c1', 'c2', 'c3']);
    const before = r.version;
    assert.equal(r.delete('nobody'), false);
    assert.equal(r.version, before, 'nothing removed, same version');
    assert.equal(r.delete('c2'), true);
    seen.push(r.version);
    assert.deepEqual([...r.records()].map((c) => c.info.id), ['c1', 'c3']);
    r.add(record('c2'));
    seen.push(r.version);
    assert.deepEqual([...r.records()].map((c) => c.info.id), ['c1', 'c3', 'c2']);
    assert.equal(new Set(seen).size, seen.length, `every change gives a new version: ${seen.join(', ')}`);
  });

  test('two registries never share a version, whatever they go through', () => {
    const a = new ClientRegistry();
    const b = new ClientRegistry();
    const seen = [a.version, b.version];
    for (let i = 0; i < 5; i++) {
      a.add(record(`a${i}`));
      b.add(record(`b${i}`));
      seen.push(a.version, b.version);
    }
    assert.equal(new Set(seen).size, seen.length, `versions: ${seen.join(', ')}`);
  });
});
