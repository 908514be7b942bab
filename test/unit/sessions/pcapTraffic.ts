// One run of real traffic recorded three ways at once (live capture, tcpdump on lo, tcpdump on any), shared by the
// pcap reader's tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CaptureEvent } from '../../../src/core/capture/events';
import { readSessionFile } from '../../../src/core/sessions/readSession';
import type { PcapReadResult } from '../../../src/core/sessions/pcapReader';
import { ArraySink } from '../../support/arraySink';
import { waitFor } from '../../support/waitFor';
import { startTcpdump } from './captureFiles';
import { type LiveServer, endpoint, runClient, runOthers, startLiveServer } from './liveTraffic';

export interface Recorded {
  dir: string;
  live: CaptureEvent[];
  /** tcpdump's files, by name: `lo.pcap` (Ethernet, µs), `sll.pcap` (-i any, SLL, ns), `sll2.pcap` (-i any, SLL2). */
  files: Record<string, string>;
  /** The clients' endpoints (the live connection ids) and the servers'. */
  deflate: string;
  big: string;
  serverCloses: string;
  refused: string;
  servers: { a: string; b: string };
  started: number;
  finished: number;
  dispose(): void;
}

/** The pcap reader's connection id of a live connection `client` to `server`. */
export const pcapId = (client: string, server: string): string => `${client}-${server}`;

/**
 * Two servers on two ports of `host` (one with permessage-deflate), three WebSocket clients at once (deflate with
 * fragments and context takeover; a 300 KB message; a server close), a plain HTTP request and a refused upgrade.
 */
export async function recordTraffic(host: string, captures: Array<{ name: string; iface: string; linkType?: string; nano?: boolean }>): Promise<Recorded> {
  const dir = mkdtempSync(join(tmpdir(), 'ws-sessions-'));
  const sink = new ArraySink();
  const a = await startLiveServer(sink, host, true);
  const b = await startLiveServer(sink, host, false);
  const filter = `${host.includes(':') ? 'ip6' : 'ip'} and (tcp port ${a.port} or tcp port ${b.port})`;
  const files: Record<string, string> = {};
  const dumps = [];
  for (const c of captures) {
    files[c.name] = join(dir, c.name);
    dumps.push(await startTcpdump(files[c.name], { iface: c.iface, filter, linkType: c.linkType, nano: c.nano }));
  }
  const started = Date.now();
  const [deflate, big, serverCloses] = await Promise.all([
    runClient(a.url(), { deflate: true }),
    runClient(a.url(), { deflate: false, big: true }),
    runClient(b.url(), { deflate: false, serverCloses: true }),
  ]);
  const { refusedId } = await runOthers(b);
  await closeAll([a, b]);
  const servers = { a: endpoint(host, a.port), b: endpoint(host, b.port) };
  const expected = [pcapId(deflate.id, servers.a), pcapId(big.id, servers.a), pcapId(serverCloses.id, servers.b)];
  // tcpdump has written everything once each file holds the end of every connection.
  for (const file of Object.values(files)) {
    await waitFor(`${file} to hold the end of every connection`, async () => {
      const r = (await readSessionFile(file, new ArraySink())) as PcapReadResult;
      return expected.every((id) => r.streams.some((s) => s.id === id && !s.open));
    });
  }
  for (const d of dumps) {
    const said = await d.stop();
    const dropped = Number(/(\d+) packets? dropped by kernel/.exec(said)?.[1] ?? 0);
    if (dropped > 0) throw new Error(`tcpdump dropped ${dropped} packets (its buffer is 64 MiB): the capture is incomplete. It said: ${said}`);
  }
  return {
    dir,
    live: sink.events,
    files,
    deflate: deflate.id,
    big: big.id,
    serverCloses: serverCloses.id,
    refused: refusedId,
    servers,
    started,
    finished: Date.now(),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

async function closeAll(servers: LiveServer[]): Promise<void> {
  await Promise.all(servers.map((s) => s.close()));
}
