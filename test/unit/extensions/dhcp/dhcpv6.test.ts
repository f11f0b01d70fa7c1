// The DHCPv6 responder against the reference's own packet assembly: test/fixtures/reference/dhcp/
// ipv6-replies.json holds, for client messages built with os-ken, the ADVERTISE and REPLY frames
// neutron's DHCPIPv6Responder.get_ret_packet builds with its clock fixed
// (scripts/capture-dhcp-reference.py --v6, run unchanged on Debian's python3-neutron). Each must be
// equal byte for byte, checksums and DUIDs included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DhcpFrameError } from '../../../../src/extensions/dhcp/frame.js';
import { decodeDhcp6Request, encodeDhcp6Reply } from '../../../../src/extensions/dhcp/frame6.js';
import { dhcpV6Reply, type DhcpV6Settings } from '../../../../src/extensions/dhcp/dhcpv6.js';
import type { DhcpPortInfo } from '../../../../src/extensions/dhcp/dhcpv4.js';

interface RefFixedIp { ip_address: string; version: 4 | 6; cidr: string; gateway_ip: string; host_routes: { destination: string; nexthop: string }[]; dns_nameservers: { address: string }[] }
interface RefCase {
  case: string;
  conf: { dhcp_lease_duration?: number; dns_domain?: string };
  port: { mac_address: string; mtu: number; fixed_ips: RefFixedIp[] };
  now: number;
  request: string;
  reply: string;
}

const CASES = JSON.parse(readFileSync(new URL('../../../../../test/fixtures/reference/dhcp/ipv6-replies.json', import.meta.url), 'utf8')) as RefCase[];

function settings(c: RefCase): DhcpV6Settings {
  return { baseMac: 'fa:16:3e:00:00:00', leaseDuration: c.conf.dhcp_lease_duration ?? 86400, dnsDomain: c.conf.dns_domain ?? 'openstacklocal' };
}

function portInfo(c: RefCase): DhcpPortInfo {
  return {
    mac: c.port.mac_address, mtu: c.port.mtu,
    fixedIps: c.port.fixed_ips.map((f) => ({
      ipAddress: f.ip_address, ipVersion: f.version, cidr: f.cidr, gatewayIp: f.gateway_ip,
      dnsNameservers: f.dns_nameservers.map((d) => d.address), hostRoutes: f.host_routes,
    })),
  };
}

test('the fixtures cover SOLICIT, REQUEST, RENEW, REBIND, CONFIRM and RELEASE', () => {
  assert.deepEqual(new Set(CASES.map((c) => decodeDhcp6Request(Buffer.from(c.request, 'hex')).msgType)), new Set([1, 3, 4, 5, 6, 8]));
});

for (const c of CASES) {
  test(`${c.case}: the reply equals the reference's byte for byte`, () => {
    const req = decodeDhcp6Request(Buffer.from(c.request, 'hex'));
    const r = dhcpV6Reply(req, portInfo(c), settings(c), c.now);
    assert.ok('frame' in r, 'skip' in r ? r.skip : '');
    assert.equal(r.frame.toString('hex'), c.reply);
  });
}

test('no reply without an IPv6 address, an IA_NA, a gateway, or to a message type the reference ignores', () => {
  const c = CASES[0]!;
  const req = decodeDhcp6Request(Buffer.from(c.request, 'hex'));
  const p = portInfo(c);
  const s = settings(c);
  assert.match(String((dhcpV6Reply(req, { ...p, fixedIps: p.fixedIps.filter((f) => f.ipVersion === 4) }, s, c.now) as { skip: string }).skip), /no IPv6 address/);
  assert.match(String((dhcpV6Reply({ ...req, options: req.options.filter((o) => o.code !== 3) }, p, s, c.now) as { skip: string }).skip), /IA_NA/);
  const noGw = { ...p, fixedIps: p.fixedIps.map((f) => ({ ...f, gatewayIp: undefined })) };
  assert.match(String((dhcpV6Reply(req, noGw, s, c.now) as { skip: string }).skip), /neither DNS servers nor a gateway/);
  assert.match(String((dhcpV6Reply({ ...req, msgType: 11 }, p, s, c.now) as { skip: string }).skip), /type 11 is not answered/);
});

test('a reply decodes back to what was encoded (the layouts both ways)', () => {
  const frame = encodeDhcp6Reply({ ethDst: 'fa:16:3e:12:34:56', ethSrc: 'fa:16:3e:00:00:00', ethType: 0x86dd, ipSrc: '2001:db8::1', ipDst: 'fe80::1', msgType: 7, xid: 0xabcdef, options: [{ code: 39, data: Buffer.from('x') }] });
  // A reply is 547 -> 546, so the request decoder refuses it by its ports, after the layouts agreed.
  assert.throws(() => decodeDhcp6Request(frame), /not UDP 546 -> 547/);
  frame.writeUInt16BE(546, 54);
  frame.writeUInt16BE(547, 56);
  const d = decodeDhcp6Request(frame);
  assert.deepEqual({ ...d, options: d.options.map((o) => [o.code, o.data.toString()]) }, { ethSrc: 'fa:16:3e:00:00:00', ethType: 0x86dd, ipSrc: '2001:db8::1', msgType: 7, xid: 0xabcdef, options: [[39, 'x']] });
});

test('a frame that is not a DHCPv6 client message is a DhcpFrameError, whatever its bytes', () => {
  const good = Buffer.from(CASES[1]!.request, 'hex');
  let seed = 11;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  let decoded = 0;
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(good.subarray(0, rnd() % (good.length + 1)));
    for (let k = 0; k < 1 + (rnd() % 6); k++) if (b.length) b[rnd() % b.length] = rnd() & 0xff;
    try {
      const req = decodeDhcp6Request(b);
      decoded++;
      const r = dhcpV6Reply(req, portInfo(CASES[1]!), settings(CASES[1]!), CASES[1]!.now);
      assert.ok('frame' in r || typeof r.skip === 'string');
    } catch (e) {
      assert.ok(e instanceof DhcpFrameError, String(e));
    }
  }
  assert.ok(decoded > 0, 'no mutated frame decoded: the fuzz only exercised the length checks');
});
