// What the agent needs from the configuration, in one typed object. The agent reads only this;
// settingsFromConfig() is the one place that knows the option names.
import type { BridgeSetupConfig } from './bridge-setup.js';
import type { TunnelType } from '../bridges/tables.js';

export interface AgentSettings extends BridgeSetupConfig {
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
  logAgentHeartbeats: boolean;
  extensions: readonly string[];
  firewallDriver: string;
  enableSecurityGroup: boolean;
  rpcResourcesProcessingStep: number;
  quittingRpcTimeoutSec: number;
  ovsdbConnection: string;
  ovsdbTimeoutSec: number;
  ofRequestTimeoutSec: number;
  vhostuserSocketDir: string;
  resourceProviderBandwidths: Record<string, { egress: number | null; ingress: number | null }>;
  resourceProviderHypervisors: Record<string, string>;
  resourceProviderInventoryDefaults: Record<string, number>;
  resourceProviderPacketProcessingInventoryDefaults: Record<string, number>;
  resourceProviderPacketProcessingWithoutDirection: Record<string, unknown>;
  resourceProviderPacketProcessingWithDirection: Record<string, unknown>;
  baremetalSmartnic: boolean;
  /** Messaging; absent transport = no RPC (e.g. `fake:/` in start-up comparisons). */
  transportUrl: string;
  controlExchange: string;
  rpcResponseTimeoutSec: number;
  rpcResponseMaxTimeoutSec: number;
  rabbit: {
    amqpDurableQueues: boolean;
    amqpAutoDelete: boolean;
    heartbeatTimeoutThresholdSec: number;
    retryIntervalSec: number;
    retryBackoffSec: number;
    intervalMaxSec: number;
    transientQueuesTtlSec: number;
    loginMethod: 'AMQPLAIN' | 'PLAIN';
  };
}

/** The noop-like firewalls leave ARP/MAC anti-spoofing to the agent (flows.md §6.3). */
export function agentProvidesAntiSpoofing(s: AgentSettings): boolean {
  const d = s.firewallDriver || 'noop';
  return !s.enableSecurityGroup || d === 'noop' || d.startsWith('iptables');
}
