import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type CapturedPacket, CaptureFileParser } from '../../../src/core/sessions/pcapFile';

/** A pcapng writer of either byte order, with the block kinds the reader must read or skip. */
function ng(le: boolean) {
  const u16 = (v: number) => {
    const b = Buffer.alloc(2);
    if (le) b.writeUInt16LE(v);
    else b.writeUInt16BE(v);
    return b;
  };
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    if (le) b.writeUInt32LE(v);
    else b.writeUInt32BE(v);
    return b;
  };
  const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
  const block = (type: number, body: Buffer) => {
    const len = 12 + pad(body).length;
    return Buffer.concat([u32(type), u32(len), pad(body), u32(len)]);
  };
  const opt = (code: number, v: Buffer) => Buffer.concat([u16(code), u16(v.length), pad(v)]);
  const end = opt(0, Buffer.alloc(0));
  return {
    shb: () => block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d), u16(1), u16(0), Buffer.alloc(8, 0xff), end])),
    idb: (linkType: number, snap: number, options: Buffer[] = []) => block(1, Buffer.concat([u16(linkType), u16(0), u32(snap), ...options, end])),
    tsresol: (r: number) => opt(9, Buffer.from([r])),
    tsoffset: (s: number) => opt(14, Buffer.concat(le ? [u32(s), u32(0)] : [u32(0), u32(s)])),
    epb: (iface: number, units: bigint, data: Buffer, orig = data.length) =>
      block(6, Buffer.concat([u32(iface), u32(Number(units >> 32n)), u32(Number(units & 0xffffffffn)), u32(data.length), u32(orig), data, opt(1, Buffer.from('c')), end])),
    pb: (iface: number, units: bigint, data: Buffer) =>
      block(2, Buffer.concat([u16(iface), u16(0), u32(Number(units >> 32n)), u32(Number(units & 0xffffffffn)), u32(data.length), u32(data.length), data])),
    spb: (data: Buffer) => block(3, Buffer.concat([u32(data.length), data])),
    other: (type: number) => block(type, Buffer.from('skip me!')),
  };
}

function parse(chunks: Buffer[]): { packets: Array<Omit<CapturedPacket, 'data'> & { data: string }>; error?: string; format?: string; linkTypes: number[] } {
  const packets: Array<Omit<CapturedPacket, 'data'> & { data: string }> = [];
  const p = new CaptureFileParser((x) => packets.push({ ...x, data: x.data.toString() }));
  for (const c of chunks) {
    const err = p.push(c);
    if (err) return { packets, error: err.code, format: p.format, linkTypes: p.linkTypes };
  }
  const err = p.end();
  return { packets, error: err?.code, format: p.format, linkTypes: p.linkTypes };
}

const bytewise = (b: Buffer) => [...b].map((x) => Buffer.from([x]));

describe('CaptureFileParser', () => {
  test('pcapng of both byte orders: sections, interfaces with their timestamp units and offsets, EPB, PB and SPB, other blocks skipped', () => {
    const a = ng(true);
    const b = ng(false);
    const file = Buffer.concat([
      a.shb(),
      a.other(4),
      a.idb(1, 65535),
      a.idb(101, 65535, [a.tsresol(9), a.tsoffset(1000)]),
      a.epb(0, 1_700_000_000_123_456n, Buffer.from('first')),
      a.epb(1, 5_500_000_000n, Buffer.from('second'), 60),
      a.spb(Buffer.from('simple')),
      a.other(0x80000001),
      // A second section, big-endian: its interfaces are its own.
      b.shb(),
      b.idb(276, 8, [b.tsresol(0x80 | 10)]),
      b.pb(0, 3n * 1024n, Buffer.from('obsolete')),
      b.epb(0, 2048n, Buffer.from('cut by the snap length'), 100),
      b.other(5),
    ]);
    const want = [
      { time: 1_700_000_000_123.456, linkType: 1, data: 'first', originalLength: 5 },
      { time: 1_005_500, linkType: 101, data: 'second', originalLength: 60 },
      // A simple packet block has no time: it takes the one before it.
      { time: 1_005_500, linkType: 1, data: 'simple', originalLength: 6 },
      { time: 3000, linkType: 276, data: 'obsolete', originalLength: 8 },
      { time: 2000, linkType: 276, data: 'cut by the snap length', originalLength: 100 },
    ];
    for (const chunks of [[file], bytewise(file)]) {
      const got = parse(chunks);
      assert.equal(got.error, undefined);
      assert.equal(got.format, 'pcapng');
      assert.deepEqual(got.linkTypes, [1, 101, 276]);
      assert.equal(got.packets.length, want.length);
      got.packets.forEach((p, i) => {
        assert.equal(p.data, want[i].data);
        assert.equal(p.linkType, want[i].linkType);
        assert.equal(p.originalLength, want[i].originalLength);
        assert.ok(Math.abs(p.time - want[i].time) < 1e-3, `${p.time} vs ${want[i].time}`);
      });
    }
  });

  test('errors: not a capture, a corrupt block length, a packet of no interface, a file cut inside a record, pcap 3.0', () => {
    const a = ng(true);
    assert.equal(parse([Buffer.from('GET / HTTP/1.1\r\n')]).error, 'SESSION_ERR_FORMAT');
    assert.equal(parse([Buffer.from('ab')]).error, 'SESSION_ERR_FORMAT');
    const corrupt = Buffer.concat([a.shb(), a.idb(1, 0)]);
    corrupt.writeUInt32LE(13, a.shb().length + 4);
    assert.equal(parse([corrupt]).error, 'SESSION_ERR_FORMAT');
    assert.equal(parse([Buffer.concat([a.shb(), a.epb(0, 1n, Buffer.from('x'))])]).error, 'SESSION_ERR_FORMAT');
    const whole = Buffer.concat([a.shb(), a.idb(1, 0), a.epb(0, 1n, Buffer.from('xyz'))]);
    const cut = parse([whole.subarray(0, whole.length - 5)]);
    assert.equal(cut.error, 'SESSION_ERR_TRUNCATED');
    assert.equal(cut.packets.length, 0);
    const v3 = Buffer.alloc(24);
    v3.writeUInt32LE(0xa1b2c3d4, 0);
    v3.writeUInt16LE(3, 4);
    assert.equal(parse([v3]).error, 'SESSION_ERR_UNSUPPORTED');
  });
});
