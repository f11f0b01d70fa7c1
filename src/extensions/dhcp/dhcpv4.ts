// The reference's DHCPv4 responder (neutron.agent.l2.extensions.dhcp.ipv4, Zed): a DISCOVER is
// answered with an OFFER and a REQUEST with an ACK, from the port's data only (no lease state):
// the port's first IPv4 fixed IP, and the options of its first DHCP-enabled subnet in the
// reference's order: message type, server id (the gateway), lease time ([DEFAULT]
// dhcp_lease_duration, -1 = infinite), T1/T2 when [dhcp] dhcp_renewal_time/dhcp_rebinding_time are
// set, netmask, broadcast, DNS servers, domain ([DEFAULT] dns_domain), router, classless routes
// (default route, 169.254.169.254/32 and the host routes, all via their next hop), MTU, and on an
// ACK the host name host-<a-b-c-d>[.<dns_domain>]. Pure: the extension feeds it the request and
// the port's data and sends the frame it returns.
import { DHCP_OPT, type DhcpOption, type DhcpRequest, DhcpFrameError, encodeDhcpReply, ipv4Bytes, macBytes } from './frame.js';

export const DHCP_MSG = { DISCOVER: 1, OFFER: 2, REQUEST: 3, ACK: 5 } as const;
const OPT = { SUBNET_MASK: 1, ROUTER: 3, DNS: 6, HOST_NAME: 12, DOMAIN_NAME: 15, MTU: 26, BROADCAST: 28, LEASE: 51, SERVER_ID: 54, T1: 58, T2: 59, CLASSLESS_ROUTES: 121 } as const;
const METADATA_CIDR = '169.254.169.254/32';

/** A DHCP-enabled subnet of one of the port's fixed IPs (the reference's port_info fixed_ips entry). */
export interface DhcpFixedIp {
  ipAddress: string;
  ipVersion: 4 | 6;
  cidr: string;
  gatewayIp: string | undefined;
  dnsNameservers: string[];
  hostRoutes: { destination: string; nexthop: string }[];
}

export interface DhcpPortInfo {
  mac: string;
  /** In the port's order, only those on DHCP-enabled subnets. */
  fixedIps: DhcpFixedIp[];
  mtu: number;
}

export interface DhcpV4Settings {
  /** [DEFAULT] base_mac: the replies' Ethernet source. */
  baseMac: string;
  leaseDuration: number;
  renewalTime: number;
  rebindingTime: number;
  dnsDomain: string;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

function prefix(cidr: string): { addr: Buffer; len: number } {
  const [ip, len] = cidr.split('/');
  const n = Number(len ?? '32');
  if (!Number.isInteger(n) || n < 0 || n > 32) throw new DhcpFrameError(`'${cidr}' is not an IPv4 CIDR`);
  return { addr: ipv4Bytes(ip!), len: n };
}

function netmask(len: number): Buffer {
  return u32(len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0);
}

/** RFC 3442 route: prefix length, the significant octets of the destination, the next hop. */
function route(destination: string, nexthop: string): Buffer {
  const { addr, len } = prefix(destination);
  return Buffer.concat([Buffer.from([len]), addr.subarray(0, Math.ceil(len / 8)), ipv4Bytes(nexthop)]);
}

function options(fip: DhcpFixedIp, mtu: number, ack: boolean, s: DhcpV4Settings): DhcpOption[] {
  if (fip.gatewayIp === undefined) throw new DhcpFrameError(`subnet ${fip.cidr} has no gateway: the reference sends no reply`);
  const { addr, len } = prefix(fip.cidr);
  const mask = netmask(len);
  const server = ipv4Bytes(fip.gatewayIp);
  const bcast = Buffer.from(addr.map((b, i) => b | (~mask[i]! & 0xff)));
  const o: DhcpOption[] = [
    { tag: DHCP_OPT.MESSAGE_TYPE, value: Buffer.from([ack ? DHCP_MSG.ACK : DHCP_MSG.OFFER]) },
    { tag: OPT.SERVER_ID, value: server },
    { tag: OPT.LEASE, value: u32(s.leaseDuration) },
  ];
  if (s.renewalTime > 0) o.push({ tag: OPT.T1, value: u32(s.renewalTime) });
  if (s.rebindingTime > 0) o.push({ tag: OPT.T2, value: u32(s.rebindingTime) });
  o.push({ tag: OPT.SUBNET_MASK, value: mask }, { tag: OPT.BROADCAST, value: bcast });
  if (fip.dnsNameservers.length) o.push({ tag: OPT.DNS, value: Buffer.concat(fip.dnsNameservers.map(ipv4Bytes)) });
  if (s.dnsDomain) o.push({ tag: OPT.DOMAIN_NAME, value: Buffer.from(s.dnsDomain) });
  o.push({ tag: OPT.ROUTER, value: server });
  const routes = [route('0.0.0.0/0', fip.gatewayIp), route(METADATA_CIDR, fip.gatewayIp), ...fip.hostRoutes.map((r) => route(r.destination, r.nexthop))];
  o.push({ tag: OPT.CLASSLESS_ROUTES, value: Buffer.concat(routes) });
  if (mtu > 0) o.push({ tag: OPT.MTU, value: Buffer.from([(mtu >> 8) & 0xff, mtu & 0xff]) });
  return o;
}

/** The request's DHCP message type (its first option 53), undefined if it has none. */
export function messageType(req: DhcpRequest): number | undefined {
  return req.options.find((o) => o.tag === DHCP_OPT.MESSAGE_TYPE)?.value[0];
}

/**
 * The reply frame to a request, or why there is none (a message type the reference does not
 * answer, no IPv4 fixed IP, a subnet it could not describe).
 */
export function dhcpV4Reply(req: DhcpRequest, port: DhcpPortInfo, s: DhcpV4Settings): { frame: Buffer; type: 'offer' | 'ack' } | { skip: string } {
  const type = messageType(req);
  if (type !== DHCP_MSG.DISCOVER && type !== DHCP_MSG.REQUEST) return { skip: `DHCP message type ${type ?? 'missing'} is not answered` };
  const first = port.fixedIps[0];
  if (!first || !port.fixedIps.some((f) => f.ipVersion === 4)) return { skip: 'the port has no IPv4 address on a DHCP-enabled subnet' };
  if (first.ipVersion !== 4) return { skip: `the port's first DHCP subnet ${first.cidr} is not IPv4 (the reference fails on it)` };
  if (first.gatewayIp === undefined) return { skip: `subnet ${first.cidr} has no gateway (the reference fails on it)` };
  if ([...req.bootp.file].some((b) => b > 0x7f)) return { skip: 'the request\'s boot file name is not ASCII (the reference fails on it)' };
  const ack = type === DHCP_MSG.REQUEST;
  const opts = options(first, port.mtu, ack, s);
  if (ack) {
    const host = `host-${first.ipAddress.replace(/[.:]/g, '-')}`;
    opts.push({ tag: OPT.HOST_NAME, value: Buffer.from(s.dnsDomain ? `${host}.${s.dnsDomain}` : host) });
  }
  const chaddr = Buffer.alloc(16);
  macBytes(req.ethSrc).copy(chaddr);
  const bootp = {
    op: 2, htype: 1, hlen: 6, hops: 0, xid: req.bootp.xid, secs: 0, flags: 0,
    ciaddr: Buffer.alloc(4), yiaddr: ipv4Bytes(first.ipAddress), siaddr: ipv4Bytes(first.gatewayIp), giaddr: Buffer.alloc(4),
    chaddr, sname: Buffer.alloc(64), file: req.bootp.file,
  };
  const frame = encodeDhcpReply({ ethDst: req.ethSrc, ethSrc: s.baseMac.toLowerCase(), ipSrc: first.gatewayIp, ipDst: req.ipDst, bootp, options: opts });
  return { frame, type: ack ? 'ack' : 'offer' };
}
