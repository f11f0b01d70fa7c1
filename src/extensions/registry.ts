// Extensions by the name `[agent] extensions` gives them. Each loads only when configured: start-up
// does not pay for the others. The config loader refuses a name not listed here
// (src/config/extensions.ts IMPLEMENTED_EXTENSIONS), so every name reaching this file loads.
import type { ReferenceExtension } from '../config/extensions.js';
import type { AgentExtension } from './seam.js';

type Loader = () => Promise<AgentExtension>;

const LOADERS: Partial<Record<ReferenceExtension, Loader>> = {
  qos: async () => new (await import('./qos/extension.js')).QosAgentExtension(),
  log: async () => new (await import('./log/extension.js')).LogAgentExtension(),
};

/** The extensions named, in the order given (the reference initialises them in that order). */
export async function loadExtensions(names: readonly string[]): Promise<AgentExtension[]> {
  const out: AgentExtension[] = [];
  for (const name of names) {
    const load = LOADERS[name as ReferenceExtension];
    if (!load) throw new Error(`[agent] extensions: '${name}' is not implemented (the configuration should have refused it)`);
    out.push(await load());
  }
  return out;
}

/** Names with a loader: kept equal to IMPLEMENTED_EXTENSIONS by a unit test. */
export const LOADABLE_EXTENSIONS = Object.keys(LOADERS) as ReferenceExtension[];
