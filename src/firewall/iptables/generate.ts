// Pure generation of the iptables_hybrid firewall's rules: from the ports of a host and their
// security groups to the chains and rules the reference's OVSHybridIptablesFirewallDriver keeps in
// the filter and raw tables of iptables and ip6tables, and the ipsets of remote groups. Same chain
// names, same rule text (as iptables-save prints it), same order, so a host filtered by the
// reference is taken over by this agent rule for rule.
//
// Per filtered port P (tap device tapP on the qbrP bridge, qvbP its veth to br-int):
//   FORWARD -> neutron-openvswi-FORWARD -> (physdev tapP) -> neutron-openvswi-sg-chain
//     -> neutron-openvswi-iP (to the VM) / -oP (from the VM) -> rules, RETURN to sg-chain's ACCEPT,
//        or neutron-openvswi-sg-fallback's DROP; -oP first jumps to -sP (MAC/IP anti-spoofing)
//   raw PREROUTING -> neutron-openvswi-PREROUTING: a conntrack zone of its own per port
import type { FirewallPort, MemberIps, SecurityGroup, Ethertype, Direction } from '../types.js';
import { canonicalAddress, canonicalCidr, ipVersionOf, prefixLength } from './addresses.js';
import { eui64LinkLocal } from '../../util/addresses.js';
import { MULTIPORT_ONLY_PROTOCOLS, PORT_PROTOCOLS, PROTOCOL_MATCH_MODULE, iptablesProtocolName } from './protocols.js';
import { AgentTable, wrappedChain, type IpVersion, type TableName } from './tables.js';

/** What generation needs of a port. */
export type IptablesPort = Pick<
  FirewallPort,
  'id' | 'mac' | 'fixedIps' | 'allowedAddressPairs' | 'securityGroupIds' | 'portSecurityEnabled' | 'deviceOwner'
>;

export interface IptablesFirewallState {
  /** Ports with port security, filtered by their groups. */
  filtered: IptablesPort[];
  /** Ports with port security disabled: accepted, in the order they were first seen. */
  unfiltered: IptablesPort[];
  /** Ids of trusted ports (device_owner network:*): accepted, in the order they were first seen. */
  trusted: string[];
  groups: ReadonlyMap<string, SecurityGroup>;
  /** Remote group id -> member IPs. */
  members: ReadonlyMap<string, MemberIps>;
  /** Conntrack zone of each filtered port (port id -> zone); stateless ones need none. */
  zones: ReadonlyMap<string, number>;
  /** `[securitygroup] enable_ipset` (default true): remote groups as ipsets, else one rule per member. */
  enableIpset: boolean;
}

export type Tables = Record<IpVersion, Record<TableName, AgentTable>>;

export interface GeneratedFirewall {
  tables: Tables;
  /** ipsets: name -> family and members (as `ipset add` takes them). */
  ipsets: Map<string, { family: 'inet' | 'inet6'; members: string[] }>;
}

// The reference's rule comments, word for word: iptables-save shows them and rules are compared by text.
export const COMMENTS = {
  UNMATCH_DROP: 'Default drop rule for unmatched traffic.',
  VM_INT_SG: 'Direct traffic from the VM interface to the security group chain.',
  SG_TO_VM_SG: 'Jump to the VM specific chain.',
  INPUT_TO_SG: 'Direct incoming traffic from VM to the security group chain.',
  PAIR_ALLOW: 'Allow traffic from defined IP/MAC pairs.',
  PAIR_DROP: 'Drop traffic without an IP/MAC allow rule.',
  DHCP_CLIENT: 'Allow DHCP client traffic.',
  DHCP_SPOOF: 'Prevent DHCP Spoofing by VM.',
  UNMATCHED: 'Send unmatched traffic to the fallback chain.',
  INVALID_DROP: 'Drop packets that appear related to an existing connection (e.g. TCP ACK/FIN) but do not have an entry in conntrack.',
  ALLOW_ASSOC: 'Direct packets associated with a known session to the RETURN chain.',
  PORT_SEC_ACCEPT: 'Accept all packets when port security is disabled.',
  TRUSTED_ACCEPT: 'Accept all packets when port is trusted.',
  IPV6_RA_DROP: 'Drop IPv6 Router Advts from VM Instance.',
  IPV6_ICMP_ALLOW: 'Allow IPv6 ICMP traffic.',
} as const;

const SG_CHAIN = 'sg-chain';
const SG_FALLBACK = 'sg-fallback';
/** iptables physdev direction of a port's traffic: to the VM it leaves the bridge by the tap. */
const PHYSDEV: Record<Direction, string> = { ingress: 'physdev-out', egress: 'physdev-in' };
const IPSET_DIRECTION: Record<Direction, string> = { ingress: 'src', egress: 'dst' };
/** ICMPv6 types a VM may send from :: (duplicate address detection): MLD report, NS, MLDv2 report. */
const ICMPV6_UNSPEC_SOURCE_TYPES = [131, 135, 143];
/** ICMPv6 types always let in: MLD query, NS, NA. */
const ICMPV6_INGRESS_TYPES = [130, 135, 136];
const ICMPV6_TYPE_RA = 134;
/** Linux interface names os-vif gives a port's devices: 3-letter prefix + id, 14 characters. */
const DEV_LEN = 14;
const IPSET_NAME_MAX = 29;

export function tapDevice(portId: string): string {
  return `tap${portId}`.slice(0, DEV_LEN);
}
export function qvbDevice(portId: string): string {
  return `qvb${portId}`.slice(0, DEV_LEN);
}
/** The ipset of a remote group's members of one ethertype: `NIPv4<group id>`, cut to 29 characters. */
export function ipsetName(groupId: string, ethertype: Ethertype): string {
  return `N${ethertype}${groupId}`.slice(0, IPSET_NAME_MAX);
}
export function portChainName(kind: 'i' | 'o' | 's', portId: string): string {
  return wrappedChain(`${kind}${portId}`);
}

/** A rule as the reference's driver handles it: a group rule, or a rule the server adds for every port. */
interface RuleSpec {
  direction: Direction;
  ethertype: Ethertype;
  protocol?: string | undefined;
  portRangeMin?: number | undefined;
  portRangeMax?: number | undefined;
  sourcePortRangeMin?: number | undefined;
  sourcePortRangeMax?: number | undefined;
  sourceIpPrefix?: string | undefined;
  destIpPrefix?: string | undefined;
  remoteGroupId?: string | undefined;
  stateful?: boolean | undefined;
}

/**
 * Rules neutron-server adds to every port's ingress (the reference's "provider rules"): router
 * advertisements when the port has IPv6, and DHCP replies to its addresses (and to broadcast,
 * or to link-local for DHCPv6).
 */
export function providerRules(port: IptablesPort): RuleSpec[] {
  const rules: RuleSpec[] = [];
  const v4 = port.fixedIps.filter((ip) => ipVersionOf(ip) === 4);
  const v6 = port.fixedIps.filter((ip) => ipVersionOf(ip) === 6);
  if (v6.length) rules.push({ direction: 'ingress', ethertype: 'IPv6', protocol: 'ipv6-icmp', sourcePortRangeMin: ICMPV6_TYPE_RA });
  const dhcp = (ethertype: Ethertype, dests: string[], server: number, client: number): void => {
    for (const d of dests) {
      rules.push({
        direction: 'ingress', ethertype, protocol: 'udp',
        portRangeMin: client, portRangeMax: client, sourcePortRangeMin: server, sourcePortRangeMax: server, destIpPrefix: d,
      });
    }
  };
  dhcp('IPv4', [...v4.map((ip) => `${ip}/32`), '255.255.255.255/32'], 67, 68);
  dhcp('IPv6', [...v6.map((ip) => `${ip}/128`), 'fe80::/64'], 547, 546);
  return rules;
}

function groupRules(state: IptablesFirewallState, port: IptablesPort, direction: Direction): RuleSpec[] {
  const out: RuleSpec[] = [];
  const ownIps = new Set(port.fixedIps);
  for (const sgId of port.securityGroupIds) {
    const sg = state.groups.get(sgId);
    if (!sg) continue;
    for (const r of sg.rules) {
      if (r.direction !== direction) continue;
      const spec: RuleSpec = {
        direction: r.direction, ethertype: r.ethertype, protocol: r.protocol,
        portRangeMin: r.portRangeMin, portRangeMax: r.portRangeMax, remoteGroupId: r.remoteGroupId, stateful: sg.stateful,
      };
      if (r.remoteIpPrefix) spec[direction === 'ingress' ? 'sourceIpPrefix' : 'destIpPrefix'] = r.remoteIpPrefix;
      // The reference's iptables drivers (Zed) do not read remote_address_group_id: such a rule
      // matches any address there, and here too, so both agents enforce the same.

      if (state.enableIpset || !r.remoteGroupId) {
        out.push(spec);
        continue;
      }
      // Without ipsets a remote-group rule becomes one rule per member address (the port's own aside).
      for (const [ip] of state.members.get(r.remoteGroupId)?.[r.ethertype] ?? []) {
        if (ownIps.has(ip)) continue;
        out.push({ ...spec, remoteGroupId: undefined, [direction === 'ingress' ? 'sourceIpPrefix' : 'destIpPrefix']: canonicalCidr(ip) });
      }
    }
  }
  return out;
}

/** Whether the port's connections are tracked: its first group decides, as in the reference. */
function isStateful(state: IptablesFirewallState, port: IptablesPort): boolean {
  if (port.deviceOwner.startsWith('network:') || port.deviceOwner.startsWith('neutron:')) return true;
  const first = port.securityGroupIds[0];
  const sg = first === undefined ? undefined : state.groups.get(first);
  if (!sg || sg.rules.length === 0) return true;
  if (state.enableIpset) return sg.stateful;
  // without ipsets a rule counts only if it expands to something
  const expands = sg.rules.some((r) => !r.remoteGroupId || (state.members.get(r.remoteGroupId)?.[r.ethertype] ?? []).some(([ip]) => !port.fixedIps.includes(ip)));
  return expands ? sg.stateful : true;
}

function portArgs(kind: 'sport' | 'dport', protocol: string | undefined, min: number | undefined, max: number | undefined): string[] {
  if (min === undefined) return [];
  const name = iptablesProtocolName(protocol);
  if (name === 'icmp' || name === 'ipv6-icmp') {
    // for ICMP the range fields carry type and code
    const flag = name === 'ipv6-icmp' ? '--icmpv6-type' : '--icmp-type';
    return [flag, max !== undefined ? `${min}/${max}` : String(min)];
  }
  if (name === undefined || !PORT_PROTOCOLS.has(name)) return [];
  if (min === max) {
    return MULTIPORT_ONLY_PROTOCOLS.has(name) ? ['-m', 'multiport', `--${kind}s`, String(min)] : [`--${kind}`, String(min)];
  }
  return ['-m', 'multiport', `--${kind}s`, `${min}:${max}`];
}

function protocolAndPortArgs(r: RuleSpec): string[] {
  const isPort = r.sourcePortRangeMin !== undefined || r.portRangeMin !== undefined;
  const name = iptablesProtocolName(r.protocol);
  const args: string[] = [];
  if (name) {
    args.push('-p', name);
    const module = PROTOCOL_MATCH_MODULE[name];
    if (isPort && module) args.push('-m', module);
  }
  args.push(...portArgs('sport', r.protocol, r.sourcePortRangeMin, r.sourcePortRangeMax));
  args.push(...portArgs('dport', r.protocol, r.portRangeMin, r.portRangeMax));
  return args;
}

function prefixArgs(flag: '-s' | '-d', prefix: string | undefined): string[] {
  if (!prefix) return [];
  if (prefixLength(prefix) === 0) return []; // any address: no match at all
  return [flag, canonicalCidr(prefix)];
}

/** The iptables rule of a security-group rule, or undefined when its ipset does not exist. */
function ruleText(r: RuleSpec, ipsets: ReadonlyMap<string, unknown>, enableIpset: boolean): string | undefined {
  if (enableIpset && r.remoteGroupId) {
    const set = ipsetName(r.remoteGroupId, r.ethertype);
    if (!ipsets.has(set)) return undefined;
    return [...protocolAndPortArgs(r), '-m set', '--match-set', set, IPSET_DIRECTION[r.direction], '-j RETURN'].join(' ');
  }
  return [...prefixArgs('-s', r.sourceIpPrefix), ...prefixArgs('-d', r.destIpPrefix), ...protocolAndPortArgs(r), '-j RETURN'].join(' ');
}

/** Established traffic first, then the rules (each once), invalid packets dropped, the rest to the fallback. */
function statefulChainRules(rules: RuleSpec[], ipsets: ReadonlyMap<string, unknown>, enableIpset: boolean): Array<[string, string?]> {
  const out: Array<[string, string?]> = [['-m state --state RELATED,ESTABLISHED -j RETURN', COMMENTS.ALLOW_ASSOC]];
  const seen = new Set<string>();
  for (const r of rules) {
    const text = ruleText(r, ipsets, enableIpset);
    if (text === undefined || seen.has(text)) continue;
    seen.add(text);
    out.push([text]);
  }
  out.push(['-m state --state INVALID -j DROP', COMMENTS.INVALID_DROP]);
  out.push([`-j $${SG_FALLBACK}`, COMMENTS.UNMATCHED]);
  return out;
}

/** The ipsets the ports' rules refer to: one per (remote group, ethertype) of a rule of their groups. */
function ipsetsFor(state: IptablesFirewallState): GeneratedFirewall['ipsets'] {
  const sets: GeneratedFirewall['ipsets'] = new Map();
  if (!state.enableIpset) return sets;
  const wanted: Array<[string, Ethertype]> = [];
  for (const port of state.filtered) {
    for (const sgId of port.securityGroupIds) {
      for (const r of state.groups.get(sgId)?.rules ?? []) {
        if (r.remoteGroupId) wanted.push([r.remoteGroupId, r.ethertype]);
      }
    }
  }
  for (const [groupId, ethertype] of wanted) {
    const name = ipsetName(groupId, ethertype);
    if (sets.has(name)) continue;
    const members: string[] = [];
    for (const [ip] of state.members.get(groupId)?.[ethertype] ?? []) {
      // ipset refuses /0: two halves instead
      if (prefixLength(ip) === 0) members.push(...(ethertype === 'IPv4' ? ['0.0.0.0/1', '128.0.0.0/1'] : ['::/1', '8000::/1']));
      else members.push(canonicalCidr(ip));
    }
    sets.set(name, { family: ethertype === 'IPv4' ? 'inet' : 'inet6', members: [...new Set(members)] });
  }
  return sets;
}

function newTables(): Tables {
  const t = (v: IpVersion): Record<TableName, AgentTable> => ({ filter: new AgentTable(v, 'filter'), raw: new AgentTable(v, 'raw') });
  return { 4: t(4), 6: t(6) };
}

/** The chains and rules the agent always has, ports or not (the reference's iptables_manager and driver set-up). */
function baseRules(tables: Tables): void {
  for (const v of [4, 6] as const) {
    const filter = tables[v].filter;
    filter.addUnwrappedChain('neutron-filter-top');
    filter.addRule('FORWARD', '-j neutron-filter-top', { top: true });
    filter.addRule('OUTPUT', '-j neutron-filter-top', { top: true });
    filter.addChain('local');
    filter.addRule('neutron-filter-top', '-j $local');
    for (const table of ['filter', 'raw'] as const) {
      const builtins = table === 'filter' ? ['INPUT', 'OUTPUT', 'FORWARD'] : ['PREROUTING', 'OUTPUT'];
      for (const chain of builtins) {
        tables[v][table].addChain(chain);
        tables[v][table].addRule(chain, `-j $${chain}`);
      }
    }
    filter.addChain(SG_FALLBACK);
    filter.addRule(wrappedChain(SG_FALLBACK), '-j DROP', { comment: COMMENTS.UNMATCH_DROP });
  }
}

function addBoth(tables: Tables, table: TableName, chain: string, v4: Array<[string, string?]>, v6: Array<[string, string?]>, top = false): void {
  for (const [rule, comment] of v4) tables[4][table].addRule(chain, rule, { top, ...(comment ? { comment } : {}) });
  for (const [rule, comment] of v6) tables[6][table].addRule(chain, rule, { top, ...(comment ? { comment } : {}) });
}

function conntrackZoneRules(state: IptablesFirewallState, tables: Tables, port: IptablesPort): void {
  let comment = `Make ${port.id} stateless`;
  let target = '--notrack';
  if (isStateful(state, port)) {
    const zone = state.zones.get(port.id);
    if (zone === undefined) throw new Error(`iptables firewall: no conntrack zone for port ${port.id}`);
    comment = `Set zone for ${port.id}`;
    target = `--zone ${zone}`;
  }
  const qvb = qvbDevice(port.id);
  const rules: Array<[string]> = [
    [`-m physdev --physdev-in ${qvb}`],
    [`-i ${qvb}`],
    [`-m physdev --physdev-in ${tapDevice(port.id)}`],
  ].map(([m]) => [`${m} -m comment --comment "${comment}" -j CT ${target}`]);
  addBoth(tables, 'raw', wrappedChain('PREROUTING'), rules, rules);
}

/** MAC/IP anti-spoofing of a port's egress: the `s` chain of one family, jumped to from the `o` chain. */
function spoofChain(table: AgentTable, port: IptablesPort, pairs: Array<[string, string | undefined]>, egress: Array<[string, string?]>): void {
  if (pairs.length === 0) return;
  const chain = table.addChain(`s${port.id}`);
  for (const [mac, ip] of pairs) {
    // iptables-save prints MACs in lower case (the reference writes upper case and compares ignoring case)
    const m = `-m mac --mac-source ${mac.toLowerCase()} -j RETURN`;
    table.addRule(chain, ip === undefined ? m : `-s ${canonicalCidr(ip)} ${m}`, { comment: COMMENTS.PAIR_ALLOW });
  }
  table.addRule(chain, '-j DROP', { comment: COMMENTS.PAIR_DROP });
  egress.push([`-j $s${port.id}`]);
}

function egressFixedRules(tables: Tables, port: IptablesPort, v4: Array<[string, string?]>, v6: Array<[string, string?]>): void {
  // DHCP discovery and ICMPv6 duplicate address detection come from unspecified addresses
  v4.push(['-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 -j RETURN', COMMENTS.DHCP_CLIENT]);
  for (const t of ICMPV6_UNSPEC_SOURCE_TYPES) {
    v6.push([`-s ::/128 -d ff02::/16 -p ipv6-icmp -m icmp6 --icmpv6-type ${t} -j RETURN`, COMMENTS.IPV6_ICMP_ALLOW]);
  }
  const pairs4: Array<[string, string | undefined]> = [];
  const pairs6: Array<[string, string | undefined]> = [];
  const add = (mac: string, ip: string): void => {
    const m = mac.toUpperCase();
    if (ipVersionOf(ip) === 4) {
      pairs4.push([m, ip]);
      return;
    }
    pairs6.push([m, ip]);
    const lla = eui64LinkLocal(mac);
    if (!pairs6.some(([pm, pip]) => pm === m && pip !== undefined && canonicalAddress(pip.split('/')[0]!) === lla && prefixLength(pip) === 128)) {
      pairs6.push([m, lla]);
    }
  };
  for (const a of port.allowedAddressPairs) add(a.mac, a.ip);
  for (const ip of port.fixedIps) add(port.mac, ip);
  if (port.fixedIps.length === 0) {
    pairs4.push([port.mac.toUpperCase(), undefined]);
    pairs6.push([port.mac.toUpperCase(), undefined]);
  }
  spoofChain(tables[4].filter, port, pairs4, v4);
  spoofChain(tables[6].filter, port, pairs6, v6);
  v4.push(['-p udp -m udp --sport 68 --dport 67 -j RETURN', COMMENTS.DHCP_CLIENT]);
  v6.push([`-p ipv6-icmp -m icmp6 --icmpv6-type ${ICMPV6_TYPE_RA} -j DROP`, COMMENTS.IPV6_RA_DROP]);
  v6.push(['-p ipv6-icmp -j RETURN', COMMENTS.IPV6_ICMP_ALLOW]);
  v6.push(['-p udp -m udp --sport 546 --dport 547 -j RETURN', COMMENTS.DHCP_CLIENT]);
  // a VM may not act as a DHCP server
  v4.push(['-p udp -m udp --sport 67 --dport 68 -j DROP', COMMENTS.DHCP_SPOOF]);
  v6.push(['-p udp -m udp --sport 547 --dport 546 -j DROP', COMMENTS.DHCP_SPOOF]);
}

function portChain(state: IptablesFirewallState, tables: Tables, ipsets: GeneratedFirewall['ipsets'], port: IptablesPort, direction: Direction): void {
  const kind = direction === 'ingress' ? 'i' : 'o';
  const chain = tables[4].filter.addChain(`${kind}${port.id}`);
  tables[6].filter.addChain(`${kind}${port.id}`);
  const jump = `-m physdev --${PHYSDEV[direction]} ${tapDevice(port.id)} --physdev-is-bridged -j`;
  addBoth(tables, 'filter', wrappedChain('FORWARD'), [[`${jump} $${SG_CHAIN}`, COMMENTS.VM_INT_SG]], [[`${jump} $${SG_CHAIN}`, COMMENTS.VM_INT_SG]], true);
  addBoth(tables, 'filter', wrappedChain(SG_CHAIN), [[`${jump} $${kind}${port.id}`, COMMENTS.SG_TO_VM_SG]], [[`${jump} $${kind}${port.id}`, COMMENTS.SG_TO_VM_SG]]);
  if (direction === 'egress') {
    addBoth(tables, 'filter', wrappedChain('INPUT'), [[`${jump} $${kind}${port.id}`, COMMENTS.INPUT_TO_SG]], [[`${jump} $${kind}${port.id}`, COMMENTS.INPUT_TO_SG]]);
  }
  const rules = [...providerRules(port).filter((r) => r.direction === direction), ...groupRules(state, port, direction)];
  const v4Rules = rules.filter((r) => r.ethertype === 'IPv4');
  // legacy spellings of ICMPv6 in IPv6 rules
  const v6Rules = rules
    .filter((r) => r.ethertype === 'IPv6')
    .map((r) => (r.protocol === 'icmp' || r.protocol === 'icmpv6' ? { ...r, protocol: 'ipv6-icmp' } : r));
  const v4: Array<[string, string?]> = [];
  const v6: Array<[string, string?]> = [];
  if (direction === 'egress') egressFixedRules(tables, port, v4, v6);
  else for (const t of ICMPV6_INGRESS_TYPES) v6.push([`-p ipv6-icmp -m icmp6 --icmpv6-type ${t} -j RETURN`]);
  v4.push(...statefulChainRules(v4Rules, ipsets, state.enableIpset));
  v6.push(...statefulChainRules(v6Rules, ipsets, state.enableIpset));
  addBoth(tables, 'filter', chain, v4, v6);
}

function acceptRules(tables: Tables, portId: string, comment: string): void {
  for (const direction of ['ingress', 'egress'] as const) {
    const rule: Array<[string, string]> = [[`-m physdev --${PHYSDEV[direction]} ${tapDevice(portId)} --physdev-is-bridged -j ACCEPT`, comment]];
    addBoth(tables, 'filter', wrappedChain('FORWARD'), rule, rule);
    if (direction === 'egress' && comment === COMMENTS.PORT_SEC_ACCEPT) addBoth(tables, 'filter', wrappedChain('INPUT'), rule, rule);
  }
}

/** Everything the agent wants in iptables, ip6tables and ipset for this host's ports. */
export function generateFirewall(state: IptablesFirewallState): GeneratedFirewall {
  const tables = newTables();
  baseRules(tables);
  const ipsets = ipsetsFor(state);
  for (const v of [4, 6] as const) tables[v].filter.addChain(SG_CHAIN);
  // sorted by id, so restarts and both agents produce the same order
  for (const port of [...state.filtered].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    conntrackZoneRules(state, tables, port);
    portChain(state, tables, ipsets, port, 'ingress');
    portChain(state, tables, ipsets, port, 'egress');
  }
  addBoth(tables, 'filter', wrappedChain(SG_CHAIN), [['-j ACCEPT']], [['-j ACCEPT']]);
  for (const id of state.trusted) acceptRules(tables, id, COMMENTS.TRUSTED_ACCEPT);
  for (const port of state.unfiltered) acceptRules(tables, port.id, COMMENTS.PORT_SEC_ACCEPT);
  return { tables, ipsets };
}
