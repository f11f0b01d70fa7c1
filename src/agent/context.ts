// What the agent's parts share: the configuration, the connections, the bridges as set up now and
// the agent's progress. OvsAgent is the one implementation; parts read it when they act, because
// the bridges are set up again after an OVS restart and RPC comes up after start().
import type { OvsdbOps } from '../ovsdb/ops.js';
import type { Bridges } from './bridges/bridge-setup.js';
import type { LocalVlanManager } from './networks/local-vlan.js';
import type { OvsdbDriftRepair } from './repair/ovsdb-drift.js';
import type { PassScheduler } from './ports/pass-scheduler.js';
import type { PluginRpc } from './server/plugin-rpc.js';
import type { ResourceCache } from './server/resource-cache.js';
import type { AgentSettings } from './settings.js';
import type { SyncState } from './ports/sync-state.js';

export interface AgentContext {
  readonly settings: AgentSettings;
  readonly ops: OvsdbOps;
  /** The bridges as set up now (the objects are re-bound after an OVS restart). */
  readonly bridges: Bridges;
  readonly vlans: LocalVlanManager;
  readonly cache: ResourceCache;
  readonly sync: SyncState;
  readonly scheduler: PassScheduler;
  /** Port settings are written through it, so what the agent set is known and kept true. */
  readonly drift: OvsdbDriftRepair;
  /** The server connection, or an error when it is not usable yet. */
  requireRpc(): PluginRpc;
}
