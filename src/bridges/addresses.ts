// Addresses as flow match values: an address matches exactly, a CIDR as a masked value.
import { isIP } from 'node:net';
import { type Masked, exact } from '../openflow/flow.js';
import { ipv4Netmask, ipv6Netmask } from '../util/addresses.js';

/** `10.0.0.5` → exact; `10.0.0.0/24` → 10.0.0.0/255.255.255.0; a full-length prefix → exact. */
export function cidrMatch(cidr: string): Masked<string> {
  const [ip, plen] = cidr.split('/') as [string, string | undefined];
  const v4 = isIP(ip) === 4;
  if (!plen || plen === (v4 ? '32' : '128')) return exact(ip);
  return { value: ip, mask: v4 ? ipv4Netmask(Number(plen)) : ipv6Netmask(Number(plen)) };
}
