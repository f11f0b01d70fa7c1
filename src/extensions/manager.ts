// The loaded extensions, driven as one by the agent (neutron's L2AgentExtensionsManager): each is
// told of each port in turn, and one extension failing on one port neither stops the others nor
// the pass. A port an extension could not handle is returned, so the pass retries it.
import { getLogger } from '../util/log.js';
import { loadExtensions, type LoadOptions } from './registry.js';
import type { AgentExtension, ExtensionAgentApi, ExtensionPort, ExtensionRpcEndpoint, ExtensionStatus } from './seam.js';
import type { JsonObject } from '../util/json.js';

const LOG = getLogger('extensions');

export class ExtensionManager {
  private constructor(private readonly extensions: readonly AgentExtension[]) {}

  static async load(names: readonly string[], opts: LoadOptions = {}): Promise<ExtensionManager> {
    return new ExtensionManager(await loadExtensions(names, opts));
  }

  /** A manager over extensions already built (tests). */
  static of(extensions: readonly AgentExtension[]): ExtensionManager {
    return new ExtensionManager(extensions);
  }

  get names(): string[] {
    return this.extensions.map((e) => e.name);
  }

  get empty(): boolean {
    return this.extensions.length === 0;
  }

  async initialize(api: ExtensionAgentApi): Promise<void> {
    for (const e of this.extensions) {
      try {
        await e.initialize(api);
      } catch (err) {
        throw new Error(`[agent] extensions: ${e.name} cannot start: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
      }
      LOG.info(`extension ${e.name} loaded`);
    }
  }

  /** Every extension handles every port; the ids of ports some extension failed on. */
  async handlePorts(ports: readonly ExtensionPort[]): Promise<Map<string, Error>> {
    const failed = new Map<string, Error>();
    for (const e of this.extensions) {
      for (const p of ports) {
        try {
          await e.handlePort(p);
        } catch (err) {
          const error = new Error(`extension ${e.name}, port ${p.portId} (${p.portName}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
          LOG.error('applying an extension to a port failed; the port is retried', error);
          failed.set(p.portId, error);
        }
      }
    }
    return failed;
  }

  async deletePorts(portIds: readonly string[]): Promise<void> {
    for (const e of this.extensions) {
      for (const id of portIds) {
        try {
          await e.deletePort(id);
        } catch (err) {
          LOG.error(`extension ${e.name}, port ${id}: removing what it applied failed`, err);
        }
      }
    }
  }

  async bridgesReset(): Promise<void> {
    for (const e of this.extensions) {
      await e.bridgesReset().catch((err: unknown) => LOG.error(`extension ${e.name}: after the bridges were set up again`, err));
    }
  }

  /** Every extension's own audit; one failing is logged and the others still run. */
  async audit(): Promise<void> {
    for (const e of this.extensions) {
      await e.audit().catch((err: unknown) => LOG.warning(`extension ${e.name}: audit failed; the next one tries again`, err));
    }
  }

  async serverReady(): Promise<void> {
    for (const e of this.extensions) {
      await e.serverReady?.().catch((err: unknown) => LOG.error(`extension ${e.name}: once neutron-server was reachable`, err));
    }
  }

  async firstSyncDone(): Promise<void> {
    for (const e of this.extensions) {
      await e.firstSyncDone().catch((err: unknown) => LOG.error(`extension ${e.name}: cleaning up after the first full sync`, err));
    }
  }

  /** The topics every extension consumes. */
  rpcEndpoints(): ExtensionRpcEndpoint[] {
    return this.extensions.flatMap((e) => e.rpcEndpoints?.() ?? []);
  }

  /** What the extensions add to the state report's `configurations`. */
  agentConfigurations(): JsonObject {
    return Object.assign({}, ...this.extensions.map((e) => e.agentConfigurations?.() ?? {})) as JsonObject;
  }

  status(): Record<string, ExtensionStatus> {
    return Object.fromEntries(this.extensions.map((e) => [e.name, e.status()]));
  }

  async stop(): Promise<void> {
    for (const e of this.extensions) await e.stop().catch((err: unknown) => LOG.warning(`stopping extension ${e.name}`, err));
  }
}
