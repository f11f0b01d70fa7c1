// The iptables_hybrid driver filtering real traffic: two VMs plugged the hybrid way (tap on a qbr
// Linux bridge, qvb/qvo veth to a private OVS br-int forwarding NORMAL), the driver applying
// security groups to this network namespace's iptables (run under scripts/netns-run.sh). The groups
// come from a fixed in-memory source: the resource cache is not what is tested here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import { PrivateOvs } from '../../../lab/ovs.js';
import { plugHybridVm, type HybridVm } from '../../../lab/hybrid-vm.js';
import { IptablesHybridFirewall } from '../../../src/firewall/iptables/driver.js';
import type { FirewallPort, SecurityGroup, SecurityGroupChange, SecurityGroupInfo, SecurityGroupSource } from '../../../src/firewall/types.js';

class FixedSource implements SecurityGroupSource {
  groups = new Map<string, SecurityGroup>();
  private listeners: Array<(c: SecurityGroupChange) => void> = [];
  async infoFor(ports: readonly FirewallPort[]): Promise<SecurityGroupInfo> {
    const ids = new Set(ports.flatMap((p) => p.securityGroupIds));
    return { securityGroups: new Map([...this.groups].filter(([id]) => ids.has(id))), members: new Map(), addressGroups: new Map() };
  }
  onChange(listener: (c: SecurityGroupChange) => void): void {
    this.listeners.push(listener);
  }
  changeRules(id: string, group: SecurityGroup): void {
    this.groups.set(id, group);
    for (const l of this.listeners) l({ rulesChanged: new Set([id]), membersChanged: new Set(), addressGroupsChanged: new Set() });
  }
}

let ovs: PrivateOvs;
const vms: HybridVm[] = [];
const SG = randomUUID();

function firewallPort(vm: HybridVm, securityGroupIds: string[]): FirewallPort {
  return {
    id: vm.portId, mac: vm.mac, fixedIps: [vm.ip], allowedAddressPairs: [], securityGroupIds, portSecurityEnabled: true,
    deviceOwner: 'compute:nova', networkId: 'net', ofport: 0, vifName: vm.devices.qvo, localVlan: 1, networkType: 'vxlan',
    physicalNetwork: undefined, segmentationId: undefined,
  };
}

/** Pings once from a new ping process (a new ICMP id, so a new conntrack entry); true if answered. */
function pings(from: HybridVm, to: HybridVm): boolean {
  try {
    execFileSync('ip', ['netns', 'exec', from.netns, 'ping', '-n', '-q', '-c', '1', '-W', '1', to.ip], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

before(async () => {
  ovs = await PrivateOvs.start();
  await ovs.addBridge('br-int');
  for (const [n, mac] of [[21, 'fa:16:3e:00:01:21'], [22, 'fa:16:3e:00:01:22']] as const) {
    vms.push(await plugHybridVm(ovs, { id: randomUUID(), mac_address: mac, fixed_ips: [{ ip_address: `192.0.2.${n}` }] }));
  }
}, { timeout: 60000 });

after(async () => {
  for (const vm of vms) await vm.unplug().catch((e: unknown) => process.stderr.write(`${String(e)}\n`));
  await ovs?.stop();
});

test('security groups decide which pings between hybrid-plugged VMs pass', { timeout: 60000 }, async () => {
  const [a, b] = vms as [HybridVm, HybridVm];
  assert.ok(pings(a, b), 'unfiltered VMs reach each other (the plumbing works)');
  const source = new FixedSource();
  const egressAny = [
    { id: 'e4', securityGroupId: SG, direction: 'egress' as const, ethertype: 'IPv4' as const },
    { id: 'e6', securityGroupId: SG, direction: 'egress' as const, ethertype: 'IPv6' as const },
  ];
  const icmpIn = { id: 'icmp', securityGroupId: SG, direction: 'ingress' as const, ethertype: 'IPv4' as const, protocol: 'icmp', remoteIpPrefix: '192.0.2.0/24' };
  source.groups.set(SG, { id: SG, stateful: true, rules: [...egressAny, icmpIn] });
  const fw = new IptablesHybridFirewall({ source });
  await fw.start();
  await fw.filterPorts({ added: [firewallPort(a, [SG]), firewallPort(b, [SG])], updated: [], removed: [] });
  assert.ok(pings(a, b), 'icmp allowed in by the group');
  assert.ok(pings(b, a), 'both ways');

  // one ping process: one ICMP id, one conntrack entry, ESTABLISHED after its first packet
  const flood = spawn('ip', ['netns', 'exec', a.netns, 'ping', '-n', '-i', '0.1', '-W', '1', b.ip], { stdio: ['ignore', 'pipe', 'ignore'] });
  const replies: number[] = [];
  flood.stdout.on('data', (buf: Buffer) => {
    for (const l of buf.toString().split('\n')) if (/bytes from/.test(l)) replies.push(performance.now());
  });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(replies.length > 3, `the long-running ping is answered (${replies.length} replies)`);
    source.changeRules(SG, { id: SG, stateful: true, rules: egressAny });
    const refilter = fw.takeRefilterIds();
    assert.deepEqual([...refilter].sort(), [a.portId, b.portId].sort());
    await fw.filterPorts({ added: [], updated: [firewallPort(a, [SG]), firewallPort(b, [SG])], removed: [] });
    const cut = performance.now();
    await new Promise((r) => setTimeout(r, 1500));
    const late = replies.filter((t) => t > cut + 200).length;
    assert.equal(late, 0, 'the established ping is cut once its rule is gone (its conntrack entries deleted)');
  } finally {
    flood.kill('SIGINT');
  }
  assert.ok(!pings(a, b), 'icmp no longer allowed in: a new ping is dropped');

  // a spoofed source address is dropped by the anti-spoofing chain even with icmp allowed again
  source.changeRules(SG, { id: SG, stateful: true, rules: [...egressAny, icmpIn] });
  fw.takeRefilterIds();
  await fw.filterPorts({ added: [], updated: [firewallPort(a, [SG]), firewallPort(b, [SG])], removed: [] });
  assert.ok(pings(a, b), 'allowed again');
  await a.exec('ip', ['addr', 'add', '192.0.2.99/24', 'dev', 'eth0']);
  try {
    assert.throws(() => execFileSync('ip', ['netns', 'exec', a.netns, 'ping', '-n', '-q', '-c', '1', '-W', '1', '-I', '192.0.2.99', b.ip], { stdio: 'ignore' }));
  } finally {
    await a.exec('ip', ['addr', 'del', '192.0.2.99/24', 'dev', 'eth0']);
  }

  // removed ports: their chains go and the VMs are unfiltered again
  await fw.filterPorts({ added: [], updated: [], removed: [a.portId, b.portId] });
  const saved = execFileSync('iptables-save', [], { encoding: 'utf8' });
  assert.ok(!saved.includes(a.portId.slice(0, 10)) && !saved.includes(b.portId.slice(0, 10)), saved);
  await fw.stop();
});
