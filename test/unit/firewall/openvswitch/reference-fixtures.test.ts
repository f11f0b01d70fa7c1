// The driver's flows for the scenarios captured from the reference agent (fixtures under
// test/fixtures/reference/firewall/, scenarios in the fw-capture branch's
// test/integration/firewall/scenarios.ts), rebuilt here as driver input: ports in plug order
// (ofport 3, 4, …; local VLANs by first port per network), groups with their rules in creation
// order, remote members as neutron reports them (fixed IPs and allowed pairs of every port in the
// group). Compared with the firewall's part of the captured br-int (tables 71-94, and table 60's
// priority 90/100 classification flows).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { OVSBridge } from '../../../../src/bridges/ovs-bridge.js';
import { formatFlow } from '../../../../src/openflow/text.js';
import { OVSFirewallDriver } from '../../../../src/firewall/openvswitch/firewall.js';
import type { FirewallPort, SecurityGroupRule } from '../../../../src/firewall/types.js';
import { FakeSource, RecordingSwitch, normalizeFlow } from './fixtures.js';

const FIXTURES = new URL('../../../../../test/fixtures/reference/firewall/', import.meta.url);

interface Net { vlan: number; type: string; physnet?: string; seg?: number }
interface PortSpec { net: string; mac: string; ips: string[]; groups?: string[]; portSecurity?: boolean; owner?: string; pairs?: Array<{ ip: string; mac?: string }> }
type RuleSpec = Omit<SecurityGroupRule, 'id' | 'securityGroupId' | 'ethertype' | 'remoteGroupId' | 'remoteAddressGroupId'> & { ethertype?: 'IPv4' | 'IPv6'; remoteGroup?: string; remoteAddressGroup?: string };
interface Scenario { nets: Record<string, Net>; groups: Record<string, RuleSpec[]>; ports: PortSpec[]; addressGroups?: Record<string, string[]> }

const anyEgress: RuleSpec[] = [{ direction: 'egress', ethertype: 'IPv4' }, { direction: 'egress', ethertype: 'IPv6' }];
const VX: Net = { vlan: 1, type: 'vxlan' };

const SCENARIOS: Record<string, Scenario> = {
  'one-port': {
    nets: { net: VX },
    groups: { web: [{ direction: 'ingress', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 }, { direction: 'ingress', protocol: 'icmp', remoteIpPrefix: '198.51.100.0/24' }, ...anyEgress] },
    ports: [{ net: 'net', mac: 'fa:16:3e:01:00:0a', ips: ['192.0.2.10'], groups: ['web'] }],
  },
  'remote-group.one-member': {
    nets: { vx: VX },
    groups: { cluster: [{ direction: 'ingress', remoteGroup: 'cluster' }, { direction: 'ingress', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22, remoteGroup: 'cluster' }, ...anyEgress] },
    ports: [{ net: 'vx', mac: 'fa:16:3e:02:00:0a', ips: ['192.0.2.10'], groups: ['cluster'] }],
  },
  'remote-group': {
    nets: { vx: VX, vl: { vlan: 2, type: 'vlan', physnet: 'physnet1', seg: 150 } },
    groups: { cluster: [{ direction: 'ingress', remoteGroup: 'cluster' }, { direction: 'ingress', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22, remoteGroup: 'cluster' }, ...anyEgress] },
    ports: [
      { net: 'vx', mac: 'fa:16:3e:02:00:0a', ips: ['192.0.2.10'], groups: ['cluster'] },
      { net: 'vx', mac: 'fa:16:3e:02:00:0b', ips: ['192.0.2.11'], groups: ['cluster'] },
      { net: 'vx', mac: 'fa:16:3e:02:00:0c', ips: ['192.0.2.12'], groups: ['cluster'] },
      { net: 'vl', mac: 'fa:16:3e:02:00:0d', ips: ['198.51.100.13'], groups: ['cluster'] },
    ],
  },
  'port-ranges': {
    nets: { net: VX },
    groups: {
      ranges: [
        { direction: 'ingress', protocol: 'tcp', portRangeMin: 1000, portRangeMax: 1999 },
        { direction: 'ingress', protocol: 'tcp', portRangeMin: 8080, portRangeMax: 8090 },
        { direction: 'ingress', protocol: 'udp', portRangeMin: 53, portRangeMax: 53 },
        { direction: 'ingress', protocol: 'udp', portRangeMin: 1, portRangeMax: 65535, remoteIpPrefix: '203.0.113.0/24' },
        { direction: 'ingress', protocol: 'tcp', portRangeMin: 5000, portRangeMax: 5100, remoteGroup: 'ranges' },
        { direction: 'ingress', protocol: 'tcp', portRangeMin: 5050, portRangeMax: 5200, remoteGroup: 'ranges' },
        { direction: 'egress', protocol: 'tcp', portRangeMin: 443, portRangeMax: 443 },
        { direction: 'egress', protocol: 'udp', portRangeMin: 32768, portRangeMax: 60999 },
      ],
    },
    ports: [
      { net: 'net', mac: 'fa:16:3e:03:00:0a', ips: ['192.0.2.10'], groups: ['ranges'] },
      { net: 'net', mac: 'fa:16:3e:03:00:0b', ips: ['192.0.2.11'], groups: ['ranges'] },
    ],
  },
  'address-pairs': {
    nets: { net: VX },
    groups: { pairs: [{ direction: 'ingress', remoteGroup: 'pairs' }, ...anyEgress] },
    ports: [
      { net: 'net', mac: 'fa:16:3e:04:00:0a', ips: ['192.0.2.10'], groups: ['pairs'], pairs: [{ ip: '192.0.2.128/28' }, { ip: '192.0.2.99', mac: 'fa:16:3e:04:00:99' }] },
      { net: 'net', mac: 'fa:16:3e:04:00:0b', ips: ['192.0.2.11'], groups: ['pairs'] },
    ],
  },
  stateless: {
    nets: { net: VX },
    groups: { nostate: [{ direction: 'ingress', protocol: 'tcp', portRangeMin: 80, portRangeMax: 80 }, ...anyEgress] },
    ports: [{ net: 'net', mac: 'fa:16:3e:05:00:0a', ips: ['192.0.2.10'], groups: ['nostate'] }],
  },
  'port-security-off': {
    nets: { net: VX },
    groups: { web: [{ direction: 'ingress', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 }, ...anyEgress] },
    ports: [
      { net: 'net', mac: 'fa:16:3e:06:00:0a', ips: ['192.0.2.10'], portSecurity: false },
      { net: 'net', mac: 'fa:16:3e:06:00:0b', ips: ['192.0.2.11'], groups: ['web'] },
    ],
  },
  'dhcp-port': {
    nets: { net: VX },
    groups: { web: [{ direction: 'ingress', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 }, ...anyEgress] },
    ports: [
      { net: 'net', mac: 'fa:16:3e:07:00:02', ips: ['192.0.2.2'], owner: 'network:dhcp' },
      { net: 'net', mac: 'fa:16:3e:07:00:0a', ips: ['192.0.2.10'], groups: ['web'] },
    ],
  },
  ipv6: {
    nets: { net: VX },
    groups: {
      v6: [
        { direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp' },
        { direction: 'ingress', ethertype: 'IPv6', protocol: 'tcp', portRangeMin: 443, portRangeMax: 443, remoteIpPrefix: '2001:db8:2::/64' },
        { direction: 'ingress', ethertype: 'IPv6', protocol: 'icmp', portRangeMin: 128, portRangeMax: 0 },
        { direction: 'ingress', ethertype: 'IPv6', remoteGroup: 'v6' },
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' },
        ...anyEgress,
      ],
    },
    ports: [
      { net: 'net', mac: 'fa:16:3e:08:00:0a', ips: ['192.0.2.10', '2001:db8:1::a'], groups: ['v6'] },
      { net: 'net', mac: 'fa:16:3e:08:00:0b', ips: ['192.0.2.11', '2001:db8:1::b'], groups: ['v6'] },
    ],
  },
  protocols: {
    nets: { net: VX },
    groups: {
      protos: [
        { direction: 'ingress', protocol: '47' },
        { direction: 'ingress', protocol: '132', portRangeMin: 9000, portRangeMax: 9000 },
        { direction: 'ingress', protocol: 'sctp', portRangeMin: 5000, portRangeMax: 5001 },
        { direction: 'ingress', protocol: 'vrrp', remoteIpPrefix: '192.0.2.0/24' },
        { direction: 'ingress', protocol: 'icmp', portRangeMin: 8 },
        { direction: 'ingress', protocol: 'icmp', portRangeMin: 3, portRangeMax: 4 },
        { direction: 'egress', protocol: '17', portRangeMin: 123, portRangeMax: 123 },
      ],
    },
    ports: [{ net: 'net', mac: 'fa:16:3e:09:00:0a', ips: ['192.0.2.10'], groups: ['protos'] }],
  },
};

function build(sc: Scenario): { source: FakeSource; ports: FirewallPort[] } {
  const source = new FakeSource();
  for (const [name, rules] of Object.entries(sc.groups)) {
    source.groups.set(name, {
      id: name,
      stateful: true,
      rules: rules.map((r, i) => {
        const { remoteGroup, remoteAddressGroup, ethertype, ...rest } = r;
        const out: SecurityGroupRule = { id: `${name}-${i}`, securityGroupId: name, ethertype: ethertype ?? 'IPv4', ...rest };
        if (remoteGroup) out.remoteGroupId = remoteGroup;
        if (remoteAddressGroup) out.remoteAddressGroupId = remoteAddressGroup;
        // neutron-server stores 1-65535 as no range at all (_make_canonical_port_range).
        if (out.portRangeMin === 1 && out.portRangeMax === 65535) {
          delete out.portRangeMin;
          delete out.portRangeMax;
        }
        return out;
      }),
    });
  }
  const ports = sc.ports.map((p, i): FirewallPort => {
    const net = sc.nets[p.net]!;
    return {
      id: `port-${i}`,
      mac: p.mac,
      fixedIps: p.ips,
      allowedAddressPairs: (p.pairs ?? []).map((a) => ({ ip: a.ip, mac: a.mac ?? p.mac })),
      securityGroupIds: p.groups ?? [],
      portSecurityEnabled: p.portSecurity ?? true,
      deviceOwner: p.owner ?? 'compute:nova',
      networkId: p.net,
      ofport: 3 + i,
      vifName: `tap${i}`,
      localVlan: net.vlan,
      networkType: net.type,
      physicalNetwork: net.physnet,
      segmentationId: net.seg,
    };
  });
  // Members as the server reports them: every port of the group, fixed IPs and allowed pairs.
  for (const g of Object.keys(sc.groups)) {
    const m = { IPv4: [] as Array<[string, string]>, IPv6: [] as Array<[string, string]> };
    for (const p of ports.filter((x) => x.securityGroupIds.includes(g))) {
      for (const [ip, mac] of [...p.fixedIps.map((ip) => [ip, p.mac] as [string, string]), ...p.allowedAddressPairs.map((a) => [a.ip, a.mac] as [string, string])]) {
        m[ip.includes(':') ? 'IPv6' : 'IPv4'].push([ip, mac]);
      }
    }
    source.members.set(g, m);
  }
  for (const [name, cidrs] of Object.entries(sc.addressGroups ?? {})) {
    source.addressGroups.set(name, { IPv4: cidrs.filter((c) => !c.includes(':')), IPv6: cidrs.filter((c) => c.includes(':')) });
  }
  return { source, ports };
}

/** The members of a group again, from the ports given (after a port was deleted, say). */
function setMembers(source: FakeSource, group: string, ports: FirewallPort[]): void {
  const m = { IPv4: [] as Array<[string, string]>, IPv6: [] as Array<[string, string]> };
  for (const p of ports.filter((x) => x.securityGroupIds.includes(group))) {
    for (const ip of p.fixedIps) m[ip.includes(':') ? 'IPv6' : 'IPv4'].push([ip, p.mac]);
    for (const a of p.allowedAddressPairs) m[a.ip.includes(':') ? 'IPv6' : 'IPv4'].push([a.ip, a.mac]);
  }
  source.members.set(group, m);
}

async function assertMatchesFixture(driver: OVSFirewallDriver, fixture: string): Promise<void> {
  const captured = firewallPart(readFileSync(new URL(`${fixture}.flows`, FIXTURES), 'utf8').split('\n').filter(Boolean)).map(normalizeFlow).sort();
  const ours = driver.desiredFlows().map((f) => normalizeFlow(formatFlow(f))).sort();
  const missing = captured.filter((l) => !ours.includes(l));
  const extra = ours.filter((l) => !captured.includes(l));
  assert.deepEqual({ missing, extra }, { missing: [], extra: [] }, fixture);
}

async function plugAll(sc: Scenario) {
  const { source, ports } = build(sc);
  const driver = new OVSFirewallDriver(new OVSBridge('br-int', new RecordingSwitch(), 1n), source);
  await driver.start();
  for (const p of ports) await driver.filterPorts({ added: [p], updated: [], removed: [] });
  await driver.filterPorts({ added: [], updated: ports, removed: [] });
  return { source, ports, driver };
}

/** The firewall's flows in a full br-int dump. */
function firewallPart(lines: string[]): string[] {
  return lines.filter((l) => {
    const m = /^table=(\d+), priority=(\d+)/.exec(l);
    if (!m) return false;
    const [table, prio] = [Number(m[1]), Number(m[2])];
    return table >= 71 || (table === 60 && (prio === 90 || prio === 100));
  });
}

for (const [name, sc] of Object.entries(SCENARIOS)) {
  test(`scenario ${name}: flows equal the reference's capture`, async () => {
    const captured = firewallPart(readFileSync(new URL(`${name}.flows`, FIXTURES), 'utf8').split('\n').filter(Boolean)).map(normalizeFlow).sort();
    const { source, ports } = build(sc);
    const driver = new OVSFirewallDriver(new OVSBridge('br-int', new RecordingSwitch(), 1n), source);
    await driver.start();
    // One port per pass, as they were plugged.
    for (const p of ports) await driver.filterPorts({ added: [p], updated: [], removed: [] });
    // Then the others refiltered for the members that joined (the reference's member update).
    await driver.filterPorts({ added: [], updated: ports, removed: [] });
    const ours = driver.desiredFlows().map((f) => normalizeFlow(formatFlow(f))).sort();
    const missing = captured.filter((l) => !ours.includes(l));
    const extra = ours.filter((l) => !captured.includes(l));
    assert.deepEqual({ missing, extra }, { missing: [], extra: [] });
  });
}

test('scenario rule-change: plain and remote-group rules removed, one added (member flows of the removed remote rule stay, as the reference)', async () => {
  const { source, ports, driver } = await plugAll({
    nets: { net: VX },
    groups: { app: [{ direction: 'ingress', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 }, { direction: 'ingress', protocol: 'tcp', portRangeMin: 7000, portRangeMax: 7000, remoteGroup: 'app' }, ...anyEgress] },
    ports: [
      { net: 'net', mac: 'fa:16:3e:0a:00:0a', ips: ['192.0.2.10'], groups: ['app'] },
      { net: 'net', mac: 'fa:16:3e:0a:00:0b', ips: ['192.0.2.11'], groups: ['app'] },
    ],
  });
  await assertMatchesFixture(driver, 'rule-change.before');
  const app = source.groups.get('app')!;
  app.rules = app.rules.filter((r) => !(r.protocol === 'tcp' && r.portRangeMin === 22));
  await driver.filterPorts({ added: [], updated: ports, removed: [] });
  await assertMatchesFixture(driver, 'rule-change.ssh-removed');
  app.rules = app.rules.filter((r) => !r.remoteGroupId);
  await driver.filterPorts({ added: [], updated: ports, removed: [] });
  await assertMatchesFixture(driver, 'rule-change.peers-removed');
  app.rules.push({ id: 'http', securityGroupId: 'app', direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 80, portRangeMax: 80 });
  await driver.filterPorts({ added: [], updated: ports, removed: [] });
  await assertMatchesFixture(driver, 'rule-change');
});

test('scenario port-deleted: unplugged (its address still a member), then deleted', async () => {
  const { source, ports, driver } = await plugAll({
    nets: { net: VX },
    groups: { cluster: [{ direction: 'ingress', remoteGroup: 'cluster' }, ...anyEgress] },
    ports: [
      { net: 'net', mac: 'fa:16:3e:0b:00:0a', ips: ['192.0.2.10'], groups: ['cluster'] },
      { net: 'net', mac: 'fa:16:3e:0b:00:0b', ips: ['192.0.2.11'], groups: ['cluster'] },
      { net: 'net', mac: 'fa:16:3e:0b:00:0c', ips: ['192.0.2.12'], groups: ['cluster'] },
    ],
  });
  await assertMatchesFixture(driver, 'port-deleted.before');
  const [a, b, c] = ports as [FirewallPort, FirewallPort, FirewallPort];
  await driver.filterPorts({ added: [], updated: [], removed: [b.id] });
  await assertMatchesFixture(driver, 'port-deleted.unplugged');
  setMembers(source, 'cluster', [a, c]);
  await driver.filterPorts({ added: [], updated: [a, c], removed: [] });
  await assertMatchesFixture(driver, 'port-deleted');
});

test('scenario address-group: v4 and v6 addresses as conjunction members; the group gains an address', async () => {
  const { source, ports, driver } = await plugAll({
    nets: { net: VX },
    addressGroups: { admins: ['203.0.113.0/28', '198.51.100.7/32', '2001:db8:5::/64'] },
    groups: { mgmt: [{ direction: 'ingress', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22, remoteAddressGroup: 'admins' }, { direction: 'ingress', ethertype: 'IPv6', remoteAddressGroup: 'admins' }, ...anyEgress] },
    ports: [{ net: 'net', mac: 'fa:16:3e:0c:00:0a', ips: ['192.0.2.10', '2001:db8:1::a'], groups: ['mgmt'] }],
  });
  await assertMatchesFixture(driver, 'address-group.before');
  source.addressGroups.get('admins')!.IPv4.push('198.51.100.8/32');
  source.emit({ addressGroupsChanged: new Set(['admins']) });
  const ids = driver.takeRefilterIds();
  assert.deepEqual([...ids], [ports[0]!.id]);
  await driver.filterPorts({ added: [], updated: ports, removed: [] });
  await assertMatchesFixture(driver, 'address-group');
});

test('scenario provider-networks: vlan (provider VID) and flat (untagged) classification', async () => {
  const { driver } = await plugAll({
    nets: { vl: { vlan: 1, type: 'vlan', physnet: 'physnet1', seg: 160 }, fl: { vlan: 2, type: 'flat', physnet: 'physnet1' } },
    groups: { web: [{ direction: 'ingress', protocol: 'tcp', portRangeMin: 80, portRangeMax: 80 }, ...anyEgress] },
    ports: [
      { net: 'vl', mac: 'fa:16:3e:0d:00:0a', ips: ['198.51.100.10'], groups: ['web'] },
      { net: 'fl', mac: 'fa:16:3e:0d:00:0b', ips: ['203.0.113.10'], groups: ['web'] },
    ],
  });
  await assertMatchesFixture(driver, 'provider-networks');
});
