// TLS end to end: the broadcast server serving wss:// with a generated certificate, and the client connection
// with and without that certificate as its CA.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type ClientConnection, type ClientConnectionOptions, type ClientStateChange } from '../../../src/core/client/clientConnection';
import { BroadcastServer } from '../../../src/core/server/broadcastServer';
import { generateDevCertificate, type DevCertificate } from '../../../src/core/tls/devCertificate';

/** Opens a client; resolves with its first terminal state ('open' or 'closed' with the error) and the connection. */
function attempt(url: string, options: ClientConnectionOptions): Promise<{ conn: ClientConnection; change: ClientStateChange }> {
  const conn = connect(url, options);
  return new Promise((resolve) => {
    conn.onDidChangeState((change) => {
      if (change.state === 'open' || change.state === 'closed') resolve({ conn, change });
    });
  });
}

describe('wss:// with a generated development certificate', () => {
  let cert: DevCertificate;
  const server = new BroadcastServer();
  let port = 0;
  const conns: ClientConnection[] = [];

  before(async () => {
    cert = await generateDevCertificate();
    const addr = await server.start({ port: 0, relay: 'echo', heartbeatIntervalMs: 0, tls: { cert: cert.certPem, key: cert.keyPem } });
    port = addr.port;
    assert.equal(addr.url, `wss://127.0.0.1:${port}/`);
  });

  after(async () => {
    for (const c of conns) c.dispose();
    await server.stop();
  });

  for (const host of ['127.0.0.1', 'localhost']) {
    test(`a client given the certificate as CA connects by ${host} and gets its echo over TLS`, async () => {
      const { conn, change } = await attempt(`wss://${host}:${port}/`, { tls: { ca: cert.certPem } });
      conns.push(conn);
      assert.equal(change.state, 'open', change.error?.message);
      const got = new Promise<string>((resolve) => conn.onDidReceive((m) => resolve(m.data.toString())));
      conn.send('over tls');
      assert.equal(await got, 'over tls');
    });
  }

  test('a client without the CA is refused with a readable self-signed message', async () => {
    const { conn, change } = await attempt(`wss://127.0.0.1:${port}/`, {});
    conns.push(conn);
    assert.equal(change.state, 'closed');
    assert.equal(change.error?.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    assert.match(change.error?.message ?? '', /self-signed certificate that is not trusted/);
    assert.equal(server.clients().length, 2, 'the refused client never became a client');
  });

  test('a host name the certificate does not cover is refused even with the CA', async () => {
    const { conn, change } = await attempt(`wss://127.0.0.1:${port}/`, { tls: { ca: cert.certPem, servername: 'example.com' } });
    conns.push(conn);
    assert.equal(change.state, 'closed');
    assert.equal(change.error?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
    assert.match(change.error?.message ?? '', /^TLS: the certificate is not valid for .*example\.com. is not in the cert's altnames: DNS:localhost, IP Address:127\.0\.0\.1/);
  });

  test('rejectUnauthorized: false (the unsafe switch) connects without the CA', async () => {
    const { conn, change } = await attempt(`wss://127.0.0.1:${port}/`, { tls: { rejectUnauthorized: false } });
    conns.push(conn);
    assert.equal(change.state, 'open', change.error?.message);
  });

  test('another generated certificate is not a CA for this one', async () => {
    const other = await generateDevCertificate();
    const { conn, change } = await attempt(`wss://127.0.0.1:${port}/`, { tls: { ca: other.certPem } });
    conns.push(conn);
    assert.equal(change.state, 'closed');
    assert.equal(change.error?.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
  });
});
