// The one place the agent's configuration files for a lab host are written: neutron.conf and
// openvswitch_agent.ini as an operator writes them for a vxlan + l2population host with the
// userspace datapath. Tests, benchmarks and the demo start both agents (ours and the reference)
// from it, so they always compare the same configuration.

export interface LabAgentOptions {
  host: string;
  transportUrl: string;
  /** [ovs] ovsdb_connection (the reference needs tcp:, ours takes unix: too). */
  ovsdbConnection: string;
  /** [ovs] local_ip (default 127.0.0.1). */
  localIp?: string;
  /** [ovs] bridge_mappings (default: none). */
  bridgeMappings?: string;
  /** [ovs] of_listen_port (default: the agent's, 6633). */
  ofListenPort?: number;
  /** [ovs] of_interface (default: the agent's, native). */
  ofInterface?: 'native' | 'ovs-ofctl';
  /** [agent] report_interval in seconds (default: the agent's, 30). */
  reportIntervalSec?: number;
  /** Extra lines for [ovs]. */
  ovs?: string[];
  /** [agent] tunnel_types (default vxlan). */
  tunnelTypes?: string;
  /** Extra lines for [agent]. */
  agent?: string[];
  /** [securitygroup] firewall_driver (default noop). */
  firewallDriver?: string;
  /** Extra lines for [securitygroup]. */
  securitygroup?: string[];
}

// A type alias, not an interface: it then fits the Record<string, string> that AgentProcess takes.
export type AgentFiles = {
  'neutron.conf': string;
  'openvswitch_agent.ini': string;
};

export function labAgentFiles(o: LabAgentOptions): AgentFiles {
  return {
    'neutron.conf': `[DEFAULT]\nhost = ${o.host}\ntransport_url = ${o.transportUrl}\n`,
    'openvswitch_agent.ini': [
      '[ovs]',
      'datapath_type = netdev',
      `ovsdb_connection = ${o.ovsdbConnection}`,
      `local_ip = ${o.localIp ?? '127.0.0.1'}`,
      ...(o.bridgeMappings ? [`bridge_mappings = ${o.bridgeMappings}`] : []),
      ...(o.ofListenPort !== undefined ? [`of_listen_port = ${o.ofListenPort}`] : []),
      ...(o.ofInterface ? [`of_interface = ${o.ofInterface}`] : []),
      ...(o.ovs ?? []),
      '[agent]',
      `tunnel_types = ${o.tunnelTypes ?? 'vxlan'}`,
      'l2_population = True',
      'arp_responder = True',
      ...(o.reportIntervalSec !== undefined ? [`report_interval = ${o.reportIntervalSec}`] : []),
      ...(o.agent ?? []),
      '[securitygroup]',
      `firewall_driver = ${o.firewallDriver ?? 'noop'}`,
      ...(o.securitygroup ?? []),
      '',
    ].join('\n'),
  };
}
