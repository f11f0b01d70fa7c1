// Where a security-group firewall plugs into the port pass (firewall.md §2). The reference calls
// setup_port_filters(added, updated) after wiring and remove_devices_filter(ids) for ports that
// left; here one call carries the three sets of a pass.
import type { BoundDeviceDetails } from './device-details.js';

/** A port handed to the firewall: where it is on br-int and what the server says about it. */
export interface FilteredPort {
  ifaceId: string;
  portName: string;
  ofport: number;
  /** Local VLAN of its network; undefined while the port is isolated (admin down). */
  localVlan: number | undefined;
  details: BoundDeviceDetails;
}

/** A port whose filter goes: it left br-int or was deleted on the server. */
export interface UnfilteredPort {
  ifaceId: string;
  /** Its last ofport on br-int, when it was wired. */
  ofport: number | undefined;
}

export interface PortFilterChanges {
  /** Ports new to this run (every port on a full sync), bound on the server. */
  added: FilteredPort[];
  /** Wired ports the server changed, or whose ofport changed. */
  updated: FilteredPort[];
  removed: UnfilteredPort[];
}

/**
 * A security-group firewall driver. Called once per pass, after the ports are tagged and their
 * flows committed and before their states are reported to the server, so a port turns ACTIVE only
 * with its filter in place. A rejection fails the pass: the next one is a full resync.
 */
export interface PortFilter {
  filterPorts(changes: PortFilterChanges): Promise<void>;
}
