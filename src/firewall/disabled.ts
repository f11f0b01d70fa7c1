// `[securitygroup] enable_security_group = False` with a real firewall_driver. The reference still
// builds that driver (spec firewall.md §1) and only skips the calls that filter ports, so what the
// driver does outside them stays: the openvswitch driver's base flows in br-int's firewall tables
// (and the agent then installs no anti-spoofing flows of its own, the driver "providing" them),
// iptables_hybrid's hybrid plugging and, once a port leaves, its (portless) rule set.
import type { FirewallDriver, FirewallStats, PortFilterChange } from './driver.js';

export interface DisabledFirewallOptions {
  /**
   * Whether the driver's start-up work is done: the reference's openvswitch driver installs its base
   * flows when built (and again after an OVS restart); its iptables driver touches nothing then.
   */
  start: boolean;
  /**
   * Whether removed ports still reach the driver: the reference's removal of a port's filter is not
   * skipped, and its iptables driver then applies the rule set it has, which holds no port.
   */
  removals: boolean;
}

export class SecurityGroupsDisabled implements FirewallDriver {
  readonly name: FirewallDriver['name'];
  readonly providesArpSpoofingProtection: boolean;
  readonly requiresHybridPlug: boolean;
  readonly filtersPorts = false;

  constructor(
    private readonly driver: FirewallDriver,
    private readonly opts: DisabledFirewallOptions,
  ) {
    this.name = driver.name;
    this.providesArpSpoofingProtection = driver.providesArpSpoofingProtection;
    this.requiresHybridPlug = driver.requiresHybridPlug;
  }

  async start(): Promise<void> {
    if (this.opts.start) await this.driver.start();
  }

  /** Added and updated ports are never filtered; removed ones reach the driver only where the reference's do. */
  async filterPorts(change: PortFilterChange): Promise<void> {
    if (this.opts.removals && change.removed.length > 0) await this.driver.filterPorts({ added: [], updated: [], removed: change.removed });
  }

  stats(): FirewallStats {
    return { ports: 0, rules: 0, members: 0 };
  }

  takeRefilterIds(): Set<string> {
    return new Set();
  }

  async stop(): Promise<void> {
    await this.driver.stop();
  }
}
