// `[securitygroup] firewall_driver`: the reference loads the driver by stevedore alias or by class
// path; deployment tools write either. Every spelling maps to one driver name here, so the agent
// can refuse a driver it does not implement instead of running with ports unfiltered.

export type FirewallDriverName = 'noop' | 'openvswitch' | 'iptables_hybrid' | 'iptables';

/** The drivers this agent implements; any other value stops it at start-up (fail closed). */
export const IMPLEMENTED_FIREWALL_DRIVERS: readonly FirewallDriverName[] = ['noop', 'openvswitch', 'iptables_hybrid'];

const ALIASES: Record<FirewallDriverName, readonly string[]> = {
  noop: ['noop', 'neutron.agent.firewall:NoopFirewallDriver', 'neutron.agent.firewall.NoopFirewallDriver'],
  openvswitch: [
    'openvswitch',
    'neutron.agent.linux.openvswitch_firewall:OVSFirewallDriver',
    'neutron.agent.linux.openvswitch_firewall.OVSFirewallDriver',
    'neutron.agent.linux.openvswitch_firewall.firewall:OVSFirewallDriver',
    'neutron.agent.linux.openvswitch_firewall.firewall.OVSFirewallDriver',
  ],
  iptables_hybrid: [
    'iptables_hybrid',
    'neutron.agent.linux.iptables_firewall:OVSHybridIptablesFirewallDriver',
    'neutron.agent.linux.iptables_firewall.OVSHybridIptablesFirewallDriver',
  ],
  iptables: [
    'iptables',
    'neutron.agent.linux.iptables_firewall:IptablesFirewallDriver',
    'neutron.agent.linux.iptables_firewall.IptablesFirewallDriver',
  ],
};

/** The driver a `firewall_driver` value names (unset or empty: noop); undefined for an unknown value. */
export function resolveFirewallDriver(value: string | null | undefined): FirewallDriverName | undefined {
  const v = (value ?? '').trim();
  if (v === '') return 'noop';
  for (const name of Object.keys(ALIASES) as FirewallDriverName[]) {
    if (ALIASES[name].includes(v)) return name;
  }
  return undefined;
}

/** Why a `firewall_driver` value cannot be used, or undefined when it can. */
export function firewallDriverProblem(value: string | null | undefined): string | undefined {
  const supported = `supported: ${IMPLEMENTED_FIREWALL_DRIVERS.join(', ')}`;
  const name = resolveFirewallDriver(value);
  if (name === undefined) return `unknown firewall driver (${supported})`;
  if (!IMPLEMENTED_FIREWALL_DRIVERS.includes(name)) {
    return `the ${name} firewall driver is not implemented by this agent, and running without it would leave ports unfiltered (${supported})`;
  }
  return undefined;
}
