// Trunk ports as a tenant sees them, with the real neutron-server (trunk service on), the OVS
// firewall and this machine's userspace datapath: a VM whose parent port is on network A and whose
// VLAN 101 subport is on network B reaches a plain VM on A (untagged) and one on B (tagged 101);
// a VM on A cannot reach the subport's address; the subport's own security groups filter what
// reaches it; an agent restart loses no packet; a subport removed from the trunk stops passing
// traffic; the trunk is ACTIVE on the server. The guest tags with an Open vSwitch bridge of its own (lab/trunk-vm.ts): this kernel
// has no 802.1q module.
//
// Ours runs once per OpenFlow backend; TRUNK_TEST_AGENT=reference runs the reference instead
// (once), to show the test itself is right.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type NeutronLab, labSkipReason, waitFor } from '../../../lab/neutron.js';
import { startLab } from '../../../lab/host.js';
import { PrivateOvs } from '../../../lab/ovs.js';
import { ping, type Vm } from '../../../lab/vm.js';
import { Listener, probeTcp } from '../../../lab/traffic.js';
import { createSecurityGroup } from '../../../lab/security-groups.js';
import { getTrunk } from '../../../lab/trunks.js';
import type { TrunkVm } from '../../../lab/trunk-vm.js';
import type { RunningAgent } from '../../../bench/agents.js';
import { TrunkFixture, TRUNK_PHYSICAL_BRIDGE, TRUNK_PORTS } from './scenario.js';
import { endTrunkHost, restartTrunkAgent, startTrunkAgent, trunkTestRuns } from './host.js';
import { assertCovers, Pinger, type Killable } from '../../helpers/resilience.js';


/** Replies to 3 pings from `from` (its interface `source`, if given) to `to`. */
const replies = (from: Pick<Vm, 'netns'>, to: string, source?: string): Promise<number> => ping(from, to, { count: 3, timeoutMs: 3000, ...(source ? { source } : {}) });

/** Pings until `to` answers (the agent may still be writing flows just after ACTIVE); fails after `timeoutMs`. */
async function reaches(from: Pick<Vm, 'netns'>, to: string, source?: string, timeoutMs = 30000): Promise<void> {
  await waitFor(async () => (await replies(from, to, source)) > 0, timeoutMs, `${to} answering pings from ${from.netns}${source ? ` (${source})` : ''}`, 500);
  assert.equal(await replies(from, to, source), 3, `all pings from ${from.netns} to ${to} answered once it answers at all`);
}

/** Pings until `to` stops answering; fails after `timeoutMs`. */
async function stopsReaching(from: Pick<Vm, 'netns'>, to: string, source?: string, timeoutMs = 30000): Promise<void> {
  await waitFor(async () => (await replies(from, to, source)) === 0, timeoutMs, `${to} no longer answering pings from ${from.netns}`, 500);
}

for (const run of trunkTestRuns()) {
  describe(`trunk traffic, ${run === 'reference' ? 'the reference agent' : `ovs-agent, of_interface = ${run}`}`, { skip: labSkipReason(), timeout: 600_000 }, () => {
    let lab: NeutronLab;
    let ovs: PrivateOvs;
    let agent: RunningAgent | undefined;
    let f: TrunkFixture;
    let vm: TrunkVm;
    let a1: Vm;
    let b1: Vm;
    let listener: Listener | undefined;
    const host = `trunktr-${run}`;
    const alive = (): void => agent?.assertRunning();

    before(async () => {
      lab = await startLab();
      ovs = await PrivateOvs.start({ tcp: true });
      await ovs.addBridge(TRUNK_PHYSICAL_BRIDGE);
      agent = await startTrunkAgent(run, lab, ovs, host);
      f = new TrunkFixture(lab, ovs, host);
      await f.networks(['A', 'B']);
      a1 = await f.plainVm('a1', alive);
      b1 = await f.plainVm('b1', alive);
      vm = await f.bootTrunkVm(['S1'], alive);
      listener = await Listener.start(vm, { tcp: [22, 80] });
    }, { timeout: 600_000 });

    after(async () => {
      listener?.stop();
      await endTrunkHost({ fixture: f, agent, ovs, lab });
    }, { timeout: 120_000 });

    it('the trunk, its parent and its subport are ACTIVE on the server', async () => {
      assert.equal((await getTrunk(lab, f.id('T'))).status, 'ACTIVE');
      for (const p of ['P', 'S1'] as const) assert.equal((await lab.getPort(f.id(p))).status, 'ACTIVE', `port ${p}`);
    });

    it('the parent (untagged) reaches a plain VM on A', async () => {
      await reaches(vm, a1.ip, vm.parent.name);
    });

    it('the VLAN 101 subport reaches a plain VM on B', async () => {
      await reaches(vm, b1.ip, vm.iface(101).name);
      await reaches(b1, TRUNK_PORTS.S1.ip);
    });

    it("a VM on A cannot reach the subport's address, even when it sends there directly", async () => {
      // On-link: a1 asks for the subport's address on network A itself, as a VM trying to get at it would.
      await a1.exec('ip', ['route', 'add', '198.51.100.0/24', 'dev', 'eth0']);
      await reaches(a1, TRUNK_PORTS.P.ip);
      assert.equal(await replies(a1, TRUNK_PORTS.S1.ip), 0, 'no reply from the subport on network A');
    });

    it("the subport's own security groups filter what reaches it", async () => {
      assert.equal(await probeTcp(b1, TRUNK_PORTS.S1.ip, 22), 'connected', 'TCP 22: allowed by trunk-sg');
      assert.equal(await probeTcp(b1, TRUNK_PORTS.S1.ip, 80), 'timeout', 'TCP 80: dropped (trunk-sg does not allow it)');
      // Another group on the subport alone: port 80 now, no longer 22; the parent keeps trunk-sg.
      const { sg } = await createSecurityGroup(lab, 'trunk-web', [
        { direction: 'ingress', protocol: 'icmp' },
        { direction: 'ingress', protocol: 'tcp', port_range_min: 80, port_range_max: 80 },
        { direction: 'egress' },
      ]);
      await lab.updatePort(f.id('S1'), { security_groups: [sg.id] });
      await waitFor(async () => (await probeTcp(b1, TRUNK_PORTS.S1.ip, 80)) === 'connected', 30000, 'TCP 80 to the subport allowed by trunk-web', 500);
      assert.equal(await probeTcp(b1, TRUNK_PORTS.S1.ip, 22), 'timeout', 'TCP 22: dropped now');
      assert.equal(await probeTcp(a1, TRUNK_PORTS.P.ip, 22), 'connected', 'the parent still has trunk-sg');
    });

    it('an agent restart loses no packet on the parent or the subport', async () => {
      const running: Killable[] = [];
      try {
        const toB = await Pinger.startAnswered(vm, b1.ip, running, 'pinging b1 from the subport');
        const toA = await Pinger.startAnswered(vm, a1.ip, running, 'pinging a1 from the parent');
        const from = Date.now();
        agent = await restartTrunkAgent(run, agent!, lab, ovs, host);
        // Pings on after the restart's first full sync, past the stale-flow clean-up that follows it.
        await new Promise((r) => setTimeout(r, 5000));
        const to = Date.now();
        for (const [what, p] of [['subport to b1', toB], ['parent to a1', toA]] as const) {
          const summary = await p.stop();
          const times = p.replies.map((r) => r.at);
          assert.deepEqual(summary.lostSeqs, [], `${what}: pings lost across the restart (${summary.received} of ${summary.transmitted} answered)`);
          assertCovers(times, { from, to }, 1000, `${what} across the restart`);
        }
      } finally {
        for (const r of running) r.kill();
      }
    });

    it('a subport removed from the trunk stops passing traffic; the parent goes on', async () => {
      await f.removeSubport('S1');
      await stopsReaching(vm, b1.ip, vm.iface(101).name);
      assert.equal(await replies(b1, TRUNK_PORTS.S1.ip), 0, 'b1 no longer reaches the subport');
      await reaches(vm, a1.ip, vm.parent.name);
    });
  });
}
