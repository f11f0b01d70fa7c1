// Security-group scenarios for the OVS firewall parity work (issue 10): each one a fixed sequence
// of neutron API operations and VM plugs/unplugs, runnable against either agent (ours or the
// reference) on a fresh private OVS, so that br-int's flows can be compared across agents and runs.
//
// Determinism: every port gets an explicit MAC (fa:16:3e:…) and fixed IPs from the documentation
// ranges; ports are plugged one at a time, each waited for until ACTIVE, so ofports and local
// VLANs come out the same on every run; each security group is created empty (neutron's default
// egress rules deleted) and given exactly the scenario's rules; ports get only the groups named.
// Every scenario uses its own networks and groups, so one lab serves them all.
import type { NeutronLab, NeutronPort } from '../../../lab/neutron.js';
import { LAB_PROJECT, waitFor } from '../../../lab/neutron.js';
import type { PrivateOvs } from '../../../lab/ovs.js';
import { plugVm, type Vm } from '../../../lab/vm.js';

/** What a scenario needs from whoever runs it. */
export interface ScenarioContext {
  lab: NeutronLab;
  /** A fresh OVS with br-int wired by the agent under test. */
  ovs: PrivateOvs;
  /** The agent's `host`: ports are bound to it. */
  host: string;
  /** Throws (with the agent's log) when the agent under test is no longer running. */
  assertAgentRunning(): void;
  /**
   * Called at each capture point once the agent has settled; `step` is undefined for the
   * scenario's final state. The fixture for it is `<scenario>[.<step>].flows`.
   */
  capture(step: string | undefined): Promise<void>;
  /** Progress lines (default: none). */
  log?(line: string): void;
  /** How long each step waits for the agent (default: SETTLE_REFERENCE, what the capture used). */
  settle?: SettleTimes;
}

/**
 * After each step: wait up to `changeMs` for br-int's flows to change, then until they have not
 * changed for `quietMs` (failing after `maxMs`). The reference needs long waits (2 s loop, member
 * changes one iteration later); an event-driven agent can be given shorter ones.
 */
export interface SettleTimes {
  changeMs: number;
  quietMs: number;
  maxMs: number;
  /** How often br-int is dumped meanwhile. */
  pollMs: number;
}

/** The waits the reference needs: it acts in its next 2 s loop iteration, applies a member change
 * to the other ports one iteration later, and an iteration that reports ports up can take 3 s. */
export const SETTLE_REFERENCE: SettleTimes = { changeMs: 15000, quietMs: 4000, maxMs: 60000, pollMs: 250 };

export interface NetworkSpec {
  provider?: { network_type: 'vxlan' | 'vlan' | 'flat'; physical_network?: string; segmentation_id?: number };
  /** Subnet CIDRs; IPv6 ones (2001:db8::/32) get no RA/address mode: addresses are fixed. */
  cidrs: string[];
}

export interface RuleSpec {
  direction: 'ingress' | 'egress';
  ethertype?: 'IPv4' | 'IPv6';
  /** Name ('tcp', 'icmp', 'ipv6-icmp', 'sctp'…) or number as a string ('132'). */
  protocol?: string;
  /** Port range (or ICMP type and code, as neutron carries them). */
  min?: number;
  max?: number;
  remoteIpPrefix?: string;
  /** Name of a group of this scenario. */
  remoteGroup?: string;
  /** Name of an address group of this scenario. */
  remoteAddressGroup?: string;
}

export interface PortSpec {
  network: string;
  mac: string;
  ips: string[];
  /** Group names; default none. */
  groups?: string[];
  portSecurity?: boolean;
  deviceOwner?: string;
  allowedAddressPairs?: { ip_address: string; mac_address?: string }[];
}

export interface Scenario {
  name: string;
  /** What it exercises, in the reference's terms. */
  summary: string;
  run(s: ScenarioSteps): Promise<void>;
}

interface PlugState {
  port: NeutronPort;
  vm?: Vm;
}

/**
 * The operations scenarios are written in. Names given to resources are stable across runs; the
 * neutron ids behind them are recorded in `ids` (the capture tool checks none shows in a flow).
 */
export class ScenarioSteps {
  /** Stable name → neutron id of everything created. */
  readonly ids = new Map<string, string>();
  private readonly ports = new Map<string, PlugState>();
  private readonly rules = new Map<string, string>();

  constructor(
    private readonly ctx: ScenarioContext,
    private readonly scenario: string,
  ) {}

  private id(kind: string, name: string): string {
    const id = this.ids.get(`${kind}:${name}`);
    if (id === undefined) throw new Error(`scenario ${this.scenario}: no ${kind} named ${name} yet`);
    return id;
  }

  private say(line: string): void {
    this.ctx.log?.(`${this.scenario}: ${line}`);
  }

  async network(name: string, spec: NetworkSpec): Promise<void> {
    const network = await this.ctx.lab.createNetwork({ name: `${this.scenario}-${name}`, ...(spec.provider ? { provider: spec.provider } : {}) });
    this.ids.set(`network:${name}`, network.id);
    for (const cidr of spec.cidrs) {
      const v6 = cidr.includes(':');
      if (v6 ? !cidr.toLowerCase().startsWith('2001:db8:') : !/^(192\.0\.2|198\.51\.100|203\.0\.113)\./.test(cidr)) {
        throw new Error(`scenario ${this.scenario}: subnet ${cidr} is outside the documentation ranges`);
      }
      const subnet = await this.ctx.lab.api<{ subnet: { id: string } }>('POST', '/v2.0/subnets', {
        subnet: { network_id: network.id, cidr, ip_version: v6 ? 6 : 4, tenant_id: LAB_PROJECT, enable_dhcp: false, gateway_ip: null },
      });
      this.ids.set(`subnet:${name}:${cidr}`, subnet.subnet.id);
    }
  }

  /** A security group holding exactly `rules` (neutron's default egress rules removed). */
  async group(name: string, rules: (RuleSpec & { name?: string })[], opts: { stateful?: boolean } = {}): Promise<void> {
    const body: Record<string, unknown> = { name: `${this.scenario}-${name}`, tenant_id: LAB_PROJECT };
    if (opts.stateful !== undefined) body.stateful = opts.stateful;
    const sg = await this.ctx.lab.api<{ security_group: { id: string; security_group_rules: { id: string }[] } }>('POST', '/v2.0/security-groups', {
      security_group: body,
    });
    this.ids.set(`group:${name}`, sg.security_group.id);
    for (const r of sg.security_group.security_group_rules) {
      await this.ctx.lab.api('DELETE', `/v2.0/security-group-rules/${r.id}`);
    }
    for (const [i, r] of rules.entries()) await this.createRule(r.name ?? `${name}#${i}`, name, r);
  }

  private async createRule(ruleName: string, group: string, r: RuleSpec): Promise<void> {
    const rule: Record<string, unknown> = {
      security_group_id: this.id('group', group),
      direction: r.direction,
      ethertype: r.ethertype ?? 'IPv4',
      tenant_id: LAB_PROJECT,
    };
    if (r.protocol !== undefined) rule.protocol = r.protocol;
    if (r.min !== undefined) rule.port_range_min = r.min;
    if (r.max !== undefined) rule.port_range_max = r.max;
    if (r.remoteIpPrefix !== undefined) rule.remote_ip_prefix = r.remoteIpPrefix;
    if (r.remoteGroup !== undefined) rule.remote_group_id = this.id('group', r.remoteGroup);
    if (r.remoteAddressGroup !== undefined) rule.remote_address_group_id = this.id('address-group', r.remoteAddressGroup);
    const res = await this.ctx.lab.api<{ security_group_rule: { id: string } }>('POST', '/v2.0/security-group-rules', { security_group_rule: rule });
    this.rules.set(ruleName, res.security_group_rule.id);
    this.ids.set(`rule:${ruleName}`, res.security_group_rule.id);
  }

  /** Adds a rule to an existing group, then waits for the agent to apply it. */
  async addRule(ruleName: string, group: string, r: RuleSpec): Promise<void> {
    const before = await this.flows();
    await this.createRule(ruleName, group, r);
    await this.settle(before);
  }

  /** Deletes a rule by the name it was given, then waits for the agent to apply it. */
  async deleteRule(ruleName: string): Promise<void> {
    const id = this.rules.get(ruleName);
    if (id === undefined) throw new Error(`scenario ${this.scenario}: no rule named ${ruleName}`);
    const before = await this.flows();
    await this.ctx.lab.api('DELETE', `/v2.0/security-group-rules/${id}`);
    this.rules.delete(ruleName);
    await this.settle(before);
  }

  async addressGroup(name: string, addresses: string[]): Promise<void> {
    const res = await this.ctx.lab.api<{ address_group: { id: string } }>('POST', '/v2.0/address-groups', {
      address_group: { name: `${this.scenario}-${name}`, addresses, tenant_id: LAB_PROJECT },
    });
    this.ids.set(`address-group:${name}`, res.address_group.id);
  }

  /** Adds addresses to an address group, then waits for the agent to apply it. */
  async addAddresses(name: string, addresses: string[]): Promise<void> {
    const before = await this.flows();
    await this.ctx.lab.api('PUT', `/v2.0/address-groups/${this.id('address-group', name)}/add_addresses`, { addresses });
    await this.settle(before);
  }

  /**
   * Creates the port bound to the agent's host, plugs a VM for it into br-int and waits until
   * it is ACTIVE and the agent's flows have settled (one port at a time: stable ofports, VLANs).
   */
  async plug(name: string, spec: PortSpec): Promise<void> {
    const port: Record<string, unknown> = {
      network_id: this.id('network', spec.network),
      tenant_id: LAB_PROJECT,
      name: `${this.scenario}-${name}`,
      mac_address: spec.mac,
      fixed_ips: spec.ips.map((ip) => ({ ip_address: ip })),
      device_owner: spec.deviceOwner ?? 'compute:nova',
      device_id: `${this.scenario}-${name}`,
      'binding:host_id': this.ctx.host,
      security_groups: (spec.groups ?? []).map((g) => this.id('group', g)),
    };
    if (spec.portSecurity !== undefined) port.port_security_enabled = spec.portSecurity;
    if (spec.allowedAddressPairs !== undefined) port.allowed_address_pairs = spec.allowedAddressPairs;
    const created = (await this.ctx.lab.api<{ port: NeutronPort }>('POST', '/v2.0/ports', { port })).port;
    this.ids.set(`port:${name}`, created.id);
    if (created['binding:vif_type'] !== 'ovs') {
      throw new Error(`scenario ${this.scenario}: port ${name} not bound to ${this.ctx.host} (vif_type ${created['binding:vif_type']}): is the agent alive?`);
    }
    const state: PlugState = { port: created };
    this.ports.set(name, state);
    const before = await this.flows();
    const v6 = (ip: string | undefined): boolean => ip?.includes(':') === true;
    state.vm = await plugVm(this.ctx.ovs, created, { prefixLen: v6(created.fixed_ips[0]?.ip_address) ? 64 : 24 });
    await waitFor(
      async () => {
        this.ctx.assertAgentRunning();
        return (await this.ctx.lab.getPort(created.id)).status === 'ACTIVE';
      },
      90000,
      `scenario ${this.scenario}: port ${name} ACTIVE`,
      200,
    );
    this.say(`port ${name} ACTIVE`);
    await this.settle(before);
  }

  /** Removes the VM's tap from br-int (the port stays in neutron), then waits for the agent. */
  async unplug(name: string): Promise<void> {
    const state = this.ports.get(name);
    if (state?.vm === undefined) throw new Error(`scenario ${this.scenario}: port ${name} is not plugged`);
    const before = await this.flows();
    await state.vm.unplug();
    state.vm = undefined;
    await this.settle(before);
  }

  /** Deletes the neutron port (unplug it first, as Nova does), then waits for the agent. */
  async deletePort(name: string): Promise<void> {
    const state = this.ports.get(name);
    if (state === undefined) throw new Error(`scenario ${this.scenario}: no port named ${name}`);
    const before = await this.flows();
    await this.ctx.lab.deletePort(state.port.id);
    this.ports.delete(name);
    await this.settle(before);
  }

  async capture(step?: string): Promise<void> {
    this.ctx.assertAgentRunning();
    await this.ctx.capture(step);
  }

  /** Unplugs every VM still plugged (namespaces and veths); ports stay in the lab. */
  async cleanup(): Promise<void> {
    const errors: string[] = [];
    for (const [name, s] of this.ports) {
      await s.vm?.unplug().catch((e: unknown) => errors.push(`${name}: ${String(e)}`));
      s.vm = undefined;
    }
    if (errors.length) throw new Error(`scenario ${this.scenario}: unplugging: ${errors.join('; ')}`);
  }

  private async flows(): Promise<string> {
    return (await this.ctx.ovs.dumpFlows('br-int')).join('\n');
  }

  /**
   * Waits until br-int's flows differ from `before` (a step that changes nothing just costs
   * `changeMs`), then until they have not changed for `quietMs` (see SettleTimes).
   */
  private async settle(before: string): Promise<void> {
    const { changeMs, quietMs, maxMs, pollMs } = this.ctx.settle ?? SETTLE_REFERENCE;
    const t0 = Date.now();
    let last = await this.flows();
    while (last === before && Date.now() - t0 < changeMs) {
      this.ctx.assertAgentRunning();
      await sleep(pollMs);
      last = await this.flows();
    }
    if (last === before) this.say(`flows unchanged after ${changeMs} ms`);
    let since = Date.now();
    const end = Date.now() + maxMs;
    while (Date.now() - since < quietMs) {
      if (Date.now() > end) throw new Error(`scenario ${this.scenario}: br-int flows still changing after ${maxMs} ms`);
      this.ctx.assertAgentRunning();
      await sleep(pollMs);
      const now = await this.flows();
      if (now !== last) {
        last = now;
        since = Date.now();
      }
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const anyEgress: RuleSpec[] = [
  { direction: 'egress', ethertype: 'IPv4' },
  { direction: 'egress', ethertype: 'IPv6' },
];
const VXLAN: NetworkSpec = { cidrs: ['192.0.2.0/24'] };

/** The scenarios, in the order the capture tool runs them. */
export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'one-port',
    summary: 'one port; ingress tcp/22 from anywhere, icmp from a prefix; egress any (v4, v6)',
    async run(s) {
      await s.network('net', VXLAN);
      await s.group('web', [
        { direction: 'ingress', protocol: 'tcp', min: 22, max: 22 },
        { direction: 'ingress', protocol: 'icmp', remoteIpPrefix: '198.51.100.0/24' },
        ...anyEgress,
      ]);
      await s.plug('a', { network: 'net', mac: 'fa:16:3e:01:00:0a', ips: ['192.0.2.10'], groups: ['web'] });
      await s.capture();
    },
  },
  {
    name: 'remote-group',
    summary: 'four ports (three vxlan, one vlan) sharing a group that admits its own members: conjunctions',
    async run(s) {
      await s.network('vx', VXLAN);
      await s.network('vl', { provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: 150 }, cidrs: ['198.51.100.0/24'] });
      await s.group('cluster', [
        { direction: 'ingress', remoteGroup: 'cluster' },
        { direction: 'ingress', protocol: 'tcp', min: 22, max: 22, remoteGroup: 'cluster' },
        ...anyEgress,
      ]);
      await s.plug('a', { network: 'vx', mac: 'fa:16:3e:02:00:0a', ips: ['192.0.2.10'], groups: ['cluster'] });
      await s.capture('one-member');
      await s.plug('b', { network: 'vx', mac: 'fa:16:3e:02:00:0b', ips: ['192.0.2.11'], groups: ['cluster'] });
      await s.plug('c', { network: 'vx', mac: 'fa:16:3e:02:00:0c', ips: ['192.0.2.12'], groups: ['cluster'] });
      await s.plug('d', { network: 'vl', mac: 'fa:16:3e:02:00:0d', ips: ['198.51.100.13'], groups: ['cluster'] });
      await s.capture();
    },
  },
  {
    name: 'port-ranges',
    summary: 'tcp/udp port ranges as value/mask matches, overlapping ranges of remote-group rules',
    async run(s) {
      await s.network('net', VXLAN);
      await s.group('ranges', [
        { direction: 'ingress', protocol: 'tcp', min: 1000, max: 1999 },
        { direction: 'ingress', protocol: 'tcp', min: 8080, max: 8090 },
        { direction: 'ingress', protocol: 'udp', min: 53, max: 53 },
        { direction: 'ingress', protocol: 'udp', min: 1, max: 65535, remoteIpPrefix: '203.0.113.0/24' },
        { direction: 'ingress', protocol: 'tcp', min: 5000, max: 5100, remoteGroup: 'ranges' },
        { direction: 'ingress', protocol: 'tcp', min: 5050, max: 5200, remoteGroup: 'ranges' },
        { direction: 'egress', protocol: 'tcp', min: 443, max: 443 },
        { direction: 'egress', protocol: 'udp', min: 32768, max: 60999 },
      ]);
      await s.plug('a', { network: 'net', mac: 'fa:16:3e:03:00:0a', ips: ['192.0.2.10'], groups: ['ranges'] });
      await s.plug('b', { network: 'net', mac: 'fa:16:3e:03:00:0b', ips: ['192.0.2.11'], groups: ['ranges'] });
      await s.capture();
    },
  },
  {
    name: 'address-pairs',
    summary: 'allowed address pairs (own MAC with a CIDR, another MAC with one IP) in spoofing checks and as remote-group members',
    async run(s) {
      await s.network('net', VXLAN);
      await s.group('pairs', [{ direction: 'ingress', remoteGroup: 'pairs' }, ...anyEgress]);
      await s.plug('a', {
        network: 'net',
        mac: 'fa:16:3e:04:00:0a',
        ips: ['192.0.2.10'],
        groups: ['pairs'],
        allowedAddressPairs: [{ ip_address: '192.0.2.128/28' }, { ip_address: '192.0.2.99', mac_address: 'fa:16:3e:04:00:99' }],
      });
      await s.plug('b', { network: 'net', mac: 'fa:16:3e:04:00:0b', ips: ['192.0.2.11'], groups: ['pairs'] });
      await s.capture();
    },
  },
  {
    name: 'stateless',
    summary: 'a group with stateful = false (ingress tcp/80, egress any)',
    async run(s) {
      await s.network('net', VXLAN);
      await s.group('nostate', [{ direction: 'ingress', protocol: 'tcp', min: 80, max: 80 }, ...anyEgress], { stateful: false });
      await s.plug('a', { network: 'net', mac: 'fa:16:3e:05:00:0a', ips: ['192.0.2.10'], groups: ['nostate'] });
      await s.capture();
    },
  },
  {
    name: 'port-security-off',
    summary: 'a port with port_security_enabled = false next to a filtered one',
    async run(s) {
      await s.network('net', VXLAN);
      await s.group('web', [{ direction: 'ingress', protocol: 'tcp', min: 22, max: 22 }, ...anyEgress]);
      await s.plug('open', { network: 'net', mac: 'fa:16:3e:06:00:0a', ips: ['192.0.2.10'], portSecurity: false });
      await s.plug('filtered', { network: 'net', mac: 'fa:16:3e:06:00:0b', ips: ['192.0.2.11'], groups: ['web'] });
      await s.capture();
    },
  },
  {
    name: 'dhcp-port',
    summary: 'a trusted network:dhcp port (no filtering) next to a filtered one',
    async run(s) {
      await s.network('net', VXLAN);
      await s.group('web', [{ direction: 'ingress', protocol: 'tcp', min: 22, max: 22 }, ...anyEgress]);
      await s.plug('dhcp', { network: 'net', mac: 'fa:16:3e:07:00:02', ips: ['192.0.2.2'], deviceOwner: 'network:dhcp' });
      await s.plug('vm', { network: 'net', mac: 'fa:16:3e:07:00:0a', ips: ['192.0.2.10'], groups: ['web'] });
      await s.capture();
    },
  },
  {
    name: 'ipv6',
    summary: 'dual-stack ports: icmpv6, tcp/443 from a v6 prefix, v6 remote group, egress any',
    async run(s) {
      await s.network('net', { cidrs: ['192.0.2.0/24', '2001:db8:1::/64'] });
      await s.group('v6', [
        { direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp' },
        { direction: 'ingress', ethertype: 'IPv6', protocol: 'tcp', min: 443, max: 443, remoteIpPrefix: '2001:db8:2::/64' },
        { direction: 'ingress', ethertype: 'IPv6', protocol: 'icmp', min: 128, max: 0 },
        { direction: 'ingress', ethertype: 'IPv6', remoteGroup: 'v6' },
        { direction: 'ingress', ethertype: 'IPv4', protocol: 'icmp' },
        ...anyEgress,
      ]);
      await s.plug('a', { network: 'net', mac: 'fa:16:3e:08:00:0a', ips: ['192.0.2.10', '2001:db8:1::a'], groups: ['v6'] });
      await s.plug('b', { network: 'net', mac: 'fa:16:3e:08:00:0b', ips: ['192.0.2.11', '2001:db8:1::b'], groups: ['v6'] });
      await s.capture();
    },
  },
  {
    name: 'protocols',
    summary: 'protocols by number (47, 132) and by name (sctp with ports, vrrp), icmp type and type+code',
    async run(s) {
      await s.network('net', VXLAN);
      await s.group('protos', [
        { direction: 'ingress', protocol: '47' },
        { direction: 'ingress', protocol: '132', min: 9000, max: 9000 },
        { direction: 'ingress', protocol: 'sctp', min: 5000, max: 5001 },
        { direction: 'ingress', protocol: 'vrrp', remoteIpPrefix: '192.0.2.0/24' },
        { direction: 'ingress', protocol: 'icmp', min: 8 },
        { direction: 'ingress', protocol: 'icmp', min: 3, max: 4 },
        { direction: 'egress', protocol: '17', min: 123, max: 123 },
      ]);
      await s.plug('a', { network: 'net', mac: 'fa:16:3e:09:00:0a', ips: ['192.0.2.10'], groups: ['protos'] });
      await s.capture();
    },
  },
  {
    name: 'rule-change',
    summary: 'rules removed and added while two ports are filtered (plain and remote-group rules)',
    async run(s) {
      await s.network('net', VXLAN);
      await s.group('app', [
        { name: 'ssh', direction: 'ingress', protocol: 'tcp', min: 22, max: 22 },
        { name: 'peers', direction: 'ingress', protocol: 'tcp', min: 7000, max: 7000, remoteGroup: 'app' },
        ...anyEgress,
      ]);
      await s.plug('a', { network: 'net', mac: 'fa:16:3e:0a:00:0a', ips: ['192.0.2.10'], groups: ['app'] });
      await s.plug('b', { network: 'net', mac: 'fa:16:3e:0a:00:0b', ips: ['192.0.2.11'], groups: ['app'] });
      await s.capture('before');
      await s.deleteRule('ssh');
      await s.capture('ssh-removed');
      await s.deleteRule('peers');
      await s.capture('peers-removed');
      await s.addRule('http', 'app', { direction: 'ingress', protocol: 'tcp', min: 80, max: 80 });
      await s.capture();
    },
  },
  {
    name: 'port-deleted',
    summary: 'three ports in a remote group; one is unplugged and deleted',
    async run(s) {
      await s.network('net', VXLAN);
      await s.group('cluster', [{ direction: 'ingress', remoteGroup: 'cluster' }, ...anyEgress]);
      await s.plug('a', { network: 'net', mac: 'fa:16:3e:0b:00:0a', ips: ['192.0.2.10'], groups: ['cluster'] });
      await s.plug('b', { network: 'net', mac: 'fa:16:3e:0b:00:0b', ips: ['192.0.2.11'], groups: ['cluster'] });
      await s.plug('c', { network: 'net', mac: 'fa:16:3e:0b:00:0c', ips: ['192.0.2.12'], groups: ['cluster'] });
      await s.capture('before');
      await s.unplug('b');
      await s.capture('unplugged');
      await s.deletePort('b');
      await s.capture();
    },
  },
  {
    name: 'address-group',
    summary: 'rules with remote_address_group_id (v4 and v6 addresses); the group gains an address',
    async run(s) {
      await s.network('net', { cidrs: ['192.0.2.0/24', '2001:db8:1::/64'] });
      await s.addressGroup('admins', ['203.0.113.0/28', '198.51.100.7/32', '2001:db8:5::/64']);
      await s.group('mgmt', [
        { direction: 'ingress', protocol: 'tcp', min: 22, max: 22, remoteAddressGroup: 'admins' },
        { direction: 'ingress', ethertype: 'IPv6', remoteAddressGroup: 'admins' },
        ...anyEgress,
      ]);
      await s.plug('a', { network: 'net', mac: 'fa:16:3e:0c:00:0a', ips: ['192.0.2.10', '2001:db8:1::a'], groups: ['mgmt'] });
      await s.capture('before');
      await s.addAddresses('admins', ['198.51.100.8/32']);
      await s.capture();
    },
  },
  {
    name: 'provider-networks',
    summary: 'filtered ports on a vlan and a flat network (provider VID and untagged classification)',
    async run(s) {
      await s.network('vl', { provider: { network_type: 'vlan', physical_network: 'physnet1', segmentation_id: 160 }, cidrs: ['198.51.100.0/24'] });
      await s.network('fl', { provider: { network_type: 'flat', physical_network: 'physnet1' }, cidrs: ['203.0.113.0/24'] });
      await s.group('web', [{ direction: 'ingress', protocol: 'tcp', min: 80, max: 80 }, ...anyEgress]);
      await s.plug('vl', { network: 'vl', mac: 'fa:16:3e:0d:00:0a', ips: ['198.51.100.10'], groups: ['web'] });
      await s.plug('fl', { network: 'fl', mac: 'fa:16:3e:0d:00:0b', ips: ['203.0.113.10'], groups: ['web'] });
      await s.capture();
    },
  },
];

/** Runs one scenario in `ctx`; always unplugs its VMs. Returns the name → id map. */
export async function runScenario(scenario: Scenario, ctx: ScenarioContext): Promise<Map<string, string>> {
  // Neutron's default quotas (10 groups, 100 rules per project) would end a run of all the
  // scenarios on one lab halfway; the lab lifts only its port and network quotas.
  await ctx.lab.api('PUT', `/v2.0/quotas/${LAB_PROJECT}`, { quota: { security_group: -1, security_group_rule: -1 } });
  const steps = new ScenarioSteps(ctx, scenario.name);
  try {
    await scenario.run(steps);
  } finally {
    await steps.cleanup();
  }
  return steps.ids;
}
