// A self-signed certificate for serving wss:// on this machine during development. The X.509 work is
// @peculiar/x509's over Node's webcrypto; nothing here encodes ASN.1 by hand.
import { webcrypto, X509Certificate as NodeX509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

export interface DevCertificateOptions {
  /** Names the certificate is valid for: DNS names and IPv4/IPv6 addresses. Default `['localhost', '127.0.0.1', '::1']`. */
  hosts?: string[];
  /** Validity in days from now. Default 365 (browsers refuse leaf certificates valid much longer). */
  days?: number;
  /** The subject's common name. Default `'WebSocket Inspector development certificate'`. */
  commonName?: string;
}

export interface DevCertificate {
  /** The certificate, PEM ("BEGIN CERTIFICATE"). Give it to clients as their CA to trust the server. */
  certPem: string;
  /** The private key, PKCS#8 PEM ("BEGIN PRIVATE KEY"). Keep it private (file mode 0600). */
  keyPem: string;
  /** SHA-256 fingerprint as Node prints it (`AB:CD:…`), for the user to compare in a browser's certificate viewer. */
  fingerprint256: string;
  notAfter: Date;
}

const DEFAULT_DEV_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1'];

type X509Module = typeof import('@peculiar/x509');
let x509: Promise<X509Module> | undefined;

/**
 * Loaded on first use: @peculiar/x509's dependency injection needs the `reflect-metadata` polyfill on the global
 * `Reflect`, which we only want to install when a certificate is actually made (not on every activation).
 */
function loadX509(): Promise<X509Module> {
  x509 ??= (async () => {
    await import('reflect-metadata');
    const m = await import('@peculiar/x509');
    m.cryptoProvider.set(webcrypto as unknown as Crypto);
    return m;
  })();
  return x509;
}

/** Makes a fresh ECDSA P-256 key and a self-signed certificate whose SANs are `hosts`. */
export async function generateDevCertificate(options: DevCertificateOptions = {}): Promise<DevCertificate> {
  const hosts = options.hosts ?? [...DEFAULT_DEV_HOSTS];
  const days = options.days ?? 365;
  if (hosts.length === 0) throw new TypeError('generateDevCertificate: hosts must name at least one host.');
  if (!Number.isInteger(days) || days < 1 || days > 825) {
    throw new TypeError(`generateDevCertificate: days must be a whole number from 1 to 825, got ${days}.`);
  }
  const cn = options.commonName ?? 'WebSocket Inspector development certificate';
  if (/[,+=<>#;"\\]/.test(cn)) throw new TypeError('generateDevCertificate: commonName must not contain DN special characters.');

  const x = await loadX509();
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const notBefore = new Date(Date.now() - 60_000); // a minute of slack for clocks that differ a little
  const notAfter = new Date(notBefore.getTime() + days * 86_400_000);
  const cert = await x.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: `CN=${cn}`,
    notBefore,
    notAfter,
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x.BasicConstraintsExtension(false, undefined, true),
      // keyCertSign lets OpenSSL treat the certificate as its own issuer when a client is given it as `ca`.
      new x.KeyUsagesExtension(x.KeyUsageFlags.digitalSignature | x.KeyUsageFlags.keyCertSign, true),
      new x.ExtendedKeyUsageExtension([x.ExtendedKeyUsage.serverAuth]),
      new x.SubjectAlternativeNameExtension(hosts.map((h) => ({ type: isIP(h) ? ('ip' as const) : ('dns' as const), value: h }))),
      await x.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const certPem = cert.toString('pem');
  return {
    certPem,
    keyPem: x.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    fingerprint256: new NodeX509Certificate(certPem).fingerprint256,
    notAfter,
  };
}
