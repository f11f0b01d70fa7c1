// Where a security-group firewall plugs into the port pass (firewall.md §2). The reference calls
// setup_port_filters(added, updated) after wiring and remove_devices_filter(ids) for ports that
// left; here one call carries the three sets of a pass, in the firewall drivers' own types.
import type { FirewallDriver, PortFilterChange } from '../firewall/driver.js';

export type { PortFilterChange };

/**
 * What the port pass needs of a firewall driver. Called once per pass, after the ports are tagged
 * and their flows committed and before their states are reported to the server, so a port turns
 * ACTIVE only with its filter in place. A rejection fails the pass: the next one is a full resync.
 */
export type PortFilter = Pick<FirewallDriver, 'filterPorts'>;
