// Extensions by the name `[agent] extensions` gives them. Each loads only when configured: start-up
// does not pay for the others. Built-in ones load always, as the reference's trunk driver does. The config loader refuses a name not listed here
// (src/config/extensions.ts IMPLEMENTED_EXTENSIONS), so every name reaching this file loads.
import type { ReferenceExtension } from '../config/extensions.js';
import type { AgentExtension } from './seam.js';

type Loader = () => Promise<AgentExtension>;

const LOADERS: Partial<Record<ReferenceExtension, Loader>> = {
  qos: async () => new (await import('./qos/extension.js')).QosAgentExtension(),
  local_ip: async () => new (await import('./local_ip/extension.js')).LocalIpAgentExtension(),
  fdb: async () => new (await import('./fdb/extension.js')).FdbAgentExtension(),
  log: async () => new (await import('./log/extension.js')).LogAgentExtension(),
  dhcp: async () => new (await import('./dhcp/extension.js')).DhcpAgentExtension(),
};

/** Loaded whatever `[agent] extensions` says: the reference's agent always has its trunk driver. */
export const BUILTIN_EXTENSIONS = ['trunk'] as const;

const BUILTIN_LOADERS: Record<(typeof BUILTIN_EXTENSIONS)[number], Loader> = {
  trunk: async () => new (await import('./trunk/extension.js')).TrunkAgentExtension(),
};

/** What, besides `[agent] extensions`, loads an extension. */
export interface LoadOptions {
  /** `[agent] enable_distributed_routing`: the DVR part of the agent (src/extensions/dvr/). */
  distributedRouting?: boolean;
}

/**
 * The built-in extensions, DVR when it is on, then the ones named, in the order given (the
 * reference initialises them in that order; its DVR agent is set up before any extension).
 */
export async function loadExtensions(names: readonly string[], opts: LoadOptions = {}): Promise<AgentExtension[]> {
  const out: AgentExtension[] = [];
  for (const name of BUILTIN_EXTENSIONS) out.push(await BUILTIN_LOADERS[name]());
  if (opts.distributedRouting) out.push(new (await import('./dvr/extension.js')).DvrAgentExtension());
  for (const name of names) {
    const load = LOADERS[name as ReferenceExtension];
    if (!load) throw new Error(`[agent] extensions: '${name}' is not implemented (the configuration should have refused it)`);
    out.push(await load());
  }
  return out;
}

/** Names with a loader: kept equal to IMPLEMENTED_EXTENSIONS by a unit test. */
export const LOADABLE_EXTENSIONS = Object.keys(LOADERS) as ReferenceExtension[];
