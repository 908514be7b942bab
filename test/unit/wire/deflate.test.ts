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

describe('PassiveInflater after a message it could not inflate', () => {
  /** Compresses `messages` in order with one deflate context, as a peer with context takeover does. */
  async function compressInOrder(messages: string[]): Promise<Buffer[]> {
    const zlib = await import('node:zlib');
    const d = zlib.createDeflateRaw();
    const out: Buffer[] = [];
    for (const m of messages) {
      const chunks: Buffer[] = [];
      const onData = (c: Buffer) => chunks.push(c);
      d.on('data', onData);
      d.write(Buffer.from(m));
      await new Promise<void>((resolve) => d.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
      d.off('data', onData);
      const all = Buffer.concat(chunks);
      out.push(all.subarray(0, all.length - 4)); // RFC 7692: the 00 00 ff ff tail is not sent
    }
    d.close();
    return out;
  }

  test('a later message that refers back past the lost one is an error, never wrong text', async () => {
    // Long enough that a reference from the third message back into the second lands inside the first when the
    // second is missing from the window: the stale window would then give other bytes without an error.
    const m1 = Array.from({ length: 40 }, (_, i) => `word${i * 7919 % 1000}`).join(' ');
    const m2 = 'the second one says: 0123456789 0123456789 zulu yankee xray';
    const m3 = 'the third repeats the second: 0123456789 0123456789 zulu yankee xray';
    const [c1, c2, c3] = await compressInOrder([m1, m2, m3]);
    const inflater = new PassiveInflater();
    assert.equal((inflater.inflate(c1) as Buffer).toString(), m1);
    const broken = Buffer.from(c2);
    broken[0] ^= 0xff; // the block header: not a deflate stream any more
    assert.ok(inflater.inflate(broken) instanceof WireError, 'the damaged message is an error');
    const third = inflater.inflate(c3);
    if (third instanceof WireError) assert.equal(third.code, 'WS_ERR_INFLATE_FAILED');
    else assert.equal(third.toString(), m3, 'if it inflates at all, it is the text that was sent');
  });
});
