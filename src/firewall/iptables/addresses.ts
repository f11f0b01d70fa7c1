// Addresses and prefixes spelled the way iptables-save and ipset print them, so that generated
// rules compare equal to what the kernel reports (IPv6 compressed as RFC 5952, prefixes reduced to
// their network address, MACs in upper case).
import { isIPv4, isIPv6 } from 'node:net';
import { formatIpv6Words } from '../../util/addresses.js';

export function ipVersionOf(addressOrCidr: string): 4 | 6 {
  const addr = addressOrCidr.split('/')[0]!;
  if (isIPv4(addr)) return 4;
  if (isIPv6(addr)) return 6;
  throw new Error(`not an IP address or prefix: ${addressOrCidr}`);
}

function v6ToWords(addr: string): number[] {
  let text = addr;
  // an embedded IPv4 tail (::ffff:1.2.3.4) becomes two words
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    text = text.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  const words = [...h, ...fill, ...t].map((w) => parseInt(w, 16));
  if (words.length !== 8 || words.some((w) => !Number.isInteger(w) || w < 0 || w > 0xffff)) {
    throw new Error(`bad IPv6 address ${addr}`);
  }
  return words;
}


/** An address in the kernel's spelling (IPv6 compressed, lower case). */
export function canonicalAddress(addr: string): string {
  if (isIPv4(addr)) return addr.split('.').map(Number).join('.');
  return formatIpv6Words(v6ToWords(addr));
}

/**
 * A prefix as iptables-save prints it: network address (host bits cleared) and length; a bare
 * address becomes /32 or /128.
 */
export function canonicalCidr(cidr: string): string {
  const [addr, lenText] = cidr.split('/');
  if (!addr) throw new Error(`bad prefix ${cidr}`);
  const version = ipVersionOf(addr);
  const max = version === 4 ? 32 : 128;
  const len = lenText === undefined ? max : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > max) throw new Error(`bad prefix length in ${cidr}`);
  if (version === 4) {
    const n = addr.split('.').reduce((a, b) => (a << 8) | Number(b), 0) >>> 0;
    const masked = len === 0 ? 0 : (n & (~0 << (32 - len))) >>> 0;
    return `${[24, 16, 8, 0].map((s) => (masked >>> s) & 0xff).join('.')}/${len}`;
  }
  const words = v6ToWords(addr).map((w, i) => {
    const bitsBefore = i * 16;
    if (len >= bitsBefore + 16) return w;
    if (len <= bitsBefore) return 0;
    return w & (0xffff << (16 - (len - bitsBefore))) & 0xffff;
  });
  return `${formatIpv6Words(words)}/${len}`;
}

/** The prefix length of a prefix (a bare address is a host prefix). */
export function prefixLength(cidr: string): number {
  const [addr, len] = cidr.split('/');
  return len === undefined ? (ipVersionOf(addr!) === 4 ? 32 : 128) : Number(len);
}

