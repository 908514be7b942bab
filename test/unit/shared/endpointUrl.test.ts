import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readEndpointUrl, withQuery } from '../../../src/shared/endpointUrl';

describe('readEndpointUrl', () => {
  test('a host and port without a scheme gets ws://, and says so', () => {
    assert.deepEqual(readEndpointUrl('localhost:8080'), { url: 'ws://localhost:8080', note: 'ws:// added' });
    assert.deepEqual(readEndpointUrl('  127.0.0.1:9/chat '), { url: 'ws://127.0.0.1:9/chat', note: 'ws:// added' });
  });

  test('http:// and https:// are offered as ws:// and wss://', () => {
    assert.deepEqual(readEndpointUrl('http://example.test/socket'), { url: 'ws://example.test/socket', note: 'http:// is read as ws://' });
    assert.deepEqual(readEndpointUrl('HTTPS://example.test:8443/'), { url: 'wss://example.test:8443/', note: 'https:// is read as wss://' });
  });

  test('ws://, wss:// and ws+unix:// pass unchanged', () => {
    assert.deepEqual(readEndpointUrl('ws://127.0.0.1:8765/'), { url: 'ws://127.0.0.1:8765/' });
    assert.deepEqual(readEndpointUrl('wss://h/p?a=1'), { url: 'wss://h/p?a=1' });
    assert.deepEqual(readEndpointUrl('ws+unix:///tmp/a.sock:/x'), { url: 'ws+unix:///tmp/a.sock:/x' });
  });

  test('a #fragment is refused with the reason', () => {
    const r = readEndpointUrl('ws://localhost:8080/chat#room');
    assert.equal(r.url, undefined);
    assert.match(r.problem ?? '', /#fragment/);
    assert.match(readEndpointUrl('localhost:1#x').problem ?? '', /#fragment/);
  });

  test('other schemes, empty input and a unix URL without a path are refused', () => {
    assert.match(readEndpointUrl('ftp://h/').problem ?? '', /Use ws:\/\//);
    assert.match(readEndpointUrl('   ').problem ?? '', /Enter a ws:\/\//);
    assert.match(readEndpointUrl('ws+unix:///').problem ?? '', /socket path/);
    assert.match(readEndpointUrl('ws://[bad').problem ?? '', /Not a URL/);
  });
});

describe('withQuery', () => {
  test('appends the parameters after the existing query, encoded, skipping empty keys', () => {
    assert.equal(withQuery('ws://h/p?a=1', [{ key: 'b', value: 'x y' }, { key: '', value: 'z' }]), 'ws://h/p?a=1&b=x+y');
    assert.equal(withQuery('ws://h/p', []), 'ws://h/p');
  });
});
