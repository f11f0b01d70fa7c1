// Address validation matching oslo.config's IPAddress (netaddr with INET_PTON:
// strict dotted quad, no zone index) and Hostname (RFC 1123 labels) types.
import { isIPv4, isIPv6 } from 'node:net';

export function isIpAddress(s: string): boolean {
  if (s.includes('%')) return false;
  return isIPv4(s) || isIPv6(s);
}

const LABEL = /^(?!-)[A-Z0-9-]{1,63}(?<!-)$/i;

/** oslo.config Hostname: returns the name without a trailing dot, or null if invalid. */
export function validHostname(value: string): string | null {
  if (value.length === 0 || value.length > 253) return null;
  const v = value.endsWith('.') ? value.slice(0, -1) : value;
  const labels = v.split('.');
  if (!/[a-zA-Z-]/.test(labels[labels.length - 1]!)) return null;
  return labels.every((l) => LABEL.test(l)) ? v : null;
}

function expandIPv6(s: string): number[] {
  let head = s;
  let tail4: number[] = [];
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    const o = last.split('.').map(Number);
    tail4 = [(o[0]! << 8) | o[1]!, (o[2]! << 8) | o[3]!];
    head = s.slice(0, lastColon + 1) + '0';
  }
  const [left, right] = head.includes('::') ? head.split('::') as [string, string] : [head, undefined];
  const parse = (p: string | undefined): number[] => (p ? p.split(':').filter((x) => x !== '').map((h) => parseInt(h, 16)) : []);
  let l = parse(left);
  let r = right === undefined ? [] : parse(right);
  if (tail4.length) {
    if (right === undefined) l = l.slice(0, -1).concat(tail4);
    else r = r.slice(0, -1).concat(tail4);
  }
  const fill = right === undefined ? [] : new Array<number>(8 - l.length - r.length).fill(0);
  return l.concat(fill, r);
}

/** Canonical text for comparison: IPv4 as is, IPv6 as 8 lower-case 4-digit groups. */
export function canonicalIp(s: string): string | null {
  if (s.includes('%')) s = s.slice(0, s.indexOf('%'));
  if (isIPv4(s)) return s;
  if (!isIPv6(s)) return null;
  return expandIPv6(s).map((g) => g.toString(16).padStart(4, '0')).join(':');
}
