// The OVS firewall's flows on a real (private, userspace) Open vSwitch through ovs-ofctl: OVS
// accepts every flow the driver renders, its dump equals what the driver wants, incremental
// updates leave the same table as a fresh start, and a restarted driver takes over by cookie.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { PrivateOvs } from '../../../../lab/ovs.js';
import type { OfctlBackend } from '../../../../src/openflow/ofctl/backend.js';
import { OVSBridge } from '../../../../src/bridges/ovs-bridge.js';
import { INT_BR_ALL_TABLES } from '../../../../src/bridges/tables.js';
import { formatFlow } from '../../../../src/openflow/text.js';
import { OVSFirewallDriver } from '../../../../src/firewall/openvswitch/firewall.js';
import { normalizeFlow, port, rule, scenarioPorts, scenarioSource } from '../../../unit/firewall/openvswitch/fixtures.js';
import { startOfctlBridge } from '../../../helpers/openflow-bridges.js';

let ovs: PrivateOvs;
let backend: OfctlBackend;
const BR = `tfw${process.pid % 10000}`;

before(async () => {
  ({ ovs, backend } = await startOfctlBridge(BR));
});
after(async () => {
  await ovs?.stop();
});

const dump = async () => (await ovs.dumpFlows(BR)).map(normalizeFlow).sort();
const wanted = (d: OVSFirewallDriver) => d.desiredFlows().map((f) => normalizeFlow(formatFlow(f))).sort();

test('the scenario\'s flows: accepted by OVS, dumped as the driver wants them, captured reference lines present', async () => {
  await ovs.ofctl('del-flows', BR);
  const source = scenarioSource();
  const driver = new OVSFirewallDriver(new OVSBridge(BR, backend.bridge(BR)), source, { permittedEthertypes: ['0x8870'], explicitlyEgressDirect: true, egressPatchOfport: () => 1 });
  await driver.start();
  const ports = [...scenarioPorts(), port(7, { portSecurityEnabled: false, localVlan: 1, mac: 'fa:16:3e:00:00:77' })];
  // Address-group and IPv6 rules too, so every kind of match goes through OVS's parser.
  source.groups.get('sg1')!.rules.push(
    rule('sg1', { direction: 'egress', ethertype: 'IPv6', protocol: 'tcp', portRangeMin: 1000, portRangeMax: 1999, remoteIpPrefix: '2001:db8::/32' }),
    rule('sg1', { direction: 'ingress', ethertype: 'IPv4', protocol: 'sctp', portRangeMin: 5000, portRangeMax: 5001, remoteAddressGroupId: 'ag1' }),
    rule('sg1', { direction: 'ingress', ethertype: 'IPv6', protocol: 'icmp', portRangeMin: 128, portRangeMax: 0 }),
    rule('sg1', { direction: 'ingress', ethertype: 'IPv4', protocol: '47' }),
  );
  source.addressGroups.set('ag1', { IPv4: ['198.51.100.0/24', '203.0.113.9/32'], IPv6: [] });
  ports[0]!.allowedAddressPairs.push({ mac: 'fa:16:3e:00:00:98', ip: '2001:db8::98' }, { mac: 'fa:16:3e:00:00:97', ip: '192.0.2.0/28' });
  await driver.filterPorts({ added: ports, updated: [], removed: [] });
  const flows = await dump();
  assert.deepEqual(flows, wanted(driver));
  for (const line of [
    'table=82, priority=70,ct_state=+est-rel-rpl,ip,reg6=0x1,nw_src=10.0.0.5 actions=conjunction(16,1/2)',
    'table=82, priority=70,conj_id=17,ct_state=+new-est,ip,reg5=0x3 actions=set_field:0x11->reg7,ct(commit,zone=NXM_NX_REG6[0..15]),output:3,resubmit(,92)',
    'table=60, priority=90,vlan_tci=0x0000/0x1fff,dl_dst=fa:16:3e:00:00:03 actions=set_field:0x5->reg5,set_field:0x3->reg6,resubmit(,81)',
    'table=72, priority=50,ct_state=+inv+trk actions=resubmit(,93)',
  ]) {
    assert.ok(flows.includes(normalizeFlow(line)), `missing ${line}`);
  }
});

test('incremental updates leave what the driver wants; a restarted driver takes over by cookie with the same flows', async () => {
  await ovs.ofctl('del-flows', BR);
  const source = scenarioSource();
  const bridge = new OVSBridge(BR, backend.bridge(BR));
  const driver = new OVSFirewallDriver(bridge, source);
  await driver.start();
  await driver.filterPorts({ added: scenarioPorts(), updated: [], removed: [] });
  const sg = source.groups.get('sg1')!;
  sg.rules = sg.rules.filter((r) => r.protocol !== 'icmp');
  sg.rules.push(rule('sg1', { direction: 'ingress', ethertype: 'IPv4', protocol: 'udp', portRangeMin: 53, portRangeMax: 53, remoteGroupId: 'sg1' }));
  source.members.get('sg1')!.IPv4.push(['10.0.0.8', 'fa:16:3e:00:00:08']);
  await driver.filterPorts({ added: [], updated: scenarioPorts(), removed: ['port-6'] });
  const afterUpdates = await dump();
  assert.deepEqual(afterUpdates, wanted(driver));

  // A new run (new cookie) against the same switch: re-adds under its cookie, then the old cookie goes.
  const bridge2 = new OVSBridge(BR, backend.bridge(BR));
  const fresh = new OVSFirewallDriver(bridge2, source);
  await fresh.start();
  await fresh.filterPorts({ added: scenarioPorts().filter((p) => p.id !== 'port-6'), updated: [], removed: [] });
  await bridge2.cleanupStaleFlows(INT_BR_ALL_TABLES.concat([94]));
  const restarted = await ovs.dumpFlows(BR, { keepCookies: true });
  assert.ok(restarted.every((l) => l.includes(`cookie=0x${bridge2.cookie.toString(16)}`)), restarted.join('\n'));
  assert.deepEqual(await dump(), wanted(fresh));
  // The new run read the previous run's conj_ids back from ovs-ofctl's dump and numbered above them,
  // as the reference does: an old flow still in place never shares an id with a new one.
  const conjIds = (lines: string[]) => lines.flatMap((l) => [...l.matchAll(/conj(?:unction\(|_id=)(\d+)/g)].map((m) => Number(m[1])));
  const oldMax = Math.max(...conjIds(afterUpdates));
  const newIds = conjIds(await dump());
  assert.ok(oldMax > 0 && newIds.length > 0 && Math.min(...newIds) > oldMax, `new ids ${[...new Set(newIds)].sort((a, b) => a - b).join(',')} above the previous run's highest, ${oldMax}`);
  // Same flows as after the updates, except conjunction ids (the new run numbers above the old
  // ones) and the member flows the removed port's network kept (as the reference keeps them
  // until the group is gone; a fresh start, like the reference's, has none there).
  const ids = (lines: string[]) => lines.map((l) => l.replace(/conj(unction\(|_id=)\d+/g, 'conj$1N').replace(/set_field:0x[0-9a-f]+->reg7,/, ''));
  assert.deepEqual(ids(await dump()).sort(), ids(afterUpdates.filter((l) => !/reg6=0x4\b.*conjunction/.test(l))).sort());
});
