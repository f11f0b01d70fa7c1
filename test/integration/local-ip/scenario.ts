// The local_ip scenario whose reference behaviour test/fixtures/reference/local_ip/<mode>/ holds,
// for `[local_ip] static_nat` False (conntrack NAT, mode `conntrack`) and True (learned static NAT,
// mode `static-nat`): a VLAN network on physnet1 (its segmentation id fixed per mode, so the dumps
// do not depend on the server's choice), VMs A and B on this host, a Local IP on the network
// associated with A, the agent restarted, the association deleted, then one to B. After each step,
// once br-int's flows have settled, `capture` gets them normalised (no cookies or statistics).
import type { NeutronLab, NeutronPort } from '../../../lab/neutron.js';
import { waitFor } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { plugVm, type Vm } from '../../../lab/vm.js';
import { createFilteredPort } from '../../../lab/security-groups.js';
import { SETTLE_REFERENCE, type SettleTimes } from '../firewall/scenarios.js';
import { normaliseFlows } from '../firewall/compare.js';

export type LocalIpMode = 'conntrack' | 'static-nat';
export const LOCAL_IP_MODES: readonly LocalIpMode[] = ['conntrack', 'static-nat'];
export const LOCAL_IP_ADDRESS = '198.51.100.100';

/** The extension's options for either agent (the reference's also has its root_helper line). */
export function localIpIni(mode: LocalIpMode, agentLines: readonly string[] = []): string {
  return ['[agent]', 'extensions = local_ip', ...agentLines, '[local_ip]', `static_nat = ${mode === 'static-nat' ? 'True' : 'False'}`, ''].join('\n');
}

export const VMS = {
  A: { mac: 'fa:16:3e:10:00:0a', ip: '198.51.100.10' },
  B: { mac: 'fa:16:3e:10:00:0b', ip: '198.51.100.11' },
} as const;
type VmName = keyof typeof VMS;

export interface LocalIpScenarioContext {
  lab: NeutronLab;
  ovs: PrivateOvs;
  host: string;
  mode: LocalIpMode;
  assertAgentRunning(): void;
  restartAgent(): Promise<void>;
  capture(step: string, flows: string[]): Promise<void>;
  /** Called once the Local IP is associated with A, before the capture of that step (traffic checks). */
  associated?(vms: Record<VmName, Vm>): Promise<void>;
  log?(line: string): void;
  settle?: SettleTimes;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Neutron's Local IP API (the `local_ip` service plugin). */
export async function createLocalIp(lab: NeutronLab, networkId: string, address: string): Promise<{ id: string; local_port_id: string }> {
  const body = { local_ip: { name: 'lip', project_id: 'lab', network_id: networkId, local_ip_address: address } };
  return (await lab.api<{ local_ip: { id: string; local_port_id: string } }>('POST', '/v2.0/local_ips', body)).local_ip;
}

export async function associateLocalIp(lab: NeutronLab, localIpId: string, port: NeutronPort): Promise<void> {
  await lab.api('POST', `/v2.0/local_ips/${localIpId}/port_associations`, { port_association: { fixed_port_id: port.id, project_id: 'lab' } });
}

export async function dissociateLocalIp(lab: NeutronLab, localIpId: string, portId: string): Promise<void> {
  await lab.api('DELETE', `/v2.0/local_ips/${localIpId}/port_associations/${portId}`);
}

class LocalIpSteps {
  readonly ports = new Map<VmName, NeutronPort>();
  readonly vms = new Map<VmName, Vm>();
  networkId = '';
  private step = 0;

  constructor(private readonly ctx: LocalIpScenarioContext) {}

  async network(): Promise<void> {
    const seg = this.ctx.mode === 'static-nat' ? 171 : 170;
    const net = await this.ctx.lab.createNetwork({ name: `lip-${this.ctx.mode}`, provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: seg } });
    await this.ctx.lab.createSubnet(net.id, '198.51.100.0/24', { gatewayIp: null, dhcp: false });
    this.networkId = net.id;
  }

  async plug(name: VmName): Promise<void> {
    const spec = VMS[name];
    const port = await createFilteredPort(this.ctx.lab, this.networkId, { name, host: this.ctx.host, mac: spec.mac, ip: spec.ip, portSecurity: false });
    this.ports.set(name, port);
    this.vms.set(name, await plugVm(this.ctx.ovs, port));
    await waitFor(async () => {
      this.ctx.assertAgentRunning();
      return (await this.ctx.lab.getPort(port.id)).status === 'ACTIVE';
    }, 120000, `port ${name} ACTIVE`, 250);
  }

  port(name: VmName): NeutronPort {
    const p = this.ports.get(name);
    if (!p) throw new Error(`local_ip scenario: no port ${name}`);
    return p;
  }

  flows = async (): Promise<string[]> => normaliseFlows(await this.ctx.ovs.dumpFlows('br-int'));

  async capture(what: string, change: () => Promise<void>): Promise<void> {
    const before = JSON.stringify(await this.flows());
    await change();
    const { changeMs, quietMs, maxMs, pollMs } = this.ctx.settle ?? SETTLE_REFERENCE;
    const t0 = Date.now();
    let last = JSON.stringify(await this.flows());
    while (last === before && Date.now() - t0 < changeMs) {
      this.ctx.assertAgentRunning();
      await sleep(pollMs);
      last = JSON.stringify(await this.flows());
    }
    let since = Date.now();
    while (Date.now() - since < quietMs) {
      if (Date.now() - t0 > changeMs + maxMs) throw new Error(`local_ip scenario: flows still changing after ${maxMs} ms`);
      this.ctx.assertAgentRunning();
      await sleep(pollMs);
      const now = JSON.stringify(await this.flows());
      if (now !== last) [last, since] = [now, Date.now()];
    }
    const name = `${String(++this.step).padStart(2, '0')}-${what}`;
    await this.ctx.capture(name, JSON.parse(last) as string[]);
    this.ctx.log?.(`local_ip ${this.ctx.mode}: captured ${name}`);
  }
}

export async function runLocalIpScenario(ctx: LocalIpScenarioContext): Promise<void> {
  const s = new LocalIpSteps(ctx);
  await s.network();
  await s.capture('started', async () => {
    await s.plug('A');
    await s.plug('B');
  });
  const lip = await createLocalIp(ctx.lab, s.networkId, LOCAL_IP_ADDRESS);
  await s.capture('a-associated', async () => {
    await associateLocalIp(ctx.lab, lip.id, s.port('A'));
  });
  if (ctx.associated) await ctx.associated({ A: s.vms.get('A')!, B: s.vms.get('B')! });
  await s.capture('restarted', () => ctx.restartAgent());
  await s.capture('a-dissociated', () => dissociateLocalIp(ctx.lab, lip.id, s.port('A').id));
  await s.capture('b-associated', () => associateLocalIp(ctx.lab, lip.id, s.port('B')));
}

/**
 * What a scenario run leaves on the server removed (associations, Local IPs, then ports and
 * networks), so the next run in the same lab can create its VLAN network again.
 */
export async function clearLocalIpScenario(lab: NeutronLab): Promise<void> {
  const lips = (await lab.api<{ local_ips: Array<{ id: string }> }>('GET', '/v2.0/local_ips')).local_ips;
  for (const lip of lips) {
    const assocs = (await lab.api<{ port_associations: Array<{ fixed_port_id: string }> }>('GET', `/v2.0/local_ips/${lip.id}/port_associations`)).port_associations;
    for (const a of assocs) await dissociateLocalIp(lab, lip.id, a.fixed_port_id);
    await lab.api('DELETE', `/v2.0/local_ips/${lip.id}`);
  }
  for (const p of await lab.listPorts()) await lab.api('DELETE', `/v2.0/ports/${p.id}`);
  for (const n of await lab.listNetworks()) await lab.api('DELETE', `/v2.0/networks/${n.id}`);
}
