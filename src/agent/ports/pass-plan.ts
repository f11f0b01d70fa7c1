// What one pass over br-int's ports works with: the changes it found (classifyPorts, pure) and the
// plan it fills before anything is written (PassPlan).
import type { PortSettings, VifPort } from '../../ovsdb/ops.js';
import type { PortWiring } from '../../firewall/types.js';
import type { NetworkPort } from '../networks/networks.js';
import type { BoundDeviceDetails } from './device-details.js';
import type { PassBatches } from './pass-batches.js';
import type { ExtensionPort } from '../../extensions/seam.js';

/** A port of br-int the agent has handled, with the network it is bound to here if any. */
export interface WiredPort extends NetworkPort {
  ifaceId: string;
  portName: string;
  ofport: number;
  details?: BoundDeviceDetails;
}

/** What changed since the last pass. */
export interface PortChanges {
  /** VM ports on br-int with an ofport, by iface-id. */
  vifs: Map<string, VifPort>;
  added: VifPort[];
  updated: VifPort[];
  /** Wired ports whose ofport changed (also in `updated`): their flows go with the old ofport. */
  moved: WiredPort[];
  /** Wired ports that left br-int. */
  removed: WiredPort[];
  /** Ports deleted on the server. */
  deleted: string[];
}

/** Everything a pass will write, collected before anything is written. */
export class PassPlan {
  readonly batches: PassBatches;
  readonly portSettings: PortSettings[] = [];
  /** Settings OVSDB has already (not written), still what the agent owns on those ports. */
  readonly portSettingsKept: PortSettings[] = [];
  readonly up: string[] = [];
  readonly down: string[] = [];
  /** A tunnel network nothing floods to yet: the report asks the server for its whole fdb. */
  tunnelsMissing = false;
  /** How this pass wired each bound port, for the firewall. */
  readonly wiring = new Map<string, PortWiring>();
  /** The bound ports as the extensions are told of them (handle_port). */
  readonly extensionPorts: ExtensionPort[] = [];
  failed = 0;

  constructor(batches: PassBatches) {
    this.batches = batches;
  }
}

/**
 * Sort br-int's VM ports (by iface-id, those with an ofport) against the wired ones: added (or every
 * port on a full sync), updated (server changes, moved ofports), removed, deleted on the server.
 */
export function classifyPorts(
  vifs: Map<string, VifPort>,
  wired: ReadonlyMap<string, WiredPort>,
  pendingUpdated: ReadonlySet<string>,
  pendingDeleted: ReadonlySet<string>,
  full: boolean,
): PortChanges {
  const added: VifPort[] = [];
  const updated: VifPort[] = [];
  const moved: WiredPort[] = [];
  for (const [id, vif] of vifs) {
    const w = wired.get(id);
    if (!w || full) added.push(vif);
    else if (w.ofport !== vif.ofport) {
      moved.push(w);
      updated.push(vif);
    } else if (pendingUpdated.has(id)) updated.push(vif);
  }
  const removed = [...wired.values()].filter((w) => !vifs.has(w.ifaceId));
  return { vifs, added, updated, moved, removed, deleted: [...pendingDeleted] };
}
