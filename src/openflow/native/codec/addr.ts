// Address literals <-> wire bytes. Encoders reject malformed input with an Error naming it;
// decoders produce canonical text (lower-case MAC, dotted IPv4, RFC 5952 IPv6).
import { formatIpv6Words } from '../../../util/addresses.js';
import { OfCodecError } from './errors.js';

export function macToBytes(mac: string): Buffer {
  const parts = mac.trim().split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new OfCodecError(`invalid MAC address '${mac}'`);
  }
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function bytesToMac(b: Uint8Array): string {
  // Table lookups: a flow dump decodes one or two MACs per flow, tens of thousands per audit.
  if (b.length === 6) return `${HEX[b[0]!]}:${HEX[b[1]!]}:${HEX[b[2]!]}:${HEX[b[3]!]}:${HEX[b[4]!]}:${HEX[b[5]!]}`;
  return Array.from(b, (x) => HEX[x]!).join(':');
}

export function ipv4ToBytes(ip: string): Buffer {
  const parts = ip.trim().split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new OfCodecError(`invalid IPv4 address '${ip}'`);
  }
  return Buffer.from(parts.map(Number));
}

export function bytesToIpv4(b: Uint8Array): string {
  return Array.from(b).join('.');
}

export function ipv6ToBytes(ip: string): Buffer {
  let text = ip.trim();
  const out = Buffer.alloc(16);
  // An embedded dotted IPv4 tail (::ffff:1.2.3.4) is two groups.
  const dot = text.lastIndexOf('.');
  let tail: number[] = [];
  if (dot >= 0) {
    const colon = text.lastIndexOf(':');
    const v4 = ipv4ToBytes(text.slice(colon + 1));
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    text = text.slice(0, colon + 1);
    if (!text.endsWith('::')) text = text.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new OfCodecError(`invalid IPv6 address '${ip}'`);
  const parse = (s: string): number[] =>
    s === ''
      ? []
      : s.split(':').map((g) => {
          if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new OfCodecError(`invalid IPv6 address '${ip}'`);
          return parseInt(g, 16);
        });
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const groupsKnown = head.length + rest.length + tail.length;
  let groups: number[];
  if (halves.length === 2) {
    if (groupsKnown > 7) throw new OfCodecError(`invalid IPv6 address '${ip}'`);
    groups = [...head, ...new Array<number>(8 - groupsKnown).fill(0), ...rest, ...tail];
  } else {
    groups = [...head, ...tail];
    if (groups.length !== 8) throw new OfCodecError(`invalid IPv6 address '${ip}'`);
  }
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

export function bytesToIpv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  return formatIpv6Words(groups);
}
