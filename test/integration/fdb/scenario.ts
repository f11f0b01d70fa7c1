// The fdb scenario whose reference behaviour test/fixtures/reference/fdb/ holds: a "shared NIC" (a
// veth end with a fixed MAC, its peer down so that no address adds multicast entries) mapped to
// physnet1 by `[FDB] shared_physical_device_mappings`, a VLAN network on physnet1 and a VXLAN one,
// and ports whose device owner or network decide whether their MAC goes into the NIC's FDB. After
// each step, once the FDB has settled, `capture` gets `bridge fdb show dev <nic>`, sorted.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { NeutronLab } from '../../../lab/neutron.js';
import { waitFor } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { plugVm, type Vm } from '../../../lab/vm.js';
import { createFilteredPort } from '../../../lab/security-groups.js';
import { SETTLE_REFERENCE, type SettleTimes } from '../firewall/scenarios.js';

const run = promisify(execFile);

export const FDB_NIC = 'fdbnic0';
const FDB_NIC_MAC = '02:00:00:00:fd:b0';

/** The extension's options for either agent (the reference's also has its root_helper line). */
export function fdbIni(agentLines: readonly string[] = []): string {
  return ['[agent]', 'extensions = fdb', ...agentLines, '[FDB]', `shared_physical_device_mappings = physnet1:${FDB_NIC}`, ''].join('\n');
}

/** Creates the shared NIC; resolves to what deletes it. */
export async function addSharedNic(): Promise<() => Promise<void>> {
  await run('ip', ['link', 'add', FDB_NIC, 'address', FDB_NIC_MAC, 'type', 'veth', 'peer', 'name', `${FDB_NIC}p`]);
  await run('ip', ['link', 'set', FDB_NIC, 'up']);
  return async () => void (await run('ip', ['link', 'del', FDB_NIC]));
}

/** The NIC's FDB as `bridge fdb show` prints it, one entry a line, sorted. */
export async function fdbSnapshot(): Promise<string[]> {
  const { stdout } = await run('bridge', ['fdb', 'show', 'dev', FDB_NIC]);
  return stdout.split('\n').map((l) => l.trim()).filter((l) => l !== '').sort();
}

export interface FdbScenarioContext {
  lab: NeutronLab;
  ovs: PrivateOvs;
  host: string;
  assertAgentRunning(): void;
  restartAgent(): Promise<void>;
  capture(step: string, fdb: string[]): Promise<void>;
  log?(line: string): void;
  settle?: SettleTimes;
}

/** A: a VM on physnet1; B: a DHCP port on physnet1; C: no owner on physnet1; D: a VM on the VXLAN network. */
const PORTS = {
  A: { mac: 'fa:16:3e:fd:00:0a', ip: '198.51.100.20', deviceOwner: 'compute:nova', net: 'vlan' },
  B: { mac: 'fa:16:3e:fd:00:0b', ip: '198.51.100.21', deviceOwner: 'network:dhcp', net: 'vlan' },
  C: { mac: 'fa:16:3e:fd:00:0c', ip: '198.51.100.22', deviceOwner: '', net: 'vlan' },
  D: { mac: 'fa:16:3e:fd:00:0d', ip: '203.0.113.20', deviceOwner: 'compute:nova', net: 'vxlan' },
} as const;
type PortName = keyof typeof PORTS;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

class FdbSteps {
  private readonly nets = new Map<string, string>();
  readonly ports = new Map<PortName, string>();
  private readonly vms = new Map<PortName, Vm>();
  private step = 0;

  constructor(private readonly ctx: FdbScenarioContext) {}

  async networks(): Promise<void> {
    const vlan = await this.ctx.lab.createNetwork({ name: 'fdb-vlan', provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: 160 } });
    await this.ctx.lab.createSubnet(vlan.id, '198.51.100.0/24', { gatewayIp: null, dhcp: false });
    const vxlan = await this.ctx.lab.createNetwork({ name: 'fdb-vxlan', provider: { network_type: 'vxlan', segmentation_id: 1600 } });
    await this.ctx.lab.createSubnet(vxlan.id, '203.0.113.0/24', { gatewayIp: null, dhcp: false });
    this.nets.set('vlan', vlan.id).set('vxlan', vxlan.id);
  }

  async plug(name: PortName): Promise<void> {
    const spec = PORTS[name];
    const port = await createFilteredPort(this.ctx.lab, this.nets.get(spec.net)!, { name, host: this.ctx.host, mac: spec.mac, ip: spec.ip, deviceOwner: spec.deviceOwner, portSecurity: false });
    this.ports.set(name, port.id);
    this.vms.set(name, await plugVm(this.ctx.ovs, port));
    await waitFor(async () => {
      this.ctx.assertAgentRunning();
      return (await this.ctx.lab.getPort(port.id)).status === 'ACTIVE';
    }, 120000, `port ${name} ACTIVE`, 250);
    this.ctx.log?.(`fdb: port ${name} plugged and ACTIVE`);
  }

  id(name: PortName): string {
    const id = this.ports.get(name);
    if (id === undefined) throw new Error(`fdb scenario: no port ${name} yet`);
    return id;
  }

  async unplugAndDelete(name: PortName): Promise<void> {
    await this.vms.get(name)?.unplug();
    this.vms.delete(name);
    await this.ctx.lab.deletePort(this.id(name));
  }

  async capture(what: string, change: () => Promise<void>): Promise<void> {
    const before = JSON.stringify(await fdbSnapshot());
    await change();
    const { changeMs, quietMs, maxMs, pollMs } = this.ctx.settle ?? SETTLE_REFERENCE;
    const t0 = Date.now();
    let last = JSON.stringify(await fdbSnapshot());
    while (last === before && Date.now() - t0 < changeMs) {
      this.ctx.assertAgentRunning();
      await sleep(pollMs);
      last = JSON.stringify(await fdbSnapshot());
    }
    let since = Date.now();
    while (Date.now() - since < quietMs) {
      if (Date.now() - t0 > changeMs + maxMs) throw new Error(`fdb scenario: FDB still changing after ${maxMs} ms`);
      this.ctx.assertAgentRunning();
      await sleep(pollMs);
      const now = JSON.stringify(await fdbSnapshot());
      if (now !== last) [last, since] = [now, Date.now()];
    }
    const name = `${String(++this.step).padStart(2, '0')}-${what}`;
    await this.ctx.capture(name, JSON.parse(last) as string[]);
    this.ctx.log?.(`fdb: captured ${name}`);
  }
}

/** Runs the scenario; resolves to the names of the ports it made, by neutron id. */
export async function runFdbScenario(ctx: FdbScenarioContext): Promise<Map<string, string>> {
  const s = new FdbSteps(ctx);
  await s.networks();
  await s.capture('started', async () => {
    for (const p of ['A', 'B', 'C', 'D'] as const) await s.plug(p);
  });
  await s.capture('c-owner-compute', async () => void (await ctx.lab.updatePort(s.id('C'), { device_owner: 'compute:nova' })));
  await s.capture('a-deleted', () => s.unplugAndDelete('A'));
  await s.capture('restarted', () => ctx.restartAgent());
  await s.capture('b-deleted', () => s.unplugAndDelete('B'));
  await s.capture('c-deleted', () => s.unplugAndDelete('C'));
  return new Map([...s.ports].map(([n, id]) => [id, n]));
}
