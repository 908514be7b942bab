// Reads a packet capture (pcap or pcapng, as tcpdump or Wireshark write it) into capture events: every TCP stream
// that starts with a WebSocket upgrade, on any port, decoded by the same ConnectionCapture as live traffic, each
// event at its packet's time.
import type { CaptureSink } from '../capture/events';
import { DEFAULT_MAX_PAYLOAD } from '../wire/constants';
import { decodePacket } from './packetDecode';
import { CaptureFileParser, type CapturedPacket } from './pcapFile';
import { Problems, type SessionReadResult, sessionError } from './sessionErrors';
import { CountingSink, type ReadOptions, type SessionSource, readChunks, readResult } from './sessionSource';
import { type MidStreamRequest, type PcapStreamInfo, type StreamContext, TcpStream } from './tcpStream';

export type { MidStreamRequest, PcapStreamInfo, StreamKind } from './tcpStream';

export interface PcapReadOptions extends ReadOptions {
  /**
   * Streams to decode as WebSocket frames though their handshake is not in the capture (it started after it): ids
   * of a previous read's `streams`. Compression is then unknown unless given (see MidStreamRequest).
   */
  decodeWithoutHandshake?: MidStreamRequest[];
  /** Frame and message size limit, as the live capture's (ConnectionCaptureOptions.maxPayload). Default 100 MiB. */
  maxPayload?: number;
  /**
   * Out-of-order bytes held per direction while a segment before them is missing; past this the missing bytes are a
   * gap. Default 32 MiB (more than a TCP window).
   */
  maxReorderBytes?: number;
}

export interface PcapReadResult extends SessionReadResult {
  format: 'pcap' | 'pcapng';
  /** Packet records read. */
  packets: number;
  /** The capture's link types (LINKTYPE_*), per interface. */
  linkTypes: number[];
  /** Every TCP stream seen, in the order of its first packet: WebSockets and the others (see `why`). */
  streams: PcapStreamInfo[];
}

const DEFAULTS = { maxPayload: DEFAULT_MAX_PAYLOAD, maxReorderBytes: 32 * 1024 * 1024 };

/**
 * Appends the WebSocket connections of a capture file to `sink`. Each TCP stream is reassembled per direction in
 * sequence order (retransmissions and overlaps dropped; missing bytes a `WS_ERR_CAPTURE_GAP` error event, after which
 * that direction is not decoded); a stream whose client starts with an HTTP upgrade request is fed, client bytes as
 * read and server bytes as written, into a ConnectionCapture with role 'server'. A connection still open when the file
 * ends gets `WS_ERR_CAPTURE_ENDED`, then what its bytes stopped inside, then its closed event.
 * Not a capture file: `SESSION_ERR_FORMAT`; cut inside a record: `SESSION_ERR_TRUNCATED`; no upgrade:
 * `SESSION_ERR_NO_WEBSOCKETS` (`streams` lists what there was).
 */
export async function readPcap(source: SessionSource, sink: CaptureSink, options: PcapReadOptions = {}): Promise<PcapReadResult> {
  const o = { ...DEFAULTS, ...options };
  const problems = new Problems();
  const counting = new CountingSink(sink);
  const session = new PcapSession(counting, problems, o);
  const parser = new CaptureFileParser((p) => session.packet(p));
  const { bytesRead, complete } = await readChunks(source, o, problems, (chunk) => {
    const err = parser.push(chunk);
    counting.seal?.();
    if (err !== undefined) problems.fail(err);
    return err === undefined;
  });
  if (complete) {
    const err = parser.end();
    if (err !== undefined) problems.fail(err);
  }
  session.end();
  counting.seal?.();
  const streams = session.infos;
  if (problems.error === undefined && !streams.some((s) => s.kind !== 'not-websocket')) {
    const n = streams.length;
    problems.fail(
      sessionError(
        'SESSION_ERR_NO_WEBSOCKETS',
        `no WebSocket upgrade in the capture (${n} TCP stream${n === 1 ? '' : 's'}; one whose handshake was not captured can be named in decodeWithoutHandshake)`,
      ),
    );
  }
  const result = readResult(parser.format ?? 'pcap', counting, bytesRead, problems);
  return { ...result, format: parser.format ?? 'pcap', packets: session.packets, linkTypes: parser.linkTypes, streams };
}

class PcapSession {
  packets = 0;
  readonly infos: PcapStreamInfo[] = [];
  private readonly streams = new Map<string, TcpStream>();
  /** Connections so far per pair of ends, for the `#n` of a later one on the same ports. */
  private readonly pairs = new Map<string, number>();
  private readonly warned = new Set<string>();
  private readonly ctx: StreamContext;

  constructor(
    sink: CountingSink,
    private readonly problems: Problems,
    o: { maxPayload: number; maxReorderBytes: number; decodeWithoutHandshake?: MidStreamRequest[] },
  ) {
    const requests = new Map<string, MidStreamRequest>();
    for (const r of o.decodeWithoutHandshake ?? []) {
      const ends = r.stream.split('#')[0].split('-');
      if (ends.length === 2) requests.set(pairKey(ends[0], ends[1]), r);
      else problems.warn(sessionError('SESSION_ERR_FORMAT', `decodeWithoutHandshake: ${JSON.stringify(r.stream)} is not a stream id (client-server)`));
    }
    this.ctx = {
      sink,
      clock: { time: 0 },
      maxPayload: o.maxPayload,
      maxReorderBytes: o.maxReorderBytes,
      midStream: (a, b) => requests.get(pairKey(a, b)),
    };
  }

  packet(p: CapturedPacket): void {
    this.packets++;
    this.ctx.clock.time = p.time;
    const seg = decodePacket(p);
    if (seg === undefined) return;
    if (typeof seg === 'string') {
      if (!this.warned.has(seg)) {
        this.warned.add(seg);
        this.problems.warn(sessionError('SESSION_ERR_UNSUPPORTED', `packet ${this.packets}: ${seg} (and any like it: skipped)`));
      }
      return;
    }
    let key = `${seg.src}>${seg.dst}`;
    let s = this.streams.get(key);
    let fromA = true;
    if (s === undefined) {
      const back = this.streams.get(`${seg.dst}>${seg.src}`);
      if (back !== undefined) {
        s = back;
        fromA = false;
        key = `${seg.dst}>${seg.src}`;
      }
    }
    if (s !== undefined && s.ended) {
      // After a connection's end only a new SYN means something: the next connection on the same ports.
      if (!seg.syn || seg.hasAck) return;
      this.streams.delete(key);
      s = undefined;
    }
    if (s === undefined) {
      const pair = pairKey(seg.src, seg.dst);
      const n = (this.pairs.get(pair) ?? 0) + 1;
      this.pairs.set(pair, n);
      s = new TcpStream(this.ctx, seg.src, seg.dst, n === 1 ? '' : `#${n}`);
      this.streams.set(`${seg.src}>${seg.dst}`, s);
      this.infos.push(s.info);
      fromA = true;
    }
    s.onSegment(seg, fromA);
  }

  /** The file has ended: the connections still open end with it, at the last packet's time. */
  end(): void {
    for (const s of this.streams.values()) s.end(true);
  }
}

const pairKey = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`);
