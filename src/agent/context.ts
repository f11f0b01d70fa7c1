// What the agent's parts share: the configuration, the connections, the bridges as set up now and
// the agent's progress. OvsAgent is the one implementation; parts read it when they act, because
// the bridges are set up again after an OVS restart and RPC comes up after start().
import type { OvsdbOps } from '../ovsdb/ops.js';
import type { Bridges } from './bridge-setup.js';
import type { LocalVlanManager } from './local-vlan.js';
import type { OvsdbDriftRepair } from './ovsdb-drift.js';
import type { PassScheduler } from './pass-scheduler.js';
import type { PluginRpc } from './plugin-rpc.js';
import type { ResourceCache } from './resource-cache.js';
import type { AgentSettings } from './settings.js';
import type { SyncState } from './sync-state.js';

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
