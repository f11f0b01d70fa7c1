// The trunk scenario whose reference behaviour test/fixtures/reference/trunk/ holds, runnable
// against either agent: networks A (VLAN 160 on physnet1), B and C (vxlan), a plain VM on
// each (so local VLANs are 1, 2, 3 in that order), then a trunk VM whose parent P is on A and whose
// subports S1 (B, VLAN 101) and S2 (C, VLAN 102) are there from the start; then S2 removed, S2
// added again, the agent restarted, and the VM deleted (os-vif deletes the trunk bridge). Every port is in one security
// group (ICMP and TCP 22 in, anything out). After each step, once the agent has settled, `capture`
// gets the step's name (`NN-what`) and the snapshot (snapshot.ts).
//
// As Nova boots a trunk VM: the parent port is created unbound, the trunk made on it, the parent
// bound to the host (device_owner compute:nova), and then os-vif plugs the VM into `tbr-…`.
import type { NeutronLab, NeutronPort } from '../../../lab/neutron.js';
import { waitFor } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { plugVm, type Vm } from '../../../lab/vm.js';
import { createFilteredPort, createSecurityGroup } from '../../../lab/security-groups.js';
import { addSubports, bindTrunkParent, createTrunk, removeSubports, vlanSubport, waitTrunkStatus } from '../../../lab/trunks.js';
import { plugTrunkVm, type TrunkVm } from '../../../lab/trunk-vm.js';
import { SETTLE_REFERENCE, type SettleTimes } from '../firewall/scenarios.js';
import { trunkOvsState, trunkSnapshot, type TrunkNames, type TrunkSnapshot } from './snapshot.js';

/** The provider bridge of physnet1 (network C); the agent's bridge_mappings name it. */
export const TRUNK_PHYSICAL_BRIDGE = 'br-phys';

// The parent's network is the VLAN one: neutron refuses a subport whose network's MTU is above the
// parent's (a vxlan network has 1450, a VLAN one 1500). The vxlan networks' VNIs are given: the
// server would draw them at random, and they show in the ports' other_config.
export const TRUNK_NETWORKS = {
  A: { cidr: '192.0.2.0/24', provider: { network_type: 'vlan' as const, physical_network: 'physnet1', segmentation_id: 160 } },
  B: { cidr: '198.51.100.0/24', provider: { network_type: 'vxlan' as const, segmentation_id: 601 } },
  C: { cidr: '203.0.113.0/24', provider: { network_type: 'vxlan' as const, segmentation_id: 602 } },
} as const;
export type TrunkNetwork = keyof typeof TRUNK_NETWORKS;

/** Every port of the scenario: fixed MACs and addresses, so flows are the same on every run. */
export const TRUNK_PORTS = {
  a1: { net: 'A', mac: 'fa:16:3e:70:00:a1', ip: '192.0.2.11' },
  b1: { net: 'B', mac: 'fa:16:3e:70:00:b1', ip: '198.51.100.11' },
  c1: { net: 'C', mac: 'fa:16:3e:70:00:c1', ip: '203.0.113.11' },
  P: { net: 'A', mac: 'fa:16:3e:70:01:00', ip: '192.0.2.20' },
  S1: { net: 'B', mac: 'fa:16:3e:70:01:01', ip: '198.51.100.20' },
  S2: { net: 'C', mac: 'fa:16:3e:70:01:02', ip: '203.0.113.20' },
} as const satisfies Record<string, { net: TrunkNetwork; mac: string; ip: string }>;
export type TrunkPortName = keyof typeof TRUNK_PORTS;

export const SUBPORT_VLANS = { S1: 101, S2: 102 } as const;

export interface TrunkScenarioContext {
  lab: NeutronLab;
  ovs: PrivateOvs;
  host: string;
  assertAgentRunning(): void;
  /** Stops the agent under test and starts it again on the same configuration; resolves once it is up. */
  restartAgent(): Promise<void>;
  capture(step: string, snapshot: TrunkSnapshot): Promise<void>;
  log?(line: string): void;
  settle?: SettleTimes;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Networks, the security group and ports of the scenario, made through the API (shared with traffic.test.ts). */
export class TrunkFixture {
  readonly names: TrunkNames;
  readonly neutronPorts = new Map<TrunkPortName, NeutronPort>();
  readonly plainVms = new Map<TrunkPortName, Vm>();
  trunkVm?: TrunkVm;

  constructor(
    readonly lab: NeutronLab,
    readonly ovs: PrivateOvs,
    readonly host: string,
  ) {
    this.names = { ports: new Map(), ids: new Map(), host, serverPorts: ['P', 'S1', 'S2'] };
  }

  id(name: string): string {
    const id = this.names.ids.get(name) ?? this.names.ports.get(name);
    if (id === undefined) throw new Error(`trunk scenario: nothing named ${name} yet`);
    return id;
  }

  port(name: TrunkPortName): NeutronPort {
    const p = this.neutronPorts.get(name);
    if (p === undefined) throw new Error(`trunk scenario: no port ${name} yet`);
    return p;
  }

  /** The networks with a subnet each (no gateway, no DHCP) and the security group. */
  async networks(nets: readonly TrunkNetwork[] = ['A', 'B', 'C']): Promise<void> {
    for (const n of nets) {
      const spec = TRUNK_NETWORKS[n];
      const net = await this.lab.createNetwork({ name: `trunk-${n}`, provider: spec.provider });
      this.names.ids.set(n, net.id);
      await this.lab.createSubnet(net.id, spec.cidr, { gatewayIp: null });
    }
    const { sg } = await createSecurityGroup(this.lab, 'trunk-sg', [
      { direction: 'ingress', protocol: 'icmp' },
      { direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 },
      { direction: 'egress' },
    ]);
    this.names.ids.set('sg', sg.id);
  }

  /** A port of the scenario; bound to the host unless `bound` is false (a trunk's parent and subports start unbound). */
  async createPort(name: TrunkPortName, bound: boolean): Promise<NeutronPort> {
    const spec = TRUNK_PORTS[name];
    const port = await createFilteredPort(this.lab, this.id(spec.net), {
      name, host: bound ? this.host : '', mac: spec.mac, ip: spec.ip, securityGroups: [this.id('sg')], deviceOwner: bound ? 'compute:nova' : '',
    });
    // createFilteredPort gives every port a device_id; a subport must have none.
    const created = bound ? port : await this.lab.updatePort(port.id, { device_id: '' });
    this.names.ports.set(name, port.id);
    this.neutronPorts.set(name, created);
    return created;
  }

  async waitActive(name: TrunkPortName, assertAgentRunning: () => void): Promise<void> {
    try {
      await waitFor(async () => {
        assertAgentRunning();
        return (await this.lab.getPort(this.id(name))).status === 'ACTIVE';
      }, 120000, `port ${name} ACTIVE`, 250);
    } catch (e) {
      // Say how far the wiring got: whether the agent connected the trunk bridge to br-int at all.
      const ports = async (br: string): Promise<string> => this.ovs.vsctl('list-ports', br).then((l) => l.split('\n').join(' ') || '(none)', (x: unknown) => `(${String(x)})`);
      const tbr = this.trunkVm?.trunkBridge;
      const where = tbr ? `; ports of ${tbr}: ${await ports(tbr)}; of br-int: ${await ports('br-int')}` : '';
      throw new Error(`${e instanceof Error ? e.message : String(e)}${where}`);
    }
  }

  /** A plain VM on br-int, waited for until ACTIVE. */
  async plainVm(name: TrunkPortName, assertAgentRunning: () => void): Promise<Vm> {
    const port = await this.createPort(name, true);
    const vm = await plugVm(this.ovs, port);
    this.plainVms.set(name, vm);
    await this.waitActive(name, assertAgentRunning);
    return vm;
  }

  /** The trunk on P with the given subports, P bound to the host, the VM plugged; waits for ACTIVE. */
  async bootTrunkVm(subports: Array<'S1' | 'S2'>, assertAgentRunning: () => void): Promise<TrunkVm> {
    const parent = await this.createPort('P', false);
    for (const s of subports) await this.createPort(s, false);
    const trunk = await createTrunk(this.lab, parent.id, { name: 'trunk-T', subports: subports.map((s) => vlanSubport(this.id(s), SUBPORT_VLANS[s])) });
    this.names.ids.set('T', trunk.id);
    this.names.trunkId = trunk.id;
    const vmUuid = crypto.randomUUID();
    this.names.ids.set('vm', vmUuid);
    await bindTrunkParent(this.lab, parent.id, this.host, vmUuid);
    this.trunkVm = await plugTrunkVm(this.ovs, {
      trunkId: trunk.id,
      parent,
      vmUuid,
      subports: subports.map((s) => ({ port: this.port(s), vlan: SUBPORT_VLANS[s] })),
    });
    await this.waitActive('P', assertAgentRunning);
    for (const s of subports) await this.waitActive(s, assertAgentRunning);
    await waitTrunkStatus(this.lab, trunk.id, 'ACTIVE');
    return this.trunkVm;
  }

  async removeSubport(name: 'S1' | 'S2'): Promise<void> {
    await removeSubports(this.lab, this.id('T'), [this.id(name)]);
  }

  async addSubport(name: 'S1' | 'S2'): Promise<void> {
    await addSubports(this.lab, this.id('T'), [vlanSubport(this.id(name), SUBPORT_VLANS[name])]);
  }

  async unplugAll(): Promise<void> {
    await this.trunkVm?.unplug();
    for (const vm of this.plainVms.values()) await vm.unplug();
  }
}

class TrunkSteps {
  private step = 0;
  constructor(
    private readonly ctx: TrunkScenarioContext,
    readonly f: TrunkFixture,
  ) {}

  private say(line: string): void {
    this.ctx.log?.(`trunk: ${line}`);
  }

  private async ovsState(): Promise<string> {
    return JSON.stringify(await trunkOvsState(this.ctx.ovs, this.f.names));
  }

  /**
   * Runs `change`, waits for the agent to settle (OVS rows and flows; quiet for at least
   * `minQuietMs`), then for the server's view, and captures.
   */
  async capture(what: string, change: () => Promise<void>, minQuietMs = 0): Promise<void> {
    const before = await this.ovsState();
    await change();
    await this.settle(before, minQuietMs);
    const snap = await this.settleServer();
    const name = `${String(++this.step).padStart(2, '0')}-${what}`;
    await this.ctx.capture(name, snap);
    this.say(`captured ${name}`);
  }

  private async settle(before: string, minQuietMs: number): Promise<void> {
    const times = this.ctx.settle ?? SETTLE_REFERENCE;
    const { changeMs, maxMs, pollMs } = times;
    const quietMs = Math.max(times.quietMs, minQuietMs);
    const t0 = Date.now();
    let last = await this.ovsState();
    while (last === before && Date.now() - t0 < changeMs) {
      this.ctx.assertAgentRunning();
      await sleep(pollMs);
      last = await this.ovsState();
    }
    if (last === before) this.say(`OVS state unchanged after ${changeMs} ms`);
    let since = Date.now();
    const end = Date.now() + maxMs;
    while (Date.now() - since < quietMs) {
      if (Date.now() > end) throw new Error(`trunk scenario: OVS state still changing after ${maxMs} ms`);
      this.ctx.assertAgentRunning();
      await sleep(pollMs);
      const now = await this.ovsState();
      if (now !== last) [last, since] = [now, Date.now()];
    }
  }

  /** The whole snapshot once the server's part has not changed for 3 s (statuses follow the agent's reports). */
  private async settleServer(): Promise<TrunkSnapshot> {
    let snap = await trunkSnapshot(this.ctx.ovs, this.ctx.lab, this.f.names);
    let text = JSON.stringify(snap.server);
    let since = Date.now();
    const end = Date.now() + 60000;
    while (Date.now() - since < 3000) {
      if (Date.now() > end) throw new Error(`trunk scenario: the server's view still changing after 60 s: ${text}`);
      await sleep(500);
      const now = await trunkSnapshot(this.ctx.ovs, this.ctx.lab, this.f.names);
      const t = JSON.stringify(now.server);
      if (t !== text) [text, since] = [t, Date.now()];
      snap = now;
    }
    return snap;
  }
}

/** Runs the scenario; returns the scenario names of the neutron ids it created (for the leak check). */
export async function runTrunkScenario(ctx: TrunkScenarioContext, fixture = new TrunkFixture(ctx.lab, ctx.ovs, ctx.host)): Promise<Map<string, string>> {
  const s = new TrunkSteps(ctx, fixture);
  const f = fixture;
  await f.networks();
  for (const p of ['a1', 'b1', 'c1'] as const) await f.plainVm(p, () => ctx.assertAgentRunning());
  ctx.log?.('trunk: plain VMs ACTIVE');
  await s.capture('trunk-active', async () => void (await f.bootTrunkVm(['S1', 'S2'], () => ctx.assertAgentRunning())));
  await s.capture('s2-removed', () => f.removeSubport('S2'));
  await s.capture('s2-added-again', () => f.addSubport('S2'));
  // With the trunk in place: the reference rewires it at start-up (the same patch ports again).
  await s.capture('agent-restarted', () => ctx.restartAgent());
  // The reference waits 6 s after the trunk bridge goes (WAIT_BEFORE_TRUNK_DELETE: os-vif might plug
  // the VM again) before it removes the patch ports: the state must hold still for longer than that.
  await s.capture('vm-deleted', async () => f.trunkVm?.unplug(), 12000);
  return new Map([...f.names.ids, ...f.names.ports]);
}
