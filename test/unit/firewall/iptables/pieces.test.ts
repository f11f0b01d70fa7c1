// The pure pieces of the iptables_hybrid driver: address spelling, conntrack zone allocation,
// restore plans around other programs' rules, ipset plans, rules without ipsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalCidr } from '../../../../src/firewall/iptables/addresses.js';
import { eui64LinkLocal } from '../../../../src/util/addresses.js';
import { ConntrackZones, ZONE_START } from '../../../../src/firewall/iptables/zones.js';
import { planIpsets, planTable } from '../../../../src/firewall/iptables/apply.js';
import { parseSave } from '../../../../src/firewall/iptables/save.js';
import { generateFirewall, type IptablesFirewallState } from '../../../../src/firewall/iptables/generate.js';

test('prefixes are spelled as iptables-save prints them', () => {
  assert.equal(canonicalCidr('192.0.2.130/28'), '192.0.2.128/28');
  assert.equal(canonicalCidr('192.0.2.7'), '192.0.2.7/32');
  assert.equal(canonicalCidr('2001:DB8:0:0:0:0:0:1'), '2001:db8::1/128');
  assert.equal(canonicalCidr('2001:db8:1:2:3:4:5:6/64'), '2001:db8:1:2::/64');
  assert.equal(canonicalCidr('2001:0:0:1:0:0:0:1/128'), '2001:0:0:1::1/128');
  assert.equal(eui64LinkLocal('fa:16:3e:00:00:0a'), 'fe80::f816:3eff:fe00:a');
});

test('conntrack zones: read back from the raw table, then the next above the highest', () => {
  const z = ConntrackZones.fromRawRules([
    '-m physdev --physdev-in qvb671030aa-fd -m comment --comment "Set zone for 671030aa-fd50" -j CT --zone 4100',
    '-i qvb671030aa-fd -m comment --comment "Set zone for 671030aa-fd50" -j CT --zone 4100',
  ]);
  assert.equal(z.get('671030aa-fd50-448f-b847-c5017ba13976'), 4100);
  assert.equal(z.allocate('aaaaaaaa-0000-0000-0000-000000000000'), 4101);
  assert.equal(z.allocate('aaaaaaaa-0000-0000-0000-000000000000'), 4101, 'stable');
  assert.equal(new ConntrackZones().allocate('b'), ZONE_START);
});

const OWN = 'neutron-openvswi';

test("restore plan: the agent's jumps go first in FORWARD, other programs' rules stay", () => {
  const { tables } = generateFirewall(emptyState());
  const save = ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD DROP [0:0]', ':OUTPUT ACCEPT [0:0]', '-A FORWARD -i eth9 -j ACCEPT', 'COMMIT', ''].join('\n');
  const plan = planTable(parseSave(save).get('filter'), tables[4].filter);
  assert.ok(plan.includes('-I FORWARD 1 -j neutron-filter-top'));
  assert.ok(plan.includes(`-I FORWARD 2 -j ${OWN}-FORWARD`));
  assert.ok(!plan.some((l) => l.includes('eth9')), 'the foreign rule is not touched');
  assert.ok(!plan.some((l) => l.startsWith(':FORWARD')), 'a built-in chain is never declared (that would reset its policy)');
});

test('restore plan: a stale chain of the agent is flushed and deleted, a shared chain is not flushed', () => {
  const { tables } = generateFirewall(emptyState());
  const base = parseSave(renderBase(tables[4].filter.chains));
  const t = base.get('filter')!;
  t.chains.set(`${OWN}-iold`, '-');
  t.rules.set(`${OWN}-iold`, ['-j RETURN']);
  t.rules.set('neutron-filter-top', ['-j neutron-l3-agent-local', `-j ${OWN}-local`]);
  const plan = planTable(t, tables[4].filter);
  assert.ok(plan.includes(`:${OWN}-iold - [0:0]`) && plan.includes(`-X ${OWN}-iold`));
  assert.ok(!plan.includes(':neutron-filter-top - [0:0]'), 'another agent has rules in neutron-filter-top');
  assert.ok(plan.includes(`-I neutron-filter-top 1 -j ${OWN}-local`));
});

test('ipset plan: changed sets are filled aside and swapped in; unknown sets of others are left alone', () => {
  const save = ['create NIPv4aaaa hash:net family inet hashsize 1024', 'add NIPv4aaaa 192.0.2.1', 'create NIPv4gone hash:net family inet', 'create other hash:ip family inet', ''].join('\n');
  const want = new Map([['NIPv4aaaa', { family: 'inet' as const, members: ['192.0.2.1/32', '192.0.2.2/32'] }]]);
  const plan = planIpsets(save, want);
  assert.deepEqual(plan.changed, ['NIPv4aaaa']);
  assert.deepEqual(plan.fill.trim().split('\n'), [
    'create NIPv4aaaa-n hash:net family inet', 'flush NIPv4aaaa-n', 'add NIPv4aaaa-n 192.0.2.1/32', 'add NIPv4aaaa-n 192.0.2.2/32',
    'create NIPv4aaaa hash:net family inet', 'swap NIPv4aaaa-n NIPv4aaaa', 'destroy NIPv4aaaa-n',
  ]);
  assert.deepEqual(plan.destroyed, ['NIPv4gone']);
  assert.equal(planIpsets(['create NIPv4aaaa hash:net family inet', 'add NIPv4aaaa 192.0.2.1', 'add NIPv4aaaa 192.0.2.2'].join('\n'), want).fill, '');
});

test('without ipsets a remote-group rule becomes one rule per member, the port itself aside', () => {
  const sg = 'sg-1';
  const state: IptablesFirewallState = {
    ...emptyState(),
    filtered: [{ id: 'p1', mac: 'fa:16:3e:00:00:01', fixedIps: ['192.0.2.1'], allowedAddressPairs: [], securityGroupIds: [sg], portSecurityEnabled: true, deviceOwner: 'compute:nova' }],
    groups: new Map([[sg, { id: sg, stateful: true, rules: [{ id: 'r', securityGroupId: sg, direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 80, portRangeMax: 80, remoteGroupId: sg }] }]]),
    members: new Map([[sg, { IPv4: [['192.0.2.1', 'fa:16:3e:00:00:01'], ['192.0.2.2', 'fa:16:3e:00:00:02'], ['198.51.100.0/24', 'fa:16:3e:00:00:03']], IPv6: [] }]]),
    zones: new Map([['p1', 4097]]),
    enableIpset: false,
  };
  const gen = generateFirewall(state);
  const rules = gen.tables[4].filter.chainRules(`${OWN}-ip1`);
  assert.deepEqual(rules.filter((r) => r.includes('--dport 80')), [
    '-s 192.0.2.2/32 -p tcp -m tcp --dport 80 -j RETURN',
    '-s 198.51.100.0/24 -p tcp -m tcp --dport 80 -j RETURN',
  ]);
  assert.equal(gen.ipsets.size, 0);
});

function emptyState(): IptablesFirewallState {
  return { filtered: [], unfiltered: [], trusted: [], groups: new Map(), members: new Map(), zones: new Map(), enableIpset: true };
}

function renderBase(chains: Set<string>): string {
  return ['*filter', ':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ...[...chains].map((c) => `:${c} - [0:0]`), 'COMMIT', ''].join('\n');
}

test('conntrack deletions: a removed rule, a member gone, a port gone', async () => {
  const { conntrackDeletions } = await import('../../../../src/firewall/iptables/conntrack.js');
  const sg = 'sg';
  const port = { id: 'p1', mac: 'fa:16:3e:00:00:01', fixedIps: ['192.0.2.1', '2001:db8::1'], allowedAddressPairs: [], securityGroupIds: [sg], portSecurityEnabled: true, deviceOwner: 'compute:nova' };
  const ssh = { id: 'r1', securityGroupId: sg, direction: 'ingress' as const, ethertype: 'IPv4' as const, protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 };
  const fromGroup = { id: 'r2', securityGroupId: sg, direction: 'ingress' as const, ethertype: 'IPv4' as const, remoteGroupId: sg };
  const before = {
    ports: new Map([[port.id, port]]),
    groups: new Map([[sg, { id: sg, stateful: true, rules: [ssh, fromGroup] }]]),
    members: new Map([[sg, { IPv4: [['192.0.2.1', 'm'], ['192.0.2.9', 'm']] as Array<[string, string]>, IPv6: [] }]]),
    zones: new Map([[port.id, 4097]]),
  };
  const after = { ...before, groups: new Map([[sg, { id: sg, stateful: true, rules: [{ ...fromGroup, id: 'r2-again' }] }]]), members: new Map([[sg, { IPv4: [['192.0.2.1', 'm']] as Array<[string, string]>, IPv6: [] }]]) };
  assert.deepEqual(conntrackDeletions(before, after).map((a) => a.join(' ')).sort(), [
    '-D -f ipv4 -d 192.0.2.1 -w 4097 -s 192.0.2.9',
    '-D -f ipv4 -s 192.0.2.1 -w 4097 -d 192.0.2.9',
    '-D -p tcp -f ipv4 -d 192.0.2.1 -w 4097',
  ]);
  assert.deepEqual(conntrackDeletions(before, before), [], 'nothing changed, nothing cut');
  const gone = conntrackDeletions(before, { ...before, ports: new Map() }).map((a) => a.join(' ')).sort();
  assert.deepEqual(gone, [
    '-D -f ipv4 -d 192.0.2.1 -w 4097', '-D -f ipv4 -s 192.0.2.1 -w 4097',
    '-D -f ipv6 -d 2001:db8::1 -w 4097', '-D -f ipv6 -s 2001:db8::1 -w 4097',
  ]);
});

test('EUI-64 link-local addresses are RFC 5952 text, a zero word included', () => {
  assert.equal(eui64LinkLocal('02:00:00:00:00:01'), 'fe80::ff:fe00:1');
  assert.throws(() => eui64LinkLocal('02:00:00:00:00'), /invalid MAC address/);
});
