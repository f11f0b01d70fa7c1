// DVR traffic: two simulated compute hosts (each its own namespace and OVS, joined by a wire),
// ovs-agent with enable_distributed_routing and Debian's neutron-l3-agent in dvr mode on each; one
// distributed router with two vxlan subnets. VM a1 (subnet A) and b1 (subnet B) on host 1, b2
// (subnet B) on host 2. Routed traffic passes on one host and across hosts; on the wire the routed
// packets carry the sending host's DVR MAC, never a router interface's MAC; restarting both
// ovs-agents loses no routed packet.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type NeutronLab, labSkipReason, waitFor } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { ping, cleanupAllVms, type Vm } from '../../../lab/vm.js';
import { assertCovers, FlowWatch, Pinger, type Killable } from '../../helpers/resilience.js';
import { dvrMacOf } from './startup-scenario.js';
import { DvrTwoHosts, WireCapture, startOvsAgent } from './two-hosts-dvr.js';

const skip = labSkipReason();

describe('DVR: routed traffic between two hosts', { skip }, () => {
  let lab: NeutronLab;
  let dvr: DvrTwoHosts;
  const vm: Record<'a1' | 'b1' | 'b2', Vm> = {} as Record<'a1' | 'b1' | 'b2', Vm>;
  const routerMacs: string[] = [];
  const dvrMacs: string[] = [];

  before(async () => {
    lab = await startLab({ dvr: true });
    dvr = await DvrTwoHosts.start(lab);
    const [h1, h2] = dvr.sims.hosts;
    for (const h of [h1, h2]) dvrMacs.push(await dvrMacOf(lab, h.name));
    const netA = await lab.createNetwork({ name: 'dvr-a' });
    const netB = await lab.createNetwork({ name: 'dvr-b' });
    const subA = await lab.createSubnet(netA.id, '198.51.100.0/24');
    const subB = await lab.createSubnet(netB.id, '203.0.113.0/24');
    const router = (await lab.api<{ router: { id: string } }>('POST', '/v2.0/routers', { router: { name: 'dvr-r', tenant_id: 'lab', distributed: true } })).router;
    for (const sub of [subA, subB]) {
      const itf = await lab.api<{ port_id: string }>('PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: sub.id });
      routerMacs.push((await lab.getPort(itf.port_id)).mac_address);
    }
    for (const [name, net, host, gw] of [['a1', netA, h1, '198.51.100.1'], ['b1', netB, h1, '203.0.113.1'], ['b2', netB, h2, '203.0.113.1']] as const) {
      const port = await lab.createPort(net.id, { name, host: host.name });
      vm[name] = await dvr.sims.plug(host, port);
      await vm[name].exec('ip', ['route', 'add', 'default', 'via', gw]);
      await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 60000, `port of ${name} ACTIVE`, 200);
    }
  }, { timeout: 360000 });

  after(async () => {
    // The hosts first: their namespaces are among those cleanupAllVms would delete.
    await dvr?.stop();
    await cleanupAllVms();
    await lab?.stop();
  }, { timeout: 120000 });

  /** Waits until the routers are in place on both hosts: routed pings answered both ways. */
  async function routed(from: Vm, to: Vm): Promise<void> {
    await waitFor(async () => (await ping(from, to.ip, { count: 1, timeoutMs: 1000 })) === 1, 120000, `a routed ping from ${from.ip} to ${to.ip}\n${dvr.logs()}`, 200);
  }

  it('VMs on different subnets reach each other on one host and across hosts; the wire carries the DVR MACs', async () => {
    await routed(vm.a1, vm.b1);
    await routed(vm.a1, vm.b2);
    await routed(vm.b2, vm.a1);
    assert.equal(await ping(vm.a1, vm.b1.ip, { count: 3 }), 3, 'a1 reaches b1 on host 1 through the router');
    assert.equal(await ping(vm.b1, vm.a1.ip, { count: 3 }), 3, 'b1 reaches a1 on host 1 through the router');

    const wire = await WireCapture.start(dvr.sims.hosts[0]);
    let frames;
    try {
      assert.equal(await ping(vm.a1, vm.b2.ip, { count: 3 }), 3, 'a1 on host 1 reaches b2 on host 2 through the router');
      assert.equal(await ping(vm.b2, vm.a1.ip, { count: 3 }), 3, 'b2 on host 2 reaches a1 on host 1 through the router');
    } finally {
      frames = await wire.stop();
    }
    // Routed packets across the wire: host 1 routes a1's (subnet A to B), host 2 routes b2's (B to A).
    const fromHost1 = frames.filter((f) => f.from === vm.a1.ip && f.to === vm.b2.ip);
    const fromHost2 = frames.filter((f) => f.from === vm.b2.ip && f.to === vm.a1.ip);
    assert.ok(fromHost1.length >= 6 && fromHost2.length >= 6, `routed echoes on the wire, both ways:\n${wire.text.slice(-3000)}`);
    for (const f of fromHost1) assert.deepEqual([f.src, f.dst], [dvrMacs[0], vm.b2.mac], `a1 -> b2 on the wire, routed by host 1: ${JSON.stringify(f)}`);
    for (const f of fromHost2) assert.deepEqual([f.src, f.dst], [dvrMacs[1], vm.a1.mac], `b2 -> a1 on the wire, routed by host 2: ${JSON.stringify(f)}`);
    const leaked = frames.filter((f) => routerMacs.includes(f.src));
    assert.deepEqual(leaked, [], 'no frame on the wire has a router interface\'s MAC as its source');
  });

  it('restarting both ovs-agents loses no routed packet, on one host or across hosts', async () => {
    const running: Killable[] = [];
    try {
      await routed(vm.a1, vm.b2);
      const pingers = [
        ['a1 to b1 (host 1)', await Pinger.startAnswered(vm.a1, vm.b1.ip, running)],
        ['a1 to b2 (host 1 to host 2)', await Pinger.startAnswered(vm.a1, vm.b2.ip, running)],
        ['b2 to a1 (host 2 to host 1)', await Pinger.startAnswered(vm.b2, vm.a1.ip, running)],
      ] as const;
      const watches = await Promise.all(dvr.sims.hosts.map(async (h) => FlowWatch.start(h.ovs, ['br-int', 'br-tun'])));
      running.push(...watches);
      const from = Date.now();
      await Promise.all(dvr.hosts.map(async (h) => {
        await h.agent.stop();
        h.agent.cleanup();
        h.agent = await startOvsAgent(h.sim, h.files);
      }));
      // Pings on past the restarted agents' first full sync and the stale-flow clean-up after it.
      await new Promise((r) => setTimeout(r, 5000));
      const to = Date.now();
      const gone = (await Promise.all(watches.map(async (w) => w.stop()))).map((r, i) => `host ${i + 1}: ${r.worst.gone.length ? `at +${r.worst.at - from} ms without ${r.worst.gone.join('\n  ')}` : 'no flow missing'}`).join('\n');
      for (const [what, p] of pingers) {
        const summary = await p.stop();
        assert.deepEqual(summary.lostSeqs, [], `${what}: pings lost across the restart (${summary.received} of ${summary.transmitted} answered); flows missing for a while:\n${gone}\n${dvr.logs()}`);
        assertCovers(p.replies.map((r) => r.at), { from, to }, 1000, `${what} across the restart`);
      }
    } finally {
      for (const r of running) r.kill();
    }
  });
});
