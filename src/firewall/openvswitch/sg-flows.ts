// A port's rule flows from its security groups (raw rules, and the per-port half of
// remote-group conjunctions), and a network's remote-member flows (the shared half).
import type { Flow } from '../../openflow/flow.js';
import type { Direction, Ethertype } from '../types.js';
import type { ConjIdMap } from './conj-ids.js';
import { parsePrefix, prefixText } from './addresses.js';
import {
  type FirewallRule,
  conjAcceptFlows,
  conjunctionFlows,
  flowPriorityOffset,
  isRemoteRule,
  memberFlows,
  mergeCommonRules,
  mergePortRanges,
  rawRuleFlows,
  ruleMatches,
} from './rules.js';

/** One conjunction id a port's rules use, and which remote group's members complete it. */
export interface ConjRef {
  direction: Direction;
  ethertype: Ethertype;
  remoteId: string;
  /** base id + 2 · priority offset. */
  conjId: number;
}

export interface PortRuleFlows {
  flows: Flow[];
  conjRefs: ConjRef[];
}

const PROTOCOLS_WITH_PORTS = new Set([6, 17, 132]);

/**
 * Flows of every rule of the port's groups. Remote-group rules become dimension 2 of a
 * conjunction (merged per direction, ethertype and protocol so port ranges never overlap) plus
 * the accept flows of their conjunction ids.
 */
export function portRuleFlows(
  ofport: number,
  groups: ReadonlyArray<{ id: string; rules: readonly FirewallRule[] }>,
  conjIds: ConjIdMap,
): PortRuleFlows {
  const flows: Flow[] = [];
  const conjRefs: ConjRef[] = [];
  const byKind = new Map<string, Array<{ rule: FirewallRule; conjId: number }>>();
  for (const g of groups) {
    for (const rule of g.rules) {
      if (!isRemoteRule(rule)) {
        flows.push(...rawRuleFlows(rule, ofport));
        continue;
      }
      const remoteId = (rule.remoteGroupId ?? rule.remoteAddressGroupId)!;
      const conjId = conjIds.get(g.id, remoteId, rule.direction, rule.ethertype) + 2 * flowPriorityOffset(rule);
      conjRefs.push({ direction: rule.direction, ethertype: rule.ethertype, remoteId, conjId });
      const { remoteGroupId: _g, remoteAddressGroupId: _a, ...plain } = rule;
      const kind = `${rule.direction}/${rule.ethertype}/${rule.protocol ?? ''}`;
      const list = byKind.get(kind) ?? [];
      list.push({ rule: plain, conjId });
      byKind.set(kind, list);
    }
  }
  for (const list of byKind.values()) {
    const { direction, ethertype, protocol } = list[0]!.rule;
    const merged = protocol !== undefined && PROTOCOLS_WITH_PORTS.has(protocol) ? mergePortRanges(list) : mergeCommonRules(list);
    for (const { rule, conjIds: ids } of merged) {
      flows.push(...conjunctionFlows(ruleMatches(rule, ofport, true), 2, [...new Set(ids)]));
    }
    for (const id of new Set(list.map((x) => x.conjId))) flows.push(...conjAcceptFlows(ofport, id, direction, ethertype));
  }
  return { flows, conjRefs };
}

/** A remote group's members (or an address group's CIDRs) by ethertype. */
export type RemoteMembers = Record<Ethertype, Array<{ ip: string; mac?: string }>>;

/**
 * The dimension-1 flows of one network: for every address of every remote group its ports'
 * rules refer to, one flow per priority carrying all the conjunction ids that address completes.
 */
export function networkMemberFlows(localVlan: number, refs: readonly ConjRef[], members: (remoteId: string) => RemoteMembers | undefined): Flow[] {
  const flows: Flow[] = [];
  const byDirEth = new Map<string, Map<string, Set<number>>>();
  for (const r of refs) {
    const k = `${r.direction}/${r.ethertype}`;
    let m = byDirEth.get(k);
    if (!m) byDirEth.set(k, (m = new Map()));
    let ids = m.get(r.remoteId);
    if (!ids) m.set(r.remoteId, (ids = new Set()));
    ids.add(r.conjId);
  }
  for (const [k, byRemote] of byDirEth) {
    const [direction, ethertype] = k.split('/') as [Direction, Ethertype];
    // Members are keyed by prefix: two remote groups holding one address share its flows.
    const byPrefix = new Map<string, { prefix: string; macs: Set<string | undefined>; ids: Set<number> }>();
    for (const [remoteId, ids] of byRemote) {
      for (const m of members(remoteId)?.[ethertype] ?? []) {
        let p: string;
        try {
          p = prefixText(parsePrefix(m.ip));
        } catch (err) {
          throw new Error(`member address '${m.ip}' of remote group ${remoteId}: ${(err as Error).message}`);
        }
        let e = byPrefix.get(p);
        if (!e) byPrefix.set(p, (e = { prefix: p, macs: new Set(), ids: new Set() }));
        e.macs.add(m.mac);
        for (const id of ids) e.ids.add(id);
      }
    }
    for (const e of byPrefix.values()) {
      const ids = [...e.ids].sort((a, b) => a - b);
      for (const mac of e.macs) flows.push(...memberFlows({ prefix: e.prefix, mac }, direction, ethertype, localVlan, ids));
    }
  }
  return flows;
}
