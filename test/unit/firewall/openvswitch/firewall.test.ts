import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OVSBridge } from '../../../../src/bridges/ovs-bridge.js';
import { formatFlow } from '../../../../src/openflow/text.js';
import { OVSFirewallDriver } from '../../../../src/firewall/openvswitch/firewall.js';
import { FakeSource, RecordingSwitch, normalizeFlow, port, rule, scenarioPorts, scenarioSource } from './fixtures.js';

const COOKIE = 0xabcn;

async function scenario(opts: ConstructorParameters<typeof OVSFirewallDriver>[2] = {}) {
  const sw = new RecordingSwitch();
  const source = scenarioSource();
  const driver = new OVSFirewallDriver(new OVSBridge('br-int', sw, COOKIE), source, opts);
  await driver.start();
  await driver.filterPorts({ added: scenarioPorts(), updated: [], removed: [] });
  return { sw, source, driver, flows: () => driver.desiredFlows().map((f) => normalizeFlow(formatFlow(f))) };
}

const norm = (lines: string[]) => lines.map(normalizeFlow);
const inTable = (flows: string[], table: number) => flows.filter((f) => new RegExp(`(^|,)table=${table}[ ,]`).test(f));
function assertContains(flows: string[], expected: string[]): void {
  const have = new Set(flows);
  const missing = norm(expected).filter((e) => !have.has(e));
  assert.deepEqual(missing, [], 'flows the reference has and we do not');
}

test('base flows at start equal the captured ones (spec §3.1)', async () => {
  const sw = new RecordingSwitch();
  const driver = new OVSFirewallDriver(new OVSBridge('br-int', sw, COOKIE), new FakeSource());
  await driver.start();
  assert.deepEqual(
    driver.desiredFlows().map((f) => normalizeFlow(formatFlow(f))).sort(),
    norm([
      'table=71, priority=110,ct_state=+trk actions=ct_clear,resubmit(,71)',
      'table=71, priority=0 actions=drop',
      'table=72, priority=0 actions=drop',
      'table=73, priority=0 actions=drop',
      'table=81, priority=0 actions=drop',
      'table=82, priority=0 actions=drop',
      'table=91, priority=1 actions=resubmit(,94)',
      'table=92, priority=0 actions=drop',
      'table=93, priority=0 actions=drop',
      'table=94, priority=1 actions=NORMAL',
    ]).sort(),
  );
  assert.equal(sw.batches.length, 1, 'one batch');
  assert.ok(sw.last().every((l) => l.startsWith('add ') && l.includes('cookie=0xabc')), 'all added with the bridge cookie');
});

test('table 60 classification equals the capture (spec §4.1): egress by in_port, ingress per allowed MAC, provider VID, untagged flat', async () => {
  const { flows } = await scenario();
  const t60 = inTable(flows(), 60);
  assertContains(t60, [
    'table=60, priority=100,in_port=3 actions=set_field:0x3->reg5,set_field:0x1->reg6,resubmit(,71)',
    'table=60, priority=90,dl_vlan=1,dl_dst=fa:16:3e:00:00:01 actions=set_field:0x3->reg5,set_field:0x1->reg6,pop_vlan,resubmit(,81)',
    'table=60, priority=90,dl_vlan=1,dl_dst=fa:16:3e:00:00:99 actions=set_field:0x3->reg5,set_field:0x1->reg6,pop_vlan,resubmit(,81)',
    'table=60, priority=90,dl_vlan=2,dl_dst=fa:16:3e:00:00:02 actions=set_field:0x4->reg5,set_field:0x2->reg6,pop_vlan,resubmit(,81)',
    'table=60, priority=90,dl_vlan=100,dl_dst=fa:16:3e:00:00:02 actions=set_field:0x4->reg5,set_field:0x2->reg6,pop_vlan,resubmit(,81)',
    'table=60, priority=90,dl_vlan=3,dl_dst=fa:16:3e:00:00:03 actions=set_field:0x5->reg5,set_field:0x3->reg6,pop_vlan,resubmit(,81)',
    'table=60, priority=90,vlan_tci=0x0000/0x1fff,dl_dst=fa:16:3e:00:00:03 actions=set_field:0x5->reg5,set_field:0x3->reg6,resubmit(,81)',
  ]);
  // 4 egress + 2 (port 3, two MACs) + 2 (vlan) + 2 (flat) + 1 (local).
  assert.equal(t60.length, 11);
});

test('rule flows equal the capture (spec §4.2, §4.3): raw rules, remote-group conjunctions 16/17 (IPv4) and 24/25 (IPv6)', async () => {
  const { flows } = await scenario();
  const all = flows();
  assertContains(all, [
    'table=72, priority=74,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=resubmit(,73)',
    'table=72, priority=74,ct_state=+new-est,ip,reg5=0x3 actions=resubmit(,73)',
    'table=72, priority=74,ct_state=+est-rel-rpl,ipv6,reg5=0x3 actions=resubmit(,73)',
    'table=72, priority=74,ct_state=+new-est,ipv6,reg5=0x3 actions=resubmit(,73)',
    'table=82, priority=77,ct_state=+est-rel-rpl,tcp,reg5=0x3,tp_dst=22 actions=output:3',
    'table=82, priority=77,ct_state=+new-est,tcp,reg5=0x3,tp_dst=22 actions=ct(commit,zone=NXM_NX_REG6[0..15]),output:3,resubmit(,92)',
    'table=82, priority=75,ct_state=+est-rel-rpl,icmp,reg5=0x3,nw_src=192.168.0.0/16 actions=output:3',
    'table=82, priority=75,ct_state=+new-est,icmp,reg5=0x3,nw_src=192.168.0.0/16 actions=ct(commit,zone=NXM_NX_REG6[0..15]),output:3,resubmit(,92)',
    'table=82, priority=70,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=conjunction(16,2/2)',
    'table=82, priority=70,ct_state=+new-est,ip,reg5=0x3 actions=conjunction(17,2/2)',
    'table=82, priority=70,ct_state=+est-rel-rpl,ip,reg6=0x1,nw_src=10.0.0.5 actions=conjunction(16,1/2)',
    'table=82, priority=70,ct_state=+new-est,ip,reg6=0x1,nw_src=10.0.0.7 actions=conjunction(17,1/2)',
    'table=82, priority=70,conj_id=16,ct_state=+est-rel-rpl,ip,reg5=0x3 actions=set_field:0x10->reg7,output:3',
    'table=82, priority=70,conj_id=17,ct_state=+new-est,ip,reg5=0x3 actions=set_field:0x11->reg7,ct(commit,zone=NXM_NX_REG6[0..15]),output:3,resubmit(,92)',
    // IPv6 remote-group rule: next block.
    'table=82, priority=70,ct_state=+est-rel-rpl,ipv6,reg5=0x3 actions=conjunction(24,2/2)',
    'table=82, priority=70,conj_id=25,ct_state=+new-est,ipv6,reg5=0x3 actions=set_field:0x19->reg7,ct(commit,zone=NXM_NX_REG6[0..15]),output:3,resubmit(,92)',
  ]);
  // Member flows: both members, both states, on every network with a port of sg1 (no IPv6 members).
  const members = all.filter((f) => f.includes('actions=conjunction(') && f.includes('/2)') && f.includes('1/2)'));
  assert.equal(members.length, 2 * 2 * 4);
  assert.ok(members.every((f) => f.includes(',ip,')));
});

test('port 3 egress/ingress base and conntrack flows follow spec §4.2-§4.3', async () => {
  const { flows } = await scenario();
  const mine = flows().filter((f) => /reg5=0x3\b|in_port=3\b|reg6=0x1,|ct_state=\+inv\+trk/.test(f) || /\bdl_dst=fa:16:3e:00:00:(01|99)\b/.test(f));
  assertContains(mine, [
    'table=71, priority=95,arp,reg5=0x3,in_port=3,dl_src=fa:16:3e:00:00:01,arp_spa=10.0.0.5 actions=resubmit(,94)',
    'table=71, priority=95,arp,reg5=0x3,in_port=3,dl_src=fa:16:3e:00:00:99,arp_spa=10.0.0.99 actions=resubmit(,94)',
    'table=71, priority=95,icmp6,reg5=0x3,in_port=3,dl_src=fa:16:3e:00:00:01,ipv6_src=fe80::f816:3eff:fe00:1,icmp_type=133 actions=resubmit(,94)',
    'table=71, priority=95,icmp6,reg5=0x3,in_port=3,icmp_type=136,nd_target=fe80::f816:3eff:fe00:1 actions=resubmit(,94)',
    'table=71, priority=80,udp,reg5=0x3,in_port=3,dl_src=fa:16:3e:00:00:01,nw_src=0.0.0.0,tp_src=68,tp_dst=67 actions=resubmit(,73)',
    'table=71, priority=80,udp,reg5=0x3,in_port=3,dl_src=fa:16:3e:00:00:99,nw_src=10.0.0.99,tp_src=68,tp_dst=67 actions=resubmit(,73)',
    'table=71, priority=80,udp6,reg5=0x3,in_port=3,dl_src=fa:16:3e:00:00:01,ipv6_src=fe80::f816:3eff:fe00:1,tp_src=546,tp_dst=547 actions=resubmit(,73)',
    'table=71, priority=70,udp,reg5=0x3,in_port=3,tp_src=67,tp_dst=68 actions=resubmit(,93)',
    'table=71, priority=70,udp6,reg5=0x3,in_port=3,tp_src=547,tp_dst=546 actions=resubmit(,93)',
    'table=71, priority=70,icmp6,reg5=0x3,in_port=3,icmp_type=134 actions=resubmit(,93)',
    'table=71, priority=65,ip,reg5=0x3,in_port=3,dl_src=fa:16:3e:00:00:01,nw_src=10.0.0.5 actions=ct(table=72,zone=NXM_NX_REG6[0..15])',
    'table=71, priority=65,ipv6,reg5=0x3,in_port=3,dl_src=fa:16:3e:00:00:01,ipv6_src=fe80::f816:3eff:fe00:1 actions=ct(table=72,zone=NXM_NX_REG6[0..15])',
    'table=71, priority=10,reg5=0x3,in_port=3 actions=ct_clear,resubmit(,93)',
    'table=72, priority=50,ct_state=+inv+trk actions=resubmit(,93)',
    'table=72, priority=50,ct_mark=0x1,reg5=0x3 actions=resubmit(,93)',
    'table=72, priority=50,ct_state=+est-rel+rpl,ct_zone=1,ct_mark=0,reg5=0x3 actions=resubmit(,94)',
    'table=72, priority=50,ct_state=-new-est+rel-inv,ct_zone=1,ct_mark=0,reg5=0x3 actions=resubmit(,94)',
    'table=72, priority=40,ct_state=-est,reg5=0x3 actions=resubmit(,93)',
    'table=72, priority=40,ct_state=+est,ip,reg5=0x3 actions=ct(commit,zone=NXM_NX_REG6[0..15],exec(set_field:0x1->ct_mark))',
    'table=73, priority=100,reg6=0x1,dl_dst=fa:16:3e:00:00:99 actions=set_field:0x3->reg5,resubmit(,81)',
    'table=73, priority=90,ct_state=+new-est,ipv6,reg5=0x3 actions=ct(commit,zone=NXM_NX_REG6[0..15]),resubmit(,91)',
    'table=73, priority=80,reg5=0x3 actions=resubmit(,94)',
    'table=81, priority=100,arp,reg5=0x3 actions=output:3',
    'table=81, priority=100,icmp6,reg5=0x3,icmp_type=134 actions=output:3',
    'table=81, priority=95,udp,reg5=0x3,tp_src=67,tp_dst=68 actions=output:3',
    'table=81, priority=90,ct_state=-trk,ipv6,reg5=0x3 actions=ct(table=82,zone=NXM_NX_REG6[0..15])',
    'table=81, priority=80,ct_state=+trk,reg5=0x3 actions=resubmit(,82)',
    'table=82, priority=50,ct_state=+est-rel+rpl,ct_zone=1,ct_mark=0,reg5=0x3 actions=output:3',
    'table=82, priority=40,ct_state=+est,ipv6,reg5=0x3 actions=ct(commit,zone=NXM_NX_REG6[0..15],exec(set_field:0x1->ct_mark))',
  ]);
  assert.deepEqual(inTable(flows(), 94), norm(['table=94, priority=1 actions=NORMAL']), 'no egress-direct flows unless the option is on');
});

test('a rule removed: only its flows are deleted, strictly and with our cookie; a rule added: only adds', async () => {
  const { sw, source, driver } = await scenario();
  const sg = source.groups.get('sg1')!;
  sg.rules = sg.rules.filter((r) => r.protocol !== 'icmp');
  await driver.filterPorts({ added: [], updated: scenarioPorts(), removed: [] });
  const mods = sw.last();
  assert.equal(mods.length, 8, mods.join('\n'));
  assert.ok(mods.every((m) => m.startsWith('delete_strict ') && m.includes('cookie=0xabc/0xfffffffffffffffe') && m.includes(',icmp,') && m.includes('nw_src=192.168.0.0/16')));

  sg.rules.push(rule('sg1', { direction: 'ingress', ethertype: 'IPv4', protocol: 'udp', portRangeMin: 1000, portRangeMax: 1999 }));
  await driver.filterPorts({ added: [], updated: scenarioPorts(), removed: [] });
  const adds = sw.last();
  // 7 masks × 2 states × 4 ports.
  assert.equal(adds.length, 56);
  assert.ok(adds.every((m) => m.startsWith('add ') && m.includes('udp') && m.includes('cookie=0xabc')));
  assert.ok(adds.some((m) => m.includes('tp_dst=0x3e8/0xfff8')));

  await driver.filterPorts({ added: [], updated: scenarioPorts(), removed: [] });
  assert.equal(sw.batches.length, 4, 'nothing changed: no batch sent');
});

test('a member joins: only member flows are added, on every network with a port referring to the group', async () => {
  const { sw, source, driver } = await scenario();
  source.members.get('sg1')!.IPv4.push(['10.0.0.8', 'fa:16:3e:00:00:08']);
  let asked = 0;
  const d2 = driver as unknown as { options: { onRefilterNeeded?: () => void } };
  d2.options.onRefilterNeeded = () => asked++;
  source.emit({ membersChanged: new Set(['sg1']) });
  assert.equal(asked, 1);
  const ids = driver.takeRefilterIds();
  assert.deepEqual([...ids].sort(), ['port-3', 'port-4', 'port-5', 'port-6']);
  assert.equal(driver.takeRefilterIds().size, 0, 'taken once');
  await driver.filterPorts({ added: [], updated: scenarioPorts().filter((p) => ids.has(p.id)), removed: [] });
  const mods = sw.last().map(normalizeFlow);
  assert.equal(mods.length, 8);
  assert.ok(mods.every((m) => m.includes('nw_src=10.0.0.8') && /actions=conjunction\(1[67],1\/2\)$/.test(m)));
});

test('changing a rule replaces flows in one batch, adds before deletes (no blink)', async () => {
  const { sw, source, driver } = await scenario();
  const sg = source.groups.get('sg1')!;
  const ssh = sg.rules.find((r) => r.protocol === 'tcp')!;
  ssh.portRangeMin = 22;
  ssh.portRangeMax = 23;
  await driver.filterPorts({ added: [], updated: [scenarioPorts()[0]!], removed: [] });
  const mods = sw.last();
  const firstDelete = mods.findIndex((m) => m.startsWith('delete'));
  const lastAdd = mods.map((m) => m.startsWith('add')).lastIndexOf(true);
  assert.ok(firstDelete > lastAdd, mods.join('\n'));
  assert.deepEqual(mods.filter((m) => m.startsWith('add')).length, 2);
  assert.deepEqual(mods.filter((m) => m.startsWith('delete')).length, 2);
});

test('removing a port deletes its flows; member flows stay (as the reference leaves them) until its group has no port left', async () => {
  const { sw, driver } = await scenario();
  await driver.filterPorts({ added: [], updated: [], removed: ['port-4'] });
  const mods = sw.last();
  assert.ok(mods.every((m) => m.startsWith('delete_strict')));
  assert.ok(mods.some((m) => m.includes('in_port=4')));
  assert.ok(!mods.some((m) => m.includes('reg5=0x3') || m.includes('nw_src=10.0.0.7')), 'other ports and member flows untouched');
  assert.ok(!driver.desiredFlows().some((f) => formatFlow(f).includes('reg5=0x4')));

  // The last ports of sg1 go: its conjunction ids are freed and every member flow goes with them.
  await driver.filterPorts({ added: [], updated: [], removed: ['port-3', 'port-5', 'port-6'] });
  const left = driver.desiredFlows().map((f) => normalizeFlow(formatFlow(f)));
  assert.ok(!left.some((f) => f.includes('conjunction(')), left.join('\n'));
  // Freed ids are handed out again, in the order they were freed: the same 16 and 24.
  await driver.filterPorts({ added: scenarioPorts(), updated: [], removed: [] });
  const again = driver.desiredFlows().map((f) => normalizeFlow(formatFlow(f)));
  assert.ok(again.some((f) => f.includes('actions=conjunction(16,2/2)')) && again.some((f) => f.includes('actions=conjunction(24,2/2)')));
});

test('a remote-group rule removed: its member flows stay as the reference leaves them (inert: no port half)', async () => {
  const { sw, source, driver } = await scenario();
  const sg = source.groups.get('sg1')!;
  sg.rules = sg.rules.filter((r) => !(r.remoteGroupId && r.ethertype === 'IPv4'));
  await driver.filterPorts({ added: [], updated: scenarioPorts(), removed: [] });
  const mods = sw.last();
  assert.ok(mods.every((m) => m.startsWith('delete_strict') && m.includes('reg5=')), mods.join('\n'));
  assert.equal(mods.length, 4 * 4, 'dimension-2 and accept flows of the IPv4 rule, per port');
});

test('port security off and trusted network:* ports get the unfiltered flows; switching replaces one set with the other', async () => {
  const sw = new RecordingSwitch();
  const driver = new OVSFirewallDriver(new OVSBridge('br-int', sw, COOKIE), scenarioSource(), { explicitlyEgressDirect: true, egressPatchOfport: () => 1 });
  await driver.start();
  const p = port(7, { portSecurityEnabled: false, localVlan: 1, mac: 'fa:16:3e:00:00:77' });
  const dhcp = port(8, { deviceOwner: 'network:dhcp', localVlan: 1, mac: 'fa:16:3e:00:00:88' });
  await driver.filterPorts({ added: [p, dhcp], updated: [], removed: [] });
  const flows = driver.desiredFlows().map((f) => normalizeFlow(formatFlow(f)));
  assertContains(flows, [
    'table=60, priority=100,in_port=7 actions=set_field:0x7->reg5,set_field:0x1->reg6,resubmit(,73)',
    'table=73, priority=80,reg5=0x7 actions=resubmit(,94)',
    'table=94, priority=12,reg6=0x1,dl_dst=fa:16:3e:00:00:77 actions=output:7',
    'table=94, priority=10,reg6=0x1,dl_src=fa:16:3e:00:00:77,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=push_vlan:0x8100,set_field:4097->vlan_vid,output:1',
    'table=60, priority=100,in_port=8 actions=set_field:0x8->reg5,set_field:0x1->reg6,resubmit(,73)',
  ]);
  assert.ok(!flows.some((f) => f.includes('reg5=0x7') && f.includes('table=71')));
  await driver.filterPorts({ added: [], updated: [{ ...p, portSecurityEnabled: true }], removed: [] });
  const mods = sw.last();
  assert.ok(mods.some((m) => m.startsWith('add') && m.includes('in_port=7') && m.includes('resubmit(,71)')), 'table 60 flow now leads to the firewall');
  assert.ok(mods.some((m) => m.startsWith('add') && m.includes('table=71')));
});

test('ports without a local VLAN or ofport are skipped', async () => {
  const sw = new RecordingSwitch();
  const driver = new OVSFirewallDriver(new OVSBridge('br-int', sw, COOKIE), scenarioSource());
  await driver.start();
  await driver.filterPorts({ added: [port(3, { localVlan: Number.NaN }), port(4, { ofport: -1 })], updated: [], removed: [] });
  assert.equal(sw.batches.length, 1, 'only the base flows');
});

test('after a restart the new run re-adds every flow under its own cookie; conj ids continue above existing ones', async () => {
  const first = await scenario();
  const sw = new RecordingSwitch();
  sw.existing = [{ table: 82, priority: 70, cookie: COOKIE, packetCount: 0n, byteCount: 0n, durationSec: 0, idleTimeout: 0, hardTimeout: 0, flow: { table: 82, priority: 70, match: { conjId: 25 }, actions: [] } }];
  const driver = new OVSFirewallDriver(new OVSBridge('br-int', sw, 0xdefn), scenarioSource());
  await driver.start();
  await driver.filterPorts({ added: scenarioPorts(), updated: [], removed: [] });
  const added = sw.batches.flat();
  assert.ok(added.every((m) => m.startsWith('add ') && m.includes('cookie=0xdef')));
  assert.equal(added.length, first.driver.desiredFlows().length);
  // As the reference: the highest id rounded down to its block (24), one block skipped, the next handed out.
  assert.ok(added.some((m) => m.includes('conjunction(40,2/2)')), 'first new block above 25 is 40');
});

test('rendering is deterministic: same operations, same flow list', async () => {
  const a = (await scenario()).driver.desiredFlows().map(formatFlow);
  const b = (await scenario()).driver.desiredFlows().map(formatFlow);
  assert.deepEqual(a, b);
});

test('a batch the switch refuses fails the pass with context, and is sent again by the next pass', async () => {
  const sw = new RecordingSwitch();
  const driver = new OVSFirewallDriver(new OVSBridge('br-int', sw, COOKIE), scenarioSource());
  await driver.start();
  const apply = sw.apply.bind(sw);
  sw.apply = async () => {
    throw new Error('OFPBRC_EPERM');
  };
  await assert.rejects(driver.filterPorts({ added: [scenarioPorts()[0]!], updated: [], removed: [] }), /firewall flows on br-int \(\d+ adds, 0 deletes\): OFPBRC_EPERM/);
  sw.apply = apply;
  await driver.filterPorts({ added: [], updated: [], removed: [] });
  assert.ok(sw.last().some((m) => m.includes('in_port=3') && m.includes('resubmit(,71)')), 'the refused flows went out with the next pass');
});

test('started again after an OVS restart: every flow goes back at once, ports\' filters included; the pass re-adding the ports then changes nothing', async () => {
  const s = await scenario();
  const wanted = s.driver.desiredFlows().map(formatFlow).sort();
  const batchesBefore = s.sw.batches.length;
  await s.driver.start();
  assert.equal(s.sw.batches.length, batchesBefore + 1, 'one batch');
  const resent = s.sw.last();
  assert.ok(resent.every((m) => m.startsWith('add ')), 'only adds: the switch is empty');
  assert.deepEqual(resent.map((m) => m.slice(4).replace('cookie=0xabc, ', '')).sort(), wanted, 'every flow the driver had, unchanged (conjunction ids too)');
  await s.driver.filterPorts({ added: scenarioPorts(), updated: [], removed: [] });
  assert.equal(s.sw.batches.length, batchesBefore + 1, 'the ports re-added as new by the agent need no flow mod');
  assert.deepEqual(s.driver.desiredFlows().map(formatFlow).sort(), wanted);
});
