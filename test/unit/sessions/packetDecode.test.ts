import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodePacket, ipv6Text, type TcpSegment } from '../../../src/core/sessions/packetDecode';

/** A TCP header (20 bytes, no options) from port 1234 to 80 with `flags`, then the payload. */
function tcp(payload: string, flags = 0x18): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt16BE(1234, 0);
  h.writeUInt16BE(80, 2);
  h.writeUInt32BE(0xdeadbeef, 4);
  h.writeUInt32BE(7, 8);
  h[12] = 5 << 4;
  h[13] = flags;
  return Buffer.concat([h, Buffer.from(payload)]);
}

function ipv4(body: Buffer, fragment = 0): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + body.length, 2);
  h.writeUInt16BE(fragment, 6);
  h[9] = 6;
  Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]).copy(h, 12);
  return Buffer.concat([h, body]);
}

function ipv6(body: Buffer, ext: Array<[type: number, bytes: Buffer]> = []): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  const exts: Buffer[] = [];
  let next = 6;
  for (let i = ext.length - 1; i >= 0; i--) {
    exts.unshift(Buffer.concat([Buffer.from([next]), ext[i][1]]));
    next = ext[i][0];
  }
  const payload = Buffer.concat([...exts, body]);
  h.writeUInt16BE(payload.length, 4);
  h[6] = next;
  h[23] = 1;
  h[24] = 0x20;
  h[25] = 0x01;
  h[26] = 0x0d;
  h[27] = 0xb8;
  h[39] = 2;
  return Buffer.concat([h, payload]);
}

const eth = (type: number, ip: Buffer, vlan = false) =>
  Buffer.concat([Buffer.alloc(12), ...(vlan ? [Buffer.from([0x81, 0x00, 0x00, 0x05])] : []), Buffer.from([type >> 8, type & 0xff]), ip, Buffer.alloc(6)]);

const seg = (linkType: number, data: Buffer, originalLength = data.length) => decodePacket({ time: 0, linkType, data, originalLength });

describe('decodePacket', () => {
  test('Ethernet with a VLAN tag and padding after the IP packet, BSD loopback of either byte order, SLL, SLL2, raw IP', () => {
    const ip = ipv4(tcp('hello'));
    const sll = Buffer.concat([Buffer.alloc(14), Buffer.from([0x08, 0x00]), ip]);
    const sll2 = Buffer.concat([Buffer.from([0x08, 0x00]), Buffer.alloc(18), ip]);
    const nullLe = Buffer.concat([Buffer.from([2, 0, 0, 0]), ip]);
    const nullBe = Buffer.concat([Buffer.from([0, 0, 0, 2]), ip]);
    for (const [link, data] of [[1, eth(0x0800, ip, true)], [0, nullLe], [0, nullBe], [113, sll], [276, sll2], [101, ip], [228, ip]] as const) {
      const s = seg(link, data) as TcpSegment;
      assert.equal(typeof s, 'object', `link type ${link}`);
      assert.deepEqual(
        [s.src, s.dst, s.seq, s.ack, s.payload.toString(), s.missing, s.hasAck, s.syn, s.fin, s.rst],
        ['10.0.0.1:1234', '10.0.0.2:80', 0xdeadbeef, 7, 'hello', 0, true, false, false, false],
      );
    }
  });

  test('IPv6 with extension headers; what the snap length cut is missing; fragments and other link types are said', () => {
    const hopByHop = Buffer.concat([Buffer.from([0]), Buffer.alloc(6)]);
    const dest = Buffer.concat([Buffer.from([1]), Buffer.alloc(14)]);
    const s = seg(101, ipv6(tcp('six', 0x11), [[0, hopByHop], [60, dest]])) as TcpSegment;
    assert.deepEqual([s.src, s.dst, s.payload.toString(), s.fin], ['[::1]:1234', '[2001:db8::2]:80', 'six', true]);
    const full = eth(0x0800, ipv4(tcp('0123456789')));
    const cut = seg(1, full.subarray(0, 14 + 20 + 20 + 4), full.length) as TcpSegment;
    assert.deepEqual([cut.payload.toString(), cut.missing], ['0123', 6]);
    assert.match(seg(101, ipv4(tcp('x'), 0x2000)) as string, /IPv4 fragment/);
    assert.match(seg(101, ipv6(tcp('x'), [[44, Buffer.alloc(7)]])) as string, /IPv6 fragment/);
    assert.match(seg(147, Buffer.alloc(60)) as string, /link type 147 is not read/);
    assert.equal(seg(1, eth(0x0806, Buffer.alloc(28))), undefined, 'ARP');
  });

  test('IPv6 text (RFC 5952)', () => {
    const t = (hex: string) => ipv6Text(Buffer.from(hex, 'hex'), 0);
    assert.equal(t('00000000000000000000000000000001'), '::1');
    assert.equal(t('20010db8000000000001000000000001'), '2001:db8::1:0:0:1');
    assert.equal(t('fe800000000000000000000000000000'), 'fe80::');
    assert.equal(t('20010db8000100020003000400050006'), '2001:db8:1:2:3:4:5:6');
  });
});
