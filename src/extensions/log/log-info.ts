// What the logging plugin tells the agent, typed where it arrives: the `Log` objects it pushes
// (neutron.objects.logapi.Log) and its answers to get_sg_log_info_for_port /
// get_sg_log_info_for_log_resources (neutron.services.logapi.common.db_api): per log resource,
// the ports it logs with the security-group rules that apply to each.
import { isJsonObject, type JsonObject, type JsonValue } from '../../util/json.js';
import { normalizeProtocol, type FirewallRule } from '../../firewall/openvswitch/rules.js';

export type LogEvent = 'ACCEPT' | 'DROP' | 'ALL';

/** A `Log` object as pushed (the fields the agent and the server's RPC use). */
export interface LogResource {
  id: string;
  projectId: string | null;
  resourceType: string;
  resourceId: string | null;
  targetId: string | null;
  event: LogEvent;
  enabled: boolean;
}

/** A security-group rule as the logging plugin sends it, with the group it belongs to. */
export interface LogRule {
  rule: FirewallRule;
  securityGroupId: string;
}

export interface PortLogInfo {
  portId: string;
  rules: LogRule[];
}

export interface SgLogInfo {
  id: string;
  projectId: string;
  event: LogEvent;
  ports: PortLogInfo[];
}

const str = (v: JsonValue | undefined): string | null => (typeof v === 'string' ? v : null);

function event(v: JsonValue | undefined, what: string): LogEvent {
  if (v === 'ACCEPT' || v === 'DROP' || v === 'ALL') return v;
  throw new Error(`${what}: event ${JSON.stringify(v)} is not ACCEPT, DROP or ALL`);
}

export function parseLogResource(o: JsonObject): LogResource {
  const id = str(o['id']);
  if (!id) throw new Error('Log object without an id');
  return {
    id,
    projectId: str(o['project_id']),
    resourceType: str(o['resource_type']) ?? '',
    resourceId: str(o['resource_id']),
    targetId: str(o['target_id']),
    event: event(o['event'] ?? 'ALL', `log ${id}`),
    enabled: o['enabled'] !== false,
  };
}

/** The log resource as the server's get_sg_log_info_for_log_resources reads it (sg_log['target_id'] ...). */
export function logResourceArg(l: LogResource): JsonObject {
  return {
    id: l.id, project_id: l.projectId, resource_type: l.resourceType, resource_id: l.resourceId,
    target_id: l.targetId, event: l.event, enabled: l.enabled,
  };
}

const int = (v: JsonValue | undefined): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

/** One rule of `security_group_rules` (db_api._create_sg_rule_dict), its protocol as the driver normalises it. */
function parseRule(o: JsonValue, what: string): LogRule {
  if (!isJsonObject(o)) throw new Error(`${what}: rule is not an object`);
  const direction = o['direction'];
  const ethertype = o['ethertype'];
  if (direction !== 'ingress' && direction !== 'egress') throw new Error(`${what}: direction ${JSON.stringify(direction)}`);
  if (ethertype !== 'IPv4' && ethertype !== 'IPv6') throw new Error(`${what}: ethertype ${JSON.stringify(ethertype)}`);
  const rule: FirewallRule = { direction, ethertype };
  const protocol = o['protocol'];
  if (typeof protocol === 'number') rule.protocol = protocol;
  else if (typeof protocol === 'string' && protocol !== '') rule.protocol = normalizeProtocol(protocol, ethertype);
  const min = int(o['port_range_min']);
  const max = int(o['port_range_max']);
  if (min !== undefined) rule.portRangeMin = min;
  if (max !== undefined) rule.portRangeMax = max;
  // The remote prefix comes as source_ip_prefix (ingress) or dest_ip_prefix (egress).
  const prefix = str(o[direction === 'ingress' ? 'source_ip_prefix' : 'dest_ip_prefix']);
  if (prefix) rule.remoteIpPrefix = prefix;
  const remoteGroup = str(o['remote_group_id']);
  if (remoteGroup) rule.remoteGroupId = remoteGroup;
  const remoteAddressGroup = str(o['remote_address_group_id']);
  if (remoteAddressGroup) rule.remoteAddressGroupId = remoteAddressGroup;
  return { rule, securityGroupId: str(o['security_group_id']) ?? '' };
}

/** The answer of get_sg_log_info_for_port / _for_log_resources; throws naming what is malformed. */
export function parseSgLogInfo(v: JsonValue, method: string): SgLogInfo[] {
  if (!Array.isArray(v)) throw new Error(`${method}: expected a list, got ${v === null ? 'null' : typeof v}`);
  return v.map((entry, i) => {
    if (!isJsonObject(entry)) throw new Error(`${method}: entry ${i} is not an object`);
    const id = str(entry['id']);
    if (!id) throw new Error(`${method}: entry ${i} has no id`);
    const ports = entry['ports_log'];
    if (!Array.isArray(ports)) throw new Error(`${method}: log ${id}: ports_log is not a list`);
    return {
      id,
      projectId: str(entry['project_id']) ?? '',
      event: event(entry['event'], `${method}: log ${id}`),
      ports: ports.map((p, j) => {
        if (!isJsonObject(p) || typeof p['port_id'] !== 'string') throw new Error(`${method}: log ${id}: port ${j} has no port_id`);
        const rules = p['security_group_rules'];
        const what = `${method}: log ${id} port ${p['port_id']}`;
        return { portId: p['port_id'], rules: Array.isArray(rules) ? rules.map((r) => parseRule(r, what)) : [] };
      }),
    };
  });
}
