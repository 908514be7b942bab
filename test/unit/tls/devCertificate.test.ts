import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { once } from 'node:events';
import * as https from 'node:https';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import { generateDevCertificate, type DevCertificate } from '../../../src/core/tls/devCertificate';

/** One HTTPS request to a server on 127.0.0.1 that serves `cert`; resolves with the body or the client's error. */
async function fetchOver(cert: DevCertificate, host: string, clientOpts: https.RequestOptions): Promise<{ body?: string; error?: NodeJS.ErrnoException }> {
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (_req, res) => res.end('hello over tls'));
  const sockets = new Set<net.Socket>();
  server.on('secureConnection', (s) => sockets.add(s));
  server.on('tlsClientError', () => undefined); // the refused client aborts the handshake; that is the point
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  try {
    return await new Promise((resolve) => {
      const req = https.get({ host: '127.0.0.1', servername: host === '127.0.0.1' ? undefined : host, port, path: '/', agent: false, ...clientOpts }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ body }));
      });
      req.on('error', (error: NodeJS.ErrnoException) => resolve({ error }));
    });
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  }
}

describe('generateDevCertificate', () => {
  let cert: DevCertificate;
  before(async () => {
    cert = await generateDevCertificate({ hosts: ['localhost', '127.0.0.1', '::1'], days: 365 });
  });

  test('makes a PEM certificate that Node parses, with the DNS and IP SANs, self-signed, valid for the given days', () => {
    assert.match(cert.certPem, /^-----BEGIN CERTIFICATE-----\n/);
    assert.match(cert.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    const x = new X509Certificate(cert.certPem);
    assert.equal(x.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.equal(x.subject, 'CN=WebSocket Inspector development certificate');
    assert.equal(x.issuer, x.subject);
    assert.equal(x.ca, false);
    assert.ok(x.verify(x.publicKey), 'signed by its own key');
    assert.ok(x.checkHost('localhost'));
    assert.ok(x.checkIP('127.0.0.1'));
    assert.equal(x.checkHost('example.com'), undefined);
    assert.equal(x.fingerprint256, cert.fingerprint256);
    assert.match(cert.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const days = (Date.parse(x.validTo) - Date.parse(x.validFrom)) / 86_400_000;
    assert.ok(Math.abs(days - 365) < 1 / 24, `valid ${days} days`);
    assert.deepEqual(x.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extended key usage: serverAuth');
  });

  test('the key belongs to the certificate', () => {
    const key = createPrivateKey(cert.keyPem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.ok(new X509Certificate(cert.certPem).checkPrivateKey(key));
  });

  test('each call makes a new key and serial number', async () => {
    const other = await generateDevCertificate({ hosts: ['dev.test'], days: 30 });
    const a = new X509Certificate(cert.certPem);
    const b = new X509Certificate(other.certPem);
    assert.notEqual(a.serialNumber, b.serialNumber);
    assert.notEqual(cert.fingerprint256, other.fingerprint256);
    assert.equal(b.subjectAltName, 'DNS:dev.test');
  });

  test('rejects bad options with a TypeError', async () => {
    await assert.rejects(generateDevCertificate({ hosts: [] }), TypeError);
    await assert.rejects(generateDevCertificate({ days: 0 }), TypeError);
    await assert.rejects(generateDevCertificate({ days: 5000 }), TypeError);
    await assert.rejects(generateDevCertificate({ commonName: 'a,b' }), TypeError);
  });

  test('a TLS client that trusts it as its CA connects, by IP and by name', async () => {
    const byIp = await fetchOver(cert, '127.0.0.1', { ca: cert.certPem });
    assert.equal(byIp.error, undefined, byIp.error?.message);
    assert.equal(byIp.body, 'hello over tls');
    const byName = await fetchOver(cert, 'localhost', { ca: cert.certPem });
    assert.equal(byName.error, undefined, byName.error?.message);
    assert.equal(byName.body, 'hello over tls');
  });

  test('a client without it as CA is refused (self-signed), and so is one for a name not in the SANs', async () => {
    const without = await fetchOver(cert, '127.0.0.1', {});
    assert.equal(without.body, undefined);
    assert.equal(without.error?.code, 'DEPTH_ZERO_SELF_SIGNED_CERT');
    const wrongName = await fetchOver(cert, 'example.com', { ca: cert.certPem });
    assert.equal(wrongName.body, undefined);
    assert.equal(wrongName.error?.code, 'ERR_TLS_CERT_ALTNAME_INVALID');
  });

  test('tls.connect with the certificate as CA authorizes the peer', async () => {
    const server = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => s.end('x'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    try {
      const socket = tls.connect({ host: '127.0.0.1', port, ca: cert.certPem });
      await once(socket, 'secureConnect');
      assert.equal(socket.authorized, true);
      assert.equal(socket.getPeerX509Certificate()?.fingerprint256, cert.fingerprint256);
      socket.destroy();
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
