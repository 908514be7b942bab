// The packet records of a pcap or pcapng file, read incrementally: any chunking of the file gives the same packets.
// Formats: https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-04.html and draft-ietf-opsawg-pcapng.
import { type SessionError, sessionError } from './sessionErrors';

export interface CapturedPacket {
  /** Epoch ms, from the record's timestamp. */
  time: number;
  /** LINKTYPE_* of the interface it was captured on. */
  linkType: number;
  /** The bytes captured: at most the snap length. Valid during the callback only. */
  data: Buffer;
  /** The packet's length on the wire: more than data.length when the capture cut it. */
  originalLength: number;
}

/** Records (or blocks) larger than this are taken as corruption. */
const MAX_RECORD = 256 * 1024 * 1024;

const MAGIC = 0;
const PCAP_HEADER = 1;
const PCAP_RECORD = 2;
const PCAP_DATA = 3;
const NG_BLOCK = 4;
const NG_BODY = 5;

const SHB = 0x0a0d0d0a;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

interface NgInterface {
  linkType: number;
  snapLength: number;
  /** Timestamp units per second. */
  unitsPerSecond: number;
  /** Seconds added to each timestamp (if_tsoffset). */
  offsetSeconds: number;
}

export class CaptureFileParser {
  /** Known after the first 4 bytes. */
  format: 'pcap' | 'pcapng' | undefined;
  /** Link types seen, in order. */
  readonly linkTypes: number[] = [];
  private state = MAGIC;
  private chunks: Buffer[] = [];
  private buffered = 0;
  private offset = 0;
  private le = true;
  private need = 4;

  // pcap
  private pcapLinkType = 0;
  private nanos = false;
  private record = { time: 0, caplen: 0, origlen: 0 };

  // pcapng
  private interfaces: NgInterface[] = [];
  private blockType = 0;
  private lastTime = 0;

  constructor(private readonly onPacket: (p: CapturedPacket) => void) {}

  /** Reads the next bytes; returns an error when the file can't be read on (then stop). */
  push(chunk: Buffer): SessionError | undefined {
    if (chunk.length === 0) return undefined;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= this.need) {
      const err = this.step();
      if (err !== undefined) return err;
    }
    return undefined;
  }

  /** The file has ended: an error when it ends inside a record. */
  end(): SessionError | undefined {
    if (this.state === MAGIC) {
      return sessionError('SESSION_ERR_FORMAT', this.offset + this.buffered === 0 ? 'the file is empty' : 'not a pcap or pcapng file (too short)');
    }
    if (this.buffered === 0 && (this.state === PCAP_RECORD || this.state === NG_BLOCK)) return undefined;
    const what = this.state === PCAP_HEADER ? 'its header' : this.state === PCAP_DATA || this.state === NG_BODY ? 'a packet record' : "a record's header";
    return sessionError('SESSION_ERR_TRUNCATED', `the capture file ends inside ${what} (${this.buffered} of ${this.need} bytes, at byte ${this.offset})`, { offset: this.offset });
  }

  private step(): SessionError | undefined {
    switch (this.state) {
      case MAGIC:
        return this.magic(this.peek(4));
      case PCAP_HEADER:
        return this.pcapHeader(this.consume(24));
      case PCAP_RECORD:
        return this.pcapRecord(this.consume(16));
      case PCAP_DATA: {
        const r = this.record;
        this.emit(r.time, this.pcapLinkType, this.consume(r.caplen), r.origlen);
        this.expect(PCAP_RECORD, 16);
        return undefined;
      }
      case NG_BLOCK:
        return this.ngBlockHeader(this.peek(12));
      default:
        return this.ngBlock(this.consume(this.need));
    }
  }

  private magic(b: Buffer): SessionError | undefined {
    const le = b.readUInt32LE(0);
    const be = b.readUInt32BE(0);
    if (le === SHB) {
      this.format = 'pcapng';
      this.expect(NG_BLOCK, 12);
      return undefined;
    }
    for (const [v, le2] of [[le, true], [be, false]] as const) {
      if (v === 0xa1b2c3d4 || v === 0xa1b23c4d) {
        this.format = 'pcap';
        this.le = le2;
        this.nanos = v === 0xa1b23c4d;
        this.expect(PCAP_HEADER, 24);
        return undefined;
      }
    }
    return sessionError('SESSION_ERR_FORMAT', `not a pcap or pcapng file (it starts with ${b.toString('hex')})`, { offset: 0 });
  }

  private pcapHeader(b: Buffer): SessionError | undefined {
    const major = this.u16(b, 4);
    if (major !== 2) return sessionError('SESSION_ERR_UNSUPPORTED', `pcap version ${major}.${this.u16(b, 6)} (only 2.x is read)`, { offset: 4 });
    // The upper bits are FCS information (draft-ietf-opsawg-pcap §4); the IP length leaves a trailing FCS out.
    this.pcapLinkType = this.u32(b, 20) & 0x0fffffff;
    this.linkTypes.push(this.pcapLinkType);
    this.expect(PCAP_RECORD, 16);
    return undefined;
  }

  private pcapRecord(b: Buffer): SessionError | undefined {
    const seconds = this.u32(b, 0);
    const frac = this.u32(b, 4);
    const caplen = this.u32(b, 8);
    if (caplen > MAX_RECORD) {
      return sessionError('SESSION_ERR_FORMAT', `a packet record of ${caplen} bytes at byte ${this.offset - 16}: the file is corrupt`, { offset: this.offset - 16 });
    }
    this.record = { time: seconds * 1000 + (this.nanos ? frac / 1e6 : frac / 1e3), caplen, origlen: this.u32(b, 12) };
    this.expect(PCAP_DATA, caplen);
    return undefined;
  }

  private ngBlockHeader(b: Buffer): SessionError | undefined {
    const type = this.u32(b, 0);
    if (type === SHB) {
      const bom = b.readUInt32LE(8);
      if (bom === BYTE_ORDER_MAGIC) this.le = true;
      else if (b.readUInt32BE(8) === BYTE_ORDER_MAGIC) this.le = false;
      else return sessionError('SESSION_ERR_FORMAT', `a pcapng section header without its byte-order magic at byte ${this.offset}`, { offset: this.offset });
    }
    const length = this.u32(b, 4);
    if (length < 12 || length % 4 !== 0 || length > MAX_RECORD) {
      return sessionError('SESSION_ERR_FORMAT', `a pcapng block of ${length} bytes at byte ${this.offset}: the file is corrupt`, { offset: this.offset });
    }
    this.blockType = type;
    this.expect(NG_BODY, length);
    return undefined;
  }

  private ngBlock(b: Buffer): SessionError | undefined {
    // Type and length first, the same length last.
    const body = b.subarray(8, b.length - 4);
    switch (this.blockType) {
      case SHB:
        this.interfaces = [];
        break;
      case 1:
        this.interfaces.push(this.ngInterface(body));
        break;
      case 6:
      case 2:
        return this.ngPacket(body, this.blockType === 2);
      case 3: {
        const iface = this.interfaces[0];
        if (iface === undefined) return this.noInterface(0);
        const origlen = this.u32(body, 0);
        const caplen = Math.min(origlen, body.length - 4, iface.snapLength || Infinity);
        // A simple packet has no timestamp: it takes the one before it.
        this.emit(this.lastTime, iface.linkType, body.subarray(4, 4 + caplen), origlen);
        break;
      }
      default:
        // Name resolution, statistics, decryption secrets, custom blocks: nothing to decode.
        break;
    }
    this.expect(NG_BLOCK, 12);
    return undefined;
  }

  private ngPacket(body: Buffer, obsolete: boolean): SessionError | undefined {
    const id = obsolete ? this.u16(body, 0) : this.u32(body, 0);
    const iface = this.interfaces[id];
    if (iface === undefined) return this.noInterface(id);
    const units = this.u32(body, 4) * 4294967296 + this.u32(body, 8);
    const caplen = this.u32(body, 12);
    if (20 + caplen > body.length) {
      return sessionError('SESSION_ERR_FORMAT', `a pcapng packet of ${caplen} bytes in a block of ${body.length + 12} at byte ${this.offset - body.length - 12}`, { offset: this.offset });
    }
    const time = ((units / iface.unitsPerSecond) + iface.offsetSeconds) * 1000;
    this.emit(time, iface.linkType, body.subarray(20, 20 + caplen), this.u32(body, 16));
    this.expect(NG_BLOCK, 12);
    return undefined;
  }

  private ngInterface(body: Buffer): NgInterface {
    const iface: NgInterface = { linkType: this.u16(body, 0), snapLength: this.u32(body, 4), unitsPerSecond: 1e6, offsetSeconds: 0 };
    this.linkTypes.push(iface.linkType);
    for (let at = 8; at + 4 <= body.length; ) {
      const code = this.u16(body, at);
      const len = this.u16(body, at + 2);
      if (code === 0 || at + 4 + len > body.length) break;
      if (code === 9 && len >= 1) {
        const r = body[at + 4];
        iface.unitsPerSecond = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
      } else if (code === 14 && len >= 8) {
        iface.offsetSeconds = this.u32(body, at + (this.le ? 8 : 4)) * 4294967296 + this.u32(body, at + (this.le ? 4 : 8));
      }
      at += 4 + ((len + 3) & ~3);
    }
    return iface;
  }

  private noInterface(id: number): SessionError {
    return sessionError('SESSION_ERR_FORMAT', `a pcapng packet of interface ${id}, which no interface block described (at byte ${this.offset})`, { offset: this.offset });
  }

  private emit(time: number, linkType: number, data: Buffer, originalLength: number): void {
    this.lastTime = time;
    this.onPacket({ time, linkType, data, originalLength });
  }

  private expect(state: number, need: number): void {
    this.state = state;
    this.need = need;
  }

  private u16(b: Buffer, at: number): number {
    return this.le ? b.readUInt16LE(at) : b.readUInt16BE(at);
  }

  private u32(b: Buffer, at: number): number {
    return this.le ? b.readUInt32LE(at) : b.readUInt32BE(at);
  }

  /** The next `n` bytes without taking them. */
  private peek(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length >= n) return first.subarray(0, n);
    return Buffer.concat(this.chunks, this.buffered).subarray(0, n);
  }

  /** Takes the next `n` bytes: a view into the chunk when they are in one, else a copy (ws Receiver's consume). */
  private consume(n: number): Buffer {
    if (n === 0) return Buffer.alloc(0);
    this.buffered -= n;
    this.offset += n;
    const first = this.chunks[0];
    if (n === first.length) {
      this.chunks.shift();
      return first;
    }
    if (n < first.length) {
      this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0];
      const take = Math.min(c.length, n - at);
      c.copy(out, at, 0, take);
      at += take;
      if (take === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(take);
    }
    return out;
  }
}
