// Builds ws's own PerMessageDeflate for either end, negotiated from a header, for differential tests.
import { dirname, join } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { PerMessageDeflate } = require('ws') as { PerMessageDeflate: new (o: object) => WsPmd };
// ws does not export its header parser; load it by path.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const extension = require(join(dirname(require.resolve('ws')), 'lib', 'extension.js')) as { parse(h: string): Record<string, object[]> };

export interface WsPmd {
  params: Record<string, unknown>;
  accept(configs: object[]): Record<string, unknown>;
  compress(data: Buffer, fin: boolean, cb: (err: Error | null, out: Buffer) => void): void;
  cleanup(): void;
}

/** A ws PerMessageDeflate as `isServer` would have after negotiating `header` (the offer for a server, the response for a client). */
export function wsPmd(isServer: boolean, header: string, maxPayload = 0): WsPmd {
  const pmd = new PerMessageDeflate({ isServer, maxPayload, threshold: 0 });
  pmd.accept(extension.parse(header)['permessage-deflate']);
  return pmd;
}

export function wsCompress(pmd: WsPmd, data: Buffer, fin = true): Promise<Buffer> {
  return new Promise((resolve, reject) => pmd.compress(data, fin, (err, out) => (err ? reject(err) : resolve(out))));
}

export function wsParseExtensions(header: string): Record<string, object[]> {
  return extension.parse(header);
}
