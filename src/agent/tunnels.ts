// Tunnel ports on br-tun, named and configured as the reference does (flows.md §5.1).
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { TunnelType } from '../bridges/tables.js';

function ipv4ToHex(ip: string): string {
  return ip
    .split('.')
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join('');
}

/** RFC 4648 base32, lower-case, no padding. */
function base32(buf: Buffer): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

/** `vxlan-c0000214` for 192.0.2.20; IPv6 remotes get a base32 SHA-1 prefix. Undefined for an invalid IP. */
export function tunnelPortName(type: TunnelType, remoteIp: string): string | undefined {
  const v = isIP(remoteIp);
  if (v === 4) return `${type}-${ipv4ToHex(remoteIp)}`;
  if (v === 6) {
    const hash = base32(createHash('sha1').update(remoteIp).digest());
    return `${type}-${hash.slice(0, 15 - type.length - 1)}`;
  }
  return undefined;
}

export interface TunnelOptionSettings {
  localIp: string;
  vxlanUdpPort: number;
  dontFragment: boolean;
  tunnelCsum: boolean;
  dscp: number | undefined;
  dscpInherit: boolean;
  hwOffload: boolean;
}

/** OVSDB Interface type and options of a tunnel port. */
export function tunnelInterface(type: TunnelType, remoteIp: string, s: TunnelOptionSettings): { ifaceType: string; options: Record<string, string> } {
  const v6 = isIP(remoteIp) === 6 || isIP(s.localIp) === 6;
  const ifaceType = type === 'gre' && v6 ? 'ip6gre' : type;
  const options: Record<string, string> = {
    df_default: s.dontFragment ? 'true' : 'false',
    in_key: 'flow',
    out_key: 'flow',
    local_ip: s.localIp,
    remote_ip: remoteIp,
  };
  if (!s.hwOffload) options['egress_pkt_mark'] = '0';
  if (type === 'vxlan' && s.vxlanUdpPort !== 4789) options['dst_port'] = String(s.vxlanUdpPort);
  if (s.tunnelCsum) options['csum'] = 'true';
  if (s.dscpInherit) options['tos'] = 'inherit';
  else if (s.dscp !== undefined) options['tos'] = String(s.dscp << 2);
  if (ifaceType === 'ip6gre') options['packet_type'] = 'legacy_l2';
  return { ifaceType, options };
}
