// Captures what the reference agent (neutron-openvswitch-agent, firewall_driver = iptables_hybrid)
// leaves in iptables, ip6tables and ipset for a few scenarios, against the real neutron-server lab,
// with VMs plugged the hybrid way (qbr/qvb/qvo/tap). For each scenario it writes into
// test/fixtures/reference/iptables/:
//   <scenario>.iptables, <scenario>.ip6tables   iptables-save output, counters and comments stripped
//   <scenario>.ipset                            ipset list, hash seeds stripped, sorted
//   <scenario>.json                             the input: ports, security groups with their rules
//                                               (in neutron's order), remote-group members, the
//                                               conntrack zone the reference gave each port
// Not a test (no .test.ts): run it inside a private network namespace, whose iptables are its own:
//   npm run build && scripts/netns-run.sh node dist/test/integration/firewall/iptables-capture.js [scenario...]
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PrivateOvs, freePort } from '../../../lab/ovs.js';
import { NeutronLab, LAB_PROJECT, waitFor, type NeutronPort } from '../../../lab/neutron.js';
import { labAgentFiles } from '../../../lab/agent-config.js';
import { plugHybridVm, type HybridVm } from '../../../lab/hybrid-vm.js';
import { resetFirewallState, saveFirewallState } from '../../helpers/iptables.js';
import type { CapturedInput } from '../../helpers/iptables-fixtures.js';
import { startLabAndOvs } from '../../../lab/host.js';
import { ReferenceAgent } from '../../helpers/reference-agent.js';

const FIXTURES = resolve(process.env.IPT_FIXTURES ?? 'test/fixtures/reference/iptables');
const V4_CIDR = '192.0.2.0/24';
const V6_CIDR = '2001:db8:1::/64';

interface RuleSpec {
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol?: string;
  port_range_min?: number;
  port_range_max?: number;
  remote_ip_prefix?: string;
  /** 'self' for the group itself. */
  remote_group?: string;
}
interface GroupSpec {
  name: string;
  stateful?: boolean;
  /** Added after the two egress-any rules neutron creates with every group. */
  rules: RuleSpec[];
}
interface PortSpec {
  name: string;
  mac: string;
  ips: string[];
  groups: string[];
  portSecurity?: boolean;
  pairs?: Array<{ ip_address: string; mac_address?: string }>;
}
export interface Scenario {
  name: string;
  groups: GroupSpec[];
  /** Plugged in this order, each once the previous one is filtered (conntrack zones follow it). */
  ports: PortSpec[];
  /** `[securitygroup] enable_ipset` (default true). */
  enableIpset?: boolean;
}

const WEB: GroupSpec = {
  name: 'web',
  rules: [
    { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22, remote_ip_prefix: '0.0.0.0/0' },
    { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp', remote_ip_prefix: '198.51.100.0/24' },
    { direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp' },
  ],
};

/** A group whose members admit each other: any IPv4, TCP 8080-8090, and DNS over IPv6 in `dnsDirection`. */
const members = (dnsDirection: 'ingress' | 'egress'): GroupSpec => ({
  name: 'members',
  rules: [
    { direction: 'ingress', ethertype: 'IPv4', remote_group: 'self' },
    { direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 8080, port_range_max: 8090, remote_group: 'self' },
    { direction: dnsDirection, ethertype: 'IPv6', protocol: 'udp', port_range_min: 53, port_range_max: 53, remote_group: 'self' },
  ],
});

export const SCENARIOS: Scenario[] = [
  {
    name: 'one-port',
    groups: [WEB],
    ports: [{ name: 'a', mac: 'fa:16:3e:00:00:0a', ips: ['192.0.2.10', '2001:db8:1::a'], groups: ['web'] }],
  },
  {
    name: 'remote-group',
    groups: [members('ingress')],
    ports: [
      { name: 'b', mac: 'fa:16:3e:00:00:0b', ips: ['192.0.2.11', '2001:db8:1::b'], groups: ['members'] },
      { name: 'c', mac: 'fa:16:3e:00:00:0c', ips: ['192.0.2.12', '2001:db8:1::c'], groups: ['members'] },
    ],
  },
  {
    name: 'port-security-off',
    groups: [WEB],
    ports: [
      { name: 'd', mac: 'fa:16:3e:00:00:0d', ips: ['192.0.2.13'], groups: [], portSecurity: false },
      { name: 'e', mac: 'fa:16:3e:00:00:0e', ips: ['192.0.2.14'], groups: ['web'] },
    ],
  },
  {
    name: 'allowed-pairs',
    groups: [WEB],
    ports: [
      {
        name: 'f',
        mac: 'fa:16:3e:00:00:0f',
        ips: ['192.0.2.15', '2001:db8:1::f'],
        groups: ['web'],
        pairs: [{ ip_address: '192.0.2.99' }, { ip_address: '192.0.2.128/28', mac_address: 'fa:16:3e:00:00:99' }, { ip_address: '2001:db8:1::99' }],
      },
    ],
  },
  {
    name: 'stateless',
    groups: [{ name: 'nostate', stateful: false, rules: [{ direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', port_range_min: 22, port_range_max: 22 }] }],
    ports: [{ name: 'g', mac: 'fa:16:3e:00:00:10', ips: ['192.0.2.16'], groups: ['nostate'] }],
  },
  {
    // the remote-group scenario again (DNS egress this time), without ipsets: one rule per member address
    name: 'no-ipset',
    enableIpset: false,
    groups: [members('egress')],
    ports: [
      { name: 'h', mac: 'fa:16:3e:00:00:11', ips: ['192.0.2.17', '2001:db8:1::11'], groups: ['members'] },
      { name: 'i', mac: 'fa:16:3e:00:00:12', ips: ['192.0.2.18', '2001:db8:1::12'], groups: ['members'], pairs: [{ ip_address: '198.51.100.0/28' }] },
    ],
  },
];

interface ApiRule {
  id: string;
  direction: 'ingress' | 'egress';
  ethertype: 'IPv4' | 'IPv6';
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  normalized_cidr?: string | null;
  remote_group_id: string | null;
}
interface ApiGroup {
  id: string;
  name: string;
  stateful: boolean;
  security_group_rules: ApiRule[];
}

/** The reference with firewall_driver = iptables_hybrid on `host`; its processes ended by reference-agent.ts. */
class IptablesReference {
  private constructor(private readonly agent: ReferenceAgent) {}

  static async start(lab: NeutronLab, ovs: PrivateOvs, host: string, enableIpset = true): Promise<IptablesReference> {
    const dir = mkdtempSync(join(tmpdir(), 'ipt-ref-'));
    const files = labAgentFiles({
      host,
      transportUrl: lab.transportUrl,
      ovsdbConnection: ovs.tcpConnection,
      ofListenPort: await freePort(),
      firewallDriver: 'iptables_hybrid',
      securitygroup: [`enable_ipset = ${enableIpset ? 'True' : 'False'}`],
      // privsep and every root command of the reference go through this: it keeps them on our OVS
      agent: [`root_helper = env OVS_RUNDIR=${ovs.dir}`],
    });
    // iptables_manager takes an external file lock around every apply
    files['neutron.conf'] += `[oslo_concurrency]\nlock_path = ${join(dir, 'lock')}\n`;
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const agent = new IptablesReference(ReferenceAgent.start(dir, ovs));
    runningAgents.add(agent);
    await agent.agent.waitAlive(lab, host, 180000);
    return agent;
  }

  logTail(n = 4000): string {
    return this.agent.logTail(n);
  }

  /** Stops it and every helper it started, by pid, then removes its directory. */
  async stop(): Promise<void> {
    try {
      await this.agent.stop();
    } finally {
      runningAgents.delete(this);
      rmSync(this.agent.dir, { recursive: true, force: true });
    }
  }
}

const runningAgents = new Set<IptablesReference>();

function zonesFromRaw(rawV4: string): Map<string, number> {
  const zones = new Map<string, number>();
  for (const m of rawV4.matchAll(/--physdev-in tap([0-9a-f-]+) .*-j CT --zone (\d+)/g)) zones.set(m[1]!, Number(m[2]));
  return zones;
}

/** What a scenario's API operations made: the ports (in the scenario's order), the VMs plugged for them. */
export interface ScenarioObjects {
  ports: NeutronPort[];
  vms: HybridVm[];
  created: { ports: string[]; groups: string[]; network?: string };
  /** Rule ids in creation order (the order the agents keep them in). */
  createdRules: string[];
}

/**
 * The API operations of a scenario, whichever agent runs on `host`: network with an IPv4 and an
 * IPv6 subnet, the groups and their rules, the ports bound to `host`, each plugged the hybrid way
 * once the previous one is ACTIVE and has its rules in iptables. Fills `objs` as it goes, so the
 * caller can delete what was made even if this fails half way.
 */
export async function performScenario(lab: NeutronLab, ovs: PrivateOvs, sc: Scenario, host: string, objs: ScenarioObjects): Promise<void> {
  const { created, createdRules, ports, vms } = objs;
  const net = (await lab.api<{ network: { id: string } }>('POST', '/v2.0/networks', { network: { name: `ipt-${sc.name}`, tenant_id: LAB_PROJECT } })).network;
  created.network = net.id;
  const subnets: Record<string, string> = {};
  for (const [cidr, version] of [[V4_CIDR, 4], [V6_CIDR, 6]] as const) {
    const s = await lab.api<{ subnet: { id: string } }>('POST', '/v2.0/subnets', {
      subnet: { network_id: net.id, cidr, ip_version: version, tenant_id: LAB_PROJECT, enable_dhcp: false, gateway_ip: null },
    });
    subnets[version] = s.subnet.id;
  }
  const groupIds = new Map<string, string>();
  // The reference keeps a group's rules in the order its cache learnt them: as created, after the
  // two egress rules neutron creates with the group. The API lists them in another order.
  for (const g of sc.groups) {
    const body: Record<string, unknown> = { name: g.name, tenant_id: LAB_PROJECT };
    if (g.stateful === false) body.stateful = false;
    const sg = (await lab.api<{ security_group: ApiGroup }>('POST', '/v2.0/security-groups', { security_group: body })).security_group;
    created.groups.push(sg.id);
    groupIds.set(g.name, sg.id);
    for (const r of g.rules) {
      const rule: Record<string, unknown> = { security_group_id: sg.id, direction: r.direction, ethertype: r.ethertype, tenant_id: LAB_PROJECT };
      if (r.protocol) rule.protocol = r.protocol;
      if (r.port_range_min !== undefined) rule.port_range_min = r.port_range_min;
      if (r.port_range_max !== undefined) rule.port_range_max = r.port_range_max;
      if (r.remote_ip_prefix) rule.remote_ip_prefix = r.remote_ip_prefix;
      if (r.remote_group) rule.remote_group_id = r.remote_group === 'self' ? sg.id : groupIds.get(r.remote_group);
      const made = await lab.api<{ security_group_rule: { id: string } }>('POST', '/v2.0/security-group-rules', { security_group_rule: rule });
      createdRules.push(made.security_group_rule.id);
    }
  }
  for (const p of sc.ports) {
    const body: Record<string, unknown> = {
      network_id: net.id,
      tenant_id: LAB_PROJECT,
      name: p.name,
      mac_address: p.mac,
      fixed_ips: p.ips.map((ip) => ({ subnet_id: subnets[ip.includes(':') ? 6 : 4], ip_address: ip })),
      device_owner: 'compute:nova',
      device_id: `vm-${p.name}`,
      'binding:host_id': host,
      security_groups: p.groups.map((n) => groupIds.get(n)),
    };
    if (p.portSecurity === false) body.port_security_enabled = false;
    if (p.pairs) body.allowed_address_pairs = p.pairs;
    const port = (await lab.api<{ port: NeutronPort }>('POST', '/v2.0/ports', { port: body })).port;
    created.ports.push(port.id);
    if (port['binding:vif_type'] !== 'ovs' || port['binding:vif_details']['ovs_hybrid_plug'] !== true) {
      throw new Error(`port ${p.name} not bound for hybrid plugging: ${port['binding:vif_type']} ${JSON.stringify(port['binding:vif_details'])}`);
    }
    ports.push(port);
  }
  for (const [i, port] of ports.entries()) {
    vms.push(await plugHybridVm(ovs, port));
    await waitFor(async () => (await lab.getPort(port.id)).status === 'ACTIVE', 60000, `port ${sc.ports[i]!.name} ACTIVE`);
    // filtered (or accepted, without port security) before the next port comes
    await waitFor(async () => (await saveFirewallState()).iptables.includes(`tap${port.id.slice(0, 11)}`), 60000, `rules of port ${sc.ports[i]!.name}`);
  }
}

/** Unplugs the VMs and deletes what `performScenario` made; failures are written to stderr, not thrown. */
export async function undoScenario(lab: NeutronLab, objs: ScenarioObjects): Promise<void> {
  for (const vm of objs.vms) await vm.unplug().catch((e: unknown) => process.stderr.write(`${String(e)}\n`));
  for (const id of objs.created.ports) await lab.deletePort(id).catch((e: unknown) => process.stderr.write(`delete port ${id}: ${String(e)}\n`));
  for (const id of objs.created.groups) await lab.api('DELETE', `/v2.0/security-groups/${id}`).catch((e: unknown) => process.stderr.write(`delete group ${id}: ${String(e)}\n`));
  if (objs.created.network) await lab.deleteNetwork(objs.created.network).catch((e: unknown) => process.stderr.write(`delete network: ${String(e)}\n`));
}

/** iptables-save, ip6tables-save and ipset list once two saves 3 s apart are identical. */
export async function settledFirewallState(): Promise<Awaited<ReturnType<typeof saveFirewallState>>> {
  let last = await saveFirewallState();
  for (;;) {
    await new Promise((r) => setTimeout(r, 3000));
    const cur = await saveFirewallState();
    if (JSON.stringify(cur) === JSON.stringify(last)) return cur;
    last = cur;
  }
}

async function runScenario(lab: NeutronLab, ovs: PrivateOvs, sc: Scenario): Promise<void> {
  await resetFirewallState();
  const host = `ipt-${sc.name}`;
  let agent = await IptablesReference.start(lab, ovs, host, sc.enableIpset ?? true);
  const objs: ScenarioObjects = { ports: [], vms: [], created: { ports: [], groups: [] }, createdRules: [] };
  const { ports, created, createdRules } = objs;
  try {
    await performScenario(lab, ovs, sc, host, objs);
    let prev = await settledFirewallState();
    if (process.env.IPT_RESTART === '1') {
      // IPT_RESTART=1: what a restarted reference leaves (its cache filled by bulk pulls, not pushes)
      await agent.stop();
      agent = await IptablesReference.start(lab, ovs, host, sc.enableIpset ?? true);
      await new Promise((r) => setTimeout(r, 15000));
      prev = await settledFirewallState();
    }
    const raw = /\*raw[\s\S]*?COMMIT/.exec(prev.iptables)?.[0] ?? '';
    const zones = zonesFromRaw(raw);
    const groups = await Promise.all(created.groups.map(async (id) => (await lab.api<{ security_group: ApiGroup }>('GET', `/v2.0/security-groups/${id}`)).security_group));
    const input: CapturedInput = {
      ports: ports.map((p) => ({
        id: p.id,
        mac: p.mac_address,
        fixedIps: p.fixed_ips.map((f) => f.ip_address),
        allowedAddressPairs: ((p['allowed_address_pairs'] as Array<{ mac_address: string; ip_address: string }> | undefined) ?? []).map((a) => ({ mac: a.mac_address, ip: a.ip_address })),
        securityGroupIds: (p['security_groups'] as string[] | undefined) ?? [],
        portSecurityEnabled: p['port_security_enabled'] !== false,
        deviceOwner: p.device_owner,
        networkId: p.network_id,
        zone: zones.get(p.id.slice(0, 11)),
      })),
      securityGroups: groups.map((g) => ({
        id: g.id,
        stateful: g.stateful,
        rules: [...g.security_group_rules].sort((a, b) => createdRules.indexOf(a.id) - createdRules.indexOf(b.id)).map((r) => ({
          id: r.id,
          direction: r.direction,
          ethertype: r.ethertype,
          ...(r.protocol !== null ? { protocol: r.protocol } : {}),
          ...(r.port_range_min !== null ? { portRangeMin: r.port_range_min } : {}),
          ...(r.port_range_max !== null ? { portRangeMax: r.port_range_max } : {}),
          ...((r.normalized_cidr ?? r.remote_ip_prefix) ? { remoteIpPrefix: (r.normalized_cidr ?? r.remote_ip_prefix)! } : {}),
          ...(r.remote_group_id !== null ? { remoteGroupId: r.remote_group_id } : {}),
        })),
      })),
      members: {},
      enableIpset: sc.enableIpset ?? true,
    };
    // Members of each remote group: fixed IPs and allowed pairs of the ports in it, as the server's shim computes them.
    for (const g of input.securityGroups) {
      for (const r of g.rules) {
        if (!r.remoteGroupId || input.members[r.remoteGroupId]) continue;
        const m: { IPv4: Array<[string, string]>; IPv6: Array<[string, string]> } = { IPv4: [], IPv6: [] };
        for (const p of input.ports.filter((q) => q.securityGroupIds.includes(r.remoteGroupId!))) {
          for (const ip of p.fixedIps) m[ip.includes(':') ? 'IPv6' : 'IPv4'].push([ip, p.mac]);
          for (const a of p.allowedAddressPairs) m[a.ip.includes(':') ? 'IPv6' : 'IPv4'].push([a.ip, a.mac]);
        }
        input.members[r.remoteGroupId] = m;
      }
    }
    mkdirSync(FIXTURES, { recursive: true });
    writeFileSync(join(FIXTURES, `${sc.name}.iptables`), prev.iptables);
    writeFileSync(join(FIXTURES, `${sc.name}.ip6tables`), prev.ip6tables);
    writeFileSync(join(FIXTURES, `${sc.name}.ipset`), prev.ipset);
    writeFileSync(join(FIXTURES, `${sc.name}.json`), JSON.stringify(input, null, 2) + '\n');
    process.stdout.write(`${sc.name}: captured (${prev.iptables.split('\n').length} iptables lines)\n`);
  } catch (e) {
    throw new Error(`scenario ${sc.name}: ${e instanceof Error ? e.message : String(e)}\n--- reference agent log tail ---\n${agent.logTail()}`);
  } finally {
    await agent.stop();
    await undoScenario(lab, objs);
  }
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2);
  const scenarios = wanted.length ? SCENARIOS.filter((s) => wanted.includes(s.name)) : SCENARIOS;
  if (scenarios.length === 0) throw new Error(`no such scenario: ${wanted.join(', ')} (have ${SCENARIOS.map((s) => s.name).join(', ')})`);
  const [lab, ovs] = await startLabAndOvs({ tcp: true });
  // Interrupted: stop what runs (the scenario's own cleanup is skipped; its agent is found by its dir).
  const stopAll = (sig: string): void => {
    process.stderr.write(`${sig}: stopping the lab and OVS\n`);
    void Promise.allSettled([lab.stop(), ovs.stop(), ...[...runningAgents].map((a) => a.stop())]).then(() => process.exit(1));
  };
  process.once('SIGTERM', () => stopAll('SIGTERM'));
  process.once('SIGINT', () => stopAll('SIGINT'));
  try {
    for (const sc of scenarios) await runScenario(lab, ovs, sc);
  } finally {
    await Promise.allSettled([lab.stop(), ovs.stop()]);
  }
}

if (process.argv[1] && resolve(process.argv[1]).endsWith('iptables-capture.js')) {
  main().catch((e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
