import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { TransportPort } from '../../../../src/openflow/flow.js';
import { formatFlow } from '../../../../src/openflow/text.js';
import {
  type FirewallRule,
  conjAcceptFlows,
  flowPriorityOffset,
  memberFlows,
  mergeCommonRules,
  mergePortRanges,
  normalizeProtocol,
  portRangeMasks,
  rawRuleFlows,
  toFirewallRule,
} from '../../../../src/firewall/openvswitch/rules.js';
import { eui64LinkLocal, parsePrefix } from '../../../../src/firewall/openvswitch/addresses.js';
import { normalizeFlow } from './fixtures.js';

/** Rendered flows, compared field by field whatever order the formatter writes them in. */
const render = (flows: Parameters<typeof formatFlow>[0][]) => flows.map((f) => normalizeFlow(formatFlow(f)));
const norm = (lines: string[]) => lines.map(normalizeFlow);

/** As neutron's utils.port_rule_masking writes them: 0x0016, 0x0006/0xfffe. */
const refText = (p: TransportPort): string => {
  const h = (n: number) => '0x' + n.toString(16).padStart(4, '0');
  return typeof p === 'number' ? h(p) : p.mask === undefined ? h(p.value) : `${h(p.value)}/${h(p.mask)}`;
};

test('port ranges split into the masks neutron computes, in its order', () => {
  // Expected lists: neutron.common.utils.port_rule_masking on the reference host.
  const cases: Array<[number, number, string[]]> = [
    [5, 12, ['0x0006/0xfffe', '0x0005', '0x0008/0xfffc', '0x000c']],
    [20, 130, ['0x0040/0xffc0', '0x0020/0xffe0', '0x0018/0xfff8', '0x0014/0xfffc', '0x0080/0xfffe', '0x0082']],
    [4501, 33057, ['0x4000/0xc000', '0x2000/0xe000', '0x1800/0xf800', '0x1400/0xfc00', '0x1200/0xfe00', '0x11c0/0xffc0', '0x11a0/0xffe0', '0x1198/0xfff8', '0x1196/0xfffe', '0x1195', '0x8000/0xff00', '0x8100/0xffe0', '0x8120/0xfffe']],
    [0, 65535, ['0x0000/0x0000']],
    [22, 22, ['0x0016']],
    [5001, 5001, ['0x1389']],
    [0, 7, ['0x0000/0xfff8']],
    [8, 15, ['0x0008/0xfff8']],
    [1, 127, ['0x0020/0xffe0', '0x0010/0xfff0', '0x0008/0xfff8', '0x0004/0xfffc', '0x0002/0xfffe', '0x0001', '0x0040/0xffc0']],
    [1000, 1999, ['0x03f0/0xfff0', '0x03e8/0xfff8', '0x0400/0xfe00', '0x0600/0xff00', '0x0700/0xff80', '0x0780/0xffc0', '0x07c0/0xfff0']],
    [22, 23, ['0x0016/0xfffe']],
    [10, 11, ['0x000a/0xfffe']],
  ];
  for (const [min, max, want] of cases) assert.deepEqual(portRangeMasks(min, max).map(refText), want, `${min}-${max}`);
  assert.throws(() => portRangeMasks(12, 5), /maximum below minimum/);
});

test('port range masks cover exactly the range, each port once (random ranges)', () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % 65536;
  for (let i = 0; i < 200; i++) {
    const a = rnd();
    const b = rnd();
    const [min, max] = a <= b ? [a, b] : [b, a];
    const masks = portRangeMasks(min, max).map((p) => (typeof p === 'number' ? { value: p, mask: 0xffff } : { value: p.value, mask: p.mask ?? 0xffff }));
    for (const port of [min, max, min - 1, max + 1, Math.floor((min + max) / 2)]) {
      if (port < 0 || port > 65535) continue;
      const hits = masks.filter((m) => (port & m.mask) === m.value).length;
      assert.equal(hits, port >= min && port <= max ? 1 : 0, `port ${port} in ${min}-${max}`);
    }
  }
});

test('protocols by name and number; icmp in an IPv6 rule is ICMPv6', () => {
  assert.equal(normalizeProtocol('tcp', 'IPv4'), 6);
  assert.equal(normalizeProtocol('udp', 'IPv6'), 17);
  assert.equal(normalizeProtocol('sctp', 'IPv4'), 132);
  assert.equal(normalizeProtocol('icmp', 'IPv4'), 1);
  assert.equal(normalizeProtocol('icmp', 'IPv6'), 58);
  assert.equal(normalizeProtocol('ipv6-icmp', 'IPv6'), 58);
  assert.equal(normalizeProtocol('icmpv6', 'IPv6'), 58);
  assert.equal(normalizeProtocol('132', 'IPv4'), 132);
  assert.throws(() => normalizeProtocol('bogus', 'IPv4'), /unknown IP protocol 'bogus'/);
  assert.throws(
    () => toFirewallRule({ id: 'r1', securityGroupId: 'sg', direction: 'ingress', ethertype: 'IPv4', protocol: 'bogus' }),
    /rule r1 of security group sg: unknown IP protocol/,
  );
});

test('priority offsets as the reference (test_rules.TestFlowPriority)', () => {
  const r = (x: Partial<FirewallRule>): FirewallRule => ({ direction: 'ingress', ethertype: 'IPv4', ...x });
  assert.equal(flowPriorityOffset(r({ remoteGroupId: 'g' })), 0);
  assert.equal(flowPriorityOffset(r({})), 4);
  assert.equal(flowPriorityOffset(r({ protocol: 1 })), 5);
  assert.equal(flowPriorityOffset(r({ protocol: 6 })), 7);
  assert.equal(flowPriorityOffset(r({ protocol: 1, portRangeMin: 0 })), 6);
  assert.equal(flowPriorityOffset(r({ protocol: 58, portRangeMin: 0, portRangeMax: 0 })), 7);
});

test('raw rules: two flows each, 0.0.0.0/0 and ::/0 dropped, ranges masked, icmp type/code', () => {
  const text = (rule: FirewallRule) => render(rawRuleFlows(rule, 3));
  assert.deepEqual(text({ direction: 'ingress', ethertype: 'IPv4', protocol: 6, portRangeMin: 22, portRangeMax: 23, remoteIpPrefix: '0.0.0.0/0' }), norm([
    'table=82,priority=77,ct_state=+est-rel-rpl,tcp,tp_dst=0x16/0xfffe,reg5=0x3,actions=output:3',
    'table=82,priority=77,ct_state=+new-est,tcp,tp_dst=0x16/0xfffe,reg5=0x3,actions=ct(commit,zone=NXM_NX_REG6[0..15]),output:3,resubmit(,92)',
  ]));
  assert.deepEqual(text({ direction: 'egress', ethertype: 'IPv6', remoteIpPrefix: '::/0' }), norm([
    'table=72,priority=74,ct_state=+est-rel-rpl,ipv6,reg5=0x3,actions=resubmit(,73)',
    'table=72,priority=74,ct_state=+new-est,ipv6,reg5=0x3,actions=resubmit(,73)',
  ]));
  assert.deepEqual(text({ direction: 'egress', ethertype: 'IPv4', protocol: 1, portRangeMin: 8, portRangeMax: 0, remoteIpPrefix: '192.0.2.77/24' })[0],
    normalizeFlow('table=72,priority=77,ct_state=+est-rel-rpl,icmp,nw_dst=192.0.2.0/24,icmp_type=8,icmp_code=0,reg5=0x3,actions=resubmit(,73)'));
  assert.equal(text({ direction: 'ingress', ethertype: 'IPv6', protocol: 58, portRangeMin: 128 })[0],
    normalizeFlow('table=82,priority=76,ct_state=+est-rel-rpl,icmp6,icmp_type=128,reg5=0x3,actions=output:3'));
  assert.equal(text({ direction: 'ingress', ethertype: 'IPv4', protocol: 132, portRangeMin: 5000, portRangeMax: 5000 })[0],
    normalizeFlow('table=82,priority=77,ct_state=+est-rel-rpl,sctp,tp_dst=5000,reg5=0x3,actions=output:3'));
  // A range of 5-12 needs four masks: eight flows.
  assert.equal(text({ direction: 'ingress', ethertype: 'IPv4', protocol: 17, portRangeMin: 5, portRangeMax: 12 }).length, 8);
});

test('member and conjunction accept flows (test_rules create_flows_for_ip_address / create_conj_flows)', () => {
  const flows = render(memberFlows({ prefix: '192.168.0.1' }, 'egress', 'IPv4', 0x123, [12, 20]));
  assert.deepEqual(flows, norm([
    'table=72,priority=72,ct_state=+est-rel-rpl,ip,nw_dst=192.168.0.1,reg6=0x123,actions=conjunction(12,1/2),conjunction(20,1/2)',
    'table=72,priority=72,ct_state=+new-est,ip,nw_dst=192.168.0.1,reg6=0x123,actions=conjunction(13,1/2),conjunction(21,1/2)',
  ]));
  // A /0 member stands for its MAC.
  assert.match(formatFlow(memberFlows({ prefix: '0.0.0.0/0', mac: 'fa:16:3e:00:00:07' }, 'ingress', 'IPv4', 1, [16])[0]!), /dl_src=fa:16:3e:00:00:07/);
  const conj = render(conjAcceptFlows(1, 1234, 'ingress', 'IPv6'));
  assert.deepEqual(conj, norm([
    'table=82,priority=71,conj_id=1234,ct_state=+est-rel-rpl,ipv6,reg5=0x1,actions=set_field:0x4d2->reg7,output:1',
    'table=82,priority=71,conj_id=1235,ct_state=+new-est,ipv6,reg5=0x1,actions=set_field:0x4d3->reg7,ct(commit,zone=NXM_NX_REG6[0..15]),output:1,resubmit(,92)',
  ]));
});

const tcp = (min?: number, max?: number): FirewallRule => ({ direction: 'ingress', ethertype: 'IPv4', protocol: 6, ...(min !== undefined ? { portRangeMin: min } : {}), ...(max !== undefined ? { portRangeMax: max } : {}) });
const ranges = (r: ReturnType<typeof mergePortRanges>) => r.map((x) => [x.rule.portRangeMin, x.rule.portRangeMax, [...x.conjIds].sort((a, b) => a - b)]);

test('merge_port_ranges: overlapping ranges become disjoint with every covering conj id', () => {
  assert.deepEqual(ranges(mergePortRanges([{ rule: tcp(20, 30), conjId: 6 }, { rule: tcp(30, 40), conjId: 14 }, { rule: tcp(35, 40), conjId: 22 }, { rule: tcp(20, 20), conjId: 30 }])), [
    [20, 20, [6, 30]], [21, 29, [6]], [30, 30, [6, 14]], [31, 34, [14]], [35, 40, [14, 22]],
  ]);
  assert.deepEqual(ranges(mergePortRanges([{ rule: tcp(), conjId: 10 }, { rule: tcp(), conjId: 12 }, { rule: tcp(30, 40), conjId: 4 }])), [
    [1, 29, [10, 12]], [30, 40, [4, 10, 12]], [41, 65535, [10, 12]],
  ]);
  assert.deepEqual(ranges(mergePortRanges([{ rule: tcp(), conjId: 10 }, { rule: tcp(), conjId: 12 }, { rule: tcp(30, 30), conjId: 10 }])), [[undefined, undefined, [10, 12]]]);
  assert.deepEqual(ranges(mergePortRanges([{ rule: tcp(30, 40), conjId: 32 }, { rule: tcp(100, 140), conjId: 40 }])), [[30, 40, [32]], [100, 140, [40]]]);
  assert.throws(() => mergePortRanges([{ rule: tcp(1, 2), conjId: 8 }, { rule: { direction: 'ingress', ethertype: 'IPv6' }, conjId: 16 }]), /cannot share conjunction flows/);
});

test('merge_common_rules groups identical rules', () => {
  const icmp = (x: Partial<FirewallRule>): FirewallRule => ({ direction: 'ingress', ethertype: 'IPv4', protocol: 1, ...x });
  const out = mergeCommonRules([
    { rule: icmp({}), conjId: 8 },
    { rule: icmp({ portRangeMin: 3 }), conjId: 16 },
    { rule: icmp({ portRangeMin: 3, portRangeMax: 0 }), conjId: 40 },
    { rule: icmp({}), conjId: 24 },
  ]);
  assert.deepEqual(out.map((x) => [x.rule.portRangeMin, x.rule.portRangeMax, x.conjIds]), [
    [undefined, undefined, [8, 24]], [3, undefined, [16]], [3, 0, [40]],
  ]);
});

test('addresses: prefixes normalised, EUI-64 link-local', () => {
  assert.deepEqual(parsePrefix('192.168.7.9/16'), { version: 4, network: '192.168.0.0', prefixLen: 16 });
  assert.deepEqual(parsePrefix('2001:DB8:0:0::1/64'), { version: 6, network: '2001:db8::', prefixLen: 64 });
  assert.equal(parsePrefix('10.0.0.5').prefixLen, 32);
  assert.throws(() => parsePrefix('10.0.0.300'), /invalid IPv4 address/);
  assert.equal(eui64LinkLocal('fa:16:3e:00:00:01'), 'fe80::f816:3eff:fe00:1');
});
