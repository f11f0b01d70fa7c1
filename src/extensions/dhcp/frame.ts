// DHCPv4 over Ethernet/IPv4/UDP as the dhcp extension meets it: a client's request (from a
// packet-in) decoded, and the reply encoded as the reference's os-ken assembles it (Ethernet
// II, IPv4 with TTL 255 and identification 0, UDP 67 -> 68 with its checksum, BOOTP header,
// the magic cookie, the options in the order given, an END option and no padding). Pure
// functions over Buffers; the BOOTP header's layout (RFC 2131 §2) is declared once (BOOTP_LAYOUT)
// and walked by both directions.

export class DhcpFrameError extends Error {
  override name = 'DhcpFrameError';
}

const ETH_LEN = 14;
const ETH_TYPE_IPV4 = 0x0800;
const IP_PROTO_UDP = 17;
const UDP_LEN = 8;
export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;
const MAGIC_COOKIE = 0x63825363;
export const DHCP_OPT = { PAD: 0, END: 255, MESSAGE_TYPE: 53 } as const;

/** The BOOTP header's fields in wire order (236 bytes); byte strings are fixed-width. */
const BOOTP_LAYOUT = [
  { key: 'op', size: 1 }, { key: 'htype', size: 1 }, { key: 'hlen', size: 1 }, { key: 'hops', size: 1 },
  { key: 'xid', size: 4 }, { key: 'secs', size: 2 }, { key: 'flags', size: 2 },
  { key: 'ciaddr', size: 4, bytes: true }, { key: 'yiaddr', size: 4, bytes: true }, { key: 'siaddr', size: 4, bytes: true },
  { key: 'giaddr', size: 4, bytes: true }, { key: 'chaddr', size: 16, bytes: true }, { key: 'sname', size: 64, bytes: true },
  { key: 'file', size: 128, bytes: true },
] as const;
type BootpKey = (typeof BOOTP_LAYOUT)[number]['key'];
type BytesKey = Extract<(typeof BOOTP_LAYOUT)[number], { bytes: true }>['key'];
export type Bootp = { [K in BootpKey]: K extends BytesKey ? Buffer : number };
const BOOTP_LEN = BOOTP_LAYOUT.reduce((n, f) => n + f.size, 0);

export interface DhcpOption {
  tag: number;
  value: Buffer;
}

/** A client's DHCPv4 request as the responder needs it. */
export interface DhcpRequest {
  ethSrc: string;
  ipDst: string;
  bootp: Bootp;
  options: DhcpOption[];
}

export function macText(b: Buffer): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function macBytes(mac: string): Buffer {
  const parts = mac.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) throw new DhcpFrameError(`'${mac}' is not a MAC address`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function ipv4Bytes(ip: string): Buffer {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) throw new DhcpFrameError(`'${ip}' is not an IPv4 address`);
  return Buffer.from(parts.map(Number));
}

function decodeBootp(b: Buffer, at: number): Bootp {
  const out: Record<string, number | Buffer> = {};
  let o = at;
  for (const f of BOOTP_LAYOUT) {
    out[f.key] = 'bytes' in f ? Buffer.from(b.subarray(o, o + f.size)) : f.size === 4 ? b.readUInt32BE(o) : f.size === 2 ? b.readUInt16BE(o) : b[o]!;
    o += f.size;
  }
  return out as Bootp;
}

function encodeBootp(p: Bootp): Buffer {
  const b = Buffer.alloc(BOOTP_LEN);
  let o = 0;
  for (const f of BOOTP_LAYOUT) {
    const v = p[f.key];
    if (Buffer.isBuffer(v)) {
      if (v.length > f.size) throw new DhcpFrameError(`BOOTP ${f.key} of ${v.length} bytes exceeds ${f.size}`);
      v.copy(b, o);
    } else if (f.size === 4) b.writeUInt32BE(v, o);
    else if (f.size === 2) b.writeUInt16BE(v, o);
    else b[o] = v;
    o += f.size;
  }
  return b;
}

function decodeOptions(b: Buffer, at: number): DhcpOption[] {
  if (b.length < at + 4 || b.readUInt32BE(at) !== MAGIC_COOKIE) throw new DhcpFrameError('DHCP options do not start with the magic cookie');
  const opts: DhcpOption[] = [];
  for (let o = at + 4; o < b.length; ) {
    const tag = b[o]!;
    if (tag === DHCP_OPT.END) break;
    if (tag === DHCP_OPT.PAD) { o++; continue; }
    if (o + 2 > b.length) throw new DhcpFrameError(`DHCP option ${tag} truncated at byte ${o}`);
    const len = b[o + 1]!;
    if (o + 2 + len > b.length) throw new DhcpFrameError(`DHCP option ${tag} of ${len} bytes runs past the packet`);
    opts.push({ tag, value: Buffer.from(b.subarray(o + 2, o + 2 + len)) });
    o += 2 + len;
  }
  return opts;
}

/** A DHCPv4 request frame (untagged Ethernet, IPv4, UDP 68 -> 67); throws DhcpFrameError if it is not one. */
export function decodeDhcpRequest(frame: Buffer): DhcpRequest {
  if (frame.length < ETH_LEN + 20) throw new DhcpFrameError(`frame of ${frame.length} bytes is too short for IPv4`);
  if (frame.readUInt16BE(12) !== ETH_TYPE_IPV4) throw new DhcpFrameError(`ethertype 0x${frame.readUInt16BE(12).toString(16)} is not IPv4`);
  const ihl = (frame[ETH_LEN]! & 0x0f) * 4;
  if (frame[ETH_LEN]! >> 4 !== 4 || ihl < 20) throw new DhcpFrameError('not an IPv4 header');
  if (frame[ETH_LEN + 9] !== IP_PROTO_UDP) throw new DhcpFrameError(`IP protocol ${frame[ETH_LEN + 9]} is not UDP`);
  const udp = ETH_LEN + ihl;
  if (frame.length < udp + UDP_LEN + BOOTP_LEN) throw new DhcpFrameError(`frame of ${frame.length} bytes is too short for DHCP`);
  if (frame.readUInt16BE(udp) !== DHCP_CLIENT_PORT || frame.readUInt16BE(udp + 2) !== DHCP_SERVER_PORT) throw new DhcpFrameError('not UDP 68 -> 67');
  const dhcp = udp + UDP_LEN;
  const ipDst = [...frame.subarray(ETH_LEN + 16, ETH_LEN + 20)].join('.');
  return { ethSrc: macText(frame.subarray(6, 12)), ipDst, bootp: decodeBootp(frame, dhcp), options: decodeOptions(frame, dhcp + BOOTP_LEN) };
}

/** The ones' complement sum of 16-bit words (RFC 1071), folded: both DHCP frames' UDP checksums. */
export function onesSum(bufs: readonly Buffer[]): number {
  let s = 0;
  for (const b of bufs) {
    for (let i = 0; i + 1 < b.length; i += 2) s += b.readUInt16BE(i);
    if (b.length % 2) s += b[b.length - 1]! << 8;
  }
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

export interface DhcpReply {
  ethDst: string;
  ethSrc: string;
  ipSrc: string;
  ipDst: string;
  bootp: Bootp;
  options: DhcpOption[];
}

/** The reply frame, byte for byte as os-ken serialises it for the reference's responder. */
export function encodeDhcpReply(r: DhcpReply): Buffer {
  const opts: Buffer[] = [Buffer.from([0x63, 0x82, 0x53, 0x63])];
  for (const o of r.options) {
    if (o.value.length > 255) throw new DhcpFrameError(`DHCP option ${o.tag} of ${o.value.length} bytes exceeds 255`);
    opts.push(Buffer.from([o.tag, o.value.length]), o.value);
  }
  opts.push(Buffer.from([DHCP_OPT.END]));
  const payload = Buffer.concat([encodeBootp(r.bootp), ...opts]);
  const udp = Buffer.alloc(UDP_LEN);
  udp.writeUInt16BE(DHCP_SERVER_PORT, 0);
  udp.writeUInt16BE(DHCP_CLIENT_PORT, 2);
  udp.writeUInt16BE(UDP_LEN + payload.length, 4);
  const src = ipv4Bytes(r.ipSrc);
  const dst = ipv4Bytes(r.ipDst);
  const pseudo = Buffer.alloc(4);
  pseudo.writeUInt16BE(IP_PROTO_UDP, 0);
  pseudo.writeUInt16BE(UDP_LEN + payload.length, 2);
  udp.writeUInt16BE(~onesSum([src, dst, pseudo, udp, payload]) & 0xffff, 6);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + UDP_LEN + payload.length, 2);
  ip[8] = 255;
  ip[9] = IP_PROTO_UDP;
  src.copy(ip, 12);
  dst.copy(ip, 16);
  ip.writeUInt16BE(~onesSum([ip]) & 0xffff, 10);
  const eth = Buffer.concat([macBytes(r.ethDst), macBytes(r.ethSrc), Buffer.from([0x08, 0x00])]);
  return Buffer.concat([eth, ip, udp, payload]);
}
