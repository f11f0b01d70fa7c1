// IP prefixes as the OVS firewall matches them: a neutron address or CIDR becomes the network
// address plus a mask (exact when the prefix is a host), the way OVS stores and prints it.
import { eui64LinkLocal as linkLocalOf } from '../../util/addresses.js';
import type { IpAddress, Mac, Masked } from '../../openflow/flow.js';

export interface IpPrefix {
  version: 4 | 6;
  /** Network address, canonical text (RFC 5952 for IPv6). */
  network: IpAddress;
  prefixLen: number;
}

function ipv4ToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new Error(`invalid IPv4 address '${ip}'`);
  }
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

function ipv6ToBigInt(ip: string): bigint {
  // The WHATWG URL parser validates IPv6 literals and writes them compressed; expand from there.
  let host: string;
  try {
    host = new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch (err) {
    throw new Error(`invalid IPv6 address '${ip}': ${(err as Error).message}`);
  }
  const [head, tail] = host.includes('::') ? host.split('::') : [host, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

function bigIntToIpv6(n: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((n >> BigInt(i * 16)) & 0xffffn).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

export function ipVersion(ip: string): 4 | 6 {
  return ip.includes(':') ? 6 : 4;
}

/**
 * `fn` remembered for up to 100 000 arguments, then forgotten all at once: ports and members
 * repeat the same addresses pass after pass, and parsing IPv6 is not free.
 */
function remembered<K, V>(fn: (k: K) => V): (k: K) => V {
  const seen = new Map<K, V>();
  return (k) => {
    let v = seen.get(k);
    if (v === undefined) {
      v = fn(k);
      if (seen.size >= 100_000) seen.clear();
      seen.set(k, v);
    }
    return v;
  };
}

/** IPv6 netmask of a prefix length, as a number. */
function ipv6Mask(prefixLen: number): bigint {
  return prefixLen === 0 ? 0n : ((1n << BigInt(prefixLen)) - 1n) << BigInt(128 - prefixLen);
}

/** `10.0.0.5` → 10.0.0.5/32; `192.168.1.9/16` → 192.168.0.0/16 (host bits cleared, as netaddr's `.cidr`). */
export const parsePrefix: (text: string) => IpPrefix = remembered(parsePrefixUncached);

function parsePrefixUncached(text: string): IpPrefix {
  const [addr, len, extra] = text.trim().split('/');
  if (addr === undefined || extra !== undefined) throw new Error(`invalid IP prefix '${text}'`);
  const version = ipVersion(addr);
  const bits = version === 4 ? 32 : 128;
  const prefixLen = len === undefined ? bits : Number(len);
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > bits || (len !== undefined && !/^\d+$/.test(len))) {
    throw new Error(`invalid prefix length in '${text}'`);
  }
  if (version === 4) {
    const hostBits = 2 ** (32 - prefixLen);
    const n = ipv4ToInt(addr);
    return { version, network: intToIpv4(n - (n % hostBits)), prefixLen };
  }
  return { version, network: bigIntToIpv6(ipv6ToBigInt(addr) & ipv6Mask(prefixLen)), prefixLen };
}

/** The dotted (or IPv6) mask of a prefix length. */
export function prefixMask(version: 4 | 6, prefixLen: number): IpAddress {
  if (version === 4) return intToIpv4(prefixLen === 0 ? 0 : 2 ** 32 - 2 ** (32 - prefixLen));
  return bigIntToIpv6(ipv6Mask(prefixLen));
}

/** A prefix as a match value: exact for a host, value/mask otherwise. */
export function prefixMatch(p: IpPrefix): Masked<IpAddress> {
  const bits = p.version === 4 ? 32 : 128;
  return p.prefixLen === bits ? { value: p.network } : { value: p.network, mask: prefixMask(p.version, p.prefixLen) };
}

/** Canonical text of an address or prefix as netaddr prints `.cidr` (used as a member key). */
export function prefixText(p: IpPrefix): string {
  return `${p.network}/${p.prefixLen}`;
}

/** The IPv6 link-local address SLAAC derives from a MAC (modified EUI-64, fe80::/64). */
export const eui64LinkLocal: (mac: Mac) => IpAddress = remembered(linkLocalOf);

