// Security groups, rules and address groups through the neutron API of a NeutronLab, for the demo
// and firewall tests. A group made here starts with exactly the rules given: neutron's automatic egress rules
// are removed, so the caller states every rule that allows traffic.
import { LAB_PROJECT, type NeutronLab, type NeutronPort } from './neutron.js';

export interface RuleSpec {
  direction: 'ingress' | 'egress';
  ethertype?: 'IPv4' | 'IPv6';
  protocol?: string | number | null;
  port_range_min?: number;
  port_range_max?: number;
  remote_ip_prefix?: string;
  remote_group_id?: string;
  remote_address_group_id?: string;
}

export interface NeutronRule extends Required<Pick<RuleSpec, 'direction'>> {
  id: string;
  security_group_id: string;
  [k: string]: unknown;
}

export interface NeutronSecurityGroup {
  id: string;
  name: string;
  stateful: boolean;
  security_group_rules: NeutronRule[];
}

export async function createRule(lab: NeutronLab, sgId: string, spec: RuleSpec): Promise<NeutronRule> {
  const rule: Record<string, unknown> = { security_group_id: sgId, tenant_id: LAB_PROJECT, ethertype: 'IPv4', ...spec };
  if (typeof rule.protocol === 'number') rule.protocol = String(rule.protocol);
  return (await lab.api<{ security_group_rule: NeutronRule }>('POST', '/v2.0/security-group-rules', { security_group_rule: rule }))
    .security_group_rule;
}

export async function deleteRule(lab: NeutronLab, ruleId: string): Promise<void> {
  await lab.api('DELETE', `/v2.0/security-group-rules/${ruleId}`);
}

/** A security group with exactly these rules (neutron's default egress rules removed). */
export async function createSecurityGroup(
  lab: NeutronLab,
  name: string,
  rules: RuleSpec[] = [],
  opts: { stateful?: boolean } = {},
): Promise<{ sg: NeutronSecurityGroup; rules: NeutronRule[] }> {
  const body: Record<string, unknown> = { name, tenant_id: LAB_PROJECT };
  if (opts.stateful !== undefined) body.stateful = opts.stateful;
  const sg = (await lab.api<{ security_group: NeutronSecurityGroup }>('POST', '/v2.0/security-groups', { security_group: body }))
    .security_group;
  for (const r of sg.security_group_rules) await deleteRule(lab, r.id);
  const made: NeutronRule[] = [];
  for (const r of rules) made.push(await createRule(lab, sg.id, r.remote_group_id === 'self' ? { ...r, remote_group_id: sg.id } : r));
  return { sg, rules: made };
}

export async function createAddressGroup(lab: NeutronLab, name: string, addresses: string[]): Promise<{ id: string }> {
  return (
    await lab.api<{ address_group: { id: string } }>('POST', '/v2.0/address-groups', {
      address_group: { name, tenant_id: LAB_PROJECT, addresses },
    })
  ).address_group;
}

export interface FilteredPortSpec {
  name: string;
  host: string;
  securityGroups?: string[];
  /** Fixed IP in the network's subnet; absent = neutron picks. */
  ip?: string;
  /** A second fixed IP, in the network's IPv6 subnet. */
  ip6?: string;
  mac?: string;
  portSecurity?: boolean;
  allowedAddressPairs?: Array<{ ip_address: string; mac_address?: string }>;
  deviceOwner?: string;
}

/** A port as Nova creates one for an instance, in the given security groups. */
export async function createFilteredPort(lab: NeutronLab, networkId: string, o: FilteredPortSpec): Promise<NeutronPort> {
  const port: Record<string, unknown> = {
    network_id: networkId,
    tenant_id: LAB_PROJECT,
    name: o.name,
    device_owner: o.deviceOwner ?? 'compute:nova',
    device_id: crypto.randomUUID(),
    'binding:host_id': o.host,
  };
  if (o.securityGroups) port.security_groups = o.securityGroups;
  if (o.ip) port.fixed_ips = [{ ip_address: o.ip }, ...(o.ip6 ? [{ ip_address: o.ip6 }] : [])];
  if (o.mac) port.mac_address = o.mac;
  if (o.portSecurity !== undefined) port.port_security_enabled = o.portSecurity;
  if (o.portSecurity === false) port.security_groups = [];
  if (o.allowedAddressPairs) port.allowed_address_pairs = o.allowedAddressPairs;
  return (await lab.api<{ port: NeutronPort }>('POST', '/v2.0/ports', { port })).port;
}
