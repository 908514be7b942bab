// Test certificates from the project's own generator (src/core/tls), so TLS tests need no openssl and never skip.
import { generateDevCertificate } from '../../src/core/tls/devCertificate';

export async function devCredentials(hosts?: string[]): Promise<{ key: Buffer; cert: Buffer }> {
  const c = await generateDevCertificate(hosts ? { hosts, days: 2 } : { days: 2 });
  return { key: Buffer.from(c.keyPem), cert: Buffer.from(c.certPem) };
}
