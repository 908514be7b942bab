// One TCP connection of a capture file: both directions reassembled, an HTTP upgrade found on any port, and the bytes
// fed to the same ConnectionCapture a live capture uses, as a passive observer sees them.
import { ConnectionCapture } from '../capture/connectionCapture';
import type { DeflateParams, Direction } from '../capture/events';
import type { CountingSink } from './sessionSource';
import { MidStreamCapture } from './midStreamCapture';
import type { TcpSegment } from './packetDecode';
import { TcpDirection } from './tcpReassembly';

/** A stream the caller wants decoded as WebSocket frames though its handshake is not in the capture. */
export interface MidStreamRequest {
  /** The stream's id, as a previous read listed it (PcapStreamInfo.id); its two endpoints in either order. */
  stream: string;
  /** The server's endpoint (`ip:port`, `[ipv6]:port`). Default: the SYN's receiver, else the end whose frames are not masked. */
  server?: string;
  /** What was negotiated: null for none; undefined when unknown (see MidStreamOptions.deflate). */
  deflate?: DeflateParams | null;
}

export type StreamKind = 'websocket' | 'websocket-without-handshake' | 'not-websocket';

export interface PcapStreamInfo {
  /** `client-server` (first-seen order while the client is not known), with `#n` for a later connection on the same ports. */
  id: string;
  /** The two ends, in the order first seen. */
  endpoints: [string, string];
  client?: string;
  server?: string;
  kind: StreamKind;
  /** Why it is not a WebSocket. */
  why?: string;
  firstTime: number;
  lastTime: number;
  /**
   * Stream bytes each end sent (in the order of `endpoints`), gaps not counted. For a stream that is not a WebSocket,
   * once that is known its segments' payloads are only added up (retransmissions included), not reassembled.
   */
  bytes: [number, number];
  gaps: number;
  gapBytes: number;
  /** Bytes seen twice: retransmissions and overlaps. */
  duplicateBytes: number;
  /** The capture ended before the connection did. */
  open: boolean;
}

/** What the streams of one read share. */
export interface StreamContext {
  sink: CountingSink;
  /** The time of the packet being read; the captures' clock reads it. */
  clock: { time: number };
  maxPayload: number;
  maxReorderBytes: number;
  /** The caller's request for a stream between these two ends, if any. */
  midStream(a: string, b: string): MidStreamRequest | undefined;
}

const DETECT = 0;
const WEBSOCKET = 1;
const MID_STREAM = 2;
const OTHER = 3;

/** An HTTP/1.1 request head longer than this is not taken for an upgrade (HttpHeadParser's default limit). */
const MAX_HEAD = 16 * 1024;
/** Bytes of both ends held while the request head is incomplete. */
const MAX_PENDING = 1024 * 1024;

export class TcpStream {
  readonly info: PcapStreamInfo;
  ended = false;
  private state = DETECT;
  private clientIsA: boolean | undefined;
  private readonly dirA: TcpDirection;
  private readonly dirB: TcpDirection;
  private pending: Array<{ fromA: boolean; chunk: Buffer; time: number }> = [];
  private pendingBytes = 0;
  private capture: ConnectionCapture | undefined;
  private mid: MidStreamCapture | undefined;
  /** Per end (A, B): a gap was seen, its bytes are no longer decoded. */
  private readonly lost = [false, false];
  /** FIN seen per end, for streams whose bytes are not reassembled. */
  private readonly finSeen = [false, false];
  private readonly clockFn: () => number;

  constructor(
    private readonly ctx: StreamContext,
    a: string,
    b: string,
    private readonly suffix: string,
  ) {
    const t = ctx.clock.time;
    this.info = { id: `${a}-${b}${suffix}`, endpoints: [a, b], kind: 'not-websocket', firstTime: t, lastTime: t, bytes: [0, 0], gaps: 0, gapBytes: 0, duplicateBytes: 0, open: false };
    this.clockFn = () => ctx.clock.time;
    this.dirA = new TcpDirection({ data: (c) => this.onData(true, c), gap: (n, at) => this.onGap(true, n, at) }, ctx.maxReorderBytes);
    this.dirB = new TcpDirection({ data: (c) => this.onData(false, c), gap: (n, at) => this.onGap(false, n, at) }, ctx.maxReorderBytes);
  }

  onSegment(seg: TcpSegment, fromA: boolean): void {
    this.info.lastTime = this.ctx.clock.time;
    if (this.ended) return;
    const dir = fromA ? this.dirA : this.dirB;
    if (seg.syn) {
      this.clientIsA ??= seg.hasAck ? !fromA : fromA;
      dir.syn(seg.seq);
    }
    if (this.state === OTHER) {
      if (seg.fin) this.finSeen[fromA ? 0 : 1] = true;
      this.info.bytes[fromA ? 0 : 1] += seg.payload.length;
      if (seg.rst || (this.finSeen[0] && this.finSeen[1])) this.end(false);
      return;
    }
    if (seg.hasAck) (fromA ? this.dirB : this.dirA).acked(seg.ack);
    dir.segment(seg.seq, seg.payload, seg.missing, seg.fin);
    this.dirA.tick();
    this.dirB.tick();
    if (seg.rst || (this.dirA.finished && this.dirB.finished)) this.end(false);
  }

  /** The connection is over (FIN both ways, or RST), or the capture ended (`captureEnded`) while it was open. */
  end(captureEnded: boolean): void {
    if (this.ended) return;
    this.ended = true;
    this.info.open = captureEnded;
    this.dirA.flush();
    this.dirB.flush();
    if (this.state === DETECT) this.conclude(this.pendingBytes > 0 ? 'the connection ended before a complete request head' : 'no data');
    if (captureEnded && (this.capture !== undefined || this.mid !== undefined)) {
      this.ctx.sink.append({
        kind: 'error',
        connectionId: this.info.id,
        time: this.ctx.clock.time,
        code: 'WS_ERR_CAPTURE_ENDED',
        closeCode: 1006,
        message: 'the capture file ended while the connection was open: what follows is where its bytes stopped, not a close',
      });
    }
    this.capture?.end();
    this.mid?.end();
    this.capture = undefined;
    this.mid = undefined;
    this.pending = [];
    for (const d of [this.dirA, this.dirB]) {
      this.info.gaps += d.gaps;
      this.info.gapBytes += d.gapBytes;
      this.info.duplicateBytes += d.duplicateBytes;
    }
  }

  private onData(fromA: boolean, chunk: Buffer): void {
    this.info.bytes[fromA ? 0 : 1] += chunk.length;
    switch (this.state) {
      case DETECT:
        this.pending.push({ fromA, chunk, time: this.ctx.clock.time });
        this.pendingBytes += chunk.length;
        this.detect();
        return;
      case WEBSOCKET:
      case MID_STREAM:
        if (!this.lost[fromA ? 0 : 1]) this.feed(fromA, chunk);
        return;
      default:
        return;
    }
  }

  private feed(fromA: boolean, chunk: Buffer): void {
    const fromClient = fromA === this.clientIsA;
    if (this.capture !== undefined) {
      // A passive observer is neither end: the capture is given the server's view, the client's bytes as read.
      if (fromClient) this.capture.inbound(chunk);
      else this.capture.outbound(chunk);
    } else {
      this.mid?.push(fromClient ? 'c2s' : 's2c', chunk);
    }
  }

  private onGap(fromA: boolean, bytes: number, at: number): void {
    const side = fromA ? 0 : 1;
    if (this.lost[side]) return;
    this.lost[side] = true;
    if (this.state === DETECT) {
      this.conclude('a gap in the capture before the request head was complete');
      return;
    }
    if (this.state === OTHER) return;
    const direction: Direction = fromA === this.clientIsA ? 'c2s' : 's2c';
    this.ctx.sink.append({
      kind: 'error',
      connectionId: this.info.id,
      time: this.ctx.clock.time,
      direction,
      code: 'WS_ERR_CAPTURE_GAP',
      closeCode: 1006,
      message: `${bytes} byte${bytes === 1 ? '' : 's'} of ${direction} (from its byte ${at}) are not in the capture: ${direction} is not decoded after them`,
    });
  }

  private detect(): void {
    const candidateIsA = this.clientIsA ?? this.pending[0].fromA;
    const parts = this.pending.filter((p) => p.fromA === candidateIsA).map((p) => p.chunk);
    if (parts.length === 0) {
      // The known server spoke first: not HTTP.
      this.conclude('the server spoke first');
      return;
    }
    const verdict = upgradeVerdict(Buffer.concat(parts));
    if (verdict === 'wait' && this.pendingBytes > MAX_PENDING) {
      this.conclude(`no complete request head in the first ${MAX_PENDING} bytes`);
      return;
    }
    if (verdict === 'wait') return;
    if (verdict !== 'upgrade') {
      this.conclude(verdict);
      return;
    }
    this.clientIsA = candidateIsA;
    this.name();
    this.info.kind = 'websocket';
    this.state = WEBSOCKET;
    const { client, server } = this.info;
    this.capture = new ConnectionCapture({
      connectionId: this.info.id,
      role: 'server',
      sink: this.ctx.sink,
      meta: { source: 'pcap', client: client!, server: server! },
      maxPayload: this.ctx.maxPayload,
      clock: this.clockFn,
    });
    this.replay();
  }

  /** Not an upgrade: decoded without its handshake when the caller asked for it, else only counted. */
  private conclude(why: string): void {
    const [a, b] = this.info.endpoints;
    const request = this.ctx.midStream(a, b);
    if (request === undefined) {
      this.info.why = why;
      this.state = OTHER;
      this.pending = [];
      return;
    }
    if (request.server !== undefined) this.clientIsA = request.server !== a;
    else if (this.clientIsA === undefined) {
      // A client's frames are masked (RFC 6455 §5.1): the second byte's top bit.
      const first = this.pending[0];
      this.clientIsA = first === undefined ? true : first.chunk.length >= 2 && (first.chunk[1] & 0x80) !== 0 ? first.fromA : !first.fromA;
    }
    this.name();
    this.info.kind = 'websocket-without-handshake';
    this.state = MID_STREAM;
    const { client, server } = this.info;
    this.mid = new MidStreamCapture({
      connectionId: this.info.id,
      sink: this.ctx.sink,
      clock: this.clockFn,
      deflate: request.deflate,
      meta: { source: 'pcap', client: client!, server: server! },
      maxPayload: this.ctx.maxPayload,
    });
    this.replay();
  }

  private name(): void {
    const [a, b] = this.info.endpoints;
    this.info.client = this.clientIsA ? a : b;
    this.info.server = this.clientIsA ? b : a;
    this.info.id = `${this.info.client}-${this.info.server}${this.suffix}`;
  }

  /** Feeds what waited for the decision, each chunk at its own packet's time. */
  private replay(): void {
    const clock = this.ctx.clock;
    const now = clock.time;
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) {
      clock.time = p.time;
      if (!this.lost[p.fromA ? 0 : 1]) this.feed(p.fromA, p.chunk);
    }
    clock.time = now;
  }
}

/** 'upgrade', 'wait' for more bytes, or why the first bytes of a client are not a WebSocket upgrade request. */
export function upgradeVerdict(b: Buffer): 'upgrade' | 'wait' | string {
  const prefix = b.toString('latin1', 0, Math.min(b.length, 20));
  const method = /^[A-Z]+/.exec(prefix);
  if (method === null) return 'not an HTTP request';
  if (method[0].length === prefix.length) return prefix.length < 20 ? 'wait' : 'not an HTTP request';
  if (prefix[method[0].length] !== ' ') return 'not an HTTP request';
  const end = b.indexOf('\r\n\r\n');
  if (end < 0) return b.length > MAX_HEAD ? `a request head over ${MAX_HEAD} bytes` : 'wait';
  const lines = b.toString('latin1', 0, end).split('\r\n');
  if (!/ HTTP\/1\.[01]$/.test(lines[0])) return 'not an HTTP/1.x request';
  const upgrade = lines.slice(1).some((l) => /^upgrade[ \t]*:.*\bwebsocket\b/i.test(l));
  return upgrade ? 'upgrade' : 'an HTTP request without Upgrade: websocket';
}
