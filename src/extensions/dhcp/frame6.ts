// DHCPv6 over Ethernet/IPv6/UDP as the dhcp extension meets it: a client's message (from a
// packet-in) decoded, and the server's reply encoded as the reference's os-ken assembles it
// (Ethernet II with the request's ethertype, IPv6 with hop limit 255, traffic class and flow
// label 0, no extension header; UDP 547 -> 546 with its checksum over the IPv6 pseudo-header; the
// DHCPv6 message: type, 3-byte transaction id, the options in the order given). Pure functions
// over Buffers; the fixed headers' layouts (RFC 8200 §3, RFC 768, RFC 8415 §8 and §21.1) are
// declared once (IPV6_LAYOUT, UDP_LAYOUT, DHCP6_LAYOUT, OPTION_LAYOUT) and walked both ways.
import { DhcpFrameError, macBytes, macText, onesSum } from './frame.js';
import { bytesToIpv6, ipv6ToBytes } from '../../openflow/native/codec/addr.js';

const ETH_LEN = 14;
export const ETH_TYPE_IPV6 = 0x86dd;
const IP_PROTO_UDP = 17;
export const DHCP6_CLIENT_PORT = 546;
export const DHCP6_SERVER_PORT = 547;
const HOP_LIMIT = 255;

type Field<K extends string> = { key: K; size: 1 | 2 | 3 | 4 | 16 };
/** Version (4 bits), traffic class (8) and flow label (20) are one 32-bit word `vtcFlow`. */
const IPV6_LAYOUT = [
  { key: 'vtcFlow', size: 4 }, { key: 'payloadLength', size: 2 }, { key: 'nextHeader', size: 1 }, { key: 'hopLimit', size: 1 },
  { key: 'src', size: 16 }, { key: 'dst', size: 16 },
] as const satisfies readonly Field<string>[];
const UDP_LAYOUT = [{ key: 'srcPort', size: 2 }, { key: 'dstPort', size: 2 }, { key: 'length', size: 2 }, { key: 'checksum', size: 2 }] as const satisfies readonly Field<string>[];
const DHCP6_LAYOUT = [{ key: 'msgType', size: 1 }, { key: 'xid', size: 3 }] as const satisfies readonly Field<string>[];
const OPTION_LAYOUT = [{ key: 'code', size: 2 }, { key: 'length', size: 2 }] as const satisfies readonly Field<string>[];

type Layout = readonly Field<string>[];
type Record16<L extends Layout> = { [F in L[number] as F['key']]: F['size'] extends 16 ? Buffer : number };
const sizeOf = (l: Layout): number => l.reduce((n, f) => n + f.size, 0);
const IPV6_LEN = sizeOf(IPV6_LAYOUT);
const UDP_LEN = sizeOf(UDP_LAYOUT);
const DHCP6_LEN = sizeOf(DHCP6_LAYOUT);
const OPTION_HDR_LEN = sizeOf(OPTION_LAYOUT);

function read<L extends Layout>(layout: L, b: Buffer, at: number): Record16<L> {
  const out: Record<string, number | Buffer> = {};
  let o = at;
  for (const f of layout) {
    out[f.key] = f.size === 16 ? Buffer.from(b.subarray(o, o + 16)) : b.readUIntBE(o, f.size);
    o += f.size;
  }
  return out as Record16<L>;
}

function write<L extends Layout>(layout: L, v: Record16<L>): Buffer {
  const b = Buffer.alloc(sizeOf(layout));
  let o = 0;
  for (const f of layout) {
    const x = (v as Record<string, number | Buffer>)[f.key]!;
    if (Buffer.isBuffer(x)) x.copy(b, o);
    else {
      if (!Number.isInteger(x) || x < 0 || x >= 2 ** (8 * f.size)) throw new DhcpFrameError(`${f.key} ${x} does not fit ${f.size} bytes`);
      b.writeUIntBE(x, o, f.size);
    }
    o += f.size;
  }
  return b;
}

export function ipv6Bytes(ip: string): Buffer {
  try {
    return ipv6ToBytes(ip);
  } catch (e) {
    throw new DhcpFrameError(`'${ip}' is not an IPv6 address: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export interface Dhcp6Option {
  code: number;
  data: Buffer;
}

/** A client's DHCPv6 message as the responder needs it. */
export interface Dhcp6Request {
  ethSrc: string;
  ethType: number;
  ipSrc: string;
  msgType: number;
  xid: number;
  options: Dhcp6Option[];
}

function decodeOptions(b: Buffer, at: number, end: number): Dhcp6Option[] {
  const opts: Dhcp6Option[] = [];
  for (let o = at; o < end; ) {
    if (o + OPTION_HDR_LEN > end) throw new DhcpFrameError(`DHCPv6 option header truncated at byte ${o}`);
    const h = read(OPTION_LAYOUT, b, o);
    if (o + OPTION_HDR_LEN + h.length > end) throw new DhcpFrameError(`DHCPv6 option ${h.code} of ${h.length} bytes runs past the message`);
    opts.push({ code: h.code, data: Buffer.from(b.subarray(o + OPTION_HDR_LEN, o + OPTION_HDR_LEN + h.length)) });
    o += OPTION_HDR_LEN + h.length;
  }
  return opts;
}

/** A DHCPv6 client message (untagged Ethernet, IPv6 without extension headers, UDP 546 -> 547); throws DhcpFrameError if it is not one. */
export function decodeDhcp6Request(frame: Buffer): Dhcp6Request {
  if (frame.length < ETH_LEN + IPV6_LEN + UDP_LEN + DHCP6_LEN) throw new DhcpFrameError(`frame of ${frame.length} bytes is too short for DHCPv6`);
  const ethType = frame.readUInt16BE(12);
  if (ethType !== ETH_TYPE_IPV6) throw new DhcpFrameError(`ethertype 0x${ethType.toString(16)} is not IPv6`);
  const ip = read(IPV6_LAYOUT, frame, ETH_LEN);
  if (ip.vtcFlow >>> 28 !== 6) throw new DhcpFrameError('not an IPv6 header');
  if (ip.nextHeader !== IP_PROTO_UDP) throw new DhcpFrameError(`IPv6 next header ${ip.nextHeader} is not UDP`);
  const u = ETH_LEN + IPV6_LEN;
  const udp = read(UDP_LAYOUT, frame, u);
  if (udp.srcPort !== DHCP6_CLIENT_PORT || udp.dstPort !== DHCP6_SERVER_PORT) throw new DhcpFrameError(`not UDP ${DHCP6_CLIENT_PORT} -> ${DHCP6_SERVER_PORT}`);
  const end = u + udp.length;
  if (udp.length < UDP_LEN + DHCP6_LEN || end > frame.length) throw new DhcpFrameError(`UDP length ${udp.length} does not fit the frame of ${frame.length} bytes`);
  const d = read(DHCP6_LAYOUT, frame, u + UDP_LEN);
  return { ethSrc: macText(frame.subarray(6, 12)), ethType, ipSrc: bytesToIpv6(ip.src), msgType: d.msgType, xid: d.xid, options: decodeOptions(frame, u + UDP_LEN + DHCP6_LEN, end) };
}

export interface Dhcp6Reply {
  ethDst: string;
  ethSrc: string;
  ethType: number;
  ipSrc: string;
  ipDst: string;
  msgType: number;
  xid: number;
  options: Dhcp6Option[];
}

/** The reply frame, byte for byte as os-ken serialises it for the reference's responder. */
export function encodeDhcp6Reply(r: Dhcp6Reply): Buffer {
  const parts: Buffer[] = [write(DHCP6_LAYOUT, { msgType: r.msgType, xid: r.xid })];
  for (const o of r.options) parts.push(write(OPTION_LAYOUT, { code: o.code, length: o.data.length }), o.data);
  const payload = Buffer.concat(parts);
  const length = UDP_LEN + payload.length;
  const src = ipv6Bytes(r.ipSrc);
  const dst = ipv6Bytes(r.ipDst);
  const pseudo = Buffer.alloc(8);
  pseudo.writeUInt32BE(length, 0);
  pseudo[7] = IP_PROTO_UDP;
  const udp0 = write(UDP_LAYOUT, { srcPort: DHCP6_SERVER_PORT, dstPort: DHCP6_CLIENT_PORT, length, checksum: 0 });
  // As os-ken: a sum that folds to 0 is sent as 0 (RFC 8200 would send 0xffff).
  const checksum = ~onesSum([src, dst, pseudo, udp0, payload]) & 0xffff;
  const udp = write(UDP_LAYOUT, { srcPort: DHCP6_SERVER_PORT, dstPort: DHCP6_CLIENT_PORT, length, checksum });
  const ip = write(IPV6_LAYOUT, { vtcFlow: 6 << 28 >>> 0, payloadLength: length, nextHeader: IP_PROTO_UDP, hopLimit: HOP_LIMIT, src, dst });
  const eth = Buffer.concat([macBytes(r.ethDst), macBytes(r.ethSrc), Buffer.from([r.ethType >> 8, r.ethType & 0xff])]);
  return Buffer.concat([eth, ip, udp, payload]);
}
