// The agent's side of the extension seam (src/extensions/seam.ts): the API an extension is given,
// over the agent's bridges as they are set up now, and the extensions of `[agent] extensions`
// loaded and initialised once the bridges are up, before any port is wired.
import { ExtensionManager } from '../extensions/manager.js';
import type { ExtensionAgentApi, ExtensionServer } from '../extensions/seam.js';
import type { OvsdbOps } from '../ovsdb/ops.js';
import type { Bridges } from './bridges/bridge-setup.js';
import type { ResourceCache } from './server/resource-cache.js';
import type { AgentSettings } from './settings.js';
import type { FirewallDriver } from '../firewall/driver.js';

export interface ExtensionHost {
  readonly settings: AgentSettings;
  readonly ops: OvsdbOps;
  readonly cache: ResourceCache;
  readonly bridges: Bridges;
  kickPass(): void;
  /** The plugin RPC once connected. */
  readonly rpc?: { call: ExtensionServer['call'] };
  readonly sync: { rpcReady: boolean };
  firewallDriver(): FirewallDriver | undefined;
}

export function extensionApi(host: ExtensionHost): ExtensionAgentApi {
  return {
    settings: host.settings,
    ops: host.ops,
    cache: host.cache,
    intBridge: () => host.bridges.int,
    physicalBridges: () => [...host.bridges.phys.values()].map((p) => p.bridge),
    intSwitch: () => host.bridges.int.ofSwitch,
    requestPass: () => host.kickPass(),
    server: () => (host.rpc && host.sync.rpcReady ? { call: (topic, method, args, opts) => host.rpc!.call(topic, method, args, opts) } : undefined),
    tunnelBridge: () => {
      const b = host.bridges;
      return b.tun && b.patchIntOfport !== undefined && b.patchTunOfport !== undefined
        ? { bridge: b.tun, patchIntOfport: b.patchIntOfport, patchTunOfport: b.patchTunOfport }
        : undefined;
    },
    physicalNetworks: () => new Map([...host.bridges.phys].map(([physnet, p]) => [physnet, { bridge: p.bridge, intOfport: p.intOfport, physOfport: p.physOfport }])),
    firewallConjId: (sgId, remoteId, direction, ethertype) => host.firewallDriver()?.conjId?.(sgId, remoteId, direction, ethertype),
  };
}

/** Loads and initialises the configured extensions; rejects naming the one that cannot start. */
export async function startExtensions(host: ExtensionHost): Promise<ExtensionManager> {
  const manager = await ExtensionManager.load(host.settings.extensions, { distributedRouting: host.settings.enableDistributedRouting });
  await manager.initialize(extensionApi(host));
  return manager;
}
