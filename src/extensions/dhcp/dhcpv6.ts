// The reference's DHCPv6 responder (neutron.agent.l2.extensions.dhcp.ipv6, Zed), from the port's
// data only (no lease state): a SOLICIT is answered with an ADVERTISE; a REQUEST, CONFIRM, RENEW
// or REBIND with a REPLY carrying the same options; a RELEASE with a REPLY of client id, server id
// and status "release received". Options in the reference's order: client id (the request's, or a
// DUID-LLT of the port's MAC), server id (a DUID-LLT of [DEFAULT] base_mac, time now), IA_NA with
// the port's first IPv6 fixed IP (IAID, T1, T2 and lifetimes taken from the request's IA_NA where
// non-zero, else [DEFAULT] dhcp_lease_duration, IAID 1), status "success", preference 0 on an
// ADVERTISE, on a REQUEST the domain search list ([DEFAULT] dns_domain as the reference writes
// it: one length byte, the text with its dots, a zero byte), DNS servers (the subnet's, else its
// gateway), the client FQDN host-<address with '-'>[.<dns_domain> on a REQUEST]. The reference
// answers any DHCP-enabled IPv6 subnet of the port (it does not look at ipv6_address_mode), and so
// does this. Pure: the caller gives the time the DUIDs carry.
import type { DhcpPortInfo } from './dhcpv4.js';
import { DhcpFrameError, macBytes } from './frame.js';
import { type Dhcp6Option, type Dhcp6Request, encodeDhcp6Reply, ipv6Bytes } from './frame6.js';

export const DHCP6_MSG = { SOLICIT: 1, ADVERTISE: 2, REQUEST: 3, CONFIRM: 4, RENEW: 5, REBIND: 6, REPLY: 7, RELEASE: 8 } as const;
const OPT = { CLIENTID: 1, SERVERID: 2, IA_NA: 3, IAADDR: 5, PREFERENCE: 7, STATUS_CODE: 13, DNS_SERVERS: 23, DOMAIN_LIST: 24, FQDN: 39 } as const;
const ANSWERED = new Set<number>([DHCP6_MSG.SOLICIT, DHCP6_MSG.REQUEST, DHCP6_MSG.CONFIRM, DHCP6_MSG.RENEW, DHCP6_MSG.REBIND, DHCP6_MSG.RELEASE]);
/** 2000-01-01T00:00:00Z, the DUID-LLT epoch. */
const DUID_EPOCH = 946684800;

export interface DhcpV6Settings {
  /** [DEFAULT] base_mac: the replies' Ethernet source and the server DUID's link-layer address. */
  baseMac: string;
  leaseDuration: number;
  dnsDomain: string;
}

/** DUID-LLT (RFC 8415 §11.2): type 1, hardware type 1 (Ethernet), seconds since 2000, the MAC. */
export function duidLlt(mac: string, nowSec: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(1, 0);
  b.writeUInt16BE(1, 2);
  b.writeUInt32BE(Math.trunc(nowSec - DUID_EPOCH) >>> 0, 4);
  return Buffer.concat([b, macBytes(mac)]);
}

function int32(n: number, what: string): Buffer {
  if (!Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31) throw new DhcpFrameError(`${what} ${n} is not a 32-bit signed integer (the reference fails on it)`);
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** As Python's struct '!Ns' with N the text's length, then a signed length byte ('!b', so at most 127). */
function counted(text: string, what: string): Buffer {
  const bytes = Buffer.from(text).subarray(0, text.length);
  if (bytes.length > 127) throw new DhcpFrameError(`${what} of ${bytes.length} bytes does not fit a signed length byte (the reference fails on it)`);
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

function statusCode(message: string): Buffer {
  return Buffer.concat([Buffer.from([0, 0]), Buffer.from(message).subarray(0, message.length)]);
}

/** IA_NA: the request's last IA_NA gives IAID, T1, T2 and (its last 8 bytes) the lifetimes where non-zero. */
function iaNa(req: Dhcp6Request, address: string, leaseDuration: number): Buffer {
  const ia = req.options.filter((o) => o.code === OPT.IA_NA).at(-1);
  if (!ia) throw new DhcpFrameError('the request has no IA_NA option (the reference fails on it)');
  if (ia.data.length < 12) throw new DhcpFrameError(`the request's IA_NA of ${ia.data.length} bytes is shorter than 12 (the reference fails on it)`);
  const dflt = int32(leaseDuration, '[DEFAULT] dhcp_lease_duration');
  const pick = (start: number, end: number, fallback: Buffer): Buffer => {
    const v = ia.data.subarray(start, end);
    return v.readInt32BE(0) !== 0 ? Buffer.from(v) : fallback;
  };
  const n = ia.data.length;
  const iaid = pick(0, 4, Buffer.from([0, 0, 0, 1]));
  const t1 = pick(4, 8, dflt);
  const t2 = pick(8, 12, dflt);
  const preferred = pick(n - 8, n - 4, dflt);
  const valid = pick(n - 4, n, dflt);
  const addr = Buffer.concat([ipv6Bytes(address), preferred, valid]);
  return Buffer.concat([iaid, t1, t2, Buffer.from([0, OPT.IAADDR, 0, addr.length]), addr]);
}

function identities(req: Dhcp6Request, portMac: string, s: DhcpV6Settings, nowSec: number): Dhcp6Option[] {
  const client = req.options.find((o) => o.code === OPT.CLIENTID)?.data ?? duidLlt(portMac, nowSec);
  return [{ code: OPT.CLIENTID, data: client }, { code: OPT.SERVERID, data: duidLlt(s.baseMac, nowSec) }];
}

interface V6Ip {
  ipAddress: string;
  gatewayIp: string | undefined;
  dnsNameservers: string[];
}

function fullOptions(req: Dhcp6Request, portMac: string, ip: V6Ip, s: DhcpV6Settings, nowSec: number): Dhcp6Option[] {
  const o = identities(req, portMac, s, nowSec);
  o.push({ code: OPT.IA_NA, data: iaNa(req, ip.ipAddress, s.leaseDuration) }, { code: OPT.STATUS_CODE, data: statusCode('success') });
  if (req.msgType === DHCP6_MSG.SOLICIT) o.push({ code: OPT.PREFERENCE, data: Buffer.from([0]) });
  const request = req.msgType === DHCP6_MSG.REQUEST;
  if (request && s.dnsDomain) o.push({ code: OPT.DOMAIN_LIST, data: Buffer.concat([counted(s.dnsDomain, '[DEFAULT] dns_domain'), Buffer.from([0])]) });
  if (ip.dnsNameservers.length) o.push({ code: OPT.DNS_SERVERS, data: Buffer.concat(ip.dnsNameservers.map(ipv6Bytes)) });
  else if (ip.gatewayIp !== undefined) o.push({ code: OPT.DNS_SERVERS, data: ipv6Bytes(ip.gatewayIp) });
  else throw new DhcpFrameError('the subnet has neither DNS servers nor a gateway (the reference fails on it)');
  const host = `host-${ip.ipAddress.replace(/[.:]/g, '-')}`;
  const fqdn = request && s.dnsDomain ? `${host}.${s.dnsDomain}` : host;
  o.push({ code: OPT.FQDN, data: Buffer.concat([Buffer.from([3]), counted(fqdn, 'the client FQDN')]) });
  return o;
}

/**
 * The reply frame to a client's DHCPv6 message, or why there is none (a message type the
 * reference does not answer, no IPv6 address on a DHCP-enabled subnet, data the reference fails on).
 */
export function dhcpV6Reply(req: Dhcp6Request, port: DhcpPortInfo, s: DhcpV6Settings, nowSec: number): { frame: Buffer; type: 'advertise' | 'reply' } | { skip: string } {
  if (!ANSWERED.has(req.msgType)) return { skip: `DHCPv6 message type ${req.msgType} is not answered` };
  const ip = port.fixedIps.find((f) => f.ipVersion === 6);
  if (!ip) return { skip: 'the port has no IPv6 address on a DHCP-enabled subnet' };
  try {
    const options = req.msgType === DHCP6_MSG.RELEASE
      ? [...identities(req, port.mac, s, nowSec), { code: OPT.STATUS_CODE, data: statusCode('release received') }]
      : fullOptions(req, port.mac, ip, s, nowSec);
    if (ip.gatewayIp === undefined) return { skip: `subnet ${ip.cidr} has no gateway (the reference fails on it)` };
    const advertise = req.msgType === DHCP6_MSG.SOLICIT;
    const frame = encodeDhcp6Reply({
      ethDst: req.ethSrc, ethSrc: s.baseMac.toLowerCase(), ethType: req.ethType, ipSrc: ip.gatewayIp, ipDst: req.ipSrc,
      msgType: advertise ? DHCP6_MSG.ADVERTISE : DHCP6_MSG.REPLY, xid: req.xid, options,
    });
    return { frame, type: advertise ? 'advertise' : 'reply' };
  } catch (e) {
    if (e instanceof DhcpFrameError) return { skip: e.message };
    throw e;
  }
}
