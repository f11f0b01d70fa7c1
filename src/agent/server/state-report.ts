// The agent's heartbeat (report_state every report_interval): what neutron-server shows in
// `openstack network agent list`, and how it learns the agent's configuration.
import type { JsonObject } from '../../util/json.js';
import type { AgentContext } from '../context.js';
import { RESOURCE_VERSIONS } from './resource-cache.js';
import { getLogger } from '../../util/log.js';
import { noteStateReport } from '../status/metrics.js';

const LOG = getLogger('agent');

export class StateReports {
  /** start_flag is sent until a report succeeds after the first full sync. */
  private startFlag = true;
  /** resource_versions is sent until one report has carried them. */
  private resourceVersionsSent = false;
  private timer: NodeJS.Timeout | undefined;
  /** Wall-clock ms of the last report the server accepted. */
  lastSuccessAt: number | undefined;

  constructor(
    private readonly ctx: AgentContext,
    /** How many ports are wired, for `configurations.devices`. */
    private readonly deviceCount: () => number,
    /** What the extensions add to `configurations` (DVR: in_distributed_mode). */
    private readonly extensionConfigurations: () => JsonObject = () => ({}),
  ) {}

  /** Report now, then every report_interval (a report_interval of 0 disables reports). */
  async report(): Promise<void> {
    const { sync, settings } = this.ctx;
    if (sync.stopping || settings.reportIntervalSec <= 0) return;
    try {
      const result = await this.ctx.requireRpc().reportState(this.stateReport(), settings.reportIntervalSec);
      this.resourceVersionsSent = true;
      this.lastSuccessAt = Date.now();
      noteStateReport(true);
      if (sync.firstSyncDone) this.startFlag = false;
      if (result === 'revived') {
        LOG.info('agent has just been revived: doing a full sync');
        sync.fullSync = true;
        this.ctx.scheduler.kick();
      }
    } catch (e) {
      noteStateReport(false);
      LOG.warning('failed reporting state', e);
    } finally {
      if (!sync.stopping) {
        this.timer = setTimeout(() => void this.report(), settings.reportIntervalSec * 1000);
        this.timer.unref();
      }
    }
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private stateReport(): JsonObject {
    const s = this.ctx.settings;
    const ovs = this.ctx.ops.openVSwitch();
    const configurations: JsonObject = {
      bridge_mappings: Object.fromEntries(s.bridgeMappings),
      resource_provider_bandwidths: s.resourceProviderBandwidths as unknown as JsonObject,
      resource_provider_inventory_defaults: s.resourceProviderInventoryDefaults,
      resource_provider_packet_processing_without_direction: s.resourceProviderPacketProcessingWithoutDirection as JsonObject,
      resource_provider_packet_processing_with_direction: s.resourceProviderPacketProcessingWithDirection as JsonObject,
      resource_provider_packet_processing_inventory_defaults: s.resourceProviderPacketProcessingInventoryDefaults,
      resource_provider_hypervisors: s.resourceProviderHypervisors,
      integration_bridge: s.integrationBridge,
      tunnel_types: [...s.tunnelTypes],
      tunneling_ip: s.localIp ?? null,
      l2_population: s.l2Population,
      arp_responder_enabled: s.arpResponderEnabled,
      enable_distributed_routing: s.enableDistributedRouting,
      log_agent_heartbeats: s.logAgentHeartbeats,
      extensions: [...s.extensions],
      datapath_type: s.datapathType,
      ovs_capabilities: { datapath_types: [...ovs.datapathTypes].sort(), iface_types: [...ovs.ifaceTypes].sort() },
      vhostuser_socket_dir: s.vhostuserSocketDir,
      ovs_hybrid_plug: s.firewallDriver === 'iptables_hybrid',
      baremetal_smartnic: s.baremetalSmartnic,
      devices: this.deviceCount(),
      in_distributed_mode: false,
      ...this.extensionConfigurations(),
    };
    const state: JsonObject = {
      binary: 'neutron-openvswitch-agent',
      host: s.host,
      topic: 'N/A',
      agent_type: 'Open vSwitch agent',
      uuid: crypto.randomUUID(),
      configurations,
    };
    if (this.startFlag) state['start_flag'] = true;
    if (!this.resourceVersionsSent) state['resource_versions'] = RESOURCE_VERSIONS;
    return state;
  }
}
