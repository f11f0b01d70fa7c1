import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { PrivateOvs } from '../../../lab/ovs.js';
import type { OfctlBackend } from '../../../src/openflow/ofctl/backend.js';
import { OpenFlowError } from '../../../src/openflow/backend.js';
import { TunnelBridge } from '../../../src/bridges/br-tun.js';
import { OVSBridge } from '../../../src/bridges/ovs-bridge.js';
import { startOfctlBridge } from '../../helpers/openflow-bridges.js';

let ovs: PrivateOvs;
let backend: OfctlBackend;
const BR = `tof${process.pid % 10000}`;

before(async () => {
  ({ ovs, backend } = await startOfctlBridge(BR));
});
after(async () => {
  await ovs?.stop();
});

test('br-tun default flows through ovs-ofctl equal the reference agent\'s', async () => {
  const br = new TunnelBridge(BR, backend.bridge(BR));
  await br.installFlows(...br.defaultFlows(1, true));
  const flows = await ovs.dumpFlows(BR);
  assert.deepEqual(flows, [
    'priority=0 actions=drop',
    'priority=1,in_port=1 actions=goto_table:2',
    'table=10, priority=1 actions=learn(table=20,hard_timeout=300,priority=1,NXM_OF_VLAN_TCI[0..11],NXM_OF_ETH_DST[]=NXM_OF_ETH_SRC[],load:0->NXM_OF_VLAN_TCI[],load:NXM_NX_TUN_ID[]->NXM_NX_TUN_ID[],output:OXM_OF_IN_PORT[]),output:1',
    'table=2, priority=0,dl_dst=00:00:00:00:00:00/01:00:00:00:00:00 actions=goto_table:20',
    'table=2, priority=0,dl_dst=01:00:00:00:00:00/01:00:00:00:00:00 actions=goto_table:22',
    'table=2, priority=1,arp,dl_dst=ff:ff:ff:ff:ff:ff actions=goto_table:21',
    'table=20, priority=0 actions=goto_table:22',
    'table=21, priority=0 actions=goto_table:22',
    'table=22, priority=0 actions=drop',
    'table=3, priority=0 actions=drop',
    'table=4, priority=0 actions=drop',
    'table=6, priority=0 actions=drop',
  ]);
  // Every flow carries the bridge's cookie, the learn action included.
  const withCookies = await ovs.dumpFlows(BR, { keepCookies: true });
  const c = `cookie=0x${br.cookie.toString(16)}`;
  assert.ok(withCookies.every((l) => l.startsWith(c)), withCookies.join('\n'));
  assert.ok(withCookies.some((l) => l.includes(`learn(table=20,hard_timeout=300,priority=1,${c},`)));
  await br.deleteAllFlows();
});

test('l2population flows render as the reference prints them', async () => {
  const br = new TunnelBridge(BR, backend.bridge(BR));
  const b = br.batch();
  TunnelBridge.provisionLocalVlan(b, 'vxlan', 1, 1001);
  TunnelBridge.installFloodToTun(b, 1, 1001, [3, 2]);
  TunnelBridge.installUnicastToTun(b, 1, 1001, 'fa:16:3e:00:00:21', 2);
  TunnelBridge.installArpResponder(b, 1, 'fa:16:3e:00:00:21', '10.0.0.21');
  await b.commit();
  assert.deepEqual(await ovs.dumpFlows(BR), [
    'table=20, priority=2,dl_vlan=1,dl_dst=fa:16:3e:00:00:21 actions=pop_vlan,set_field:0x3e9->tun_id,output:2',
    'table=21, priority=1,arp,dl_vlan=1,arp_tpa=10.0.0.21 actions=set_field:2->arp_op,move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[],set_field:fa:16:3e:00:00:21->arp_sha,set_field:10.0.0.21->arp_spa,move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:fa:16:3e:00:00:21->eth_src,IN_PORT',
    'table=22, priority=1,dl_vlan=1 actions=pop_vlan,set_field:0x3e9->tun_id,output:2,output:3',
    'table=4, priority=1,tun_id=0x3e9 actions=push_vlan:0x8100,set_field:4097->vlan_vid,goto_table:10',
  ]);
  // Targeted deletes touch only flows of this bridge's cookie.
  await ovs.ofctl('-O', 'OpenFlow13', 'add-flow', BR, 'cookie=0x77,table=22,priority=1,dl_vlan=1,actions=drop');
  const del = br.batch();
  TunnelBridge.deleteFloodToTun(del, 1);
  await del.commit();
  const left = await ovs.dumpFlows(BR, { keepCookies: true });
  assert.ok(left.some((l) => l.startsWith('cookie=0x77, table=22')), left.join('\n'));
  assert.ok(!left.some((l) => l.includes('output:2,output:3')));
  // Stale cleanup removes the foreign cookie and keeps ours.
  assert.deepEqual(await br.cleanupStaleFlows([22]), [0x77n]);
  assert.equal((await ovs.dumpFlows(BR, { keepCookies: true })).filter((l) => l.includes('0x77')).length, 0);
  await br.deleteAllFlows();
});

test('a refused flow rejects the batch with an OpenFlowError naming the bridge and the flows; the rest is installed', async () => {
  const br = new OVSBridge(BR, backend.bridge(BR));
  const b = br.batch();
  b.add({ table: 0, priority: 5, match: {}, actions: [], gotoTable: 1 });
  b.add({ table: 5, priority: 1, match: {}, actions: [], gotoTable: 2 }); // goto a lower table: refused
  b.add({ table: 6, priority: 1, match: {}, actions: [{ type: 'set_field', field: 'arp_op', value: 2 }] }); // no arp prerequisite
  b.add({ table: 7, priority: 1, match: {}, actions: [{ type: 'output', port: 'NORMAL' }] });
  await assert.rejects(b.commit(), (e: unknown) => {
    assert.ok(e instanceof OpenFlowError, String(e));
    assert.equal(e.bridge, BR);
    assert.match(e.message, new RegExp(`^${BR}: switch refused 2 of 4 flow mods`));
    assert.match(e.message, /for "add cookie=0x[0-9a-f]+, table=5, priority=1 actions=goto_table:2"/);
    assert.match(e.message, /set_field:2->arp_op/);
    assert.match(e.detail.flow ?? '', /table=5/);
    // Which mods of the batch, each with the switch's error: a caller tells them apart without parsing.
    assert.deepEqual(e.detail.refused?.map((r) => r.index), [1, 2]);
    for (const r of e.detail.refused ?? []) assert.match(r.reason, /^OFP[A-Z]+_[A-Z_]+$/);
    return true;
  });
  assert.deepEqual(await ovs.dumpFlows(BR), ['priority=5 actions=goto_table:1', 'table=7, priority=1 actions=NORMAL']);
  await br.deleteAllFlows();
});

test('a full table refuses what does not fit; the batch\'s other flows are installed', async () => {
  await ovs.vsctl('--', '--id=@ft', 'create', 'Flow_Table', 'flow_limit=2', 'overflow_policy=refuse', '--', 'set', 'Bridge', BR, 'flow_tables:30=@ft');
  const br = new OVSBridge(BR, backend.bridge(BR));
  const b = br.batch();
  for (const priority of [1, 2, 3]) b.add({ table: 30, priority, match: {}, actions: [] });
  b.add({ table: 31, priority: 1, match: {}, actions: [] });
  await assert.rejects(b.commit(), (e: unknown) => {
    assert.ok(e instanceof OpenFlowError, String(e));
    assert.match(e.message, new RegExp(`^${BR}: switch refused 1 of 4 flow mods: OFPFMFC_TABLE_FULL for "add cookie=0x[0-9a-f]+, table=30, priority=3 actions=drop"$`));
    assert.deepEqual(e.detail.refused, [{ index: 2, reason: 'OFPFMFC_TABLE_FULL' }]);
    return true;
  });
  assert.deepEqual(await ovs.dumpFlows(BR), ['table=30, priority=1 actions=drop', 'table=30, priority=2 actions=drop', 'table=31, priority=1 actions=drop']);
  await br.deleteAllFlows();
  await ovs.vsctl('clear', 'Bridge', BR, 'flow_tables');
});

test('a bridge that does not exist fails at once, without halving the batch', async () => {
  const sw = backend.bridge('br-nonexistent');
  await assert.rejects(
    sw.apply(Array.from({ length: 64 }, (_, i) => ({ command: 'add' as const, flow: { table: 1, priority: i, match: {}, actions: [] } }))),
    (e: unknown) => e instanceof OpenFlowError && e.bridge === 'br-nonexistent' && /add-flows \(64 flow mods\) failed/.test(e.message),
  );
});

test('dumpFlows reports table and cookie of every flow', async () => {
  const br = new OVSBridge(BR, backend.bridge(BR));
  await br.installFlows({ table: 23, priority: 0, match: {}, actions: [] });
  const stats = await br.ofSwitch.dumpFlows({ table: 23 });
  assert.equal(stats.length, 1);
  assert.equal(stats[0]!.cookie, br.cookie);
  assert.equal(stats[0]!.table, 23);
  const ports = await br.ofSwitch.portDesc();
  assert.ok(ports.some((p) => p.name === BR));
  await br.deleteAllFlows();
});
