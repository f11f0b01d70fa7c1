// The DHCPv4 responder against the reference's own packet assembly: test/fixtures/reference/dhcp/
// ipv4-replies.json holds, for requests built with os-ken, the OFFER and ACK frames neutron's
// DHCPIPv4Responder.get_ret_packet builds (scripts/capture-dhcp-reference.py, run unchanged on
// Debian's python3-neutron). Each must be equal byte for byte, checksums included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { decodeDhcpRequest, DhcpFrameError } from '../../../../src/extensions/dhcp/frame.js';
import { dhcpV4Reply, type DhcpPortInfo, type DhcpV4Settings } from '../../../../src/extensions/dhcp/dhcpv4.js';

interface RefFixedIp { ip_address: string; version: 4 | 6; cidr: string; gateway_ip: string; host_routes: { destination: string; nexthop: string }[]; dns_nameservers: { address: string }[] }
interface RefCase {
  case: string;
  conf: { dhcp_lease_duration?: number; dns_domain?: string; DHCP?: { dhcp_renewal_time?: number; dhcp_rebinding_time?: number } };
  port: { mtu: number; fixed_ips: RefFixedIp[] };
  request: string;
  reply: string;
}

const CASES = JSON.parse(readFileSync(new URL('../../../../../test/fixtures/reference/dhcp/ipv4-replies.json', import.meta.url), 'utf8')) as RefCase[];

function settings(c: RefCase): DhcpV4Settings {
  return {
    baseMac: 'fa:16:3e:00:00:00',
    leaseDuration: c.conf.dhcp_lease_duration ?? 86400,
    dnsDomain: c.conf.dns_domain ?? 'openstacklocal',
    renewalTime: c.conf.DHCP?.dhcp_renewal_time ?? 0,
    rebindingTime: c.conf.DHCP?.dhcp_rebinding_time ?? 0,
  };
}

function portInfo(c: RefCase): DhcpPortInfo {
  return {
    mac: 'fa:16:3e:12:34:56', mtu: c.port.mtu,
    fixedIps: c.port.fixed_ips.map((f) => ({
      ipAddress: f.ip_address, ipVersion: f.version, cidr: f.cidr, gatewayIp: f.gateway_ip,
      dnsNameservers: f.dns_nameservers.map((d) => d.address), hostRoutes: f.host_routes,
    })),
  };
}

test('the fixtures cover an OFFER and an ACK of each case', () => assert.equal(CASES.length, 6));

for (const c of CASES) {
  test(`${c.case}: the reply equals the reference's byte for byte`, () => {
    const req = decodeDhcpRequest(Buffer.from(c.request, 'hex'));
    const r = dhcpV4Reply(req, portInfo(c), settings(c));
    assert.ok('frame' in r, 'skip' in r ? r.skip : '');
    assert.equal(r.frame.toString('hex'), c.reply);
  });
}

test('no reply without an IPv4 address, a gateway, or to a message type the reference ignores', () => {
  const c = CASES[0]!;
  const req = decodeDhcpRequest(Buffer.from(c.request, 'hex'));
  const p = portInfo(c);
  assert.ok('skip' in dhcpV4Reply(req, { ...p, fixedIps: [] }, settings(c)));
  assert.ok('skip' in dhcpV4Reply(req, { ...p, fixedIps: [{ ...p.fixedIps[0]!, gatewayIp: undefined }] }, settings(c)));
  const release = { ...req, options: [{ tag: 53, value: Buffer.from([7]) }] };
  assert.ok('skip' in dhcpV4Reply(release, p, settings(c)));
});

test('a frame that is not a DHCPv4 request is a DhcpFrameError, whatever its bytes', () => {
  const good = Buffer.from(CASES[0]!.request, 'hex');
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(good.subarray(0, rnd() % (good.length + 1)));
    for (let k = 0; k < 1 + (rnd() % 6); k++) if (b.length) b[rnd() % b.length] = rnd() & 0xff;
    try {
      decodeDhcpRequest(b);
    } catch (e) {
      assert.ok(e instanceof DhcpFrameError, String(e));
    }
  }
});
