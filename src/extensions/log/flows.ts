// The flows that send a logged port's packets to the controller, as the reference's
// ovs_firewall_log driver writes them on br-int: a DROP event is one flow in table 93 for the
// port; an ACCEPT event is one flow per security-group rule (and port-range mask) in table 91
// (egress, which also goes on to table 94) or 92 (ingress), matching what the rule's accepting
// flow in table 72/82 matches minus the conntrack state, so only a connection's first accepted
// packet (the one committed to conntrack) reaches those tables and is logged. A remote-group rule's
// flow matches the conjunction the firewall recorded in reg7 instead (its base id + 1, whatever
// the rule's priority offset, as the reference does).
import type { Flow } from '../../openflow/flow.js';
import { output, resubmit } from '../../openflow/flow.js';
import { INT } from '../../bridges/tables.js';
import { ETH_TYPE } from '../../openflow/flow.js';
import { isRemoteRule, REG_PORT, REG_REMOTE_GROUP, ruleMatches } from '../../firewall/openvswitch/rules.js';
import type { LogRule } from './log-info.js';

/** The priority of a logged port's DROP flow in table 93 (the firewall's drop there is 0). */
export const DROP_LOG_PRIORITY = 53;
/** The priority of a remote-group rule's ACCEPT log flow. */
export const REMOTE_RULE_PRIORITY = 70;

export function dropLogFlow(ofport: number): Flow {
  return { table: INT.DROPPED_TRAFFIC_TABLE, priority: DROP_LOG_PRIORITY, match: { regs: { [REG_PORT]: { value: ofport } } }, actions: [output('CONTROLLER')] };
}

/** Egress: forwarded (table 94) and logged; ingress: the rule's flow already output it, only logged. */
function logTable(direction: 'ingress' | 'egress'): Pick<Flow, 'table' | 'actions'> {
  return direction === 'egress'
    ? { table: INT.ACCEPTED_EGRESS_TRAFFIC_TABLE, actions: [resubmit(INT.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE), output('CONTROLLER')] }
    : { table: INT.ACCEPTED_INGRESS_TRAFFIC_TABLE, actions: [output('CONTROLLER')] };
}

export type ConjIdOf = (sgId: string, remoteId: string, direction: 'ingress' | 'egress', ethertype: 'IPv4' | 'IPv6') => number | undefined;

/** The ACCEPT log flows of a port's rules; a remote-group rule without a conjunction id is skipped. */
export function acceptLogFlows(ofport: number, rules: readonly LogRule[], conjIdOf: ConjIdOf): Flow[] {
  const flows: Flow[] = [];
  for (const { rule, securityGroupId } of rules) {
    const { table, actions } = logTable(rule.direction);
    if (isRemoteRule(rule)) {
      const conjId = conjIdOf(securityGroupId, (rule.remoteGroupId ?? rule.remoteAddressGroupId)!, rule.direction, rule.ethertype);
      if (conjId === undefined) continue;
      const ethType = rule.ethertype === 'IPv4' ? ETH_TYPE.IPV4 : ETH_TYPE.IPV6;
      flows.push({ table, priority: REMOTE_RULE_PRIORITY, match: { ethType, regs: { [REG_PORT]: { value: ofport }, [REG_REMOTE_GROUP]: { value: conjId + 1 } } }, actions });
      continue;
    }
    for (const t of ruleMatches(rule, ofport)) flows.push({ table, priority: t.priority, match: t.match, actions });
  }
  return flows;
}
