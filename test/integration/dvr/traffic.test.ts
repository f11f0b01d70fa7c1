// DVR traffic: two simulated compute hosts (each its own namespace and OVS, joined by a wire),
// ovs-agent with enable_distributed_routing and Debian's neutron-l3-agent in dvr mode on each; one
// distributed router with two vxlan subnets (A, B), a VLAN one (C, VLAN 160 of physnet1, on the
// bridge of the wire) and a flat one (D, physnet1). VM a1 (subnet A) and b1 (subnet B) on host 1,
// b2 (B), c2 (C) and d2 (D) on host 2. Routed traffic passes on one host and across hosts, over
// VXLAN, VLAN and flat; on the wire the
// routed packets carry the sending host's DVR MAC, never a router interface's MAC; restarting both
// ovs-agents loses no routed packet.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type NeutronLab, labSkipReason, waitFor } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { ping, type Vm } from '../../../lab/vm.js';
import { Pinger, type Killable } from '../../helpers/resilience.js';
import { dvrMacOf } from './startup-scenario.js';
import { DvrTwoHosts, stopDvrTrafficFile, WireCapture, type WireFrame } from './two-hosts-dvr.js';

const skip = labSkipReason();
const VLAN_C = 160;

describe('DVR: routed traffic between two hosts', { skip }, () => {
  let lab: NeutronLab;
  let dvr: DvrTwoHosts;
  type VmName = 'a1' | 'b1' | 'b2' | 'c2' | 'd2';
  const vm = {} as Record<VmName, Vm>;
  const routerMacs: string[] = [];
  const dvrMacs: string[] = [];

  before(async () => {
    lab = await startLab({ dvr: true });
    dvr = await DvrTwoHosts.start(lab);
    const [h1, h2] = dvr.sims.hosts;
    for (const h of [h1, h2]) dvrMacs.push(await dvrMacOf(lab, h.name));
    const netA = await lab.createNetwork({ name: 'dvr-a' });
    const netB = await lab.createNetwork({ name: 'dvr-b' });
    const netC = await lab.createNetwork({ name: 'dvr-c', provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: VLAN_C } });
    const subA = await lab.createSubnet(netA.id, '198.51.100.0/25');
    const netD = await lab.createNetwork({ name: 'dvr-d', provider: { network_type: 'flat', physical_network: 'physnet1' } });
    const subB = await lab.createSubnet(netB.id, '203.0.113.0/25');
    const subC = await lab.createSubnet(netC.id, '198.51.100.128/25');
    const subD = await lab.createSubnet(netD.id, '203.0.113.128/25');
    const router = await lab.createRouter({ name: 'dvr-r', distributed: true });
    for (const sub of [subA, subB, subC, subD]) {
      const itf = await lab.addRouterInterface(router.id, sub.id);
      routerMacs.push((await lab.getPort(itf.port_id)).mac_address);
    }
    const vms = [['a1', netA, h1, subA], ['b1', netB, h1, subB], ['b2', netB, h2, subB], ['c2', netC, h2, subC], ['d2', netD, h2, subD]] as const;
    for (const [name, net, host, sub] of vms) {
      const port = await lab.createPort(net.id, { name, host: host.name });
      vm[name] = await dvr.sims.plug(host, port, { prefixLen: Number(sub.cidr.split('/')[1]) });
      await vm[name].exec('ip', ['route', 'add', 'default', 'via', sub.gateway_ip!]);
      await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 60000, `port of ${name} ACTIVE`, 200);
    }
    // Routed pings pass well before an L3 agent has set the router up in full; its last step, the
    // first address-scope iptables rules, drops routed packets for some milliseconds
    // (L3Agent.routerSettled). What follows measures the OVS agents, so both routers are done first.
    for (const h of dvr.hosts) await h.l3.waitRouterSettled(router.id, 180000);
  }, { timeout: 540000 });

  after(async () => stopDvrTrafficFile(dvr, lab), { timeout: 120000 });

  it('VMs on different subnets reach each other on one host and across hosts, over VXLAN, VLAN and flat; the wire carries the DVR MACs', async () => {
    // Across hosts, each echo is routed by its sender's host onto the destination's network.
    const across = [
      { from: 'a1', to: 'b2', by: 0, vlan: undefined },
      { from: 'b2', to: 'a1', by: 1, vlan: undefined },
      { from: 'a1', to: 'c2', by: 0, vlan: VLAN_C },
      { from: 'c2', to: 'a1', by: 1, vlan: undefined },
      { from: 'a1', to: 'd2', by: 0, vlan: undefined, flat: true },
      { from: 'd2', to: 'a1', by: 1, vlan: undefined },
    ] as const;
    await dvr.waitRouted(vm.a1, vm.b1.ip);
    for (const c of across) await dvr.waitRouted(vm[c.from], vm[c.to].ip);
    assert.equal(await ping(vm.a1, vm.b1.ip, { count: 3 }), 3, 'a1 reaches b1 on host 1 through the router');
    assert.equal(await ping(vm.b1, vm.a1.ip, { count: 3 }), 3, 'b1 reaches a1 on host 1 through the router');

    const wire = await WireCapture.start(dvr.sims.hosts[0]);
    let frames: WireFrame[] = [];
    try {
      for (const c of across) assert.equal(await ping(vm[c.from], vm[c.to].ip, { count: 3 }), 3, `${c.from} reaches ${c.to} across the hosts through the router`);
    } finally {
      frames = await wire.stop();
    }
    for (const c of across) {
      // Three requests of one ping and three replies of the other.
      const seen = frames.filter((f) => f.from === vm[c.from].ip && f.to === vm[c.to].ip);
      assert.ok(seen.length >= 6, `${c.from} -> ${c.to}: routed echoes on the wire:\n${wire.text.slice(-3000)}`);
      for (const f of seen) {
        const encap = c.vlan === undefined && !('flat' in c) ? 'VXLAN' : undefined;
        assert.deepEqual([f.src, f.dst, f.vlan, f.encap], [dvrMacs[c.by], vm[c.to].mac, c.vlan, encap], `${c.from} -> ${c.to} on the wire, routed by host ${c.by + 1}: ${JSON.stringify(f)}`);
      }
    }
    const leaked = frames.filter((f) => routerMacs.includes(f.src));
    assert.deepEqual(leaked, [], 'no frame on the wire has a router interface\'s MAC as its source');
    // No MAC was ever learned on one port of a bridge and then on another, on either host.
    await dvr.assertNoMacMoved();
  });

  it('restarting both ovs-agents loses no routed packet, on one host or across hosts, over VXLAN, VLAN and flat', async () => {
    const running: Killable[] = [];
    try {
      await dvr.waitRouted(vm.a1, vm.b2.ip);
      const pingers = [
        ['a1 to b1 (host 1)', await Pinger.startAnswered(vm.a1, vm.b1.ip, running)],
        ['a1 to b2 (host 1 to host 2)', await Pinger.startAnswered(vm.a1, vm.b2.ip, running)],
        ['b2 to a1 (host 2 to host 1)', await Pinger.startAnswered(vm.b2, vm.a1.ip, running)],
        ['a1 to c2 (host 1 to host 2, VLAN one way)', await Pinger.startAnswered(vm.a1, vm.c2.ip, running)],
        ['a1 to d2 (host 1 to host 2, flat one way)', await Pinger.startAnswered(vm.a1, vm.d2.ip, running)],
      ] as const;
      await dvr.assertRestartLosesNoPing(pingers, running);
    } finally {
      for (const r of running) r.kill();
    }
  });
});
