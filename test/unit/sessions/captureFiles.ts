// Capture files for the pcap reader tests: real ones recorded by Debian's tcpdump during the test, and files written
// from the packets of those (reordered, repeated, dropped, other link types, pcapng), so every variant carries real
// socket bytes. The writers here follow the formats' drafts on their own, not the reader's code.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { waitFor } from '../../support/waitFor';

export const TCPDUMP = '/usr/bin/tcpdump';

export interface Tcpdump {
  /** Stops the capture (SIGINT: tcpdump flushes and closes the file) and resolves with what it printed. */
  stop(): Promise<string>;
}

/**
 * Starts tcpdump writing every packet of `filter` on `iface` to `file`, packet-buffered and in immediate mode, and
 * resolves once it is listening. Fails (does not skip) when tcpdump is missing: run scripts/setup.sh.
 */
export async function startTcpdump(file: string, o: { iface: string; filter: string; linkType?: string; nano?: boolean }): Promise<Tcpdump> {
  if (!existsSync(TCPDUMP)) throw new Error(`${TCPDUMP} is missing: the pcap tests record real traffic. Run scripts/setup.sh (it installs tcpdump).`);
  const args = ['-i', o.iface, '-U', '--immediate-mode', '-B', '65536', '-s', '0', '-Z', 'root', '-w', file];
  if (o.linkType !== undefined) args.push('-y', o.linkType);
  if (o.nano) args.push('--time-stamp-precision', 'nano');
  args.push(o.filter);
  const child: ChildProcess = spawn(TCPDUMP, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit');
  await waitFor(() => `tcpdump listening (it said: ${stderr})`, () => {
    if (child.exitCode !== null) throw new Error(`tcpdump exited with ${child.exitCode}: ${stderr}`);
    return stderr.includes('listening on');
  });
  return {
    stop: async () => {
      child.kill('SIGINT');
      await exited;
      return stderr;
    },
  };
}

export interface Packet {
  /** Seconds and the fraction in the file's unit (µs or ns). */
  sec: number;
  frac: number;
  data: Buffer;
  origLen: number;
}

export interface PcapFile {
  littleEndian: boolean;
  nanos: boolean;
  linkType: number;
  snapLen: number;
  packets: Packet[];
}

/** A whole little- or big-endian pcap file. */
export function parsePcap(b: Buffer): PcapFile {
  const magicLe = b.readUInt32LE(0);
  const le = magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d;
  const u32 = (at: number) => (le ? b.readUInt32LE(at) : b.readUInt32BE(at));
  const magic = u32(0);
  const f: PcapFile = { littleEndian: le, nanos: magic === 0xa1b23c4d, snapLen: u32(16), linkType: u32(20), packets: [] };
  for (let at = 24; at + 16 <= b.length; ) {
    const caplen = u32(at + 8);
    f.packets.push({ sec: u32(at), frac: u32(at + 4), data: b.subarray(at + 16, at + 16 + caplen), origLen: u32(at + 12) });
    at += 16 + caplen;
  }
  return f;
}

/** A pcap file: little-endian unless asked, µs or ns. */
export function writePcap(f: PcapFile): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(24);
  const w32 = (buf: Buffer, v: number, at: number) => (f.littleEndian ? buf.writeUInt32LE(v, at) : buf.writeUInt32BE(v, at));
  const w16 = (buf: Buffer, v: number, at: number) => (f.littleEndian ? buf.writeUInt16LE(v, at) : buf.writeUInt16BE(v, at));
  w32(head, f.nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(head, 2, 4);
  w16(head, 4, 6);
  w32(head, f.snapLen, 16);
  w32(head, f.linkType, 20);
  parts.push(head);
  for (const p of f.packets) {
    const r = Buffer.alloc(16);
    w32(r, p.sec, 0);
    w32(r, p.frac, 4);
    w32(r, p.data.length, 8);
    w32(r, p.origLen, 12);
    parts.push(r, p.data);
  }
  return Buffer.concat(parts);
}

function block(type: number, body: Buffer): Buffer {
  const pad = (4 - (body.length % 4)) % 4;
  const len = 12 + body.length + pad;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(len, 4);
  body.copy(b, 8);
  b.writeUInt32LE(len, len - 4);
  return b;
}

function option(code: number, value: Buffer): Buffer {
  const pad = (4 - (value.length % 4)) % 4;
  const o = Buffer.alloc(4 + value.length + pad);
  o.writeUInt16LE(code, 0);
  o.writeUInt16LE(value.length, 2);
  value.copy(o, 4);
  return o;
}

/**
 * The same packets as a little-endian pcapng file: a section header, a name resolution block (which the reader
 * skips), one interface with nanosecond timestamps (if_tsresol 9), each packet an enhanced packet block with a
 * comment option, and an interface statistics block at the end.
 */
export function pcapToPcapng(f: PcapFile): Buffer {
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeUInt16LE(0, 6);
  shb.writeInt32LE(-1, 8);
  shb.writeInt32LE(-1, 12);
  const idb = Buffer.alloc(8);
  idb.writeUInt16LE(f.linkType, 0);
  idb.writeUInt32LE(f.snapLen, 4);
  const parts = [
    block(0x0a0d0d0a, Buffer.concat([shb, option(1, Buffer.from('written by the test from a tcpdump capture')), option(0, Buffer.alloc(0))])),
    block(4, Buffer.from([0, 0, 0, 0])),
    block(1, Buffer.concat([idb, option(9, Buffer.from([9])), option(0, Buffer.alloc(0))])),
  ];
  for (const p of f.packets) {
    const ns = BigInt(p.sec) * 1_000_000_000n + BigInt(f.nanos ? p.frac : p.frac * 1000);
    const epb = Buffer.alloc(20);
    epb.writeUInt32LE(0, 0);
    epb.writeUInt32LE(Number(ns >> 32n), 4);
    epb.writeUInt32LE(Number(ns & 0xffffffffn), 8);
    epb.writeUInt32LE(p.data.length, 12);
    epb.writeUInt32LE(p.origLen, 16);
    const padded = Buffer.concat([p.data, Buffer.alloc((4 - (p.data.length % 4)) % 4)]);
    parts.push(block(6, Buffer.concat([epb, padded, option(1, Buffer.from('pkt')), option(0, Buffer.alloc(0))])));
  }
  parts.push(block(5, Buffer.alloc(12)));
  return Buffer.concat(parts);
}

/** An Ethernet frame's IP packet (tcpdump on `lo` writes Ethernet). */
function ipOf(frame: Buffer): Buffer {
  return frame.subarray(14);
}

/** The packets with another link layer: BSD loopback (0, family in little-endian), raw IP (101). */
export function relink(f: PcapFile, linkType: 0 | 101): PcapFile {
  const packets = f.packets.map((p) => {
    const ip = ipOf(p.data);
    const family = Buffer.alloc(4);
    family.writeUInt32LE(ip[0] >> 4 === 6 ? 30 : 2, 0);
    const data = linkType === 0 ? Buffer.concat([family, ip]) : Buffer.from(ip);
    return { ...p, data, origLen: p.origLen - p.data.length + data.length };
  });
  return { ...f, linkType, packets };
}

export interface TcpView {
  /** Index of the packet in the file. */
  index: number;
  srcPort: number;
  dstPort: number;
  seq: number;
  /** Where the TCP payload starts in the packet's data, and its length. */
  payloadAt: number;
  payloadLength: number;
}

/** The TCP fields of an Ethernet + IPv4/IPv6 packet (as tcpdump on `lo` writes them). */
export function tcpOf(p: Packet, index: number): TcpView | undefined {
  const d = p.data;
  const type = d.readUInt16BE(12);
  let at = 14;
  let end: number;
  if (type === 0x0800) {
    if (d[at + 9] !== 6) return undefined;
    end = at + d.readUInt16BE(at + 2);
    at += (d[at] & 0x0f) * 4;
  } else if (type === 0x86dd) {
    if (d[at + 6] !== 6) return undefined;
    end = at + 40 + d.readUInt16BE(at + 4);
    at += 40;
  } else {
    return undefined;
  }
  const off = (d[at + 12] >> 4) * 4;
  return { index, srcPort: d.readUInt16BE(at), dstPort: d.readUInt16BE(at + 2), seq: d.readUInt32BE(at + 4), payloadAt: at + off, payloadLength: end - at - off };
}

/**
 * A copy of the packet with only `payload[from, to)` of its TCP payload: its sequence number and IP length follow
 * (checksums are left as they were: the reader does not check them, as captures of offloaded traffic carry wrong ones).
 */
export function slicePacket(p: Packet, t: TcpView, from: number, to: number): Packet {
  const d = p.data;
  const ipAt = 14;
  const tcpAt = t.payloadAt - ((d[ipAt + (d.readUInt16BE(12) === 0x0800 ? (d[ipAt] & 0x0f) * 4 : 40) + 12] >> 4) * 4);
  const head = Buffer.from(d.subarray(0, t.payloadAt));
  const data = Buffer.concat([head, d.subarray(t.payloadAt + from, t.payloadAt + to)]);
  data.writeUInt32BE((t.seq + from) >>> 0, tcpAt + 4);
  if (d.readUInt16BE(12) === 0x0800) data.writeUInt16BE(data.length - ipAt, ipAt + 2);
  else data.writeUInt16BE(data.length - ipAt - 40, ipAt + 4);
  return { ...p, data, origLen: data.length };
}

export const readPcapFile = (path: string): PcapFile => parsePcap(readFileSync(path));
