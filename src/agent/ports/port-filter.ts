// Where a security-group firewall plugs into the port pass (firewall.md §2). The reference calls
// setup_port_filters(added, updated) after wiring and remove_devices_filter(ids) for ports that
// left; here one call carries the three sets of a pass, in the firewall drivers' own types.
import type { FirewallDriver, PortFilterChange } from '../../firewall/driver.js';

export type { PortFilterChange };

/**
 * What the port pass needs of a firewall driver. Added and updated ports are filtered before they
 * are tagged (untagged, on the dead VLAN, a port passes nothing), so no packet ever crosses a port
 * without its filter; removed ports lose theirs only once they are isolated. A rejection fails the
 * pass: the next one is a full resync, and the ports stay untagged meanwhile.
 */
export type PortFilter = Pick<FirewallDriver, 'filtersPorts' | 'filterPorts' | 'takeRefilterIds'>;
