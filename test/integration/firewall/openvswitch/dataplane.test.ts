// The OVS firewall enforcing on a real datapath: two namespace "VMs" on a private OVS (userspace
// datapath and conntrack), br-int with the agent's pass-through tables (0 → 59 → 60) and the
// driver's flows through ovs-ofctl. Pings are allowed or dropped as the security groups say,
// and a rule added or removed takes effect with the next pass.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { PrivateOvs } from '../../../../lab/ovs.js';
import { type Vm, cleanupAllVms, ping, plugVm } from '../../../../lab/vm.js';
import { OfctlBackend } from '../../../../src/openflow/ofctl/backend.js';
import { OVSBridge } from '../../../../src/bridges/ovs-bridge.js';
import { OVSFirewallDriver } from '../../../../src/firewall/openvswitch/firewall.js';
import type { FirewallPort } from '../../../../src/firewall/types.js';
import { FakeSource, rule } from '../../../unit/firewall/openvswitch/fixtures.js';
import { addSecureBridge } from '../../../helpers/openflow-bridges.js';

let ovs: PrivateOvs;
let a: Vm;
let b: Vm;
const BR = 'br-int';

before(async () => {
  ovs = await PrivateOvs.start();
  await addSecureBridge(ovs, BR);
  // What the agent's own br-int pipeline leaves for VM traffic: straight to table 60.
  for (const f of ['table=0,priority=0,actions=goto_table:59', 'table=59,priority=0,actions=goto_table:60', 'table=60,priority=3,actions=NORMAL']) {
    await ovs.ofctl('-O', 'OpenFlow13', 'add-flow', BR, f);
  }
  a = await plugVm(ovs, { id: 'aaaaaaaa-0001', mac_address: 'fa:16:3e:00:aa:01', fixed_ips: [{ ip_address: '192.0.2.10' }] });
  b = await plugVm(ovs, { id: 'bbbbbbbb-0002', mac_address: 'fa:16:3e:00:bb:02', fixed_ips: [{ ip_address: '192.0.2.11' }] });
  for (const vm of [a, b]) await ovs.vsctl('set', 'Port', vm.tap, 'tag=1');
});
after(async () => {
  await cleanupAllVms();
  await ovs?.stop();
});

async function firewallPort(vm: Vm, groups: string[]): Promise<FirewallPort> {
  return {
    id: vm.portId,
    mac: vm.mac,
    fixedIps: [vm.ip],
    allowedAddressPairs: [],
    securityGroupIds: groups,
    portSecurityEnabled: true,
    deviceOwner: 'compute:nova',
    networkId: 'net',
    ofport: Number(await ovs.vsctl('get', 'Interface', vm.tap, 'ofport')),
    vifName: vm.tap,
    localVlan: 1,
    networkType: 'vxlan',
    physicalNetwork: undefined,
    segmentationId: undefined,
  };
}

test('pings pass or drop as the groups say; rules added and removed take effect with the next pass', async () => {
  const source = new FakeSource();
  const egressAny = [rule('client', { direction: 'egress', ethertype: 'IPv4' })];
  source.groups.set('client', { id: 'client', stateful: true, rules: egressAny });
  source.groups.set('server', {
    id: 'server',
    stateful: true,
    rules: [rule('server', { direction: 'egress', ethertype: 'IPv4' }), rule('server', { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 22, portRangeMax: 22 })],
  });
  source.members.set('client', { IPv4: [[a.ip, a.mac]], IPv6: [] });
  let refilterAsked = 0;
  const driver = new OVSFirewallDriver(new OVSBridge(BR, new OfctlBackend({ timeoutSec: 10, env: ovs.env }).bridge(BR)), source, {
    onRefilterNeeded: () => refilterAsked++,
  });
  await driver.start();
  const ports = [await firewallPort(a, ['client']), await firewallPort(b, ['server'])];
  await driver.filterPorts({ added: ports, updated: [], removed: [] });

  assert.equal(await ping(a, b.ip, { count: 2, timeoutMs: 2000 }), 0, 'server admits only tcp/22');

  // Ingress ICMP from members of "client" (a remote-group rule: a conjunction).
  source.groups.get('server')!.rules.push(rule('server', { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', remoteGroupId: 'client' }));
  source.emit({ rulesChanged: new Set(['server']) });
  assert.equal(refilterAsked, 1);
  const ids = driver.takeRefilterIds();
  await driver.filterPorts({ added: [], updated: ports.filter((p) => ids.has(p.id)), removed: [] });
  assert.equal(await ping(a, b.ip, { count: 3 }), 3, 'a is a member of client: allowed, replies come back');
  assert.equal(await ping(b, a.ip, { count: 2, timeoutMs: 2000 }), 0, 'client admits nothing: b cannot ping a');

  // a's address leaves the group: its packets no longer complete the conjunction.
  source.members.set('client', { IPv4: [], IPv6: [] });
  source.emit({ membersChanged: new Set(['client']) });
  const memberRefilter = driver.takeRefilterIds();
  assert.deepEqual([...memberRefilter], [b.portId], 'only the port whose rules refer to client');
  await driver.filterPorts({ added: [], updated: ports.filter((p) => memberRefilter.has(p.id)), removed: [] });
  assert.equal(await ping(a, b.ip, { count: 2, timeoutMs: 2000 }), 0, 'not a member any more');

  // Spoofing: a packet from a with another source address is dropped in table 71.
  source.groups.get('server')!.rules.push(rule('server', { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' }));
  await driver.filterPorts({ added: [], updated: ports, removed: [] });
  assert.equal(await ping(a, b.ip, { count: 3 }), 3, 'icmp from anywhere');
  await a.exec('ip', ['addr', 'flush', 'dev', 'eth0']);
  await a.exec('ip', ['addr', 'add', '192.0.2.66/24', 'dev', 'eth0']);
  try {
    assert.equal(await ping(a, b.ip, { count: 2, timeoutMs: 2000 }), 0, 'a spoofed source address is dropped');
  } finally {
    await a.exec('ip', ['addr', 'flush', 'dev', 'eth0']);
    await a.exec('ip', ['addr', 'add', '192.0.2.10/24', 'dev', 'eth0']);
  }
  assert.equal(await ping(a, b.ip, { count: 2 }), 2, 'its own address again: allowed');
});

test('no blink while other rules change; an established flow is cut when its rule goes', async () => {
  const source = new FakeSource();
  source.groups.set('client', { id: 'client', stateful: true, rules: [rule('client', { direction: 'egress', ethertype: 'IPv4' })] });
  const icmp = rule('server', { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' });
  source.groups.set('server', { id: 'server', stateful: true, rules: [rule('server', { direction: 'egress', ethertype: 'IPv4' }), icmp] });
  const driver = new OVSFirewallDriver(new OVSBridge(BR, new OfctlBackend({ timeoutSec: 10, env: ovs.env }).bridge(BR)), source);
  await driver.start();
  const ports = [await firewallPort(a, ['client']), await firewallPort(b, ['server'])];
  await driver.filterPorts({ added: ports, updated: [], removed: [] });

  // 25 echoes over 5 s while b's rules change six times (tcp ports added, then removed).
  const pinging = ping(a, b.ip, { count: 25, timeoutMs: 8000 });
  for (let i = 0; i < 6; i++) {
    await new Promise((r) => setTimeout(r, 400));
    if (i < 3) source.groups.get('server')!.rules.push(rule('server', { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 1000 + i, portRangeMax: 2000 + i }));
    else source.groups.get('server')!.rules.pop();
    await driver.filterPorts({ added: [], updated: [ports[1]!], removed: [] });
  }
  assert.equal(await pinging, 25, 'no echo lost while unrelated rules changed');

  // The icmp rule goes while a ping runs: the rest of that ping's echoes are dropped.
  const cut = ping(a, b.ip, { count: 25, timeoutMs: 8000 });
  await new Promise((r) => setTimeout(r, 1500));
  const server = source.groups.get('server')!;
  server.rules = server.rules.filter((r) => r !== icmp);
  await driver.filterPorts({ added: [], updated: [ports[1]!], removed: [] });
  const replies = await cut;
  assert.ok(replies > 0 && replies < 20, `replies before the cut only (${replies} of 25)`);
});
