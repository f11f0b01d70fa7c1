// What the tests read from the replies lab/dhcp-client.ts received: the lease an ACK or a REPLY
// gives, and a DHCPv6 frame with what differs between two runs zeroed.
import { formatIpv6Words } from '../../../src/util/addresses.js';

/** What the ACK says, for configuring the VM: the address, the prefix length, the MTU. */
export function lease(ackHex: string): { address: string; prefixLen: number; mtu: number | undefined; hostName: string | undefined } {
  const f = Buffer.from(ackHex, 'hex');
  const d = f.subarray(14 + (f[14]! & 15) * 4 + 8);
  const opts = new Map<number, Buffer>();
  for (let i = 240; i < d.length && d[i] !== 255; ) {
    if (d[i] === 0) { i++; continue; }
    opts.set(d[i]!, d.subarray(i + 2, i + 2 + d[i + 1]!));
    i += 2 + d[i + 1]!;
  }
  const mask = opts.get(1);
  const prefixLen = mask ? [...mask].reduce((n, b) => n + b.toString(2).replace(/0/g, '').length, 0) : 32;
  const mtu = opts.get(26);
  return { address: [...d.subarray(16, 20)].join('.'), prefixLen, mtu: mtu ? mtu.readUInt16BE(0) : undefined, hostName: opts.get(12)?.toString() };
}

/** A reply's options by code (the first of each), walked from its DHCPv6 message. */
function options(frameHex: string): Map<number, Buffer> {
  const d = Buffer.from(frameHex, 'hex').subarray(14 + 40 + 8);
  const out = new Map<number, Buffer>();
  for (let i = 4; i + 4 <= d.length; i += 4 + d.readUInt16BE(i + 2)) {
    if (!out.has(d.readUInt16BE(i))) out.set(d.readUInt16BE(i), d.subarray(i + 4, i + 4 + d.readUInt16BE(i + 2)));
  }
  return out;
}

function ipv6Text(b: Buffer): string {
  return formatIpv6Words(Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2)));
}

/** What the REPLY says: the IA_NA address, the DNS servers, the client FQDN. */
export function lease6(replyHex: string): { address: string; dns: string[]; fqdn: string | undefined } {
  const o = options(replyHex);
  const ia = o.get(3);
  if (!ia || ia.length < 12 + 4 + 24 || ia.readUInt16BE(12) !== 5) throw new Error(`the reply has no IA_NA with an address: ${replyHex}`);
  const dns = o.get(23) ?? Buffer.alloc(0);
  const fqdn = o.get(39);
  return {
    address: ipv6Text(ia.subarray(16, 32)),
    dns: Array.from({ length: dns.length / 16 }, (_, i) => ipv6Text(dns.subarray(i * 16, i * 16 + 16))),
    fqdn: fqdn ? fqdn.subarray(2, 2 + fqdn[1]!).toString() : undefined,
  };
}

/**
 * The frame with what differs between two runs of the same scenario zeroed: the server DUID-LLT's
 * time (the reference stamps it with the time of each reply) and the UDP checksum over it.
 */
export function withoutDuidTime(frameHex: string): string {
  const f = Buffer.from(frameHex, 'hex');
  f.writeUInt16BE(0, 14 + 40 + 6);
  const d = f.subarray(14 + 40 + 8);
  for (let i = 4; i + 4 <= d.length; i += 4 + d.readUInt16BE(i + 2)) {
    if (d.readUInt16BE(i) === 2 && d.readUInt16BE(i + 4) === 1) d.writeUInt32BE(0, i + 4 + 4);
  }
  return f.toString('hex');
}
