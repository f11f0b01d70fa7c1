import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResourceCache, type Json, type JsonObj } from '../../../src/agent/server/resource-cache.js';
import { firewallPortFrom } from '../../../src/firewall/sg-objects.js';
import { CacheSecurityGroupSource } from '../../../src/firewall/sg-source.js';
import type { SecurityGroupChange } from '../../../src/firewall/types.js';
import { configureLogging } from '../../../src/util/log.js';

const ovo = (name: string, data: JsonObj): JsonObj => ({
  'versioned_object.name': name,
  'versioned_object.namespace': 'versionedobjects',
  'versioned_object.version': '1.0',
  'versioned_object.data': data,
});

const rule = (id: string, sg: string, over: JsonObj): JsonObj => ({
  id,
  security_group_id: sg,
  direction: 'ingress',
  ethertype: 'IPv4',
  protocol: null,
  port_range_min: null,
  port_range_max: null,
  remote_ip_prefix: null,
  normalized_cidr: null,
  remote_group_id: null,
  remote_address_group_id: null,
  revision_number: 1,
  ...over,
});

const port = (id: string, mac: string, sgs: string[], ips: string[], over: JsonObj = {}): JsonObj => ({
  id,
  network_id: 'n1',
  mac_address: mac,
  device_owner: 'compute:nova',
  status: 'ACTIVE',
  revision_number: 1,
  security_group_ids: sgs,
  fixed_ips: ips.map((ip) => ovo('IPAllocation', { port_id: id, subnet_id: ip.includes(':') ? 's6' : 's4', network_id: 'n1', ip_address: ip })),
  allowed_address_pairs: [],
  security: ovo('PortSecurity', { id, port_security_enabled: true }),
  ...over,
});

const MAC1 = 'fa:16:3e:00:00:01';
const MAC2 = 'fa:16:3e:00:00:02';
const MAC3 = 'fa:16:3e:00:00:03';

/** The server's objects; bulk_pull answers with every filter field IN its values, as neutron does. */
function world() {
  const objects: Array<[string, JsonObj]> = [
    ['SecurityGroup', { id: 'sg1', stateful: true, revision_number: 1 }],
    ['SecurityGroup', { id: 'sg2', stateful: false, revision_number: 1 }],
    ['SecurityGroupRule', rule('r-ssh', 'sg1', { protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '198.51.100.9/24', normalized_cidr: '198.51.100.0/24' })],
    ['SecurityGroupRule', rule('r-peers', 'sg1', { remote_group_id: 'sg1' })],
    ['SecurityGroupRule', rule('r-ag', 'sg1', { protocol: 'udp', remote_address_group_id: 'ag1' })],
    ['SecurityGroupRule', rule('r-out4', 'sg1', { direction: 'egress' })],
    ['SecurityGroupRule', rule('r-v6peers', 'sg2', { direction: 'egress', ethertype: 'IPv6', remote_group_id: 'sg3' })],
    ['SecurityGroupRule', rule('r-other', 'sg9', {})],
    [
      'AddressGroup',
      {
        id: 'ag1',
        revision_number: 1,
        addresses: [ovo('AddressAssociation', { address: '203.0.113.0/28', address_group_id: 'ag1' }), ovo('AddressAssociation', { address: '2001:db8:1::/64', address_group_id: 'ag1' })],
      },
    ],
    [
      'Port',
      port('p1', MAC1, ['sg1'], ['192.0.2.5'], {
        allowed_address_pairs: [ovo('AllowedAddressPair', { port_id: 'p1', mac_address: 'fa:16:3e:00:00:99', ip_address: '192.0.2.99/32' })],
      }),
    ],
    ['Port', port('p2', MAC2, ['sg1', 'sg2'], ['192.0.2.6', '2001:db8::6'])],
    ['Port', port('p3', MAC3, ['sg3'], ['192.0.2.7', '2001:db8::7'])],
    ['Port', port('dhcp', 'fa:16:3e:00:00:0d', ['sg9'], ['192.0.2.2'], { device_owner: 'network:dhcp' })],
  ];
  const pulls: string[] = [];
  const pull = async (type: string, _version: string, filter: JsonObj): Promise<Json> => {
    pulls.push(`${type} ${JSON.stringify(filter)}`);
    return objects
      .filter(([t, o]) => t === type && Object.entries(filter).every(([k, vs]) => (vs as string[]).some((v) => (Array.isArray(o[k]) ? (o[k] as Json[]).includes(v) : o[k] === v))))
      .map(([t, o]) => ovo(t, o));
  };
  const cache = new ResourceCache(pull);
  const source = new CacheSecurityGroupSource(cache);
  const changes: SecurityGroupChange[] = [];
  source.onChange((c) => changes.push(c));
  const wiring = { ofport: 1, vifName: 'tap', localVlan: 1, networkType: 'vxlan', physicalNetwork: undefined, segmentationId: 5 };
  const fwPort = (id: string) => firewallPortFrom(objects.find(([t, o]) => t === 'Port' && o['id'] === id)![1], wiring);
  /** The change notices of this turn, as plain sorted lists. */
  const takeChanges = async () => {
    await new Promise((r) => setImmediate(r));
    return changes.splice(0).map((c) => ({ rules: [...c.rulesChanged].sort(), members: [...c.membersChanged].sort(), ags: [...c.addressGroupsChanged].sort() }));
  };
  return { objects, pulls, cache, source, fwPort, takeChanges };
}

test('infoFor: the ports\' groups with their rules, remote members by the ethertypes rules use, address-group CIDRs; trusted ports left out', async () => {
  const w = world();
  const info = await w.source.infoFor([w.fwPort('p1'), w.fwPort('p2'), w.fwPort('dhcp')]);
  assert.deepEqual([...info.securityGroups.keys()].sort(), ['sg1', 'sg2'], 'sg9 is only the DHCP port\'s');
  const sg1 = info.securityGroups.get('sg1')!;
  assert.equal(sg1.stateful, true);
  assert.equal(info.securityGroups.get('sg2')!.stateful, false);
  assert.deepEqual(
    sg1.rules.map((r) => r.id),
    ['r-ssh', 'r-peers', 'r-ag', 'r-out4'],
  );
  assert.deepEqual(sg1.rules.find((r) => r.id === 'r-ssh'), {
    id: 'r-ssh',
    securityGroupId: 'sg1',
    direction: 'ingress',
    ethertype: 'IPv4',
    protocol: 'tcp',
    portRangeMin: 22,
    portRangeMax: 22,
    remoteIpPrefix: '198.51.100.0/24',
  });
  // sg1's members for its IPv4 rule: fixed IPs and allowed address pairs (with the pair's MAC);
  // no IPv6 rule refers to sg1, so p2's IPv6 address is not listed.
  assert.deepEqual(info.members.get('sg1'), {
    IPv4: [
      ['192.0.2.5', MAC1],
      ['192.0.2.6', MAC2],
      ['192.0.2.99/32', 'fa:16:3e:00:00:99'],
    ],
    IPv6: [],
  });
  // sg3 is referred to by sg2's IPv6 rule: its member p3 is not one of the ports asked about.
  assert.deepEqual(info.members.get('sg3'), { IPv4: [], IPv6: [['2001:db8::7', MAC3]] });
  assert.deepEqual(info.addressGroups.get('ag1'), { IPv4: ['203.0.113.0/28'], IPv6: [] });
  assert.deepEqual([...info.members.keys()].sort(), ['sg1', 'sg3']);

  // The same question again is answered from the cache.
  const pulled = w.pulls.length;
  await w.source.infoFor([w.fwPort('p1')]);
  assert.equal(w.pulls.length, pulled);
  assert.ok(w.pulls.includes('SecurityGroupRule {"security_group_id":["sg1","sg2"]}'), w.pulls.join('\n'));
  assert.ok(w.pulls.includes('Port {"security_group_ids":["sg1","sg3"]}'), w.pulls.join('\n'));
});

test('no groups, no pulls', async () => {
  const w = world();
  const info = await w.source.infoFor([w.fwPort('dhcp')]);
  assert.equal(info.securityGroups.size, 0);
  assert.deepEqual(w.pulls, []);
});

test('onChange: rule pushes → rulesChanged; member port changes → membersChanged of old and new groups; address groups', async () => {
  const w = world();
  await w.source.infoFor([w.fwPort('p1'), w.fwPort('p2')]);
  assert.deepEqual(await w.takeChanges(), [], 'pulls raise no changes');

  w.cache.onPush([ovo('SecurityGroupRule', rule('r-new', 'sg1', { protocol: 'icmp' }))], 'created');
  w.cache.onPush([ovo('SecurityGroupRule', { id: 'r-v6peers' })], 'deleted');
  assert.deepEqual(await w.takeChanges(), [{ rules: ['sg1', 'sg2'], members: [], ags: [] }], 'one notice per turn');
  assert.ok((await w.source.infoFor([w.fwPort('p1')])).securityGroups.get('sg1')!.rules.some((r) => r.id === 'r-new'));

  // p2 gets another IP: members of its groups changed, and infoFor shows the new address.
  w.cache.onPush([ovo('Port', port('p2', MAC2, ['sg1', 'sg2'], ['192.0.2.60', '2001:db8::6'], { revision_number: 2 }))], 'updated');
  assert.deepEqual(await w.takeChanges(), [{ rules: [], members: ['sg1', 'sg2'], ags: [] }]);
  assert.deepEqual((await w.source.infoFor([w.fwPort('p1')])).members.get('sg1')!.IPv4.map(([ip]) => ip), ['192.0.2.5', '192.0.2.60', '192.0.2.99/32']);

  // Only its status: nothing for the firewall.
  w.cache.onPush([ovo('Port', port('p2', MAC2, ['sg1', 'sg2'], ['192.0.2.60', '2001:db8::6'], { revision_number: 3, status: 'DOWN' }))], 'updated');
  assert.deepEqual(await w.takeChanges(), []);

  // p3 moves from sg3 to sg1: both groups' members changed.
  w.cache.onPush([ovo('Port', port('p3', MAC3, ['sg1'], ['192.0.2.7', '2001:db8::7'], { revision_number: 2 }))], 'updated');
  assert.deepEqual(await w.takeChanges(), [{ rules: [], members: ['sg1', 'sg3'], ags: [] }]);
  // A port first seen through a push (created elsewhere) is a new member.
  w.cache.onPush([ovo('Port', port('p4', 'fa:16:3e:00:00:04', ['sg2'], ['192.0.2.8']))], 'created');
  w.cache.onPush([ovo('Port', { id: 'p1' })], 'deleted');
  assert.deepEqual(await w.takeChanges(), [{ rules: [], members: ['sg1', 'sg2'], ags: [] }]);

  // An address group changes: it, and every group with a rule referring to it.
  w.cache.onPush([ovo('AddressGroup', { id: 'ag1', revision_number: 2, addresses: [ovo('AddressAssociation', { address: '203.0.113.16/28', address_group_id: 'ag1' })] })], 'updated');
  assert.deepEqual(await w.takeChanges(), [{ rules: ['sg1'], members: [], ags: ['ag1'] }]);
  assert.deepEqual((await w.source.infoFor([w.fwPort('p2')])).addressGroups.get('ag1'), { IPv4: ['203.0.113.16/28'], IPv6: [] });

  // The stateful flag changes every rule of the group; a deleted group drops its rules.
  w.cache.onPush([ovo('SecurityGroup', { id: 'sg2', stateful: true, revision_number: 2 })], 'updated');
  assert.deepEqual(await w.takeChanges(), [{ rules: ['sg2'], members: [], ags: [] }]);
  w.cache.onPush([ovo('SecurityGroup', { id: 'sg1' })], 'deleted');
  assert.deepEqual(await w.takeChanges(), [{ rules: ['sg1'], members: [], ags: [] }]);
  assert.deepEqual((await w.source.infoFor([w.fwPort('p2')])).securityGroups.get('sg1')!.rules, []);
});

test('a malformed rule or member is logged with its type and id and left out; the rest still applies', async () => {
  const lines: string[] = [];
  configureLogging({ sink: { write: (l) => lines.push(l) } });
  try {
    const w = world();
    await w.source.infoFor([w.fwPort('p1')]);
    w.cache.onPush([ovo('SecurityGroupRule', rule('r-bad', 'sg1', { ethertype: 'IPX' }))], 'created');
    w.cache.onPush([ovo('Port', port('p5', 'not-a-mac', ['sg1'], ['192.0.2.9']))], 'created');
    await w.takeChanges();
    const info = await w.source.infoFor([w.fwPort('p1')]);
    assert.deepEqual(info.securityGroups.get('sg1')!.rules.map((r) => r.id), ['r-ssh', 'r-peers', 'r-ag', 'r-out4']);
    assert.ok(!info.members.get('sg1')!.IPv4.some(([ip]) => ip === '192.0.2.9'));
    assert.ok(lines.some((l) => /malformed SecurityGroupRule r-bad: ethertype = "IPX"/.test(l)), lines.join(''));
    assert.ok(lines.some((l) => /malformed Port p5: mac_address "not-a-mac"/.test(l)), lines.join(''));
  } finally {
    configureLogging({ sink: { write: (l) => process.stderr.write(l) } });
  }
});

test('a failing listener is logged and the others still hear of the change', async () => {
  const lines: string[] = [];
  configureLogging({ sink: { write: (l) => lines.push(l) } });
  try {
    const w = world();
    w.source.onChange(() => {
      throw new Error('driver exploded');
    });
    const heard: SecurityGroupChange[] = [];
    w.source.onChange((c) => heard.push(c));
    w.cache.onPush([ovo('SecurityGroupRule', rule('r-x', 'sg7', {}))], 'created');
    await w.takeChanges();
    assert.equal(heard.length, 1);
    assert.ok(lines.some((l) => /ERROR .*listener failed on rules sg7.*driver exploded/.test(l)), lines.join(''));
  } finally {
    configureLogging({ sink: { write: (l) => process.stderr.write(l) } });
  }
});
