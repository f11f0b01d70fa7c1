// The security-group logging scenario whose reference behaviour test/fixtures/reference/log/
// holds, runnable against either agent: one vxlan network, ports A and B (compute:nova) in one
// group, log resources created, disabled, enabled, deleted, a rule added, an agent restart, a
// port deleted. After
// each step, once br-int's logging flows have settled, `capture` gets the step's snapshot. One step
// sends traffic (B→A TCP 22 accepted, TCP 80 dropped, ICMP accepted) and keeps the lines logged.
import type { NeutronLab, NeutronPort } from '../../../lab/neutron.js';
import { LAB_PROJECT, waitFor } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { plugVm, ping, type Vm } from '../../../lab/vm.js';
import { Listener, probeTcp } from '../../../lab/traffic.js';
import { createFilteredPort, createRule, createSecurityGroup } from '../../../lab/security-groups.js';
import { SETTLE_REFERENCE, type SettleTimes } from '../firewall/scenarios.js';
import { logSnapshot, type LogSnapshot } from './snapshot.js';

export interface LogScenarioContext {
  lab: NeutronLab;
  ovs: PrivateOvs;
  host: string;
  assertAgentRunning(): void;
  /** Stops the agent under test and starts it again on the same configuration; resolves once it has synced. */
  restartAgent(): Promise<void>;
  capture(step: string, snapshot: LogSnapshot): Promise<void>;
  /** The traffic step is done: the lines logged so far can be read. */
  trafficSent(results: TrafficResults): Promise<void>;
  log?(line: string): void;
  settle?: SettleTimes;
}

export interface TrafficResults {
  ssh: string;
  http: string;
  pings: number;
}

/** Both agents' configuration beyond the lab's (the reference's root commands reach the private OVS through root_helper). */
export function logAgentIni(ovs: PrivateOvs, packetsLog: string): string {
  return [
    '[securitygroup]', 'firewall_driver = openvswitch',
    '[agent]', 'extensions = log', `root_helper = env OVS_RUNDIR=${ovs.dir}`,
    '[network_log]', `local_output_log_base = ${packetsLog}`, '',
  ].join('\n');
}

/** The lines kept for comparison: the probes' packets (TCP 22 and 80, ICMP echo), not background traffic. */
export const PROBE_LINES = /tcp\(.*dst_port=(22|80),|icmp\(.*type=8\)/;

const PORTS = {
  A: { mac: 'fa:16:3e:61:00:0a', ip: '198.51.100.20' },
  B: { mac: 'fa:16:3e:61:00:0b', ip: '198.51.100.21' },
} as const;
type PortName = keyof typeof PORTS;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface NeutronLog {
  id: string;
}

class LogSteps {
  readonly ids = new Map<string, string>();
  readonly vms = new Map<PortName, Vm>();
  private step = 0;
  constructor(private readonly ctx: LogScenarioContext) {}

  id(name: string): string {
    const id = this.ids.get(name);
    if (id === undefined) throw new Error(`log scenario: nothing named ${name}`);
    return id;
  }

  async setup(): Promise<void> {
    const { lab } = this.ctx;
    const net = await lab.createNetwork({ name: 'log-net' });
    this.ids.set('net', net.id);
    await lab.createSubnet(net.id, '198.51.100.0/24', { gatewayIp: null });
    const { sg } = await createSecurityGroup(lab, 'sg-log', [
      { direction: 'ingress', protocol: 'tcp', port_range_min: 22, port_range_max: 22 },
      { direction: 'ingress', protocol: 'icmp' },
      { direction: 'ingress', protocol: 'tcp', port_range_min: 8000, port_range_max: 8001, remote_ip_prefix: '198.51.100.0/24' },
      { direction: 'ingress', protocol: 'udp', remote_group_id: 'self' },
      { direction: 'egress' },
    ]);
    this.ids.set('sg', sg.id);
    for (const p of ['A', 'B'] as const) await this.plug(p);
  }

  private async plug(name: PortName): Promise<NeutronPort> {
    const spec = PORTS[name];
    const port = await createFilteredPort(this.ctx.lab, this.id('net'), { name, host: this.ctx.host, mac: spec.mac, ip: spec.ip, securityGroups: [this.id('sg')] });
    this.ids.set(name, port.id);
    this.vms.set(name, await plugVm(this.ctx.ovs, port));
    await waitFor(async () => {
      this.ctx.assertAgentRunning();
      return (await this.ctx.lab.getPort(port.id)).status === 'ACTIVE';
    }, 120000, `port ${name} ACTIVE`, 250);
    return port;
  }

  async createLog(name: string, event: 'ALL' | 'ACCEPT' | 'DROP', on: { targetId?: string; resourceId?: string }): Promise<void> {
    const log: Record<string, unknown> = { name, resource_type: 'security_group', event, enabled: true, tenant_id: LAB_PROJECT };
    if (on.targetId) log.target_id = on.targetId;
    if (on.resourceId) log.resource_id = on.resourceId;
    const made = await this.ctx.lab.api<{ log: NeutronLog }>('POST', '/v2.0/log/logs', { log });
    this.ids.set(name, made.log.id);
  }

  async setLogEnabled(name: string, enabled: boolean): Promise<void> {
    await this.ctx.lab.api('PUT', `/v2.0/log/logs/${this.id(name)}`, { log: { enabled } });
  }

  async deleteLog(name: string): Promise<void> {
    await this.ctx.lab.api('DELETE', `/v2.0/log/logs/${this.id(name)}`);
  }

  async unplugAndDelete(name: PortName): Promise<void> {
    await this.vms.get(name)?.unplug();
    this.vms.delete(name);
    await this.ctx.lab.deletePort(this.id(name));
  }

  async traffic(): Promise<TrafficResults> {
    const a = this.vms.get('A')!;
    const b = this.vms.get('B')!;
    const listener = await Listener.start(a, { tcp: [22, 80] });
    try {
      const ssh = await probeTcp(b, PORTS.A.ip, 22, { timeoutMs: 3000 });
      const http = await probeTcp(b, PORTS.A.ip, 80, { timeoutMs: 3000 });
      const pings = await ping(b, PORTS.A.ip, { count: 1, timeoutMs: 3000 });
      return { ssh, http, pings };
    } finally {
      listener.stop();
    }
  }

  async capture(what: string, change: () => Promise<void>): Promise<void> {
    const before = JSON.stringify(await logSnapshot(this.ctx.ovs));
    await change();
    const snap = await this.settle(before);
    const name = `${String(++this.step).padStart(2, '0')}-${what}`;
    await this.ctx.capture(name, snap);
    this.ctx.log?.(`log: captured ${name}`);
  }

  private async settle(before: string): Promise<LogSnapshot> {
    const { changeMs, quietMs, maxMs, pollMs } = this.ctx.settle ?? SETTLE_REFERENCE;
    const t0 = Date.now();
    let snap = await logSnapshot(this.ctx.ovs);
    let last = JSON.stringify(snap);
    while (last === before && Date.now() - t0 < changeMs) {
      this.ctx.assertAgentRunning();
      await sleep(pollMs);
      snap = await logSnapshot(this.ctx.ovs);
      last = JSON.stringify(snap);
    }
    let since = Date.now();
    const end = Date.now() + maxMs;
    while (Date.now() - since < quietMs) {
      if (Date.now() > end) throw new Error(`log scenario: flows still changing after ${maxMs} ms`);
      this.ctx.assertAgentRunning();
      await sleep(pollMs);
      const now = await logSnapshot(this.ctx.ovs);
      const text = JSON.stringify(now);
      if (text !== last) [snap, last, since] = [now, text, Date.now()];
    }
    return snap;
  }
}

/** Runs the scenario; returns the scenario names of the neutron ids it created. */
export async function runLogScenario(ctx: LogScenarioContext): Promise<Map<string, string>> {
  const s = new LogSteps(ctx);
  await s.setup();
  await s.capture('started', async () => undefined);
  await s.capture('log-a-all', () => s.createLog('log-a', 'ALL', { targetId: s.id('A') }));
  await s.capture('log-sg-drop', () => s.createLog('log-sg', 'DROP', { resourceId: s.id('sg') }));
  await s.capture('traffic', async () => {
    await ctx.trafficSent(await s.traffic());
  });
  await s.capture('log-a-disabled', () => s.setLogEnabled('log-a', false));
  await s.capture('log-a-enabled', () => s.setLogEnabled('log-a', true));
  await s.capture('rule-added', async () => void (await createRule(ctx.lab, s.id('sg'), { direction: 'ingress', protocol: 'tcp', port_range_min: 443, port_range_max: 443 })));
  await s.capture('log-sg-deleted', () => s.deleteLog('log-sg'));
  // A's logs come back under new cookies and the old cookies' flows go (the cookies' roles compare equal).
  await s.capture('restarted', () => ctx.restartAgent());
  await s.capture('a-deleted', () => s.unplugAndDelete('A'));
  for (const vm of s.vms.values()) await vm.unplug();
  // A shared lab is emptied of ports and networks for its next user, not of log resources
  // (neutron deleted log-a with its target port).
  const left = await ctx.lab.api<{ logs: NeutronLog[] }>('GET', '/v2.0/log/logs');
  for (const l of left.logs) await ctx.lab.api('DELETE', `/v2.0/log/logs/${l.id}`);
  return s.ids;
}
