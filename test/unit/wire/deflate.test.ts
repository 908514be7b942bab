import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassiveInflater, negotiatedDeflate, parseExtensions } from '../../../src/core/wire/deflate';
import { WireError } from '../../../src/core/wire/errors';
import { wsCompress, wsParseExtensions, wsPmd } from './wsPmd';

describe('parseExtensions', () => {
  test('tokens, parameters, quoted values, several extensions', () => {
    assert.deepEqual(parseExtensions('permessage-deflate; client_max_window_bits; server_max_window_bits="10", x-foo;a=b'), [
      {
        name: 'permessage-deflate',
        params: [
          ['client_max_window_bits', true],
          ['server_max_window_bits', '10'],
        ],
      },
      { name: 'x-foo', params: [['a', 'b']] },
    ]);
    assert.deepEqual(parseExtensions(''), []);
    assert.deepEqual(parseExtensions(' foo ,, bar '), [
      { name: 'foo', params: [] },
      { name: 'bar', params: [] },
    ]);
    assert.deepEqual(parseExtensions('foo; a="x\\"y"'), [{ name: 'foo', params: [['a', 'x"y']] }]);
  });

  test('agrees with ws on what it accepts', () => {
    const headers = [
      'permessage-deflate',
      'permessage-deflate; client_no_context_takeover',
      'permessage-deflate; server_max_window_bits=10; client_max_window_bits',
      'permessage-deflate;server_no_context_takeover , x-webkit-deflate-frame',
      'foo; bar="baz"',
    ];
    for (const h of headers) {
      const ours = parseExtensions(h);
      const theirs = wsParseExtensions(h);
      assert.deepEqual(ours.map((e) => e.name), Object.keys(theirs), h);
    }
  });

  test('malformed headers are WS_ERR_INVALID_EXTENSION', () => {
    for (const h of ['foo;', 'foo bar', 'foo; a=', 'foo; a="x', ';a', 'foo; a=b c']) {
      assert.throws(
        () => parseExtensions(h),
        (e: unknown) => e instanceof WireError && e.code === 'WS_ERR_INVALID_EXTENSION',
        h,
      );
    }
  });
});

describe('negotiatedDeflate', () => {
  test('defaults and every parameter', () => {
    assert.equal(negotiatedDeflate(undefined), undefined);
    assert.equal(negotiatedDeflate('x-other'), undefined);
    assert.deepEqual(negotiatedDeflate('permessage-deflate'), {
      serverNoContextTakeover: false,
      clientNoContextTakeover: false,
      serverMaxWindowBits: 15,
      clientMaxWindowBits: 15,
    });
    assert.deepEqual(negotiatedDeflate('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits="12"'), {
      serverNoContextTakeover: true,
      clientNoContextTakeover: true,
      serverMaxWindowBits: 9,
      clientMaxWindowBits: 12,
    });
  });

  test('invalid parameters are WS_ERR_INVALID_EXTENSION', () => {
    for (const h of ['permessage-deflate; server_max_window_bits=16', 'permessage-deflate; client_max_window_bits', 'permessage-deflate; foo', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover']) {
      assert.throws(() => negotiatedDeflate(h), (e: unknown) => e instanceof WireError && e.code === 'WS_ERR_INVALID_EXTENSION', h);
    }
  });
});

describe('PassiveInflater', () => {
  const texts = ['x'.repeat(50000), 'the quick brown fox', 'the quick brown fox jumps', 'the quick brown fox jumps over the lazy dog', 'the quick brown fox again'];

  for (const takeover of [true, false]) {
    test(`inflates ws-compressed messages ${takeover ? 'with' : 'without'} context takeover (c2s)`, async () => {
      const header = takeover ? 'permessage-deflate' : 'permessage-deflate; client_no_context_takeover';
      const client = wsPmd(false, header);
      const params = negotiatedDeflate(header)!;
      const inflater = PassiveInflater.forDirection(params, 'c2s');
      let smaller = false;
      for (const t of texts) {
        const compressed = await wsCompress(client, Buffer.from(t));
        const out = inflater.inflate(compressed);
        assert.ok(Buffer.isBuffer(out), String(out));
        assert.equal(out.toString(), t);
        if (t.startsWith('the quick brown fox again') && compressed.length < 15) smaller = true;
      }
      // With context takeover the last message refers back to earlier ones, so it compresses below its own size.
      assert.equal(smaller, takeover);
      client.cleanup();
    });
  }

  test('without the dictionary, a context-takeover stream cannot be read (the window matters)', async () => {
    const client = wsPmd(false, 'permessage-deflate');
    await wsCompress(client, Buffer.from('abcdefghijabcdefghij'));
    const second = await wsCompress(client, Buffer.from('abcdefghijabcdefghij'));
    const fresh = new PassiveInflater({ noContextTakeover: true }).inflate(second);
    assert.ok(fresh instanceof WireError || fresh.toString() !== 'abcdefghijabcdefghij');
    client.cleanup();
  });

  test('the server_* parameters govern s2c', () => {
    const params = negotiatedDeflate('permessage-deflate; server_no_context_takeover')!;
    // Both decompress a fresh message, but only the c2s one keeps a window.
    const s2c = PassiveInflater.forDirection(params, 's2c') as unknown as { noContextTakeover: boolean };
    const c2s = PassiveInflater.forDirection(params, 'c2s') as unknown as { noContextTakeover: boolean };
    assert.equal(s2c.noContextTakeover, true);
    assert.equal(c2s.noContextTakeover, false);
  });
});
