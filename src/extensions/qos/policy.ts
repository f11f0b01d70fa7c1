// QoS policies as the server sends them (QosPolicy 1.10 with its rules), typed where they arrive,
// and which of a policy's rules apply to a port (neutron's QosRule.should_apply_to_port).
import { isJsonObject, type JsonObject, type JsonValue } from '../../util/json.js';

export type Direction = 'egress' | 'ingress';

export type QosRule =
  | { type: 'bandwidth_limit'; id: string; direction: Direction; maxKbps: number; maxBurstKbps: number }
  | { type: 'dscp_marking'; id: string; dscpMark: number }
  | { type: 'minimum_bandwidth'; id: string; direction: Direction; minKbps: number }
  | { type: 'packet_rate_limit'; id: string; direction: Direction; maxKpps: number; maxBurstKpps: number }
  | { type: 'minimum_packet_rate'; id: string; direction: Direction | 'any'; minKpps: number };

export interface QosPolicy {
  id: string;
  rules: QosRule[];
}

/** A malformed policy: named with what is wrong, so the push or pull it came in is logged and dropped. */
export class QosPolicyError extends Error {
  override name = 'QosPolicyError';
}

const num = (o: JsonObject, k: string, rule: string): number => {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new QosPolicyError(`rule ${rule}: ${k} is not a non-negative number (${JSON.stringify(v)})`);
  return v;
};
const optNum = (o: JsonObject, k: string, rule: string): number => (o[k] === null || o[k] === undefined ? 0 : num(o, k, rule));
const direction = (o: JsonObject, rule: string): Direction => {
  const d = o['direction'] ?? 'egress';
  if (d !== 'egress' && d !== 'ingress') throw new QosPolicyError(`rule ${rule}: direction ${JSON.stringify(d)}`);
  return d;
};

/**
 * One rule. Nested rules reach the cache without their object names (QosBandwidthLimitRule ...),
 * so the rule type is told by the field only that type has.
 */
function parseRule(o: JsonObject): QosRule {
  const id = typeof o['id'] === 'string' ? o['id'] : '?';
  if ('max_kbps' in o) return { type: 'bandwidth_limit', id, direction: direction(o, id), maxKbps: num(o, 'max_kbps', id), maxBurstKbps: optNum(o, 'max_burst_kbps', id) };
  if ('dscp_mark' in o) {
    const mark = num(o, 'dscp_mark', id);
    if (!Number.isInteger(mark) || mark > 63) throw new QosPolicyError(`rule ${id}: dscp_mark ${mark} is not a DSCP value (0-63)`);
    return { type: 'dscp_marking', id, dscpMark: mark };
  }
  if ('min_kbps' in o) return { type: 'minimum_bandwidth', id, direction: direction(o, id), minKbps: num(o, 'min_kbps', id) };
  if ('max_kpps' in o) return { type: 'packet_rate_limit', id, direction: direction(o, id), maxKpps: num(o, 'max_kpps', id), maxBurstKpps: optNum(o, 'max_burst_kpps', id) };
  if ('min_kpps' in o) {
    const d = o['direction'] === 'any' ? 'any' : direction(o, id);
    return { type: 'minimum_packet_rate', id, direction: d, minKpps: num(o, 'min_kpps', id) };
  }
  throw new QosPolicyError(`rule ${id}: not a rule type this agent knows (fields ${Object.keys(o).join(', ')})`);
}

/** A QosPolicy object (the cache's plain data) as a typed policy; throws QosPolicyError. */
export function parseQosPolicy(o: JsonValue): QosPolicy {
  if (!isJsonObject(o) || typeof o['id'] !== 'string') throw new QosPolicyError('a QosPolicy without an id');
  const rules = o['rules'] ?? [];
  if (!Array.isArray(rules)) throw new QosPolicyError(`policy ${o['id']}: rules is not a list`);
  return { id: o['id'], rules: rules.map((r) => (isJsonObject(r) ? parseRule(r) : (() => { throw new QosPolicyError(`policy ${o['id']}: a rule is not an object`); })())) };
}

/** What a rule needs to know of a port to say whether it applies. */
export interface PolicyPort {
  qosPolicyId: string | undefined;
  deviceOwner: string;
}

/**
 * A port's own policy always applies; its network's only when the port has none, and not to the
 * network's own devices (routers, DHCP) except router gateways (neutron's should_apply_to_port).
 */
export function policyAppliesToPort(policyId: string, port: PolicyPort): boolean {
  if (port.qosPolicyId !== undefined) return port.qosPolicyId === policyId;
  const owner = port.deviceOwner;
  const networkDevice = owner.startsWith('network:') || owner.startsWith('neutron:');
  const routerGateway = owner.startsWith('network:floatingip_agent_gateway') || owner.startsWith('network:router_gateway');
  return routerGateway || !networkDevice;
}
