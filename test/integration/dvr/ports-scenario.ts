// Ports of a distributed router on one host, the same for the reference (capture-ports.ts) and ours
// (ports-parity.test.ts): a lab with the router service plugin (router_distributed = True), a
// private OVS, the OVS agent under test with DVR on and Debian's neutron-l3-agent in dvr mode next
// to it. Two vxlan networks (192.0.2.0/24, 198.51.100.0/24) of one distributed router, a VM port
// of each bound here; then the second router interface removed; then the first VM removed. After
// each step, once the flows settle, the three bridges' flows with every per-run value named.
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { NeutronLab, NeutronPort, ProviderSpec } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { L3Agent } from '../../../lab/l3-agent.js';
import { RunningAgent, agentRecord, startOvs, until, type Side } from '../../../bench/agents.js';
import { dumpBridges, dvrMacOf, forgetHost, OTHER_HOST } from './startup-scenario.js';

const run = promisify(execFile);
const DVR_INI = ['[agent]', 'enable_distributed_routing = True', '[ovs]', 'bridge_mappings =', ''].join('\n');
/** The lab's physnet1:br-phys mapping kept. */
const DVR_VLAN_INI = ['[agent]', 'enable_distributed_routing = True', ''].join('\n');

export type PortsStep = 'two-subnets' | 'interface-b-removed' | 'vm-a-removed';
/**
 * The networks of the router: vxlan (tenant networks); VLAN 151 and 152 of physnet1 (br-phys); or
 * physnet1's flat network and VLAN 152 (a physical network has one flat network).
 */
export type PortsVariant = 'vxlan' | 'vlan' | 'flat';
const VLAN_SEGMENTS = { a: 151, b: 152 } as const;

/** The fixture of a step: ports-<step> for vxlan, ports-<variant>-<step> for the others. */
export function portsFixtureName(variant: PortsVariant, step: PortsStep): string {
  return variant === 'vxlan' ? `ports-${step}` : `ports-${variant}-${step}`;
}

async function vsctl(ovs: PrivateOvs, ...args: string[]): Promise<string> {
  return (await run('ovs-vsctl', [`--db=${ovs.tcpConnection}`, '--timeout=10', ...args], { env: ovs.env })).stdout;
}

/** A VM port as Nova plugs it (an internal port standing in for the tap). */
async function plugVm(ovs: PrivateOvs, name: string, id: string, mac: string): Promise<void> {
  await vsctl(ovs, '--', 'add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=internal',
    `external_ids:iface-id=${id}`, `external_ids:attached-mac=${mac}`, 'external_ids:iface-status=active', `external_ids:vm-uuid=${randomUUID()}`);
}

/** Per-run values (MACs, ofports, VNIs) by the role they play, so two runs compare. */
class Names {
  readonly byValue = new Map<string, string>();
  add(value: string, name: string): void {
    this.byValue.set(value, name);
  }
  /** ofports of the interfaces of these port ids (iface-id), as in_port=N / output:N of the flows. */
  async addOfports(ovs: PrivateOvs, roles: Map<string, string>): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const csv = await vsctl(ovs, '-f', 'csv', '--no-headings', '--columns=ofport,external_ids', 'list', 'Interface');
    for (const line of csv.split('\n')) {
      const m = /^(-?\d+),.*iface-id="*([0-9a-f-]{36})/.exec(line);
      const role = m ? roles.get(m[2]!) : undefined;
      if (m && role) out.set(m[1]!, role);
    }
    return out;
  }
}

function renameOfports(text: string, ofports: Map<string, string>): string {
  return text.replace(/(in_port=|output:)(\d+)/g, (m, k: string, n: string) => (ofports.has(n) ? `${k}<${ofports.get(n)!}>` : m));
}

/** The IPv6 link-local address (EUI-64) of a MAC, as OVS prints it. */
function linkLocal(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  b[0] = b[0]! ^ 2;
  const words = [(b[0] << 8) | b[1]!, (b[2]! << 8) | 0xff, (0xfe << 8) | b[3]!, (b[4]! << 8) | b[5]!];
  return `fe80::${words.map((w) => w.toString(16)).join(':')}`;
}

/**
 * Local VLANs and VNIs by network: the order in which the networks' first ports are wired (and so
 * which gets local VLAN 1) and the VNIs the server picks differ between runs. Read from br-tun's
 * TUN_TO_LV flows (tun_id → vlan_vid) and remembered for the later steps.
 */
function nameSegments(text: string, vnis: Map<string, string>, vlans: Map<string, string>): string {
  for (const m of text.matchAll(/tun_id=(0x[0-9a-f]+) actions=push_vlan:0x8100,set_field:(\d+)->vlan_vid/g)) {
    const role = vnis.get(String(parseInt(m[1]!, 16)));
    if (role) vlans.set(String(Number(m[2]) - 4096), role);
  }
  // VLAN networks: br-int's translation of the provider VLAN to the local one.
  for (const m of text.matchAll(/dl_vlan=(\d+) actions=(?:mod_vlan_vid:(\d+)|set_field:(\d+)->vlan_vid)/g)) {
    const role = [...Object.entries(VLAN_SEGMENTS)].find(([, seg]) => String(seg) === m[1])?.[0];
    if (role) vlans.set(m[2] ?? String(Number(m[3]) - 4096), role);
  }
  // The flat network (network a of the flat variant): untagged traffic given its local VLAN.
  for (const m of text.matchAll(/vlan_tci=0x0000\/0x1fff actions=(?:push_vlan:0x8100,)?(?:mod_vlan_vid:(\d+)|set_field:(\d+)->vlan_vid)/g)) {
    vlans.set(m[1] ?? String(Number(m[2]) - 4096), 'a');
  }
  return text
    .replace(/tun_id=(0x[0-9a-f]+)/g, (s, v: string) => (vnis.has(String(parseInt(v, 16))) ? `tun_id=<vni-${vnis.get(String(parseInt(v, 16)))!}>` : s))
    .replace(/dl_vlan=(\d+)/g, (s, v: string) => (vlans.has(v) ? `dl_vlan=<lvid-${vlans.get(v)!}>` : s))
    .replace(/set_field:(\d+)->vlan_vid/g, (s, v: string) => {
      const k = String(Number(v) - 4096);
      return vlans.has(k) ? `set_field:<lvid-${vlans.get(k)!}>->vlan_vid` : s;
    });
}

/** Each bridge's flows sorted again once named (the names change the order). */
function sortSections(text: string): string {
  return text
    .split(/(?=^== )/m)
    .map((sec) => {
      const [head, ...lines] = sec.split('\n').filter((l) => l !== '');
      return `${head!}\n${lines.sort().join('\n')}\n`;
    })
    .join('');
}

/** What a run made on the server and has not removed yet. */
interface Topology {
  router?: string;
  /** Subnets with an interface on the router. */
  interfaces: Set<string>;
  ports: Set<string>;
  networks: string[];
}

async function dropTopology(lab: NeutronLab, t: Topology): Promise<void> {
  for (const subnet of t.interfaces) await lab.api('PUT', `/v2.0/routers/${t.router!}/remove_router_interface`, { subnet_id: subnet });
  if (t.router) await lab.api('DELETE', `/v2.0/routers/${t.router}`);
  for (const p of t.ports) await lab.deletePort(p);
  for (const n of t.networks) await lab.api('DELETE', `/v2.0/networks/${n}`);
}

export interface PortsRun {
  flows: Map<PortsStep, string>;
}

/** The router, its two networks with an interface each, and a VM port of each bound to `host`. */
async function createTopology(lab: NeutronLab, host: string, variant: PortsVariant, topo: Topology) {
  const provider = (role: 'a' | 'b'): { provider?: ProviderSpec } => {
    if (variant === 'flat' && role === 'a') return { provider: { network_type: 'flat', physical_network: 'physnet1' } };
    return variant !== 'vxlan' ? { provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: VLAN_SEGMENTS[role] } } : {};
  };
  const netA = await lab.createNetwork({ name: 'dvr-a', ...provider('a') });
  topo.networks.push(netA.id);
  const netB = await lab.createNetwork({ name: 'dvr-b', ...provider('b') });
  topo.networks.push(netB.id);
  const subA = await lab.createSubnet(netA.id, '192.0.2.0/24');
  const subB = await lab.createSubnet(netB.id, '198.51.100.0/24');
  const router = (await lab.api<{ router: { id: string } }>('POST', '/v2.0/routers', { router: { name: 'dvr-r', tenant_id: 'lab', distributed: true } })).router;
  topo.router = router.id;
  const ifA = await lab.api<{ port_id: string }>('PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subA.id });
  topo.interfaces.add(subA.id);
  const ifB = await lab.api<{ port_id: string }>('PUT', `/v2.0/routers/${router.id}/add_router_interface`, { subnet_id: subB.id });
  topo.interfaces.add(subB.id);
  const vmA = await lab.createPort(netA.id, { host, name: 'vm-a' });
  topo.ports.add(vmA.id);
  const vmB = await lab.createPort(netB.id, { host, name: 'vm-b' });
  topo.ports.add(vmB.id);
  return { netA, netB, subA, subB, router, ifA, ifB, vmA, vmB };
}

/** Names the topology's per-run values; returns the networks' segmentation ids by role. */
async function nameTopology(lab: NeutronLab, names: Names, t: { netA: { id: string }; netB: { id: string }; ifA: { port_id: string }; ifB: { port_id: string }; vmA: NeutronPort; vmB: NeutronPort }): Promise<Map<string, string>> {
  const { netA, netB, ifA, ifB, vmA, vmB } = t;
  names.add(vmA.mac_address, '<mac-vm-a>');
  names.add(vmB.mac_address, '<mac-vm-b>');
  names.add(linkLocal(vmA.mac_address), '<ll-vm-a>');
  names.add(linkLocal(vmB.mac_address), '<ll-vm-b>');
  names.add(`=${vmA.fixed_ips[0]!.ip_address} `, '=<ip-vm-a> ');
  names.add(`=${vmB.fixed_ips[0]!.ip_address} `, '=<ip-vm-b> ');
  const vnis = new Map<string, string>();
  for (const [net, role] of [[netA.id, 'a'], [netB.id, 'b']] as const) {
    const n = await lab.api<{ network: Record<string, unknown> }>('GET', `/v2.0/networks/${net}`);
    vnis.set(String(n.network['provider:segmentation_id']), role);
  }
  const rA = await lab.getPort(ifA.port_id);
  const rB = await lab.getPort(ifB.port_id);
  names.add(rA.mac_address, '<mac-router-a>');
  names.add(rB.mac_address, '<mac-router-b>');
  return vnis;
}

/** Runs the scenario with `side` as the OVS agent; `capture` gets each step's flows. */
export async function runPortsScenario(lab: NeutronLab, side: Side, host: string, ofInterface?: 'native' | 'ovs-ofctl', variant: PortsVariant = 'vxlan'): Promise<Map<PortsStep, string>> {
  const vlan = variant !== 'vxlan';
  const bridges = vlan ? ['br-int', 'br-tun', 'br-phys'] : ['br-int', 'br-tun'];
  // br-int's DVR_TO_SRC_MAC and ARP_DVR_MAC_TO_DST_MAC tables: 1 and 3 for tunnels, 2 and 4 for VLAN.
  const [toSrcMac, toDstMac] = vlan ? ['table=2,', 'table=4,'] : ['table=1,', 'table=3,'];
  const names = new Names();
  names.add(await dvrMacOf(lab, OTHER_HOST), '<dvr-mac-other-host>');
  names.add(await dvrMacOf(lab, host), '<dvr-mac-this-host>');
  const ovs = await startOvs();
  const out = new Map<PortsStep, string>();
  const topo: Topology = { networks: [], interfaces: new Set(), ports: new Set() };
  let agent: RunningAgent | undefined;
  let l3: L3Agent | undefined;
  try {
    const ini = vlan ? DVR_VLAN_INI : DVR_INI;
    const extraIni = side === 'reference' ? `${ini}[agent]\nroot_helper = env OVS_RUNDIR=${ovs.dir}\n` : ini;
    agent = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs, extraIni, ...(ofInterface ? { ofInterface } : {}) });
    l3 = L3Agent.start({ host, transportUrl: lab.transportUrl, ovs, mode: 'dvr' });
    const a = agent;
    await until('OVS agent alive', a, 120000, async () => (await agentRecord(lab, host))?.alive === true, 500);
    await until('L3 agent alive', a, 120000, async () => (await lab.listAgents()).some((x) => x.host === host && x.agent_type === 'L3 agent' && x.alive), 500);

    const { netA, netB, subB, router, ifA, ifB, vmA, vmB } = await createTopology(lab, host, variant, topo);
    await plugVm(ovs, 'vm-a', vmA.id, vmA.mac_address);
    await plugVm(ovs, 'vm-b', vmB.id, vmB.mac_address);
    const vnis = await nameTopology(lab, names, { netA, netB, ifA, ifB, vmA, vmB });
    const vlans = new Map<string, string>();

    const ofports = new Map<string, string>();
    const settle = async (step: PortsStep, ready: (int: string[]) => boolean, ifaces: Map<string, string>): Promise<void> => {
      await until(`${step}: DVR flows`, a, 180000, async () => {
        l3!.assertRunning();
        return ready(await ovs.dumpFlows('br-int'));
      }, 500);
      await new Promise((r) => setTimeout(r, 5000));
      a.assertRunning();
      // Remembered across steps: the reference leaves flows that output to ports gone since.
      for (const [n, role] of await names.addOfports(ovs, ifaces)) ofports.set(n, role);
      out.set(step, sortSections(nameSegments(renameOfports(await dumpBridges(ovs, bridges, names.byValue), ofports), vnis, vlans)));
    };
    const all = new Map([[vmA.id, 'vm-a'], [vmB.id, 'vm-b'], [ifA.port_id, 'qr-a'], [ifB.port_id, 'qr-b']]);
    // Both router ports delivered to (table 3) and both VMs reached with their gateway MAC (table 1).
    await settle('two-subnets', (f) => f.filter((l) => l.includes(toDstMac) && l.includes('priority=5')).length >= 2 && f.filter((l) => l.includes(toSrcMac) && l.includes('priority=20')).length >= 2, all);

    await lab.api('PUT', `/v2.0/routers/${router.id}/remove_router_interface`, { subnet_id: subB.id });
    topo.interfaces.delete(subB.id);
    await settle('interface-b-removed', (f) => !f.some((l) => l.includes(toSrcMac) && l.includes(`dl_dst=${vmB.mac_address}`)), all);

    await lab.deletePort(vmA.id);
    topo.ports.delete(vmA.id);
    await vsctl(ovs, '--if-exists', 'del-port', 'br-int', 'vm-a');
    await settle('vm-a-removed', (f) => !f.some((l) => l.includes(`dl_dst=${vmA.mac_address}`) && l.includes(toSrcMac)), new Map([[vmB.id, 'vm-b'], [ifA.port_id, 'qr-a']]));
    return out;
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n--- l3 agent log ---\n${l3?.log(3000) ?? ''}`);
  } finally {
    await l3?.stop();
    // The provider VLANs are the same at every run: the next run needs them free.
    await dropTopology(lab, topo).catch((e: unknown) => process.stderr.write(`DVR ports scenario: removing its router and networks: ${String(e)}\n`));
    if (agent) {
      await agent.stop(5000);
      agent.cleanup();
    }
    l3?.cleanup();
    await ovs.stop();
    await forgetHost(lab, host).catch((e: unknown) => process.stderr.write(`DVR ports scenario: ${String(e)}\n`));
  }
}
