import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObj } from '../../../src/agent/server/resource-cache.js';
import {
  NeutronObjectError,
  ParsedObjects,
  ethertypeOf,
  firewallPortFrom,
  normalizeMac,
  parseAddressGroup,
  parseSecurityGroup,
  parseSecurityGroupRule,
  parseSgPort,
} from '../../../src/firewall/sg-objects.js';
import { configureLogging } from '../../../src/util/log.js';

const ovo = (name: string, data: JsonObj, version = '1.0'): JsonObj => ({
  'versioned_object.name': name,
  'versioned_object.namespace': 'versionedobjects',
  'versioned_object.version': version,
  'versioned_object.data': data,
});

const RULE: JsonObj = {
  id: 'r1',
  project_id: 'p',
  security_group_id: 'sg1',
  remote_group_id: null,
  direction: 'ingress',
  ethertype: 'IPv4',
  protocol: 'tcp',
  port_range_min: 22,
  port_range_max: 22,
  remote_ip_prefix: '198.51.100.7/24',
  normalized_cidr: '198.51.100.0/24',
  remote_address_group_id: null,
  revision_number: 0,
};

test('a rule: the normalized CIDR wins over remote_ip_prefix, nulls are absent, a numeric protocol is its text', () => {
  assert.deepEqual(parseSecurityGroupRule(ovo('SecurityGroupRule', RULE, '1.2')), {
    id: 'r1',
    securityGroupId: 'sg1',
    direction: 'ingress',
    ethertype: 'IPv4',
    protocol: 'tcp',
    portRangeMin: 22,
    portRangeMax: 22,
    remoteIpPrefix: '198.51.100.0/24',
  });
  const any = parseSecurityGroupRule({ id: 'r2', security_group_id: 'sg1', direction: 'egress', ethertype: 'IPv6', protocol: 58, remote_group_id: 'sg2' });
  assert.deepEqual(any, { id: 'r2', securityGroupId: 'sg1', direction: 'egress', ethertype: 'IPv6', protocol: '58', remoteGroupId: 'sg2' });
});

test('malformed rules name their id and the field', () => {
  const bad: Array<[JsonObj, RegExp]> = [
    [{ ...RULE, direction: 'sideways' }, /SecurityGroupRule r1: direction = "sideways": expected one of ingress, egress/],
    [{ ...RULE, ethertype: 'IPv5' }, /ethertype/],
    [{ ...RULE, port_range_min: 70000 }, /port_range_min = 70000/],
    [{ ...RULE, normalized_cidr: null, remote_ip_prefix: 'not-a-net' }, /remote_ip_prefix = "not-a-net": not an IP prefix/],
    [{ ...RULE, id: undefined as unknown as string }, /SecurityGroupRule \(no id\): no id/],
    [{ ...RULE, security_group_id: 7 }, /security_group_id = 7/],
  ];
  for (const [data, re] of bad) assert.throws(() => parseSecurityGroupRule(data), (e: unknown) => e instanceof NeutronObjectError && re.test(e.message));
});

test('a security group is stateful unless it says otherwise; an address group keeps its CIDRs', () => {
  assert.deepEqual(parseSecurityGroup(ovo('SecurityGroup', { id: 'sg1', rules: [] })), { id: 'sg1', stateful: true });
  assert.deepEqual(parseSecurityGroup({ id: 'sg1', stateful: false }), { id: 'sg1', stateful: false });
  assert.throws(() => parseSecurityGroup({ id: 'sg1', stateful: 'no' }), /SecurityGroup sg1: stateful = "no"/);
  const ag = ovo('AddressGroup', {
    id: 'ag1',
    addresses: [ovo('AddressAssociation', { address: '203.0.113.0/28', address_group_id: 'ag1' }), ovo('AddressAssociation', { address: '2001:db8::/64', address_group_id: 'ag1' })],
  });
  assert.deepEqual(parseAddressGroup(ag), { id: 'ag1', addresses: ['203.0.113.0/28', '2001:db8::/64'] });
  assert.throws(() => parseAddressGroup({ id: 'ag1', addresses: [{ address: '203.0.113.0/99' }] }), /AddressGroup ag1: address "203.0.113.0\/99"/);
});

const PORT: JsonObj = {
  id: 'p1',
  network_id: 'n1',
  mac_address: 'FA-16-3E-11-22-33',
  device_owner: 'compute:nova',
  fixed_ips: [ovo('IPAllocation', { port_id: 'p1', subnet_id: 's1', network_id: 'n1', ip_address: '192.0.2.5' })],
  allowed_address_pairs: [ovo('AllowedAddressPair', { port_id: 'p1', mac_address: 'fa:16:3e:00:00:99', ip_address: '192.0.2.99/32' })],
  security: ovo('PortSecurity', { id: 'p1', port_security_enabled: false }),
  security_group_ids: ['sg1', 'sg2'],
};

test('a port: MAC normalised, fixed IPs bare, pairs kept as stored, port security from its PortSecurity', () => {
  assert.deepEqual(parseSgPort(ovo('Port', PORT, '1.7')), {
    id: 'p1',
    mac: 'fa:16:3e:11:22:33',
    fixedIps: ['192.0.2.5'],
    allowedAddressPairs: [{ mac: 'fa:16:3e:00:00:99', ip: '192.0.2.99/32' }],
    securityGroupIds: ['sg1', 'sg2'],
    portSecurityEnabled: false,
    deviceOwner: 'compute:nova',
    networkId: 'n1',
  });
  const bare = parseSgPort({ ...PORT, allowed_address_pairs: [{ ip_address: '192.0.2.200' }, { ip_address: '2001:db8::5', mac_address: 'FA:16:3E:00:00:98' }] });
  assert.deepEqual(bare.allowedAddressPairs, [
    { mac: 'fa:16:3e:11:22:33', ip: '192.0.2.200/32' },
    { mac: 'fa:16:3e:00:00:98', ip: '2001:db8::5/128' },
  ], 'bare addresses become host prefixes, as netaddr prints them; a pair without MAC has the port\'s');
  const minimal = parseSgPort({ id: 'p2', network_id: 'n1', mac_address: 'fa16.3e11.2233' });
  assert.equal(minimal.portSecurityEnabled, true, 'no PortSecurity row: enabled, as the reference defaults');
  assert.deepEqual([minimal.securityGroupIds, minimal.deviceOwner, minimal.mac], [[], '', 'fa:16:3e:11:22:33']);
  assert.throws(() => parseSgPort({ ...PORT, mac_address: 'fa:16:3e' }), /Port p1: mac_address "fa:16:3e": not a MAC address/);
  assert.throws(() => parseSgPort({ ...PORT, fixed_ips: [{ ip_address: '192.0.2.300' }] }), /Port p1: fixed_ips: ip_address "192.0.2.300"/);
  assert.throws(() => parseSgPort({ ...PORT, security_group_ids: 'sg1' }), /Port p1: security_group_ids: expected a list of strings/);
});

test('firewallPortFrom joins the neutron port with how the agent wired it', () => {
  const wiring = { ofport: 7, vifName: 'tap1', localVlan: 3, networkType: 'vxlan', physicalNetwork: undefined, segmentationId: 1001 };
  const fp = firewallPortFrom(ovo('Port', PORT, '1.7'), wiring);
  assert.equal(fp.mac, 'fa:16:3e:11:22:33');
  assert.equal(fp.ofport, 7);
  assert.equal(fp.localVlan, 3);
  assert.deepEqual(fp.securityGroupIds, ['sg1', 'sg2']);
  assert.deepEqual(firewallPortFrom(parseSgPort(PORT), wiring), fp, 'a parsed port gives the same');
  assert.throws(() => firewallPortFrom({ id: 'p9' }, wiring), /Port p9: mac_address/);
});

test('MACs and ethertypes', () => {
  assert.equal(normalizeMac('FA:16:3E:1:2:3'), 'fa:16:3e:01:02:03');
  assert.equal(normalizeMac('fa163e112233'), 'fa:16:3e:11:22:33');
  assert.equal(normalizeMac('fa:16:3e:11:22'), undefined);
  assert.equal(ethertypeOf('192.0.2.1'), 'IPv4');
  assert.equal(ethertypeOf('2001:db8::/128'), 'IPv6');
  assert.equal(ethertypeOf('2001:db8::/129'), undefined);
  assert.equal(ethertypeOf('192.0.2.0/x'), undefined);
});

test('ParsedObjects parses each object once and logs a malformed one once, with type and id', () => {
  const lines: string[] = [];
  configureLogging({ sink: { write: (l) => lines.push(l) } });
  try {
    const parsed = new ParsedObjects();
    const bad: JsonObj = { ...RULE, ethertype: 'ARP' };
    assert.equal(parsed.get(bad, parseSecurityGroupRule), undefined);
    assert.equal(parsed.get(bad, parseSecurityGroupRule), undefined);
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /WARNING .*malformed SecurityGroupRule r1: ethertype = "ARP"/);
    const good: JsonObj = { ...RULE };
    assert.equal(parsed.get(good, parseSecurityGroupRule), parsed.get(good, parseSecurityGroupRule), 'same parsed object');
  } finally {
    configureLogging({ sink: { write: (l) => process.stderr.write(l) } });
  }
});
