// A logged packet as the reference prints it: os-ken's `str(packet.Packet(data))`, each protocol
// as `name(field=repr,...)` with its fields in alphabetical order, joined by ", ", and what no
// parser takes as a Python bytes literal. Covered: Ethernet, 802.1Q, ARP, IPv4, IPv6 (without
// extension headers), ICMP (echo, unreachable, time exceeded), ICMPv6 echo, TCP with its options,
// UDP. Anything else (IPv6 extension headers, ICMPv6 neighbour discovery, DHCP, SCTP ...) is
// printed as the bytes it starts with; os-ken would have parsed it further.
import { bytesToIpv4, bytesToIpv6, bytesToMac } from '../../openflow/native/codec/addr.js';

type PyValue = string | number | null | Buffer | PyObject | PyValue[] | { tuple: number[] };
interface PyObject {
  cls: string;
  fields: Record<string, PyValue>;
}

/** Python's repr of a bytes object. */
export function pyBytesRepr(b: Buffer): string {
  const hasSingle = b.includes(0x27);
  const quote = hasSingle && !b.includes(0x22) ? '"' : "'";
  let s = '';
  for (const c of b) {
    if (c === 0x5c) s += '\\\\';
    else if (c === 0x09) s += '\\t';
    else if (c === 0x0a) s += '\\n';
    else if (c === 0x0d) s += '\\r';
    else if (c === 0x27 && quote === "'") s += "\\'";
    else if (c >= 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return `b${quote}${s}${quote}`;
}

function repr(v: PyValue): string {
  if (v === null) return 'None';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `'${v}'`;
  if (Buffer.isBuffer(v)) return pyBytesRepr(v);
  if (Array.isArray(v)) return `[${v.map(repr).join(', ')}]`;
  if ('tuple' in v) return `(${v.tuple.join(', ')})`;
  return objRepr(v);
}

function objRepr(o: PyObject): string {
  const keys = Object.keys(o.fields).sort();
  return `${o.cls}(${keys.map((k) => `${k}=${repr(o.fields[k]!)}`).join(',')})`;
}

const obj = (cls: string, fields: Record<string, PyValue>): PyObject => ({ cls, fields });

/** One parsed layer and what follows it; `next` names the parser of the rest (undefined: none). */
interface Layer {
  out: PyObject;
  next: Parser | undefined;
  rest: Buffer;
}
type Parser = (b: Buffer) => Layer;

const ETHERTYPE_PARSERS: Record<number, () => Parser> = { 0x0800: () => ipv4, 0x86dd: () => ipv6, 0x0806: () => arp, 0x8100: () => vlan };
const IP_PROTO_PARSERS: Record<number, () => Parser> = { 1: () => icmp, 6: () => tcp, 17: () => udp, 58: () => icmpv6 };

function need(b: Buffer, n: number, what: string): void {
  if (b.length < n) throw new RangeError(`${what}: ${b.length} bytes, need ${n}`);
}

const ethernet: Parser = (b) => {
  need(b, 14, 'ethernet');
  const ethertype = b.readUInt16BE(12);
  return { out: obj('ethernet', { dst: bytesToMac(b.subarray(0, 6)), src: bytesToMac(b.subarray(6, 12)), ethertype }), next: ETHERTYPE_PARSERS[ethertype]?.(), rest: b.subarray(14) };
};

const vlan: Parser = (b) => {
  need(b, 4, 'vlan');
  const tci = b.readUInt16BE(0);
  const ethertype = b.readUInt16BE(2);
  return { out: obj('vlan', { pcp: tci >> 13, cfi: (tci >> 12) & 1, vid: tci & 0xfff, ethertype }), next: ETHERTYPE_PARSERS[ethertype]?.(), rest: b.subarray(4) };
};

const arp: Parser = (b) => {
  need(b, 28, 'arp');
  return {
    out: obj('arp', {
      hwtype: b.readUInt16BE(0), proto: b.readUInt16BE(2), hlen: b[4]!, plen: b[5]!, opcode: b.readUInt16BE(6),
      src_mac: bytesToMac(b.subarray(8, 14)), src_ip: bytesToIpv4(b.subarray(14, 18)),
      dst_mac: bytesToMac(b.subarray(18, 24)), dst_ip: bytesToIpv4(b.subarray(24, 28)),
    }),
    next: undefined,
    rest: b.subarray(28),
  };
};

const ipv4: Parser = (b) => {
  need(b, 20, 'ipv4');
  const headerLength = b[0]! & 0x0f;
  const len = headerLength * 4;
  need(b, len, 'ipv4 options');
  const totalLength = b.readUInt16BE(2);
  const flagsOffset = b.readUInt16BE(6);
  const proto = b[9]!;
  return {
    out: obj('ipv4', {
      version: b[0]! >> 4, header_length: headerLength, tos: b[1]!, total_length: totalLength, identification: b.readUInt16BE(4),
      flags: flagsOffset >> 13, offset: flagsOffset & 0x1fff, ttl: b[8]!, proto, csum: b.readUInt16BE(10),
      src: bytesToIpv4(b.subarray(12, 16)), dst: bytesToIpv4(b.subarray(16, 20)),
      option: len > 20 ? Buffer.from(b.subarray(20, len)) : null,
    }),
    next: IP_PROTO_PARSERS[proto]?.(),
    // As os-ken: the payload ends where total_length says (Ethernet padding is not part of it).
    rest: b.subarray(len, Math.max(len, totalLength)),
  };
};

const ipv6: Parser = (b) => {
  need(b, 40, 'ipv6');
  const w = b.readUInt32BE(0);
  const nxt = b[6]!;
  const payloadLength = b.readUInt16BE(4);
  return {
    out: obj('ipv6', {
      version: w >>> 28, traffic_class: (w >>> 20) & 0xff, flow_label: w & 0xfffff, payload_length: payloadLength, nxt,
      hop_limit: b[7]!, src: bytesToIpv6(b.subarray(8, 24)), dst: bytesToIpv6(b.subarray(24, 40)), ext_hdrs: [],
    }),
    next: IP_PROTO_PARSERS[nxt]?.(),
    rest: b.subarray(40, 40 + payloadLength),
  };
};

/** Echo-like ICMP bodies: id, seq, then data (None when empty). */
const dataOrNone = (b: Buffer): Buffer | null => (b.length ? Buffer.from(b) : null);

function icmpBody(type: number, body: Buffer): PyValue {
  if ((type === 0 || type === 8) && body.length >= 4) return obj('echo', { id: body.readUInt16BE(0), seq: body.readUInt16BE(2), data: dataOrNone(body.subarray(4)) });
  if (type === 3 && body.length >= 4) return obj('dest_unreach', { data_len: body[1]!, mtu: body.readUInt16BE(2), data: dataOrNone(body.subarray(4)) });
  if (type === 11 && body.length >= 4) return obj('TimeExceeded', { data_len: body[1]!, data: dataOrNone(body.subarray(4)) });
  return Buffer.from(body);
}

const icmp: Parser = (b) => {
  need(b, 4, 'icmp');
  const type = b[0]!;
  return { out: obj('icmp', { type, code: b[1]!, csum: b.readUInt16BE(2), data: icmpBody(type, b.subarray(4)) }), next: undefined, rest: b.subarray(b.length) };
};

const icmpv6: Parser = (b) => {
  need(b, 4, 'icmpv6');
  const type = b[0]!;
  const body = b.subarray(4);
  if ((type === 128 || type === 129) && body.length >= 4) {
    const data = obj('echo', { id: body.readUInt16BE(0), seq: body.readUInt16BE(2), data: dataOrNone(body.subarray(4)) });
    return { out: obj('icmpv6', { type_: type, code: b[1]!, csum: b.readUInt16BE(2), data }), next: undefined, rest: b.subarray(b.length) };
  }
  throw new RangeError(`icmpv6 type ${type} is not rendered`);
};

function tcpOption(b: Buffer): [PyObject, Buffer] {
  const kind = b[0]!;
  if (kind === 0) return [obj('TCPOptionEndOfOptionList', { kind, length: 1 }), b.subarray(1)];
  if (kind === 1) return [obj('TCPOptionNoOperation', { kind, length: 1 }), b.subarray(1)];
  need(b, 2, 'tcp option');
  const length = b[1]!;
  const fixed: Record<number, number> = { 2: 4, 3: 3, 4: 2, 8: 10 };
  const n = fixed[kind] ?? length;
  need(b, Math.max(n, 2), 'tcp option');
  switch (kind) {
    case 2: return [obj('TCPOptionMaximumSegmentSize', { kind, length, max_seg_size: b.readUInt16BE(2) }), b.subarray(n)];
    case 3: return [obj('TCPOptionWindowScale', { kind, length, shift_cnt: b[2]! }), b.subarray(n)];
    case 4: return [obj('TCPOptionSACKPermitted', { kind, length }), b.subarray(n)];
    case 8: return [obj('TCPOptionTimestamps', { kind, length, ts_val: b.readUInt32BE(2), ts_ecr: b.readUInt32BE(6) }), b.subarray(n)];
    case 5: {
      const blocks: PyValue[] = [];
      for (let o = 2; o + 8 <= length; o += 8) blocks.push({ tuple: [b.readUInt32BE(o), b.readUInt32BE(o + 4)] });
      return [obj('TCPOptionSACK', { kind, length, blocks }), b.subarray(length)];
    }
    default:
      return [obj('TCPOptionUnknown', { kind, length, value: Buffer.from(b.subarray(2, length)) }), b.subarray(length)];
  }
}

const tcp: Parser = (b) => {
  need(b, 20, 'tcp');
  const offset = b[12]! >> 4;
  const len = offset * 4;
  let option: PyValue = null;
  if (len > 20) {
    const raw = b.subarray(20, len);
    try {
      const opts: PyObject[] = [];
      for (let rest = raw; rest.length; ) {
        const [o, after] = tcpOption(rest);
        opts.push(o);
        rest = after;
      }
      option = opts;
    } catch {
      option = Buffer.from(raw); // as os-ken: options it cannot parse are kept as bytes
    }
  }
  return {
    out: obj('tcp', {
      src_port: b.readUInt16BE(0), dst_port: b.readUInt16BE(2), seq: b.readUInt32BE(4), ack: b.readUInt32BE(8), offset,
      bits: b[13]! & 0x3f, window_size: b.readUInt16BE(14), csum: b.readUInt16BE(16), urgent: b.readUInt16BE(18), option,
    }),
    next: undefined,
    rest: b.subarray(Math.min(len, b.length)),
  };
};

const udp: Parser = (b) => {
  need(b, 8, 'udp');
  const totalLength = b.readUInt16BE(4);
  const srcPort = b.readUInt16BE(0);
  const dstPort = b.readUInt16BE(2);
  const out = obj('udp', { src_port: srcPort, dst_port: dstPort, total_length: totalLength, csum: b.readUInt16BE(6) });
  // os-ken parses DHCP, DHCPv6, VXLAN and Geneve further; those are not rendered here.
  const parsedFurther = [67, 68, 546, 547].includes(srcPort) || [67, 68, 546, 547, 4789, 8472, 6081].includes(dstPort);
  if (parsedFurther) throw new RangeError(`udp ${srcPort}->${dstPort} is parsed further by os-ken`);
  return { out, next: undefined, rest: b.subarray(8, Math.max(8, totalLength)) };
};

/** `str(os_ken.lib.packet.packet.Packet(frame))`, for the protocols listed above. */
export function packetText(frame: Buffer): string {
  const parts: string[] = [];
  let parser: Parser | undefined = ethernet;
  let rest = frame;
  const allZero = (b: Buffer): boolean => b.every((c) => c === 0);
  while (parser) {
    if (allZero(rest)) break; // as os-ken: nothing but padding is not parsed, nor printed
    let layer: Layer;
    try {
      layer = parser(rest);
    } catch {
      break; // a layer too short or not rendered: what is left is printed as bytes
    }
    parts.push(objRepr(layer.out));
    parser = layer.next;
    rest = layer.rest;
  }
  if (!allZero(rest)) parts.push(pyBytesRepr(rest));
  return parts.join(', ');
}
