// The `fdb` L2 agent extension (neutron's FdbPopulationAgentExtension): when SR-IOV and Open vSwitch
// ports share one NIC, the NIC's embedded switch must know the MACs of the OVS ports or it sends
// their SR-IOV neighbours' frames to the wire. For each port on a physical network of
// `[FDB] shared_physical_device_mappings`, of a compute instance, a router interface or a DHCP
// server, the port's MAC is added to the FDB of that network's devices; it goes when the port does.
import { parseMultiMappings } from '../../config/derived.js';
import { getLogger } from '../../util/log.js';
import type { AgentExtension, ExtensionAgentApi, ExtensionPort, ExtensionStatus } from '../seam.js';
import { kernelFdb, type FdbDevices } from './bridge-fdb.js';
import { FdbTableTracker } from './tracker.js';

const LOG = getLogger('extensions.fdb');

/** The device owners whose ports get an FDB entry (prefixes, as the reference matches them). */
export const FDB_DEVICE_OWNERS = ['compute:', 'network:router_interface', 'network:dhcp'] as const;

export function fdbWantedFor(deviceOwner: string): boolean {
  return FDB_DEVICE_OWNERS.some((p) => deviceOwner.startsWith(p));
}

/** `[FDB] shared_physical_device_mappings` parsed; an error names the option, as start-up reports it. */
export function sharedDeviceMappings(items: readonly string[]): Map<string, string[]> {
  let mappings: Map<string, string[]>;
  try {
    mappings = parseMultiMappings(items);
  } catch (e) {
    throw new Error(`[FDB] shared_physical_device_mappings: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  if (mappings.size === 0) throw new Error('Invalid configuration provided for FDB extension: no physical devices ([FDB] shared_physical_device_mappings is empty)');
  return mappings;
}

export class FdbAgentExtension implements AgentExtension {
  readonly name = 'fdb';
  private mappings = new Map<string, string[]>();
  private tracker!: FdbTableTracker;
  /** Port passes and deletions one after the other: the tracker's lists are read then written. */
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly fdb: FdbDevices = kernelFdb) {}

  async initialize(api: ExtensionAgentApi): Promise<void> {
    this.mappings = sharedDeviceMappings(api.settings.fdbSharedPhysicalDeviceMappings);
    this.tracker = await FdbTableTracker.load(this.fdb, this.devices());
    LOG.info(`FDB entries kept on ${[...this.mappings].map(([net, devs]) => `${net}: ${devs.join(', ')}`).join('; ')}`);
  }

  private devices(): string[] {
    return [...new Set([...this.mappings.values()].flat())];
  }

  handlePort(port: ExtensionPort): Promise<void> {
    if (!fdbWantedFor(port.deviceOwner)) return Promise.resolve();
    const devices = port.physicalNetwork === undefined ? undefined : this.mappings.get(port.physicalNetwork);
    if (!devices) return Promise.resolve();
    return this.serially(async () => {
      for (const device of devices) await this.tracker.updatePort(device, port.portId, port.mac);
    });
  }

  deletePort(portId: string): Promise<void> {
    return this.serially(() => this.tracker.deletePort(this.devices(), portId));
  }

  private serially(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  // FDB entries are kernel state: an OVS restart or a flow audit does not touch them.
  async bridgesReset(): Promise<void> {}
  async audit(): Promise<void> {}
  async firstSyncDone(): Promise<void> {}

  status(): ExtensionStatus {
    const details: Record<string, number> = {};
    for (const d of this.devices()) details[`entries ${d}`] = this.tracker?.macsOf(d).length ?? 0;
    return { ports: this.tracker?.ports ?? 0, details };
  }

  async stop(): Promise<void> {
    await this.queue;
  }
}
