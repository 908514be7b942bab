// Negotiating permessage-deflate as an endpoint (src/core/wire/deflateNegotiation.ts): which offer is accepted, with
// what, and the header values written back.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { negotiatedDeflate, parseExtensions } from '../../../src/core/wire/deflate';
import { DEFLATE_OFFER, acceptDeflateOffer, formatExtensions } from '../../../src/core/wire/deflateNegotiation';
import { wsPmd } from './wsPmd';

const accept = (offer: string) => {
  const r = acceptDeflateOffer(parseExtensions(offer));
  return r && { params: r.params, response: formatExtensions([r.response]) };
};

describe('acceptDeflateOffer', () => {
  test("the browsers' and ws's offer: accepted with the defaults", () => {
    assert.deepEqual(accept('permessage-deflate; client_max_window_bits'), {
      params: { serverNoContextTakeover: false, clientNoContextTakeover: false, serverMaxWindowBits: 15, clientMaxWindowBits: 15 },
      response: 'permessage-deflate',
    });
    assert.equal(formatExtensions([DEFLATE_OFFER]), 'permessage-deflate; client_max_window_bits');
  });

  test('what the client asks for is honoured, and the response reads back as the same parameters', () => {
    const r = accept('permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12')!;
    assert.equal(r.response, 'permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12');
    assert.deepEqual(negotiatedDeflate(r.response), r.params);
    // ws, as the client that made the offer, accepts the response.
    const client = wsPmd(false, r.response);
    assert.equal(client.params.server_max_window_bits, 10);
    client.cleanup();
  });

  test('an offer with an unknown, repeated or invalid parameter is declined, and the next one is taken', () => {
    assert.equal(accept('permessage-deflate; x=1'), undefined);
    assert.equal(accept('permessage-deflate; server_max_window_bits=16'), undefined);
    assert.equal(accept('permessage-deflate; server_max_window_bits'), undefined);
    assert.equal(accept('permessage-deflate; client_no_context_takeover; client_no_context_takeover'), undefined);
    assert.equal(accept('x-webkit-deflate-frame'), undefined);
    assert.deepEqual(accept('permessage-deflate; server_max_window_bits=7, permessage-deflate; client_no_context_takeover')?.response, 'permessage-deflate; client_no_context_takeover');
  });
});
