// From a captured packet to its TCP segment: the link layer (loopback, Ethernet, Linux cooked v1 and v2, raw IP),
// IPv4 or IPv6, then TCP. Anything else is not a segment.
import type { CapturedPacket } from './pcapFile';

export interface TcpSegment {
  /** `ip:port`, or `[ipv6]:port`. */
  src: string;
  dst: string;
  seq: number;
  ack: number;
  syn: boolean;
  /** The ACK flag: `ack` is meaningful. */
  hasAck: boolean;
  fin: boolean;
  rst: boolean;
  /** The payload the capture holds: a copy, which the reassembly may keep. */
  payload: Buffer;
  /** Payload bytes the capture cut off (its snap length). */
  missing: number;
}

/** LINKTYPE_* values read (https://www.tcpdump.org/linktypes.html). */
export const LINK_TYPES: Record<number, string> = {
  0: 'BSD loopback (NULL)',
  1: 'Ethernet',
  12: 'raw IP',
  14: 'raw IP',
  101: 'raw IP',
  108: 'OpenBSD loopback',
  113: 'Linux cooked (SLL)',
  228: 'raw IPv4',
  229: 'raw IPv6',
  276: 'Linux cooked v2 (SLL2)',
};

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;

/**
 * The TCP segment in `p`; undefined for a packet that is not TCP over IP (ARP, UDP…); a string saying why for a TCP
 * packet, or a link type, that can't be read (a fragment, a header the snap length cut).
 */
export function decodePacket(p: CapturedPacket): TcpSegment | string | undefined {
  const at = ipOffset(p.linkType, p.data);
  if (typeof at !== 'number') return at;
  const d = p.data;
  if (at >= d.length) return undefined;
  // What the capture cut from the end of the packet is cut from the end of the IP packet, and so from its payload.
  const cut = p.originalLength > d.length ? p.originalLength - d.length : 0;
  const v = d[at] >> 4;
  if (v === 4) return ipv4(d, at, cut);
  if (v === 6) return ipv6(d, at, cut);
  return undefined;
}

/** Where the IP header starts, undefined when the packet carries something else, or why the link type can't be read. */
function ipOffset(linkType: number, d: Buffer): number | string | undefined {
  switch (linkType) {
    case 0:
    case 108: {
      if (d.length < 4) return undefined;
      // NULL: the family in the capturing host's byte order; LOOP: in network order.
      let family = d.readUInt32LE(0);
      if (family > 0xffff || linkType === 108) family = d.readUInt32BE(0);
      return family === 2 || family === 24 || family === 28 || family === 30 ? 4 : undefined;
    }
    case 1: {
      let at = 12;
      let type = d.length >= 14 ? d.readUInt16BE(12) : 0;
      while ((type === 0x8100 || type === 0x88a8 || type === 0x9100) && d.length >= at + 6) {
        at += 4;
        type = d.readUInt16BE(at);
      }
      return type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6 ? at + 2 : undefined;
    }
    case 113:
      return d.length >= 16 && isIp(d.readUInt16BE(14)) ? 16 : undefined;
    case 276:
      return d.length >= 20 && isIp(d.readUInt16BE(0)) ? 20 : undefined;
    case 12:
    case 14:
    case 101:
    case 228:
    case 229:
      return 0;
    default:
      return `link type ${linkType} is not read (only ${[...new Set(Object.values(LINK_TYPES))].join(', ')})`;
  }
}

const isIp = (type: number): boolean => type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6;

function ipv4(d: Buffer, at: number, cut: number): TcpSegment | string | undefined {
  if (d.length < at + 20) return undefined;
  const ihl = (d[at] & 0x0f) * 4;
  if (d[at + 9] !== 6) return undefined;
  const frag = d.readUInt16BE(at + 6);
  if ((frag & 0x3fff) !== 0) return 'an IPv4 fragment (TCP over fragmented IP is not reassembled)';
  const total = d.readUInt16BE(at + 2);
  const src = `${d[at + 12]}.${d[at + 13]}.${d[at + 14]}.${d[at + 15]}`;
  const dst = `${d[at + 16]}.${d[at + 17]}.${d[at + 18]}.${d[at + 19]}`;
  // A total length of 0 is TCP segmentation offload on the capturing host: the packet runs to the end of the capture.
  const end = total === 0 ? d.length + cut : at + total;
  return tcp(d, at + ihl, end, src, dst);
}

function ipv6(d: Buffer, at: number, cut: number): TcpSegment | string | undefined {
  if (d.length < at + 40) return undefined;
  const payloadLength = d.readUInt16BE(at + 4);
  const end = payloadLength === 0 ? d.length + cut : at + 40 + payloadLength;
  let next = d[at + 6];
  let h = at + 40;
  for (;;) {
    if (next === 6) break;
    if (next === 44) return 'an IPv6 fragment (TCP over fragmented IP is not reassembled)';
    // Hop-by-hop, routing, destination options, mobility; authentication counts in 4-byte units.
    if (next !== 0 && next !== 43 && next !== 60 && next !== 135 && next !== 51) return undefined;
    if (d.length < h + 2) return undefined;
    const following = d[h];
    h += next === 51 ? (d[h + 1] + 2) * 4 : (d[h + 1] + 1) * 8;
    next = following;
  }
  return tcp(d, h, end, `[${ipv6Text(d, at + 8)}]`, `[${ipv6Text(d, at + 24)}]`);
}

function tcp(d: Buffer, at: number, end: number, srcIp: string, dstIp: string): TcpSegment | string | undefined {
  if (d.length < at + 20) return at < d.length ? 'a TCP header cut by the snap length' : undefined;
  const off = (d[at + 12] >> 4) * 4;
  if (d.length < at + off) return 'a TCP header cut by the snap length';
  const flags = d[at + 13];
  const start = at + off;
  const held = Math.max(0, Math.min(end, d.length) - start);
  return {
    src: `${srcIp}:${d.readUInt16BE(at)}`,
    dst: `${dstIp}:${d.readUInt16BE(at + 2)}`,
    seq: d.readUInt32BE(at + 4),
    ack: d.readUInt32BE(at + 8),
    fin: (flags & 0x01) !== 0,
    syn: (flags & 0x02) !== 0,
    rst: (flags & 0x04) !== 0,
    hasAck: (flags & 0x10) !== 0,
    payload: held === 0 ? Buffer.alloc(0) : Buffer.from(d.subarray(start, start + held)),
    missing: Math.max(0, end - start - held),
  };
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups as `::`. */
export function ipv6Text(d: Buffer, at: number): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(d.readUInt16BE(at + i * 2));
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}
