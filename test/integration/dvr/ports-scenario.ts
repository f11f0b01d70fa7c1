// Ports of distributed routers on one host, the same for the reference (capture.ts) and ours
// (ports-parity.test.ts): a lab with the router service plugin (router_distributed = True), a
// private OVS, the OVS agent under test with DVR on and Debian's neutron-l3-agent next to it.
// - runPortsScenario (L3 agent in dvr mode): two networks (vxlan, VLAN or flat, one subnet IPv6 in
//   the ipv6 variant) of one distributed router, a VM port of each bound here; then the second
//   router interface removed; then the first VM removed.
// - runSnatScenario (L3 agent in dvr_snat mode): a distributed router with an external gateway and
//   one subnet, so the subnet's centralized SNAT port is plugged here; then the gateway removed.
// After each step, once the flows settle, the bridges' flows with every per-run value named.
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { LAB_PROJECT, type NeutronLab, type NeutronPort, type NeutronSubnet, type ProviderSpec } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { L3Agent, routerNamespacesGone } from '../../../lab/l3-agent.js';
import { RunningAgent, agentRecord, startOvs, until, type Side } from '../../../bench/agents.js';
import { dumpBridges, dvrMacOf, forgetHost, OTHER_HOST } from './startup-scenario.js';
import { normaliseFlows, renumberConjunctions } from '../firewall/compare.js';

const run = promisify(execFile);
const DVR_INI = ['[agent]', 'enable_distributed_routing = True', '[ovs]', 'bridge_mappings =', ''].join('\n');
/** The lab's physnet1:br-phys mapping kept. */
const DVR_VLAN_INI = ['[agent]', 'enable_distributed_routing = True', ''].join('\n');

export type PortsStep = 'two-subnets' | 'interface-b-removed' | 'vm-a-removed';
/**
 * The networks of the router: vxlan (tenant networks); VLAN 151 and 152 of physnet1 (br-phys); or
 * physnet1's flat network and VLAN 152 (a physical network has one flat network); or vxlan with
 * network b's subnet IPv6 (ipv6); or GRE, or Geneve networks, the agent's tunnel_types that type
 * alone; or vxlan (egress-direct), or flat and VLAN (egress-direct-flat), with the openvswitch
 * firewall and `explicitly_egress_direct = True` (the VMs in the project's default security group).
 */
export type PortsVariant = 'vxlan' | 'vlan' | 'flat' | 'ipv6' | 'gre' | 'geneve' | 'egress-direct' | 'egress-direct-flat';
export const PORTS_VARIANTS: readonly PortsVariant[] = ['vxlan', 'vlan', 'flat', 'ipv6', 'egress-direct', 'egress-direct-flat', 'gre', 'geneve'];

/** How a variant's networks are made and what its agents are told besides DVR. */
interface VariantSpec {
  /** Network a's and b's provider settings: none (the tenant type, vxlan), a tunnel type, or physnet1's (flat: a flat, b VLAN). */
  networks: 'tenant' | 'gre' | 'geneve' | 'vlan' | 'flat';
  ipv6?: true;
  /** Lines of a further ini file, for both agents. */
  ini?: string;
}
const EGRESS_DIRECT_INI = ['[agent]', 'explicitly_egress_direct = True', '[securitygroup]', 'firewall_driver = openvswitch', ''].join('\n');
const VARIANTS: Readonly<Record<PortsVariant, VariantSpec>> = {
  vxlan: { networks: 'tenant' },
  vlan: { networks: 'vlan' },
  flat: { networks: 'flat' },
  ipv6: { networks: 'tenant', ipv6: true },
  gre: { networks: 'gre', ini: '[agent]\ntunnel_types = gre\n' },
  geneve: { networks: 'geneve', ini: '[agent]\ntunnel_types = geneve\n' },
  'egress-direct': { networks: 'tenant', ini: EGRESS_DIRECT_INI },
  'egress-direct-flat': { networks: 'flat', ini: EGRESS_DIRECT_INI },
};
/** The variant runs the openvswitch firewall (its tables are in the dumps). */
export const withOvsFirewall = (v: PortsVariant): boolean => VARIANTS[v].ini === EGRESS_DIRECT_INI;

/**
 * Network a's remote-group member flows for the removed VM a's address (table 82,
 * `reg6=<lvid-a>,nw_src=<ip-vm-a>`) once network a's last port here has gone (step vm-a-removed):
 * the reference's openvswitch firewall leaves them (it recomputes a network's member flows only
 * for a port it filters again, and none is left there); ours writes that network's member flows
 * again with the members it knows then, VM a's address gone, VM b's kept as the reference keeps
 * them. A difference of the firewalls, not of DVR: those lines are left out of that step's
 * comparison on both sides, every other line is compared.
 */
export function withoutOrphanedMemberFlows(text: string): string {
  return text.split('\n').filter((l) => !/^table=82, .*reg6=<lvid-a>,nw_src=<ip-vm-a> /.test(l)).join('\n');
}
const onPhysnet = (v: PortsVariant): boolean => VARIANTS[v].networks === 'vlan' || VARIANTS[v].networks === 'flat';
/** Network b's IPv6 subnet in the ipv6 variant (SLAAC: the router advertises, the VM's address follows from its MAC). */
const IPV6_CIDR = '2001:db8:b::/64';
const VLAN_SEGMENTS = { a: 151, b: 152 } as const;

/** The fixture of a step: ports-<step> for vxlan, ports-<variant>-<step> for the others. */
export function portsFixtureName(variant: PortsVariant, step: PortsStep): string {
  return variant === 'vxlan' ? `ports-${step}` : `ports-${variant}-${step}`;
}

export async function vsctl(ovs: PrivateOvs, ...args: string[]): Promise<string> {
  return (await run('ovs-vsctl', [`--db=${ovs.tcpConnection}`, '--timeout=10', ...args], { env: ovs.env })).stdout;
}

/** A VM port as Nova plugs it (an internal port standing in for the tap). */
export async function plugVm(ovs: PrivateOvs, name: string, id: string, mac: string): Promise<void> {
  await vsctl(ovs, '--', 'add-port', 'br-int', name, '--', 'set', 'Interface', name, 'type=internal',
    `external_ids:iface-id=${id}`, `external_ids:attached-mac=${mac}`, 'external_ids:iface-status=active', `external_ids:vm-uuid=${randomUUID()}`);
}

/** Per-run values (MACs, ofports, VNIs) by the role they play, so two runs compare. */
export class Names {
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

export function renameOfports(text: string, ofports: Map<string, string>): string {
  const named = text.replace(/(in_port=|output:)(\d+)/g, (m, k: string, n: string) => (ofports.has(n) ? `${k}<${ofports.get(n)!}>` : m));
  // The openvswitch firewall's port register (reg5), matched and set.
  return renameRegister(named, 5, (n) => ofports.get(n));
}

/** Values of register `reg` (matched `regN=0x…`, set `set_field:0x…->regN`) renamed by `nameOf` (decimal value → name). */
function renameRegister(text: string, reg: number, nameOf: (value: string) => string | undefined): string {
  const rename = (s: string, hex: string, form: (name: string) => string): string => {
    const name = nameOf(String(parseInt(hex, 16)));
    return name === undefined ? s : form(name);
  };
  return text
    .replace(new RegExp(`reg${reg}=0x([0-9a-f]+)`, 'g'), (s, v: string) => rename(s, v, (n) => `reg${reg}=<${n}>`))
    .replace(new RegExp(`set_field:0x([0-9a-f]+)->reg${reg}\\b`, 'g'), (s, v: string) => rename(s, v, (n) => `set_field:<${n}>->reg${reg}`));
}

/** The IPv6 link-local address (EUI-64) of a MAC, as OVS prints it. */
function linkLocal(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  b[0] = b[0]! ^ 2;
  const words = [(b[0] << 8) | b[1]!, (b[2]! << 8) | 0xff, (0xfe << 8) | b[3]!, (b[4]! << 8) | b[5]!];
  return `fe80::${words.map((w) => w.toString(16)).join(':')}`;
}

/** Which provider segments are which network: VLAN ids by role, and the role of physnet1's flat network. */
export interface ProviderRoles {
  vlan: Readonly<Record<string, number>>;
  flat: string;
}

/**
 * Local VLANs and VNIs by network: the order in which the networks' first ports are wired (and so
 * which gets local VLAN 1) and the VNIs the server picks differ between runs. Read from br-tun's
 * TUN_TO_LV flows (tun_id → vlan_vid) and remembered for the later steps.
 */

export function nameSegments(text: string, vnis: Map<string, string>, vlans: Map<string, string>, roles: ProviderRoles = { vlan: VLAN_SEGMENTS, flat: 'a' }): string {
  for (const m of text.matchAll(/tun_id=(0x[0-9a-f]+) actions=push_vlan:0x8100,set_field:(\d+)->vlan_vid/g)) {
    const role = vnis.get(String(parseInt(m[1]!, 16)));
    if (role) vlans.set(String(Number(m[2]) - 4096), role);
  }
  // VLAN networks: br-int's translation of the provider VLAN to the local one.
  for (const m of text.matchAll(/dl_vlan=(\d+) actions=(?:mod_vlan_vid:(\d+)|set_field:(\d+)->vlan_vid)/g)) {
    const role = [...Object.entries(roles.vlan)].find(([, seg]) => String(seg) === m[1])?.[0];
    if (role) vlans.set(m[2] ?? String(Number(m[3]) - 4096), role);
  }
  // The flat network (network a of the flat variant, by default): untagged traffic given its local VLAN.
  for (const m of text.matchAll(/vlan_tci=0x0000\/0x1fff actions=(?:push_vlan:0x8100,)?(?:mod_vlan_vid:(\d+)|set_field:(\d+)->vlan_vid)/g)) {
    vlans.set(m[1] ?? String(Number(m[2]) - 4096), roles.flat);
  }
  const named = text
    .replace(/tun_id=(0x[0-9a-f]+)/g, (s, v: string) => (vnis.has(String(parseInt(v, 16))) ? `tun_id=<vni-${vnis.get(String(parseInt(v, 16)))!}>` : s))
    .replace(/dl_vlan=(\d+)/g, (s, v: string) => (vlans.has(v) ? `dl_vlan=<lvid-${vlans.get(v)!}>` : s))
    .replace(/set_field:(\d+)->vlan_vid/g, (s, v: string) => {
      const k = String(Number(v) - 4096);
      return vlans.has(k) ? `set_field:<lvid-${vlans.get(k)!}>->vlan_vid` : s;
    });
  // The openvswitch firewall's network register (reg6: the local VLAN), matched and set, and the
  // conntrack zone it is.
  return renameRegister(named, 6, (v) => (vlans.has(v) ? `lvid-${vlans.get(v)!}` : undefined))
    .replace(/ct_zone=(\d+)/g, (s, v: string) => (vlans.has(v) ? `ct_zone=<lvid-${vlans.get(v)!}>` : s));
}

/**
 * Each bridge's flows sorted again once named (the names change the order), in the firewall
 * fixtures' form: no `reset_counts` flags (the reference's firewall adds some flows outside a
 * bundle), conjunction ids renumbered by where they first appear (each agent allocates its own).
 */
export function sortSections(text: string): string {
  return text
    .split(/(?=^== )/m)
    .map((sec) => {
      const [head, ...lines] = sec.split('\n').filter((l) => l !== '');
      return `${head!}\n${renumberConjunctions(normaliseFlows(lines)).join('\n')}\n`;
    })
    .join('');
}

/** What a run made on the server and has not removed yet. */
export interface Topology {
  router?: string;
  /** Subnets with an interface on the router. */
  interfaces: Set<string>;
  ports: Set<string>;
  networks: string[];
}

export async function dropTopology(lab: NeutronLab, t: Topology): Promise<void> {
  for (const subnet of t.interfaces) await lab.api('PUT', `/v2.0/routers/${t.router!}/remove_router_interface`, { subnet_id: subnet });
  if (t.router) await lab.api('DELETE', `/v2.0/routers/${t.router}`);
  for (const p of t.ports) await lab.deletePort(p);
  for (const n of t.networks) await lab.api('DELETE', `/v2.0/networks/${n}`);
}

export interface PortsRun {
  flows: Map<PortsStep, string>;
}

/** The scenario's distributed router, remembered to be deleted with the topology. */
async function createDistributedRouter(lab: NeutronLab, topo: Topology, fields: Record<string, unknown> = {}): Promise<{ id: string }> {
  const router = await lab.createRouter({ name: 'dvr-r', distributed: true, ...fields });
  topo.router = router.id;
  return router;
}

/** The router's interface on the subnet, remembered to be removed with the topology. */
async function addInterface(lab: NeutronLab, topo: Topology, subnetId: string): Promise<{ port_id: string }> {
  const itf = await lab.addRouterInterface(topo.router!, subnetId);
  topo.interfaces.add(subnetId);
  return itf;
}

/** The router, its two networks with an interface each, and a VM port of each bound to `host`. */
async function createTopology(lab: NeutronLab, host: string, variant: PortsVariant, topo: Topology) {
  const { networks, ipv6 } = VARIANTS[variant];
  const provider = (role: 'a' | 'b'): { provider?: ProviderSpec } => {
    if (networks === 'gre' || networks === 'geneve') return { provider: { network_type: networks } };
    if (networks === 'flat' && role === 'a') return { provider: { network_type: 'flat', physical_network: 'physnet1' } };
    return networks === 'vlan' || networks === 'flat' ? { provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: VLAN_SEGMENTS[role] } } : {};
  };
  const netA = await lab.createNetwork({ name: 'dvr-a', ...provider('a') });
  topo.networks.push(netA.id);
  const netB = await lab.createNetwork({ name: 'dvr-b', ...provider('b') });
  topo.networks.push(netB.id);
  const subA = await lab.createSubnet(netA.id, '192.0.2.0/24');
  const subB = ipv6
    ? (await lab.api<{ subnet: NeutronSubnet }>('POST', '/v2.0/subnets', {
      subnet: { network_id: netB.id, tenant_id: LAB_PROJECT, ip_version: 6, cidr: IPV6_CIDR, ipv6_ra_mode: 'slaac', ipv6_address_mode: 'slaac', enable_dhcp: true },
    })).subnet
    : await lab.createSubnet(netB.id, '198.51.100.0/24');
  const router = await createDistributedRouter(lab, topo);
  const ifA = await addInterface(lab, topo, subA.id);
  const ifB = await addInterface(lab, topo, subB.id);
  const vmA = await lab.createPort(netA.id, { host, name: 'vm-a' });
  topo.ports.add(vmA.id);
  const vmB = await lab.createPort(netB.id, { host, name: 'vm-b' });
  topo.ports.add(vmB.id);
  return { netA, netB, subA, subB, router, ifA, ifB, vmA, vmB };
}

/** An IPv4 address as a field's whole value (`=A ` last in the match, `=A,` before another field): a shorter one is no prefix of it then. */
function addIpv4Name(names: Names, ip: string, name: string): void {
  names.add(`=${ip} `, `=${name} `);
  names.add(`=${ip},`, `=${name},`);
}

/** Names the topology's per-run values. */
async function nameTopology(lab: NeutronLab, names: Names, t: { ifA: { port_id: string }; ifB: { port_id: string }; vmA: NeutronPort; vmB: NeutronPort }): Promise<void> {
  const { ifA, ifB, vmA, vmB } = t;
  names.add(vmA.mac_address, '<mac-vm-a>');
  names.add(vmB.mac_address, '<mac-vm-b>');
  names.add(linkLocal(vmA.mac_address), '<ll-vm-a>');
  names.add(linkLocal(vmB.mac_address), '<ll-vm-b>');
  addIpv4Name(names, vmA.fixed_ips[0]!.ip_address, '<ip-vm-a>');
  const ipB = vmB.fixed_ips[0]!.ip_address;
  // An IPv6 address (the ipv6 variant's, from the VM's MAC) is long enough to be named wherever it is.
  if (ipB.includes(':')) names.add(ipB, '<ip-vm-b>');
  else addIpv4Name(names, ipB, '<ip-vm-b>');
  const rA = await lab.getPort(ifA.port_id);
  const rB = await lab.getPort(ifB.port_id);
  names.add(rA.mac_address, '<mac-router-a>');
  names.add(rB.mac_address, '<mac-router-b>');
}

/** One simulated DVR host for a scenario: its OVS, its OVS agent and L3 agent, what the run made. */
interface DvrHost {
  ovs: PrivateOvs;
  names: Names;
  topo: Topology;
  /** Waits until br-int's flows are `ready`, lets them settle, and keeps the bridges' flows as `step`'s. */
  snapshot(step: string, ready: (int: string[]) => boolean, ifaces: Map<string, string>): Promise<void>;
  /** Remembers the VNIs of these networks (tenant networks are vxlan) by role. */
  nameVnis(networks: ReadonlyArray<readonly [string, string]>): Promise<void>;
  /** Waits until the L3 agent has finished every update of the router it started. */
  routerSettled(routerId: string): Promise<void>;
  /** Waits until the L3 agent has taken the router port `portId` off the switch. */
  unplugged(portId: string): Promise<void>;
  /** Waits until br-int's flows are `ready`. */
  waitFlows(what: string, ready: (int: string[]) => boolean): Promise<void>;
}

interface DvrHostOptions {
  ofInterface: 'native' | 'ovs-ofctl' | undefined;
  /** physnet1 mapped to br-phys (its flows dumped too). */
  physnet: boolean;
  l3Mode: 'dvr' | 'dvr_snat';
  roles?: ProviderRoles;
  /** A further ini file's lines for the OVS agent. */
  ini?: string;
  /** Checks a step's flows as soon as they are taken, while the agents still run: a failure carries their logs. */
  check?: StepCheck;
}

/** Throws when `flows` are not what `step` should have. */
export type StepCheck = (step: string, flows: string) => void;

/**
 * Starts `side` and neutron-l3-agent on a fresh OVS as `host`, runs `body`, and returns the flows
 * of each step it snapshot; removes what the run made on the server and stops everything.
 */
async function onDvrHost(lab: NeutronLab, side: Side, host: string, o: DvrHostOptions, body: (h: DvrHost) => Promise<void>): Promise<Map<string, string>> {
  const bridges = o.physnet ? ['br-int', 'br-tun', 'br-phys'] : ['br-int', 'br-tun'];
  const names = new Names();
  names.add(await dvrMacOf(lab, OTHER_HOST), '<dvr-mac-other-host>');
  names.add(await dvrMacOf(lab, host), '<dvr-mac-this-host>');
  const ovs = await startOvs();
  const out = new Map<string, string>();
  const topo: Topology = { networks: [], interfaces: new Set(), ports: new Set() };
  let agent: RunningAgent | undefined;
  let l3: L3Agent | undefined;
  try {
    const ini = (o.physnet ? DVR_VLAN_INI : DVR_INI) + (o.ini ?? '');
    const extraIni = side === 'reference' ? `${ini}[agent]\nroot_helper = env OVS_RUNDIR=${ovs.dir}\n` : ini;
    agent = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs, extraIni, ...(o.ofInterface ? { ofInterface: o.ofInterface } : {}) });
    l3 = L3Agent.start({ host, transportUrl: lab.transportUrl, ovs, mode: o.l3Mode });
    const a = agent;
    const l3a = l3;
    await until('OVS agent alive', a, 120000, async () => (await agentRecord(lab, host))?.alive === true, 500);
    await until('L3 agent alive', a, 120000, async () => (await lab.listAgents()).some((x) => x.host === host && x.agent_type === 'L3 agent' && x.alive), 500);
    const vnis = new Map<string, string>();
    const vlans = new Map<string, string>();
    // Remembered across steps: the reference leaves flows that output to ports gone since.
    const ofports = new Map<string, string>();
    await body({
      ovs, names, topo,
      async snapshot(step, ready, ifaces) {
        await this.waitFlows(`${step}: DVR flows`, ready);
        await new Promise((r) => setTimeout(r, 5000));
        a.assertRunning();
        for (const [n, role] of await names.addOfports(ovs, ifaces)) ofports.set(n, role);
        const flows = sortSections(nameSegments(renameOfports(await dumpBridges(ovs, bridges, names.byValue), ofports), vnis, vlans, o.roles));
        out.set(step, flows);
        o.check?.(step, flows);
      },
      routerSettled: (routerId) => l3a.waitRouterSettled(routerId, 180000),
      unplugged: (portId) => until(`router port ${portId} unplugged by the L3 agent`, a, 180000, async () => {
        l3a.assertRunning();
        return (await vsctl(ovs, '--bare', '--columns=name', 'find', 'Interface', `external_ids:iface-id=${portId}`)).trim() === '';
      }, 500),
      waitFlows: (what, ready) => until(what, a, 180000, async () => {
        l3a.assertRunning();
        return ready(await ovs.dumpFlows('br-int'));
      }, 500),
      async nameVnis(networks) {
        for (const [net, role] of networks) {
          const n = await lab.api<{ network: Record<string, unknown> }>('GET', `/v2.0/networks/${net}`);
          vnis.set(String(n.network['provider:segmentation_id']), role);
        }
      },
    });
    return out;
  } catch (e) {
    // An assertion keeps its actual/expected (the reporter prints them) and gains both agents' logs.
    const logs = `\n--- ${side} OVS agent log (tail) ---\n${agent?.log(12000) ?? ''}\n--- l3 agent log (tail) ---\n${l3?.log(3000) ?? ''}`;
    if (e instanceof Error) {
      e.message += logs;
      throw e;
    }
    throw new Error(`${String(e)}${logs}`);
  } finally {
    // The provider VLANs are the same at every run: the next run needs them free. Removed while the
    // L3 agent runs, so that it takes its router's namespaces down itself.
    await dropTopology(lab, topo).catch((e: unknown) => process.stderr.write(`DVR ports scenario: removing its router and networks: ${String(e)}\n`));
    if (topo.router) await routerNamespacesGone(topo.router, 'DVR ports scenario');
    await l3?.stop();
    if (agent) {
      await agent.stop(5000);
      agent.cleanup();
    }
    l3?.cleanup();
    await ovs.stop();
    await forgetHost(lab, host).catch((e: unknown) => process.stderr.write(`DVR ports scenario: ${String(e)}\n`));
  }
}

/** Runs the scenario with `side` as the OVS agent; returns each step's flows. */
export async function runPortsScenario(lab: NeutronLab, side: Side, host: string, ofInterface?: 'native' | 'ovs-ofctl', variant: PortsVariant = 'vxlan', check?: StepCheck): Promise<Map<PortsStep, string>> {
  const physnet = onPhysnet(variant);
  // br-int's DVR_TO_SRC_MAC and ARP_DVR_MAC_TO_DST_MAC tables: 1 and 3 for tunnels, 2 and 4 for VLAN.
  const [toSrcMac, toDstMac] = physnet ? ['table=2,', 'table=4,'] : ['table=1,', 'table=3,'];
  const ini = VARIANTS[variant].ini;
  const flows = await onDvrHost(lab, side, host, { ofInterface, physnet, l3Mode: 'dvr', ...(ini ? { ini } : {}), ...(check ? { check } : {}) }, async (h) => {
    const { netA, netB, subB, router, ifA, ifB, vmA, vmB } = await createTopology(lab, host, variant, h.topo);
    await plugVm(h.ovs, 'vm-a', vmA.id, vmA.mac_address);
    await plugVm(h.ovs, 'vm-b', vmB.id, vmB.mac_address);
    await nameTopology(lab, h.names, { ifA, ifB, vmA, vmB });
    await h.nameVnis([[netA.id, 'a'], [netB.id, 'b']]);

    const all = new Map([[vmA.id, 'vm-a'], [vmB.id, 'vm-b'], [ifA.port_id, 'qr-a'], [ifB.port_id, 'qr-b']]);
    // Both router ports delivered to (table 3) and both VMs reached with their gateway MAC (table 1).
    await h.snapshot('two-subnets', (f) => f.filter((l) => l.includes(toDstMac) && l.includes('priority=5')).length >= 2 && f.filter((l) => l.includes(toSrcMac) && l.includes('priority=20')).length >= 2, all);

    await lab.api('PUT', `/v2.0/routers/${router.id}/remove_router_interface`, { subnet_id: subB.id });
    h.topo.interfaces.delete(subB.id);
    // The step is the interface gone from the switch too: until the L3 agent unplugs it, the OVS
    // agent holds the deleted port in the dead VLAN (its drop flow), as the reference does.
    await h.unplugged(ifB.port_id);
    await h.snapshot('interface-b-removed', (f) => !f.some((l) => l.includes(toSrcMac) && l.includes(`dl_dst=${vmB.mac_address}`)), all);

    await lab.deletePort(vmA.id);
    h.topo.ports.delete(vmA.id);
    await vsctl(h.ovs, '--if-exists', 'del-port', 'br-int', 'vm-a');
    await h.snapshot('vm-a-removed', (f) => !f.some((l) => l.includes(`dl_dst=${vmA.mac_address}`) && l.includes(toSrcMac)), new Map([[vmB.id, 'vm-b'], [ifA.port_id, 'qr-a']]));
  });
  return flows as Map<PortsStep, string>;
}

export type SnatStep = 'gateway-set' | 'gateway-removed';
export const SNAT_STEPS: readonly SnatStep[] = ['gateway-set', 'gateway-removed'];
/** The external network: physnet1's flat network (br-phys), with a subnet of 203.0.113.0/24. */
const SNAT_ROLES: ProviderRoles = { vlan: {}, flat: 'ext' };

export const snatFixtureName = (step: SnatStep): string => `ports-snat-${step}`;

/** The router's port of `owner` once the server has made it (the L3 agent's scheduling makes some). */
async function routerPort(lab: NeutronLab, routerId: string, owner: string): Promise<NeutronPort> {
  for (let i = 0; i < 240; i++) {
    const [p] = await lab.listPorts(`device_id=${routerId}&device_owner=${encodeURIComponent(owner)}`);
    if (p) return p;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`router ${routerId} has no ${owner} port after 120 s`);
}

/**
 * The centralized SNAT port of a dvr_snat host: neutron-l3-agent in dvr_snat mode, a distributed
 * router with an external gateway (physnet1's flat network, 203.0.113.0/24) and one vxlan subnet
 * (192.0.2.0/24) with a VM port here, so the server makes the subnet's sg- port and the L3 agent
 * plugs it here; then the gateway removed (the sg- and qg- ports go).
 */
export async function runSnatScenario(lab: NeutronLab, side: Side, host: string, ofInterface?: 'native' | 'ovs-ofctl', check?: StepCheck): Promise<Map<SnatStep, string>> {
  const flows = await onDvrHost(lab, side, host, { ofInterface, physnet: true, l3Mode: 'dvr_snat', roles: SNAT_ROLES, ...(check ? { check } : {}) }, async (h) => {
    const ext = await lab.createNetwork({ name: 'dvr-ext', provider: { network_type: 'flat', physical_network: 'physnet1' }, external: true });
    h.topo.networks.push(ext.id);
    await lab.createSubnet(ext.id, '203.0.113.0/24');
    const netA = await lab.createNetwork({ name: 'dvr-a' });
    h.topo.networks.push(netA.id);
    const subA = await lab.createSubnet(netA.id, '192.0.2.0/24');
    const router = await createDistributedRouter(lab, h.topo, { external_gateway_info: { network_id: ext.id } });
    const ifA = await addInterface(lab, h.topo, subA.id);
    const vmA = await lab.createPort(netA.id, { host, name: 'vm-a' });
    h.topo.ports.add(vmA.id);
    await plugVm(h.ovs, 'vm-a', vmA.id, vmA.mac_address);
    const snat = await routerPort(lab, router.id, 'network:router_centralized_snat');
    const gw = await routerPort(lab, router.id, 'network:router_gateway');
    const qr = await lab.getPort(ifA.port_id);
    for (const [mac, name] of [[vmA.mac_address, '<mac-vm-a>'], [linkLocal(vmA.mac_address), '<ll-vm-a>'], [qr.mac_address, '<mac-router-a>'], [snat.mac_address, '<mac-snat-a>'], [gw.mac_address, '<mac-gateway>']] as const) h.names.add(mac, name);
    addIpv4Name(h.names, vmA.fixed_ips[0]!.ip_address, '<ip-vm-a>');
    await h.nameVnis([[netA.id, 'a']]);
    const ifaces = new Map([[vmA.id, 'vm-a'], [ifA.port_id, 'qr-a'], [snat.id, 'sg-a'], [gw.id, 'qg']]);
    // The VM, and the sg- port as the csnat port, reached with the gateway MAC (table 1); the router port delivered to (table 3).
    const toSrc = (f: string[], mac: string): boolean => f.some((l) => l.includes('table=1,') && l.includes('priority=20') && l.includes(`dl_dst=${mac}`));
    await h.snapshot('gateway-set', (f) => toSrc(f, vmA.mac_address) && toSrc(f, snat.mac_address) && f.some((l) => l.includes('table=3,') && l.includes('priority=5')), ifaces);

    // The gateway removed only once the L3 agent has set the router up, and the flows taken once it
    // has taken the gateway down: removed while its first update still ran, the L3 agent went on
    // configuring the deleted qg- port, unplugged the host's floating IP gateway port (fg-) and
    // plugged it again, still bound on the server, so it was rightly wired here again (2 of 3 runs
    // before this wait): a state of the L3 agent's, not of the OVS agent's.
    await h.routerSettled(router.id);
    await lab.api('PUT', `/v2.0/routers/${router.id}`, { router: { external_gateway_info: {} } });
    await h.routerSettled(router.id);
    // The sg- port's flows gone, and the qg- port's: no untagged traffic from br-phys is taken in any more.
    await h.snapshot('gateway-removed', (f) => !toSrc(f, snat.mac_address) && !f.some((l) => l.includes('vlan_tci=0x0000/0x1fff')), ifaces);
  });
  return flows as Map<SnatStep, string>;
}

export type MovedStep = 'two-subnets-one-network' | 'vm-a-moved';
export const MOVED_STEPS: readonly MovedStep[] = ['two-subnets-one-network', 'vm-a-moved'];
export const movedFixtureName = (step: MovedStep): string => `ports-moved-${step}`;

/**
 * A VM port moved between two subnets of one network: vxlan network a with 192.0.2.0/25 (subnet 1)
 * and 192.0.2.128/25 (subnet 2), both interfaces of a distributed router, VM a on subnet 1; then
 * its fixed IP changed to subnet 2 (the server sends a port update). Both router ports' table-3
 * flows have one match (the network's local VLAN and this host's DVR MAC), so the one written last
 * stays: interface 2 is added only once interface 1's is in, on both sides.
 */
export async function runMovedScenario(lab: NeutronLab, side: Side, host: string, ofInterface?: 'native' | 'ovs-ofctl', check?: StepCheck): Promise<Map<MovedStep, string>> {
  const flows = await onDvrHost(lab, side, host, { ofInterface, physnet: false, l3Mode: 'dvr', ...(check ? { check } : {}) }, async (h) => {
    const net = await lab.createNetwork({ name: 'dvr-a' });
    h.topo.networks.push(net.id);
    const sub1 = await lab.createSubnet(net.id, '192.0.2.0/25');
    const sub2 = await lab.createSubnet(net.id, '192.0.2.128/25');
    await createDistributedRouter(lab, h.topo);
    // The VM first, on subnet 1: the router is scheduled here once a port of its subnets is bound here.
    const created = await lab.createPort(net.id, { host, name: 'vm-a' });
    h.topo.ports.add(created.id);
    const vmA = created.fixed_ips[0]!.subnet_id === sub1.id ? created : await lab.updatePort(created.id, { fixed_ips: [{ subnet_id: sub1.id }] });
    await plugVm(h.ovs, 'vm-a', vmA.id, vmA.mac_address);
    const delivered = (f: string[], qrOfport: string): boolean => f.some((l) => l.includes('table=3,') && l.includes('priority=5') && l.endsWith(`output:${qrOfport}`));
    const if1 = await addInterface(lab, h.topo, sub1.id);
    const qr1 = await ofportOfIface(h.ovs, if1.port_id);
    await h.waitFlows('interface 1 delivered to', (f) => delivered(f, qr1));
    const if2 = await addInterface(lab, h.topo, sub2.id);
    const qr2 = await ofportOfIface(h.ovs, if2.port_id);
    const router1 = await lab.getPort(if1.port_id);
    const router2 = await lab.getPort(if2.port_id);
    h.names.add(vmA.mac_address, '<mac-vm-a>');
    h.names.add(linkLocal(vmA.mac_address), '<ll-vm-a>');
    h.names.add(router1.mac_address, '<mac-router-1>');
    h.names.add(router2.mac_address, '<mac-router-2>');
    addIpv4Name(h.names, vmA.fixed_ips[0]!.ip_address, '<ip-vm-a>');
    await h.nameVnis([[net.id, 'a']]);
    const ifaces = new Map([[vmA.id, 'vm-a'], [if1.port_id, 'qr-1'], [if2.port_id, 'qr-2']]);
    // VM a reached with its gateway's MAC as source (table 1).
    const reachedFrom = (f: string[], routerMac: string): boolean => f.some((l) => l.includes('table=1,') && l.includes('priority=20') && l.includes(`dl_dst=${vmA.mac_address}`) && l.includes(routerMac));
    await h.snapshot('two-subnets-one-network', (f) => reachedFrom(f, router1.mac_address) && delivered(f, qr2), ifaces);

    const moved = await lab.updatePort(vmA.id, { fixed_ips: [{ subnet_id: sub2.id }] });
    addIpv4Name(h.names, moved.fixed_ips[0]!.ip_address, '<ip-vm-a-moved>');
    await h.snapshot('vm-a-moved', (f) => reachedFrom(f, router2.mac_address) && !reachedFrom(f, router1.mac_address), ifaces);
  });
  return flows as Map<MovedStep, string>;
}

/** The ofport of the interface with this iface-id, once the L3 agent has plugged it. */
async function ofportOfIface(ovs: PrivateOvs, ifaceId: string): Promise<string> {
  for (let i = 0; i < 240; i++) {
    const out = (await vsctl(ovs, '--bare', '--columns=ofport', 'find', 'Interface', `external_ids:iface-id=${ifaceId}`)).trim();
    if (/^\d+$/.test(out) && Number(out) > 0) return out;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`interface of port ${ifaceId} not plugged after 120 s`);
}
