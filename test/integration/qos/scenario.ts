// The QoS scenario whose reference behaviour test/fixtures/reference/qos/ holds: one VLAN network
// (physnet1, so a minimum-bandwidth rule is allowed; its provider bridge has a physical port for
// the queues), three VM ports A, B, C, and a fixed sequence of policy, rule and port changes,
// runnable against either agent. After each step, once the agent has settled (its QoS state
// unchanged for a while), `capture` is called with the step's name: `NN-what`.
//
// Determinism as in the firewall scenarios: explicit MACs and addresses, ports plugged one at a
// time and waited for until ACTIVE (ofports 3, 4, 5 after the patch ports... in plug order).
// Port A's device_owner is empty, not `compute:nova`: neutron refuses adding a minimum_bandwidth
// rule to a policy a bound compute port uses (placement would have to change), step 07 does that.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { NeutronLab, NeutronPort, QosRuleFields, QosRuleType } from '../../../lab/neutron.js';
import { waitFor } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { plugVm, type Vm } from '../../../lab/vm.js';
import { createFilteredPort } from '../../../lab/security-groups.js';
import { SETTLE_REFERENCE, type SettleTimes } from '../firewall/scenarios.js';
import { qosSnapshot, type QosSnapshot, type SnapshotNames } from './snapshot.js';

/** The provider bridge and its physical port (a veth end the runner creates), for minimum-bandwidth queues. */
export const QOS_PHYSICAL_BRIDGE = 'br-phys';
export const QOS_PHYSICAL_PORT = 'qosphys0';

const runCmd = promisify(execFile);

/**
 * br-phys with a "NIC" on it: the minimum-bandwidth queues go on the provider bridge's ports of
 * type "" (a veth end is one). Resolves to what removes the veth again.
 */
export async function addPhysicalBridge(ovs: PrivateOvs): Promise<() => Promise<void>> {
  await ovs.addBridge(QOS_PHYSICAL_BRIDGE);
  await runCmd('ip', ['link', 'add', QOS_PHYSICAL_PORT, 'type', 'veth', 'peer', 'name', `${QOS_PHYSICAL_PORT}p`]);
  const remove = async (): Promise<void> => {
    await runCmd('ip', ['link', 'del', QOS_PHYSICAL_PORT]);
  };
  await runCmd('ip', ['link', 'set', QOS_PHYSICAL_PORT, 'up']);
  await runCmd('ip', ['link', 'set', `${QOS_PHYSICAL_PORT}p`, 'up']);
  await ovs.vsctl('add-port', QOS_PHYSICAL_BRIDGE, QOS_PHYSICAL_PORT);
  return remove;
}

export interface QosScenarioContext {
  lab: NeutronLab;
  ovs: PrivateOvs;
  host: string;
  assertAgentRunning(): void;
  /** Stops the agent under test and starts it again on the same configuration; resolves once it is up. */
  restartAgent(): Promise<void>;
  capture(step: string, snapshot: QosSnapshot): Promise<void>;
  log?(line: string): void;
  settle?: SettleTimes;
}

const PORTS = {
  A: { mac: 'fa:16:3e:51:00:0a', ip: '198.51.100.10', deviceOwner: '' },
  B: { mac: 'fa:16:3e:51:00:0b', ip: '198.51.100.11', deviceOwner: 'compute:nova' },
  C: { mac: 'fa:16:3e:51:00:0c', ip: '198.51.100.12', deviceOwner: 'compute:nova' },
} as const;
type PortName = keyof typeof PORTS;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class QosSteps {
  readonly names: SnapshotNames = { ports: new Map(), ids: new Map(), physicalPorts: [QOS_PHYSICAL_PORT], bridges: ['br-int', QOS_PHYSICAL_BRIDGE] };
  private readonly vms = new Map<PortName, Vm>();
  private readonly rules = new Map<string, { policy: string; type: QosRuleType; id: string }>();
  private step = 0;

  constructor(private readonly ctx: QosScenarioContext) {}

  private say(line: string): void {
    this.ctx.log?.(`qos: ${line}`);
  }

  snapshot(): Promise<QosSnapshot> {
    return qosSnapshot(this.ctx.ovs, this.names);
  }

  id(name: string): string {
    const id = this.names.ids.get(name) ?? this.names.ports.get(name);
    if (id === undefined) throw new Error(`qos scenario: nothing named ${name} yet`);
    return id;
  }

  async network(): Promise<void> {
    const net = await this.ctx.lab.createNetwork({ name: 'qos-net', provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: 150 } });
    this.names.ids.set('net', net.id);
    await this.ctx.lab.createSubnet(net.id, '198.51.100.0/24', { gatewayIp: null });
  }

  async plug(name: PortName): Promise<NeutronPort> {
    const spec = PORTS[name];
    const port = await createFilteredPort(this.ctx.lab, this.id('net'), { name, host: this.ctx.host, mac: spec.mac, ip: spec.ip, deviceOwner: spec.deviceOwner });
    this.names.ports.set(name, port.id);
    this.vms.set(name, await plugVm(this.ctx.ovs, port));
    await waitFor(
      async () => {
        this.ctx.assertAgentRunning();
        return (await this.ctx.lab.getPort(port.id)).status === 'ACTIVE';
      },
      120000,
      `port ${name} ACTIVE`,
      250,
    );
    this.say(`port ${name} plugged and ACTIVE`);
    return port;
  }

  async policy(name: string): Promise<string> {
    const p = await this.ctx.lab.createQosPolicy(name);
    this.names.ids.set(name, p.id);
    return p.id;
  }

  async rule<T extends QosRuleType>(label: string, policy: string, type: T, fields: QosRuleFields[T]): Promise<void> {
    const r = await this.ctx.lab.createQosRule(this.id(policy), type, fields);
    this.rules.set(label, { policy, type, id: r.id });
  }

  async updateRule<T extends QosRuleType>(label: string, type: T, fields: Partial<QosRuleFields[T]>): Promise<void> {
    const r = this.ruleNamed(label);
    if (r.type !== type) throw new Error(`qos scenario: rule ${label} is a ${r.type} rule, not ${type}`);
    await this.ctx.lab.updateQosRule(this.id(r.policy), type, r.id, fields);
  }

  async deleteRule(label: string): Promise<void> {
    const r = this.ruleNamed(label);
    await this.ctx.lab.deleteQosRule(this.id(r.policy), r.type, r.id);
    this.rules.delete(label);
  }

  private ruleNamed(label: string): { policy: string; type: QosRuleType; id: string } {
    const r = this.rules.get(label);
    if (r === undefined) throw new Error(`qos scenario: no rule ${label}`);
    return r;
  }

  async unplugAndDelete(name: PortName): Promise<void> {
    await this.vms.get(name)?.unplug();
    this.vms.delete(name);
    await this.ctx.lab.deletePort(this.id(name));
  }

  /** Runs `change`, waits for the agent to settle, and captures the state as step `what`. */
  async capture(what: string, change: () => Promise<void>): Promise<void> {
    const before = JSON.stringify(await this.snapshot());
    await change();
    const settled = await this.settle(before);
    const name = `${String(++this.step).padStart(2, '0')}-${what}`;
    await this.ctx.capture(name, settled);
    this.say(`captured ${name}`);
  }

  /** As the firewall scenarios settle, on the whole QoS snapshot instead of br-int's flows alone. */
  private async settle(before: string): Promise<QosSnapshot> {
    const { changeMs, quietMs, maxMs, pollMs } = this.ctx.settle ?? SETTLE_REFERENCE;
    const t0 = Date.now();
    let snap = await this.snapshot();
    let last = JSON.stringify(snap);
    while (last === before && Date.now() - t0 < changeMs) {
      this.ctx.assertAgentRunning();
      await sleep(pollMs);
      snap = await this.snapshot();
      last = JSON.stringify(snap);
    }
    if (last === before) this.say(`QoS state unchanged after ${changeMs} ms`);
    let since = Date.now();
    const end = Date.now() + maxMs;
    while (Date.now() - since < quietMs) {
      if (Date.now() > end) throw new Error(`qos scenario: QoS state still changing after ${maxMs} ms`);
      this.ctx.assertAgentRunning();
      await sleep(pollMs);
      const now = await this.snapshot();
      const text = JSON.stringify(now);
      if (text !== last) {
        [snap, last, since] = [now, text, Date.now()];
      }
    }
    return snap;
  }
}

/** Runs the scenario; returns the scenario names of the neutron ids it created. */
export async function runQosScenario(ctx: QosScenarioContext): Promise<Map<string, string>> {
  const s = new QosSteps(ctx);
  const { lab } = ctx;
  await s.network();
  for (const p of ['A', 'B', 'C'] as const) await s.plug(p);
  await s.capture('started', async () => undefined);

  await s.capture('a-bw-limit', async () => {
    await s.policy('qos-a');
    await s.rule('a-egress', 'qos-a', 'bandwidth_limit', { direction: 'egress', max_kbps: 10000, max_burst_kbps: 8000 });
    await s.rule('a-ingress', 'qos-a', 'bandwidth_limit', { direction: 'ingress', max_kbps: 5000 });
    await lab.setPortQosPolicy(s.id('A'), s.id('qos-a'));
  });
  await s.capture('a-egress-20000', () => s.updateRule('a-egress', 'bandwidth_limit', { max_kbps: 20000 }));
  await s.capture('a-dscp-26', () => s.rule('a-dscp', 'qos-a', 'dscp_marking', { dscp_mark: 26 }));
  await s.capture('b-packet-rate', async () => {
    await s.policy('qos-b');
    await s.rule('b-egress', 'qos-b', 'packet_rate_limit', { direction: 'egress', max_kpps: 1, max_burst_kpps: 1 });
    await s.rule('b-ingress', 'qos-b', 'packet_rate_limit', { direction: 'ingress', max_kpps: 2, max_burst_kpps: 1 });
    await lab.setPortQosPolicy(s.id('B'), s.id('qos-b'));
  });
  await s.capture('network-bw-limit', async () => {
    await s.policy('qos-net');
    await s.rule('net-egress', 'qos-net', 'bandwidth_limit', { direction: 'egress', max_kbps: 3000 });
    await lab.setNetworkQosPolicy(s.id('net'), s.id('qos-net'));
  });
  await s.capture('a-min-bw', () => s.rule('a-min-bw', 'qos-a', 'minimum_bandwidth', { direction: 'egress', min_kbps: 1000 }));

  await s.capture('a-dscp-deleted', () => s.deleteRule('a-dscp'));
  await s.capture('a-min-bw-deleted', () => s.deleteRule('a-min-bw'));
  await s.capture('a-egress-deleted', () => s.deleteRule('a-egress'));
  await s.capture('a-ingress-deleted', () => s.deleteRule('a-ingress'));
  await s.capture('b-egress-pps-deleted', () => s.deleteRule('b-egress'));
  await s.capture('network-rule-deleted', () => s.deleteRule('net-egress'));

  await s.capture('a-policy-detached', async () => void (await lab.setPortQosPolicy(s.id('A'), null)));
  await s.capture('network-policy-detached', async () => void (await lab.setNetworkQosPolicy(s.id('net'), null)));
  await s.capture('a-deleted', () => s.unplugAndDelete('A'));

  // B keeps its policy (ingress packet rate) across the restart; bandwidth limits on it as well
  // show how the reference clears and rebuilds the QoS and Queue rows at start-up.
  await s.capture('b-bw-limit', async () => {
    await s.rule('b-bw-egress', 'qos-b', 'bandwidth_limit', { direction: 'egress', max_kbps: 6000, max_burst_kbps: 600 });
    await s.rule('b-bw-ingress', 'qos-b', 'bandwidth_limit', { direction: 'ingress', max_kbps: 4000, max_burst_kbps: 400 });
  });
  await s.capture('restarted', () => ctx.restartAgent());
  // Detaching a policy whose rules are all still there (step 14 detached an empty one).
  await s.capture('b-policy-detached', async () => void (await lab.setPortQosPolicy(s.id('B'), null)));
  // A port deleted while its policy applies (step 16 deleted one with nothing left on it).
  await s.capture('b-policy-reattached', async () => void (await lab.setPortQosPolicy(s.id('B'), s.id('qos-b'))));
  await s.capture('b-deleted', () => s.unplugAndDelete('B'));
  const ids = new Map(s.names.ids);
  for (const [n, id] of s.names.ports) ids.set(n, id);
  return ids;
}
