// The trunk VM helper (lab/trunk-vm.ts) on a private userspace OVS, no agent: the trunk bridge is
// made as os-vif makes it, the tap carries Nova's external_ids, and what the guest sends on its
// VLAN 101 interface leaves the tap tagged 101 (an access port with tag=101 on the trunk bridge
// gets it), its parent's interface untagged. Unplugging removes the bridges and the namespace.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { PrivateOvs, haveOvs } from '../../../lab/ovs.js';
import { cleanupAllVms, createNamespace, deleteNamespace, ping, plugVm, type VmPortInfo } from '../../../lab/vm.js';
import { plugTrunkVm, type TrunkVm } from '../../../lab/trunk-vm.js';
import { trunkBridgeName } from '../../../lab/trunks.js';

function fakePort(ip: string): VmPortInfo {
  const b = randomBytes(3);
  return { id: randomUUID(), mac_address: `fa:16:3e:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`, fixed_ips: [{ ip_address: ip }] };
}

describe('trunk VM helper on one host', { skip: haveOvs() ? undefined : 'Open vSwitch not installed', timeout: 90_000 }, () => {
  const hostNs = `oahost${randomBytes(3).toString('hex')}`;
  let ovs: PrivateOvs | undefined;
  let vm: TrunkVm | undefined;
  const trunkId = randomUUID();
  const parent = fakePort('203.0.113.10');
  const subport = fakePort('198.51.100.10');

  before(async () => {
    // OVS in a namespace of its own: two userspace vswitchd cannot share one.
    await createNamespace(hostNs);
    ovs = await PrivateOvs.start({ netns: hostNs });
    await ovs.addBridge('br-int');
    vm = await plugTrunkVm(ovs, { trunkId, parent, subports: [{ port: subport, vlan: 101 }] });
  });
  after(async () => {
    await vm?.unplug().catch(() => undefined);
    await cleanupAllVms();
    await ovs?.stop();
    await deleteNamespace(hostNs);
  });

  it("makes tbr-<trunk id> with br-int's datapath_type and plugs the tap with Nova's external_ids", async () => {
    const o = ovs!;
    assert.equal(vm!.trunkBridge, `tbr-${trunkId.slice(0, 10)}`);
    assert.equal(vm!.trunkBridge, trunkBridgeName(trunkId));
    assert.equal(await o.vsctl('get', 'Bridge', vm!.trunkBridge, 'datapath_type'), 'netdev');
    assert.equal(await o.vsctl('port-to-br', vm!.tap), vm!.trunkBridge);
    const ids = await o.vsctl('get', 'Interface', vm!.tap, 'external_ids');
    assert.match(ids, new RegExp(`iface-id="?${parent.id}"?`));
    assert.match(ids, new RegExp(`attached-mac="?${parent.mac_address}"?`));
    assert.match(ids, /iface-status=active/);
    assert.match(ids, new RegExp(`vm-uuid="?${vm!.vmUuid}"?`));
    const links = await vm!.exec('ip', ['-br', 'link']);
    assert.match(links, new RegExp(`${vm!.parent.name}\\s.*${parent.mac_address}`));
    assert.match(links, new RegExp(`${vm!.iface(101).name}\\s.*${subport.mac_address}`));
  });

  it('the guest sends untagged on its parent interface and tagged 101 on its subport interface', async () => {
    const o = ovs!;
    // Stand-ins for br-int's side: an untagged port (as tpt- is) and an access port with tag 101 (as spt- is).
    const untagged = await plugVm(o, fakePort('203.0.113.20'), { bridge: vm!.trunkBridge, nova: false });
    const tagged = await plugVm(o, fakePort('198.51.100.20'), { bridge: vm!.trunkBridge, nova: false });
    await o.vsctl('set', 'Port', tagged.tap, 'tag=101');
    assert.equal(await ping(vm!, untagged.ip, { source: vm!.parent.name }), 3);
    assert.equal(await ping(vm!, tagged.ip, { source: vm!.iface(101).name }), 3);
    // A second VLAN added while running, removed again.
    const extra = await vm!.addVlan(fakePort('192.0.2.10'), 102);
    const tagged102 = await plugVm(o, fakePort('192.0.2.20'), { bridge: vm!.trunkBridge, nova: false });
    await o.vsctl('set', 'Port', tagged102.tap, 'tag=102');
    assert.equal(await ping(vm!, tagged102.ip, { source: extra.name }), 3);
    await vm!.removeVlan(102);
    assert.equal(spawnSync('ip', ['-n', vm!.netns, 'link', 'show', extra.name]).status, 1, `${extra.name} gone from the VM`);
  });

  it('unplugs as os-vif does: the trunk bridge goes, then the guest side', async () => {
    const o = ovs!;
    await vm!.unplug();
    const bridges = (await o.vsctl('list-br')).split('\n');
    assert.ok(!bridges.includes(vm!.trunkBridge), `${vm!.trunkBridge} deleted`);
    assert.ok(!bridges.includes(vm!.guestBridge), `${vm!.guestBridge} deleted`);
    assert.doesNotMatch(spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout, new RegExp(`^${vm!.netns}\\b`, 'm'), 'the VM namespace is gone');
  });
});
