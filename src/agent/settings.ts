// What the agent needs from the configuration, in one typed object. The agent reads only this;
// settingsFromConfig() is the one place that knows the option names.
import type { BridgeSetupConfig } from './bridges/bridge-setup.js';
import type { TunnelType } from '../bridges/tables.js';
import type { AgentConfig } from '../config/index.js';
import type { FirewallDriverName } from '../config/firewall-driver.js';
import type { OpenFlowSettings } from '../openflow/factory.js';
import { parseListenAddress, type ListenAddress } from '../config/listen-address.js';
import { amqpTlsSettings, ovsdbTlsSettings } from '../config/tls.js';
import type { TlsClientSettings } from '../util/tls.js';
import type { QueueArgumentSettings } from '../rpc/index.js';
import { agentEgressDirect } from './ports/egress-direct.js';
import { syslogFacility } from '../util/log-format.js';

export interface NetworkLogSettings {
  rateLimit: number;
  burstLimit: number;
  /** local_output_log_base; undefined: syslog, or journald with use_journal, as the reference. */
  localOutputLogBase: string | undefined;
  useJournal: boolean;
  /** syslog_log_facility as a priority facility (LOG_USER when unknown). */
  syslogFacility: number;
  /** The lines' format and level, as the reference's handler takes them from the logging options. */
  format: string;
  dateFormat: string;
  debug: boolean;
}

export interface AgentSettings extends BridgeSetupConfig, OpenFlowSettings {
  host: string;
  localIp: string | undefined;
  tunnelTypes: readonly TunnelType[];
  l2Population: boolean;
  vxlanUdpPort: number;
  dontFragment: boolean;
  tunnelCsum: boolean;
  dscp: number | undefined;
  dscpInherit: boolean;
  enableDistributedRouting: boolean;
  reportIntervalSec: number;
  /** `[agent] flow_audit_interval` (ours): seconds between flow audits, 0 = none. */
  flowAuditIntervalSec: number;
  /** `[agent] tunnel_port_naming` (ours): tunnel ports named by the remote IP (the reference) or by both IPs (test rigs). */
  tunnelPortNaming: 'remote-ip' | 'local-and-remote-ip';
  logAgentHeartbeats: boolean;
  extensions: readonly string[];
  /** `[FDB] shared_physical_device_mappings` as written (the fdb extension parses it). */
  fdbSharedPhysicalDeviceMappings: readonly string[];
  /** `[local_ip] static_nat`: the local_ip extension's static NAT flows instead of conntrack. */
  localIpStaticNat: boolean;
  /** `[network_log]` and where its lines go without a file (the log extension). */
  networkLog: NetworkLogSettings;
  /** What the dhcp extension's replies carry (base_mac, dhcp_lease_duration, dns_domain, [dhcp] T1/T2). */
  dhcp: { baseMac: string; leaseDuration: number; dnsDomain: string; renewalTime: number; rebindingTime: number };
  firewallDriver: FirewallDriverName;
  enableSecurityGroup: boolean;
  enableIpset: boolean;
  /** `[securitygroup] permitted_ethertypes`, e.g. 0x4008. */
  permittedEthertypes: readonly string[];
  explicitlyEgressDirect: boolean;
  rpcResourcesProcessingStep: number;
  quittingRpcTimeoutSec: number;
  ovsdbConnection: string;
  ovsdbTimeoutSec: number;
  /** Set when ovsdb_connection is ssl:. */
  ovsdbTls: TlsClientSettings | undefined;
  vhostuserSocketDir: string;
  resourceProviderBandwidths: Record<string, { egress: number | null; ingress: number | null }>;
  resourceProviderHypervisors: Record<string, string>;
  resourceProviderInventoryDefaults: Record<string, number>;
  resourceProviderPacketProcessingInventoryDefaults: Record<string, number>;
  resourceProviderPacketProcessingWithoutDirection: Record<string, unknown>;
  resourceProviderPacketProcessingWithDirection: Record<string, unknown>;
  baremetalSmartnic: boolean;
  /** `[agent] metrics_bind`: where /metrics, /healthz, /readyz and /status are served; undefined: off. */
  metricsBind?: ListenAddress | undefined;
  /** Messaging; absent transport = no RPC (e.g. `fake:/` in start-up comparisons). */
  transportUrl: string;
  controlExchange: string;
  rpcResponseTimeoutSec: number;
  rpcResponseMaxTimeoutSec: number;
  /** `[DEFAULT] rpc_ping_enabled`: every RPC server answers oslo_rpc_server_ping with 'pong'. */
  rpcPingEnabled: boolean;
  rabbit: {
    amqpDurableQueues: boolean;
    amqpAutoDelete: boolean;
    /** rabbit_ha_queues, rabbit_quorum_queue and its limits. */
    queueArguments: QueueArgumentSettings;
    /** rabbit_qos_prefetch_count (0: unlimited). */
    prefetchCount: number;
    /** enable_cancel_on_failover. */
    cancelOnHaFailover: boolean;
    heartbeatTimeoutThresholdSec: number;
    retryIntervalSec: number;
    retryBackoffSec: number;
    intervalMaxSec: number;
    transientQueuesTtlSec: number;
    loginMethod: 'AMQPLAIN' | 'PLAIN' | 'EXTERNAL';
    /** Set when [oslo_messaging_rabbit] ssl (or the URL's ?ssl=) is on. */
    tls: TlsClientSettings | undefined;
    enforceFipsMode: boolean;
  };
}

/**
 * The noop-like firewalls leave ARP/MAC anti-spoofing to the agent (flows.md §6.3). The openvswitch
 * driver provides it, and the reference asks the driver even with enable_security_group = False
 * (the driver is built all the same): its ports then have no anti-spoofing at all.
 */
export function agentProvidesAntiSpoofing(s: AgentSettings): boolean {
  const d = s.firewallDriver;
  return d === 'noop' || d === 'iptables' || d === 'iptables_hybrid';
}

/** What the agent reports for placement (bandwidth and packet-processing resource providers). */
function resourceProviderSettings(c: AgentConfig) {
  return {
    resourceProviderBandwidths: c.rpBandwidths as AgentSettings['resourceProviderBandwidths'],
    resourceProviderHypervisors: c.rpHypervisors as Record<string, string>,
    resourceProviderInventoryDefaults: c.rpInventoryDefaults as unknown as Record<string, number>,
    resourceProviderPacketProcessingInventoryDefaults: c.rpPacketProcessingInventoryDefaults as unknown as Record<string, number>,
    resourceProviderPacketProcessingWithoutDirection: c.rpPacketProcessingWithoutDirection as Record<string, unknown>,
    resourceProviderPacketProcessingWithDirection: c.rpPacketProcessingWithDirection as Record<string, unknown>,
  };
}

function dhcpSettings(c: AgentConfig): AgentSettings['dhcp'] {
  return {
    baseMac: c.DEFAULT.base_mac, leaseDuration: c.DEFAULT.dhcp_lease_duration, dnsDomain: c.DEFAULT.dns_domain ?? '',
    renewalTime: c.dhcp.dhcp_renewal_time, rebindingTime: c.dhcp.dhcp_rebinding_time,
  };
}

function networkLogSettings(c: AgentConfig): NetworkLogSettings {
  return {
    rateLimit: c.network_log.rate_limit,
    burstLimit: c.network_log.burst_limit,
    localOutputLogBase: c.network_log.local_output_log_base ?? undefined,
    useJournal: c.DEFAULT.use_journal,
    syslogFacility: syslogFacility(c.DEFAULT.syslog_log_facility) ?? syslogFacility('LOG_USER')!,
    format: c.DEFAULT.logging_default_format_string,
    dateFormat: c.DEFAULT.log_date_format,
    debug: c.DEFAULT.debug,
  };
}

export function settingsFromConfig(c: AgentConfig): AgentSettings {
  const ovs = c.ovs;
  const agent = c.agent;
  return {
    host: c.DEFAULT.host,
    integrationBridge: ovs.integration_bridge,
    tunnelBridge: ovs.tunnel_bridge,
    intPeerPatchPort: ovs.int_peer_patch_port,
    tunPeerPatchPort: ovs.tun_peer_patch_port,
    bridgeMappings: c.bridgeMappings,
    datapathType: ovs.datapath_type,
    bridgeMacTableSize: ovs.bridge_mac_table_size,
    igmpSnoopingEnable: ovs.igmp_snooping_enable,
    ofInterface: ovs.of_interface === 'ovs-ofctl' ? 'ovs-ofctl' : 'native',
    ofListenAddress: ovs.of_listen_address,
    ofListenPort: ovs.of_listen_port,
    ofInactivityProbeSec: ovs.of_inactivity_probe,
    ofConnectTimeoutSec: ovs.of_connect_timeout,
    ofRequestTimeoutSec: ovs.of_request_timeout,
    dropFlowsOnStart: agent.drop_flows_on_start,
    tunnelTypes: c.tunnelTypes,
    arpResponderEnabled: c.arpResponderEnabled,
    dhcpExtension: agent.extensions.includes('dhcp'),
    dhcpIpv6: c.dhcp.enable_ipv6,
    localIp: ovs.local_ip ?? undefined,
    l2Population: agent.l2_population,
    vxlanUdpPort: agent.vxlan_udp_port,
    dontFragment: agent.dont_fragment,
    tunnelCsum: agent.tunnel_csum,
    dscp: agent.dscp ?? undefined,
    dscpInherit: agent.dscp_inherit,
    enableDistributedRouting: agent.enable_distributed_routing,
    reportIntervalSec: agent.report_interval,
    flowAuditIntervalSec: agent.flow_audit_interval,
    tunnelPortNaming: agent.tunnel_port_naming === 'local-and-remote-ip' ? 'local-and-remote-ip' : 'remote-ip',
    logAgentHeartbeats: agent.log_agent_heartbeats,
    extensions: agent.extensions,
    fdbSharedPhysicalDeviceMappings: c.fdb.shared_physical_device_mappings,
    localIpStaticNat: c.local_ip.static_nat,
    networkLog: networkLogSettings(c),
    dhcp: dhcpSettings(c),
    firewallDriver: c.firewallDriver,
    enableSecurityGroup: c.securitygroup.enable_security_group,
    enableIpset: c.securitygroup.enable_ipset,
    permittedEthertypes: c.securitygroup.permitted_ethertypes,
    explicitlyEgressDirect: agent.explicitly_egress_direct,
    egressDirect: agentEgressDirect({
      explicitlyEgressDirect: agent.explicitly_egress_direct,
      firewallDriver: c.firewallDriver,
      enableSecurityGroup: c.securitygroup.enable_security_group,
    }),
    rpcResourcesProcessingStep: c.DEFAULT.rpc_resources_processing_step,
    quittingRpcTimeoutSec: agent.quitting_rpc_timeout,
    ovsdbConnection: ovs.ovsdb_connection,
    ovsdbTimeoutSec: ovs.ovsdb_timeout,
    ovsdbTls: ovsdbTlsSettings(ovs),
    vhostuserSocketDir: ovs.vhostuser_socket_dir,
    ...resourceProviderSettings(c),
    baremetalSmartnic: agent.baremetal_smartnic,
    metricsBind: agent.metrics_bind ? parseListenAddress(agent.metrics_bind) : undefined,
    transportUrl: c.DEFAULT.transport_url,
    controlExchange: c.DEFAULT.control_exchange,
    rpcResponseTimeoutSec: c.DEFAULT.rpc_response_timeout,
    rpcResponseMaxTimeoutSec: c.DEFAULT.rpc_response_max_timeout,
    rpcPingEnabled: c.DEFAULT.rpc_ping_enabled,
    rabbit: rabbitSettings(c),
  };
}

/** [oslo_messaging_rabbit], with the transport URL's query applied (oslo.messaging lets it override the group). */
function rabbitSettings(c: AgentConfig): AgentSettings['rabbit'] {
  const rabbit = c.messaging;
  return {
    amqpDurableQueues: rabbit.amqp_durable_queues,
    amqpAutoDelete: rabbit.amqp_auto_delete,
    queueArguments: {
      haQueues: rabbit.rabbit_ha_queues,
      quorum: rabbit.rabbit_quorum_queue ? {
        deliveryLimit: rabbit.rabbit_quorum_delivery_limit, maxMemoryLength: rabbit.rabbit_quroum_max_memory_length, maxMemoryBytes: rabbit.rabbit_quroum_max_memory_bytes,
      } : undefined,
    },
    prefetchCount: rabbit.rabbit_qos_prefetch_count,
    cancelOnHaFailover: rabbit.enable_cancel_on_failover,
    heartbeatTimeoutThresholdSec: rabbit.heartbeat_timeout_threshold,
    retryIntervalSec: rabbit.rabbit_retry_interval,
    retryBackoffSec: rabbit.rabbit_retry_backoff,
    intervalMaxSec: rabbit.rabbit_interval_max,
    transientQueuesTtlSec: rabbit.rabbit_transient_queues_ttl,
    loginMethod: rabbit.rabbit_login_method === 'PLAIN' || rabbit.rabbit_login_method === 'EXTERNAL' ? rabbit.rabbit_login_method : 'AMQPLAIN',
    tls: amqpTlsSettings(rabbit),
    enforceFipsMode: rabbit.ssl && rabbit.ssl_enforce_fips_mode,
  };
}
