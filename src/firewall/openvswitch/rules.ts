// Security-group rules → OpenFlow matches of the OVS firewall (tables 72 egress, 82 ingress), as
// the reference builds them: priority 70 + offset, two flows per rule (established and new
// connections), port ranges as value/mask matches, remote groups as two-dimensional conjunctions.
import {
  type Action,
  type Flow,
  type Match,
  type TransportPort,
  ETH_TYPE,
  IP_PROTO,
  ct,
  ctState,
  output,
  resubmit,
  setReg,
} from '../../openflow/flow.js';
import { INT } from '../../bridges/tables.js';
import type { Direction, Ethertype, SecurityGroupRule } from '../types.js';
import { parsePrefix, prefixMatch } from './addresses.js';

/** The firewall's registers: the port's ofport, its network's local VLAN (= conntrack zone), the matched conjunction. */
export const REG_PORT = 5;
export const REG_NET = 6;
export const REG_REMOTE_GROUP = 7;

/** Conntrack zone = the low 16 bits of the network register. */
export const CT_ZONE_NET = { field: 'NXM_NX_REG6', ofs: 0, nBits: 16 } as const;

export const CT_STATES = {
  NOT_TRACKED: ctState('-trk'),
  TRACKED: ctState('+trk'),
  NEW_NOT_ESTABLISHED: ctState('+new-est'),
  NOT_ESTABLISHED: ctState('-est'),
  ESTABLISHED: ctState('+est'),
  ESTABLISHED_NOT_REPLY: ctState('+est-rel-rpl'),
  ESTABLISHED_REPLY: ctState('+est-rel+rpl'),
  RELATED: ctState('-new-est+rel-inv'),
  INVALID: ctState('+trk+inv'),
} as const;

/** ct_mark values: 0 normal, 1 = the connection's rule went away, its packets are dropped. */
export const CT_MARK_NORMAL = 0;
export const CT_MARK_INVALID = 1;

const PROTOCOL_NUMBERS: Record<string, number> = {
  ah: 51, dccp: 33, egp: 8, esp: 50, gre: 47, hopopt: 0, icmp: 1, igmp: 2, ip: 0, ipip: 4,
  'ipv6-encap': 41, 'ipv6-frag': 44, 'ipv6-icmp': 58, icmpv6: 58, 'ipv6-nonxt': 59, 'ipv6-opts': 60,
  'ipv6-route': 43, ospf: 89, pgm: 113, rsvp: 46, sctp: 132, tcp: 6, udp: 17, udplite: 136, vrrp: 112,
};

/** A rule with its protocol as a number and its remote prefix on the side the direction matches. */
export interface FirewallRule {
  direction: Direction;
  ethertype: Ethertype;
  protocol?: number;
  portRangeMin?: number;
  portRangeMax?: number;
  /** remote_ip_prefix: the source for ingress rules, the destination for egress rules. */
  remoteIpPrefix?: string;
  remoteGroupId?: string;
  remoteAddressGroupId?: string;
}

/** `tcp` → 6, `"17"` → 17, `icmp` in an IPv6 rule → 58 (neutron accepts `icmp` for ICMPv6). */
export function normalizeProtocol(protocol: string, ethertype: Ethertype): number {
  const p = protocol.trim().toLowerCase();
  if (/^\d+$/.test(p)) return Number(p);
  if (ethertype === 'IPv6' && p === 'icmp') return IP_PROTO.ICMPV6;
  const n = PROTOCOL_NUMBERS[p];
  if (n === undefined) throw new Error(`unknown IP protocol '${protocol}' in security group rule`);
  return n;
}

export function toFirewallRule(r: SecurityGroupRule): FirewallRule {
  const out: FirewallRule = { direction: r.direction, ethertype: r.ethertype };
  if (r.protocol !== undefined && r.protocol !== null && r.protocol !== '') {
    try {
      out.protocol = normalizeProtocol(r.protocol, r.ethertype);
    } catch (err) {
      throw new Error(`rule ${r.id} of security group ${r.securityGroupId}: ${(err as Error).message}`);
    }
  }
  if (r.portRangeMin !== undefined && r.portRangeMin !== null) out.portRangeMin = r.portRangeMin;
  if (r.portRangeMax !== undefined && r.portRangeMax !== null) out.portRangeMax = r.portRangeMax;
  if (r.remoteIpPrefix) out.remoteIpPrefix = r.remoteIpPrefix;
  if (r.remoteGroupId) out.remoteGroupId = r.remoteGroupId;
  if (r.remoteAddressGroupId) out.remoteAddressGroupId = r.remoteAddressGroupId;
  return out;
}

export function isRemoteRule(r: FirewallRule): boolean {
  return r.remoteGroupId !== undefined || r.remoteAddressGroupId !== undefined;
}

const isIcmp = (p: number | undefined): boolean => p === IP_PROTO.ICMP || p === IP_PROTO.ICMPV6;

/**
 * 0 for a conjunction (remote group) rule, 4 otherwise; plus 0 no protocol, 1 ICMP without type,
 * 2 ICMP with type but no code, 3 anything else. More specific rules win over less specific ones.
 */
export function flowPriorityOffset(r: FirewallRule, conjunction = false): number {
  const base = isRemoteRule(r) || conjunction ? 0 : 4;
  if (r.protocol === undefined) return base;
  if (isIcmp(r.protocol)) {
    if (r.portRangeMin === undefined) return base + 1;
    if (r.portRangeMax === undefined) return base + 2;
  }
  return base + 3;
}

/**
 * A port range as value/mask matches, as few as cover it exactly
 * (22-23 → 0x16/0xfffe; 5-12 → 0x5, 0x6/0xfffe, 0x8/0xfffc, 0xc).
 */
export function portRangeMasks(min: number, max: number): TransportPort[] {
  if (max < min) throw new Error(`port range ${min}-${max}: maximum below minimum`);
  const m = (port: number, wildcard: number): TransportPort =>
    wildcard > 0 ? { value: port, mask: 0xffff & ~wildcard } : port;
  const diff = min ^ max;
  if (diff === 0) return [min];
  let top = 1;
  while (top <= diff) top <<= 1;
  if ((min & (top - 1)) === 0 && (max & (top - 1)) === top - 1) return [m(min, top - 1)];
  top >>= 1;
  const out: TransportPort[] = [];
  // Lower half: from min up to the end of its top-bit block.
  for (let bit = top, wild = top - 1; ; ) {
    if ((min & wild) === 0) {
      out.push(m(min, wild));
      break;
    }
    bit >>= 1;
    wild >>= 1;
    if ((min & bit) === 0) out.push(m((min & ~wild) | bit, wild));
  }
  // Upper half: from the start of max's top-bit block up to max.
  for (let bit = top, wild = top - 1; ; ) {
    if ((max & wild) === wild) {
      out.push(m(max & ~wild, wild));
      break;
    }
    bit >>= 1;
    wild >>= 1;
    if ((max & bit) === bit) out.push(m(max & ~wild & ~bit, wild));
  }
  return out;
}

const dlType = (e: Ethertype): number => (e === 'IPv4' ? ETH_TYPE.IPV4 : ETH_TYPE.IPV6);

/** Where a remote address is matched: the source of ingress packets, the destination of egress ones. */
function remoteAddressMatch(direction: Direction, prefix: string): Match {
  const p = parsePrefix(prefix);
  const v = prefixMatch(p);
  if (p.version === 4) return direction === 'ingress' ? { ipv4Src: v } : { ipv4Dst: v };
  return direction === 'ingress' ? { ipv6Src: v } : { ipv6Dst: v };
}

/** The per-rule match templates (one per port-range mask), without ct_state. */
export function ruleMatches(r: FirewallRule, ofport: number, conjunction = false): Array<{ table: number; priority: number; match: Match }> {
  const table = r.direction === 'ingress' ? INT.RULES_INGRESS_TABLE : INT.RULES_EGRESS_TABLE;
  const priority = 70 + flowPriorityOffset(r, conjunction);
  const base: Match = { ethType: dlType(r.ethertype), regs: { [REG_PORT]: { value: ofport } } };
  // 0.0.0.0/0 and ::/0 mean "anywhere": no address match at all.
  if (r.remoteIpPrefix && parsePrefix(r.remoteIpPrefix).prefixLen > 0) {
    Object.assign(base, remoteAddressMatch(r.direction, r.remoteIpPrefix));
  }
  if (r.protocol !== undefined) base.ipProto = r.protocol;
  const matches: Match[] = [];
  if (r.protocol === IP_PROTO.ICMP || r.protocol === IP_PROTO.ICMPV6) {
    if (r.portRangeMin !== undefined) {
      const m: Match = { ...base };
      const v4 = r.protocol === IP_PROTO.ICMP;
      if (v4) m.icmpv4Type = r.portRangeMin;
      else m.icmpv6Type = r.portRangeMin;
      if (r.portRangeMax !== undefined) {
        if (v4) m.icmpv4Code = r.portRangeMax;
        else m.icmpv6Code = r.portRangeMax;
      }
      matches.push(m);
    }
  } else if (r.protocol === IP_PROTO.TCP || r.protocol === IP_PROTO.UDP || r.protocol === IP_PROTO.SCTP) {
    // As the reference: both ends must be set (and non-zero) for a port match.
    if (r.portRangeMin && r.portRangeMax) {
      const key = r.protocol === IP_PROTO.TCP ? 'tcpDst' : r.protocol === IP_PROTO.UDP ? 'udpDst' : 'sctpDst';
      for (const p of portRangeMasks(r.portRangeMin, r.portRangeMax)) matches.push({ ...base, [key]: p });
    }
  }
  if (matches.length === 0) matches.push(base);
  return matches.map((match) => ({ table, priority, match }));
}

/** What an accepted packet does: leave through the port (ingress) or go on to table 73 (egress). */
function acceptAction(direction: Direction, ofport: number): Action {
  return direction === 'ingress' ? output(ofport) : resubmit(INT.ACCEPT_OR_INGRESS_TABLE);
}

/**
 * The two flows of an accepting rule: established packets pass; new connections pass too and,
 * on ingress, are committed to conntrack here (egress commits in table 73).
 */
export function acceptFlows(t: { table: number; priority: number; match: Match }, direction: Direction, ofport: number, prefix: Action[] = []): Flow[] {
  const accept = acceptAction(direction, ofport);
  const newActions: Action[] =
    direction === 'ingress'
      ? [ct({ commit: true, zone: CT_ZONE_NET }), accept, resubmit(INT.ACCEPTED_INGRESS_TRAFFIC_TABLE)]
      : [accept];
  return [
    { table: t.table, priority: t.priority, match: { ...t.match, ctState: CT_STATES.ESTABLISHED_NOT_REPLY }, actions: [...prefix, accept] },
    { table: t.table, priority: t.priority, match: { ...t.match, ctState: CT_STATES.NEW_NOT_ESTABLISHED }, actions: [...prefix, ...newActions] },
  ];
}

/** Flows of a rule without remote group (raw rule). */
export function rawRuleFlows(r: FirewallRule, ofport: number): Flow[] {
  return ruleMatches(r, ofport).flatMap((t) => acceptFlows(t, r.direction, ofport));
}

/**
 * Replace a flow's action by `conjunction(id, dimension/2)` for each id: established packets
 * use the even id, new connections the odd one (id + 1).
 */
export function conjunctionFlows(templates: Array<{ table: number; priority: number; match: Match }>, dimension: 1 | 2, conjIds: readonly number[]): Flow[] {
  const out: Flow[] = [];
  for (const t of templates) {
    for (const [i, state] of [CT_STATES.ESTABLISHED_NOT_REPLY, CT_STATES.NEW_NOT_ESTABLISHED].entries()) {
      out.push({
        table: t.table,
        priority: t.priority,
        match: { ...t.match, ctState: state },
        actions: conjIds.map((id) => ({ type: 'conjunction', id: id + i, clause: dimension, nClauses: 2 }) as const),
      });
    }
  }
  return out;
}

/** The priority offset a conjunction id carries (ids are base + 2·offset, see ConjIdMap). */
export function offsetOfConjId(conjId: number): number {
  return Math.floor((conjId % 8) / 2);
}

/** Accept flows for a completed conjunction: reg7 records which remote-group rule matched. */
export function conjAcceptFlows(ofport: number, conjId: number, direction: Direction, ethertype: Ethertype): Flow[] {
  const table = direction === 'ingress' ? INT.RULES_INGRESS_TABLE : INT.RULES_EGRESS_TABLE;
  const t = { table, priority: 70 + offsetOfConjId(conjId), match: { ethType: dlType(ethertype), regs: { [REG_PORT]: { value: ofport } } } };
  const [est, fresh] = acceptFlows(t, direction, ofport);
  return [
    { ...est!, match: { ...est!.match, conjId }, actions: [setReg(REG_REMOTE_GROUP, conjId), ...est!.actions] },
    { ...fresh!, match: { ...fresh!.match, conjId: conjId + 1 }, actions: [setReg(REG_REMOTE_GROUP, conjId + 1), ...fresh!.actions] },
  ];
}

/**
 * Dimension-1 flows of a remote member on a network: the member's address (and MAC when the
 * address is a /0) matched for every conjunction id that refers to it, grouped by priority.
 */
export function memberFlows(member: { prefix: string; mac?: string }, direction: Direction, ethertype: Ethertype, localVlan: number, conjIds: readonly number[]): Flow[] {
  const p = parsePrefix(member.prefix);
  const table = direction === 'ingress' ? INT.RULES_INGRESS_TABLE : INT.RULES_EGRESS_TABLE;
  const match: Match = { ethType: dlType(ethertype), regs: { [REG_NET]: { value: localVlan } }, ...remoteAddressMatch(direction, member.prefix) };
  if (p.prefixLen === 0) {
    // A /0 member would match anything: it stands for its port's MAC instead.
    for (const k of ['ipv4Src', 'ipv4Dst', 'ipv6Src', 'ipv6Dst'] as const) delete match[k];
    if (member.mac) match.ethSrc = { value: member.mac };
  }
  const byOffset: number[][] = [[], [], [], []];
  for (const id of conjIds) byOffset[offsetOfConjId(id)]!.push(id);
  const out: Flow[] = [];
  byOffset.forEach((ids, offset) => {
    if (ids.length) out.push(...conjunctionFlows([{ table, priority: 70 + offset, match }], 1, ids));
  });
  return out;
}

// ---- merging the port ranges of rules that share a conjunction (per direction, ethertype, protocol) ----

export interface RuleWithConjIds {
  rule: FirewallRule;
  conjIds: number[];
}

function withoutRange(r: FirewallRule): FirewallRule {
  const { portRangeMin: _min, portRangeMax: _max, ...rest } = r;
  return rest;
}

function assertMergeable(list: ReadonlyArray<{ rule: FirewallRule }>): void {
  const first = JSON.stringify(withoutRange(list[0]!.rule));
  for (const { rule } of list.slice(1)) {
    if (JSON.stringify(withoutRange(rule)) !== first) {
      throw new Error(`security group rules ${first} and ${JSON.stringify(rule)} differ in more than their port range and cannot share conjunction flows`);
    }
  }
}

/** Rules identical but for their range: one entry per distinct range, with every conjunction id that has it. */
export function mergeCommonRules(list: ReadonlyArray<{ rule: FirewallRule; conjId: number }>): RuleWithConjIds[] {
  if (list.length === 1) return [{ rule: list[0]!.rule, conjIds: [list[0]!.conjId] }];
  assertMergeable(list);
  const byRange = new Map<string, { min?: number; max?: number; ids: number[] }>();
  for (const { rule, conjId } of list) {
    const key = `${rule.portRangeMin ?? ''}:${rule.portRangeMax ?? ''}`;
    const e = byRange.get(key) ?? { min: rule.portRangeMin, max: rule.portRangeMax, ids: [] };
    e.ids.push(conjId);
    byRange.set(key, e);
  }
  const tmpl = withoutRange(list[0]!.rule);
  return [...byRange.values()].map(({ min, max, ids }) => {
    const rule: FirewallRule = { ...tmpl };
    if (min !== undefined) rule.portRangeMin = min;
    if (max !== undefined) rule.portRangeMax = max;
    return { rule, conjIds: ids };
  });
}

/**
 * Split overlapping port ranges into disjoint ones, each carrying the conjunction ids of every
 * range that covers it, so one packet never has to match two dimension-2 flows of one priority.
 */
export function mergePortRanges(list: ReadonlyArray<{ rule: FirewallRule; conjId: number }>): RuleWithConjIds[] {
  if (list.length === 1) return [{ rule: list[0]!.rule, conjIds: [list[0]!.conjId] }];
  assertMergeable(list);
  const edges: Array<{ port: number; kind: 'min' | 'max'; conjId: number }> = [];
  for (const { rule, conjId } of list) {
    edges.push({ port: rule.portRangeMin ?? 1, kind: 'min', conjId });
    edges.push({ port: rule.portRangeMax ?? 65535, kind: 'max', conjId });
  }
  // Stable sort: a range's start before another's end at the same port.
  edges.sort((a, b) => a.port * 2 + (a.kind === 'min' ? 0 : 1) - (b.port * 2 + (b.kind === 'min' ? 0 : 1)));
  const tmpl = list[0]!.rule;
  const out: RuleWithConjIds[] = [];
  const open = new Map<number, number>();
  let curMin = 0;
  const emit = (min: number, max: number): void => {
    out.push({ rule: { ...tmpl, portRangeMin: min, portRangeMax: max }, conjIds: [...open.keys()] });
  };
  for (const { port, kind, conjId } of edges) {
    if (kind === 'min') {
      const n = open.get(conjId);
      if (n !== undefined) {
        open.set(conjId, n + 1);
        continue;
      }
      if (open.size > 0 && curMin !== port) emit(curMin, port - 1);
      curMin = port;
      open.set(conjId, 1);
    } else {
      const n = open.get(conjId)!;
      if (n > 1) {
        open.set(conjId, n - 1);
        continue;
      }
      if (curMin <= port) {
        emit(curMin, port);
        curMin = port + 1;
      }
      open.delete(conjId);
    }
  }
  if (out.length === 1 && out[0]!.rule.portRangeMin === 1 && out[0]!.rule.portRangeMax === 65535) {
    out[0]!.rule = withoutRange(out[0]!.rule);
  }
  return out;
}
