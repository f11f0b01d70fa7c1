// The agent's state as the metrics endpoint reads it (AgentSnapshot): built on demand from the
// parts' in-memory state, without asking OVS or the server anything.
import type { OpenFlowBackend } from '../../openflow/backend.js';
import type { OvsdbOps } from '../../ovsdb/ops.js';
import type { FirewallDriver } from '../../firewall/driver.js';
import { TUNNEL_TYPES } from '../../bridges/tables.js';
import type { Bridges } from '../bridges/bridge-setup.js';
import type { LocalVlanManager } from '../networks/local-vlan.js';
import type { AgentSnapshot, PortState, RepairCounts } from './metrics.js';
import type { PluginRpc } from '../server/plugin-rpc.js';
import type { ResourceCache } from '../server/resource-cache.js';
import type { SyncState } from '../ports/sync-state.js';
import type { TunnelPorts } from '../networks/tunnels.js';

export interface SnapshotParts {
  ovsdbEndpoint: string;
  ops: OvsdbOps | undefined;
  backend: OpenFlowBackend | undefined;
  /** Undefined until the bridges are first set up. */
  bridges: Bridges | undefined;
  /**
   * The last canary check's result: how ovs-ofctl's channel (no connection to watch) is judged;
   * undefined while not read since a switch reconnected.
   */
  canary: 'normal' | 'restarted' | 'dead' | undefined;
  rpc: PluginRpc | undefined;
  sync: SyncState;
  ports: Record<PortState, number>;
  lastFullSync: AgentSnapshot['lastFullSync'];
  lastStateReportAt: number | undefined;
  vlans: LocalVlanManager;
  tunnels: TunnelPorts;
  firewall: FirewallDriver | undefined;
  extensions: AgentSnapshot['extensions'];
  cache: ResourceCache;
  repairs: RepairCounts;
}

/** Switch handles that know their datapath id (the native backend's, and the instrumented ones). */
interface WithDatapath {
  datapathId?: bigint;
}

export function buildSnapshot(p: SnapshotParts): AgentSnapshot {
  const openflow: AgentSnapshot['openflow'] = [];
  if (p.bridges) {
    const all = [p.bridges.int, ...[...p.bridges.phys.values()].map((n) => n.bridge), ...(p.bridges.tun ? [p.bridges.tun] : [])];
    for (const br of all) {
      const dpid = (br.ofSwitch as WithDatapath).datapathId;
      const connected = p.backend?.isConnected && dpid !== undefined ? p.backend.isConnected(dpid) : p.canary === 'normal';
      openflow.push({ bridge: br.name, connected });
    }
  }
  const localVlans: AgentSnapshot['localVlans'] = [...p.vlans.all()]
    .map((v) => ({
      vlan: v.vlan,
      networkId: v.networkId,
      networkType: v.networkType,
      ...(v.physicalNetwork !== undefined ? { physicalNetwork: v.physicalNetwork } : {}),
      ...(v.segmentationId !== undefined ? { segmentationId: v.segmentationId } : {}),
      ports: v.vifPorts.size,
    }))
    .sort((a, b) => a.vlan - b.vlan);
  const tunnels: AgentSnapshot['tunnels'] = [];
  for (const type of TUNNEL_TYPES) {
    for (const [remoteIp, ofport] of p.tunnels.ofportsOf(type)) tunnels.push({ type, remoteIp, ofport });
  }
  const fw = p.firewall?.stats?.();
  return {
    bridgesReady: p.bridges !== undefined && p.sync.bridgesReady,
    flowsChecked: p.canary === 'normal',
    ovsdb: { endpoint: p.ovsdbEndpoint, connected: p.ops?.client.isConnected ?? false },
    openflow,
    messageBus: p.rpc ? { url: p.rpc.url, connected: p.rpc.connection.connected } : undefined,
    firstSyncDone: p.sync.firstSyncDone,
    lastFullSync: p.lastFullSync,
    lastStateReportAt: p.lastStateReportAt,
    ports: p.ports,
    localVlans,
    tunnels,
    firewall: p.firewall && fw ? { driver: p.firewall.name, ...fw } : undefined,
    extensions: p.extensions,
    cache: p.cache.counts(),
    repairs: p.repairs,
  };
}
