// `[agent] extensions`: what the reference's Open vSwitch agent can be asked to do beyond plain
// ports. A name this agent does not implement stops it at start-up (fail closed): an operator must
// never believe a limit, a log or a route is enforced while nothing enforces it. The reference
// skips an unknown name silently; here it is an error too.

/** The L2 agent extensions the reference's Open vSwitch agent (Zed) loads by name. */
export const REFERENCE_EXTENSIONS = ['qos', 'fdb', 'log', 'local_ip', 'dhcp'] as const;
export type ReferenceExtension = (typeof REFERENCE_EXTENSIONS)[number];

/** The extensions this agent implements (src/extensions/<name>/); the others are refused. */
export const IMPLEMENTED_EXTENSIONS: readonly ReferenceExtension[] = ['qos', 'fdb', 'local_ip', 'log', 'dhcp'];

/** What each refused extension would do, so the error says what is missing. */
const PURPOSE: Record<ReferenceExtension, string> = {
  qos: 'QoS policies (bandwidth limits, DSCP marking, minimum bandwidth, packet rate limits)',
  fdb: 'FDB entries of shared physical devices (SR-IOV and OVS ports on one NIC)',
  log: 'security-group packet logging',
  local_ip: 'Local IP associations',
  dhcp: 'DHCP answered by the agent on the compute node',
};

/** Why `[agent] extensions` cannot be used as given, or undefined when every name is implemented. */
export function extensionsProblem(names: readonly string[]): string | undefined {
  const supported = IMPLEMENTED_EXTENSIONS.length ? `this agent implements: ${IMPLEMENTED_EXTENSIONS.join(', ')}` : 'this agent implements none yet';
  const unknown = names.filter((n) => !(REFERENCE_EXTENSIONS as readonly string[]).includes(n));
  if (unknown.length) {
    return `unknown extension ${unknown.map((n) => `'${n}'`).join(', ')} (the reference's are ${REFERENCE_EXTENSIONS.join(', ')}; ${supported})`;
  }
  const missing = names.filter((n): n is ReferenceExtension => !IMPLEMENTED_EXTENSIONS.includes(n as ReferenceExtension));
  if (missing.length) {
    const what = missing.map((n) => `${n} (${PURPOSE[n]})`).join(', ');
    return `not implemented by this agent: ${what}; running without ${missing.length === 1 ? 'it' : 'them'} would leave that unenforced (${supported})`;
  }
  return undefined;
}

/**
 * `log` writes its lines from packet-ins the switch sends over the agent's own OpenFlow channel,
 * and sends packets to the controller from the openvswitch firewall's tables: without either it
 * would accept log resources and log nothing, so it is refused naming the option to change.
 */
export function logExtensionProblem(
  names: readonly string[],
  c: { ofInterface: string; firewallDriver: string | undefined; enableSecurityGroup: boolean },
): { group: 'ovs' | 'securitygroup'; option: string; value: string; text: string } | undefined {
  if (!names.includes('log')) return undefined;
  if (c.ofInterface !== 'native') {
    return {
      group: 'ovs', option: 'of_interface', value: c.ofInterface,
      text: "[agent] extensions = log needs the native OpenFlow interface: with ovs-ofctl the agent has no OpenFlow channel to receive the packets to log, and would log nothing (set of_interface = native, or drop 'log' from [agent] extensions)",
    };
  }
  if (c.firewallDriver !== 'openvswitch' || !c.enableSecurityGroup) {
    return {
      group: 'securitygroup', option: c.enableSecurityGroup ? 'firewall_driver' : 'enable_security_group', value: c.enableSecurityGroup ? (c.firewallDriver ?? '') : 'False',
      text: '[agent] extensions = log logs what the openvswitch firewall accepts and drops: it needs firewall_driver = openvswitch with enable_security_group = True, and would log nothing otherwise',
    };
  }
  return undefined;
}


/**
 * `dhcp` answers DHCP from packet-ins on the agent's own OpenFlow channel with packet-outs: without
 * it (ovs-ofctl) the agent would steer every DHCP request to a controller that never answers.
 * `[dhcp] enable_ipv6` (DHCPv6 too) is answered as the reference does.
 */
export function dhcpExtensionProblem(
  names: readonly string[],
  c: { ofInterface: string },
): { group: 'ovs'; option: string; value: string; text: string } | undefined {
  if (!names.includes('dhcp')) return undefined;
  if (c.ofInterface !== 'native') {
    return {
      group: 'ovs', option: 'of_interface', value: c.ofInterface,
      text: "[agent] extensions = dhcp needs the native OpenFlow interface: with ovs-ofctl the agent has no OpenFlow channel to receive DHCP requests and send replies, and VMs would get no address (set of_interface = native, or drop 'dhcp' from [agent] extensions)",
    };
  }
  return undefined;
}
