// `[securitygroup] enable_security_group = False` next to a real firewall_driver (openvswitch or
// iptables_hybrid): one scenario run by either agent, ours or the reference (bench/agents.ts starts
// both from the same files), so that what each leaves can be compared. The reference still builds
// the driver in that case and only its filtering calls become no-ops (spec firewall.md §1).
//
// Steps: the agent starts (capture `start`); a vxlan network with ports a and b, both in a group
// that admits nothing, and a vlan network (physnet1) with port c are plugged one at a time (the
// hybrid way for iptables_hybrid), a pings b (capture `plugged`); b is unplugged (capture
// `unplugged`: a removed port is what makes the reference's iptables driver apply its rule set).
// Each capture holds the flows of br-int, br-tun and br-phys and, for iptables_hybrid, the
// iptables, ip6tables and ipset state; neutron ids in them are replaced by the ports' names.
import { LAB_PROJECT, waitFor, type NeutronLab, type NeutronPort } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { ping, plugVm, type Vm } from '../../../lab/vm.js';
import { plugHybridVm } from '../../../lab/hybrid-vm.js';
import { RunningAgent, agentRecord, defaultFlowsReady, until, type Side } from '../../../bench/agents.js';
import { resetFirewallState, saveFirewallState } from '../../helpers/iptables.js';
import { normaliseFlows } from './compare.js';

export type NosgDriver = 'openvswitch' | 'iptables_hybrid';
/** Each run's configuration, by the name its fixtures carry. */
export const NOSG_VARIANTS = {
  openvswitch: { driver: 'openvswitch', explicitlyEgressDirect: false },
  iptables_hybrid: { driver: 'iptables_hybrid', explicitlyEgressDirect: false },
  // `[agent] explicitly_egress_direct = True`: the reference then writes its own direct flows, as for noop.
  'openvswitch-direct': { driver: 'openvswitch', explicitlyEgressDirect: true },
} as const satisfies Record<string, { driver: NosgDriver; explicitlyEgressDirect: boolean }>;
export type NosgVariant = keyof typeof NOSG_VARIANTS;
export const NOSG_VARIANT_NAMES = Object.keys(NOSG_VARIANTS) as NosgVariant[];
export const NOSG_STEPS = ['start', 'plugged', 'unplugged'] as const;
export type NosgStep = (typeof NOSG_STEPS)[number];
export const NOSG_BRIDGES = ['br-int', 'br-tun', 'br-phys'] as const;

/** What one step left: `<variant>.<step>.flows` and, for iptables_hybrid, `.iptables`, `.ip6tables`, `.ipset`. */
export interface NosgSnapshot {
  flows: string;
  iptables?: { iptables: string; ip6tables: string; ipset: string };
}

/** What the scenario observed besides the snapshots: `<variant>.json`. */
export interface NosgFacts {
  /** The agent's `configurations` keys that depend on the firewall. */
  ovs_hybrid_plug: unknown;
  /** binding:vif_details the server gave port a (how Nova plugs it). */
  vif_details: Record<string, unknown>;
  /** Replies to 5 pings from a to b (the group admits nothing: with filtering there would be 0). */
  ping_a_to_b: number;
}

export interface NosgResult {
  snapshots: Record<NosgStep, NosgSnapshot>;
  facts: NosgFacts;
  /** The agent's whole log. */
  log: string;
}

interface Settle {
  changeMs: number;
  quietMs: number;
  maxMs: number;
}
/** The reference acts in its next 2 s loop iteration and reports ports up in the one after. */
const SETTLE: Record<Side, Settle> = {
  reference: { changeMs: 15000, quietMs: 5000, maxMs: 90000 },
  ours: { changeMs: 5000, quietMs: 1500, maxMs: 30000 },
};

export function nosgIni(variant: NosgVariant, ovs: PrivateOvs, lockDir: string): string {
  const v = NOSG_VARIANTS[variant];
  return [
    '[securitygroup]',
    `firewall_driver = ${v.driver}`,
    'enable_security_group = False',
    // the reference's root commands (ovs-ofctl, iptables) go through this: it keeps them on this OVS
    '[agent]',
    `root_helper = env OVS_RUNDIR=${ovs.dir}`,
    ...(v.explicitlyEgressDirect ? ['explicitly_egress_direct = True'] : []),
    // iptables_manager takes a file lock around each apply
    '[oslo_concurrency]',
    `lock_path = ${lockDir}`,
    '',
  ].join('\n');
}

const MACS = { a: 'fa:16:3e:5e:00:0a', b: 'fa:16:3e:5e:00:0b', c: 'fa:16:3e:5e:00:0c' } as const;
const IPS = { a: '192.0.2.10', b: '192.0.2.11', c: '198.51.100.12' } as const;
type PortName = keyof typeof MACS;

/**
 * Runs the scenario with `side`'s agent on `ovs` (fresh, with br-phys; tcp for the reference) and
 * host `host`. The caller stops nothing: the agent is stopped and every VM unplugged here; neutron
 * resources made are deleted.
 */
export async function runNosgScenario(
  side: Side,
  variant: NosgVariant,
  ctx: { lab: NeutronLab; ovs: PrivateOvs; host: string; lockDir: string; log?: (line: string) => void },
): Promise<NosgResult> {
  const { lab, ovs, host } = ctx;
  const { driver } = NOSG_VARIANTS[variant];
  const say = (l: string): void => ctx.log?.(`${side}/${variant}: ${l}`);
  const settle = SETTLE[side];
  const names = new Map<string, string>(); // neutron id -> name in the captures
  let vni: number | undefined;
  const vms = new Map<PortName, Vm>();
  const made: { ports: string[]; groups: string[]; networks: string[] } = { ports: [], groups: [], networks: [] };
  if (driver === 'iptables_hybrid') await resetFirewallState();
  const agent = await RunningAgent.start(side, { host, transportUrl: lab.transportUrl, ovs, extraIni: nosgIni(variant, ovs, ctx.lockDir) });

  const snapshot = async (): Promise<NosgSnapshot> => {
    const parts: string[] = [];
    for (const b of NOSG_BRIDGES) parts.push(`== ${b}`, ...normaliseFlows(await ovs.dumpFlows(b)));
    let flows = hideIds(parts.join('\n') + '\n', names);
    // The vxlan network's VNI comes from the server's pool: another on every run.
    if (vni !== undefined) flows = flows.replace(new RegExp(`(tun_id=|set_field:)0x${vni.toString(16)}\\b`, 'g'), '$1<vx-vni>');
    const s: NosgSnapshot = { flows };
    if (driver === 'iptables_hybrid') {
      const f = await saveFirewallState();
      s.iptables = { iptables: hideIds(f.iptables, names), ip6tables: hideIds(f.ip6tables, names), ipset: hideIds(f.ipset, names) };
    }
    return s;
  };
  /** Waits for the dataplane to change from `before` (or changeMs), then to stay put for quietMs. */
  const settled = async (before: string): Promise<NosgSnapshot> => {
    const t0 = Date.now();
    let last = await snapshot();
    while (JSON.stringify(last) === before && Date.now() - t0 < settle.changeMs) {
      agent.assertRunning();
      await sleep(250);
      last = await snapshot();
    }
    let since = Date.now();
    while (Date.now() - since < settle.quietMs) {
      if (Date.now() - t0 > settle.maxMs) throw new Error(`${side}/${variant}: still changing after ${settle.maxMs} ms`);
      agent.assertRunning();
      await sleep(250);
      const now = await snapshot();
      if (JSON.stringify(now) !== JSON.stringify(last)) {
        last = now;
        since = Date.now();
      }
    }
    return last;
  };

  try {
    await until('default flows', agent, 180000, () => defaultFlowsReady(ovs), 250);
    await until('agent alive in the API', agent, 180000, async () => (await agentRecord(lab, host))?.alive === true, 500);
    // Its first loop iteration (the reference) or full sync (ours): the agent is ready for ports.
    const ready = side === 'reference' ? /rpc_loop - iteration:0 completed/ : /first full sync done/;
    await until('first loop iteration', agent, 180000, async () => ready.test(agent.log(1 << 24)), 500);
    const snapshots: Partial<Record<NosgStep, NosgSnapshot>> = {};
    snapshots.start = await settled('');
    say('started');

    const net = async (name: string, provider?: { network_type: 'vlan'; physical_network: string; segmentation_id: number }): Promise<string> => {
      const n = await lab.createNetwork({ name: `nosg-${variant}-${name}`, ...(provider ? { provider } : {}) });
      made.networks.push(n.id);
      if (!provider) vni = n['provider:segmentation_id'] ?? undefined;
      const cidr = name === 'vx' ? '192.0.2.0/24' : '198.51.100.0/24';
      await lab.api('POST', '/v2.0/subnets', { subnet: { network_id: n.id, cidr, ip_version: 4, tenant_id: LAB_PROJECT, enable_dhcp: false, gateway_ip: null } });
      return n.id;
    };
    const vx = await net('vx');
    const vl = await net('vl', { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: 170 });
    // A group without rules: a filtering agent would let nothing in.
    const sg = await lab.api<{ security_group: { id: string; security_group_rules: { id: string }[] } }>('POST', '/v2.0/security-groups', {
      security_group: { name: `nosg-${variant}-closed`, tenant_id: LAB_PROJECT },
    });
    made.groups.push(sg.security_group.id);
    for (const r of sg.security_group.security_group_rules) await lab.api('DELETE', `/v2.0/security-group-rules/${r.id}`);

    const ports = new Map<PortName, NeutronPort>();
    for (const [name, network] of [['a', vx], ['b', vx], ['c', vl]] as const) {
      const before = JSON.stringify(await snapshot());
      const port = (
        await lab.api<{ port: NeutronPort }>('POST', '/v2.0/ports', {
          port: {
            network_id: network,
            tenant_id: LAB_PROJECT,
            name: `nosg-${name}`,
            mac_address: MACS[name],
            fixed_ips: [{ ip_address: IPS[name] }],
            device_owner: 'compute:nova',
            device_id: `nosg-${name}`,
            'binding:host_id': host,
            security_groups: [sg.security_group.id],
          },
        })
      ).port;
      made.ports.push(port.id);
      names.set(port.id, name);
      ports.set(name, port);
      if (port['binding:vif_type'] !== 'ovs') throw new Error(`port ${name} not bound to ${host}: vif_type ${port['binding:vif_type']}`);
      vms.set(name, driver === 'iptables_hybrid' ? await plugHybridVm(ovs, port) : await plugVm(ovs, port));
      await waitFor(
        async () => {
          agent.assertRunning();
          return (await lab.getPort(port.id)).status === 'ACTIVE';
        },
        120000,
        `port ${name} ACTIVE`,
        250,
      );
      await settled(before);
      say(`port ${name} ACTIVE`);
    }
    const replies = await ping(vms.get('a')!, IPS.b, { count: 5, timeoutMs: 8000 });
    say(`a -> b: ${replies}/5 replies`);
    snapshots.plugged = await settled(''); // '' differs from any snapshot: only the quiet wait

    const beforeUnplug = JSON.stringify(await snapshot());
    await vms.get('b')!.unplug();
    vms.delete('b');
    snapshots.unplugged = await settled(beforeUnplug);
    say('b unplugged');

    const a = await lab.getPort(ports.get('a')!.id);
    const record = await agentRecord(lab, host);
    return {
      snapshots: snapshots as Record<NosgStep, NosgSnapshot>,
      facts: {
        ovs_hybrid_plug: record?.configurations['ovs_hybrid_plug'],
        vif_details: (a['binding:vif_details'] ?? {}) as Record<string, unknown>,
        ping_a_to_b: replies,
      },
      log: agent.log(1 << 26),
    };
  } catch (e) {
    throw new Error(`${side}/${variant}: ${e instanceof Error ? e.message : String(e)}\n--- ${side} agent log tail ---\n${agent.log(6000)}`);
  } finally {
    for (const vm of vms.values()) await vm.unplug().catch((e: unknown) => say(`unplug: ${String(e)}`));
    await agent.stop(5000);
    agent.cleanup();
    for (const id of made.ports) await lab.deletePort(id).catch((e: unknown) => say(`delete port ${id}: ${String(e)}`));
    for (const id of made.networks) await lab.deleteNetwork(id).catch((e: unknown) => say(`delete network ${id}: ${String(e)}`));
    for (const id of made.groups) await lab.api('DELETE', `/v2.0/security-groups/${id}`).catch((e: unknown) => say(`delete group ${id}: ${String(e)}`));
  }
}

/** Port ids (whole, and the 11 characters device names carry) replaced by the ports' names. */
function hideIds(text: string, names: ReadonlyMap<string, string>): string {
  let t = text;
  // whole ids first, then the 11 characters device names keep and the 10 of iptables chain names
  for (const [id, name] of names) for (const n of [id.length, 11, 10]) t = t.split(id.slice(0, n)).join(`<${name}>`);
  return t;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
