// The interface between the agent's port passes and a security-group firewall driver, and the
// driver named by `[securitygroup] firewall_driver`. As in the reference (spec firewall.md §1-2),
// the agent tells the driver which ports a pass added, updated or removed; the driver fetches what
// applies to them and owns every filtering flow or rule.
import type { FirewallDriverName } from '../config/firewall-driver.js';
import type { FirewallPort } from './types.js';

export type { FirewallDriverName };

export interface PortFilterChange {
  /** Ports wired for the first time (or re-added after an OVS restart). */
  added: FirewallPort[];
  /** Ports whose neutron data changed, or whose groups' rules or members changed. */
  updated: FirewallPort[];
  /** Ports gone from br-int or from neutron: their filters are removed. */
  removed: string[];
}

export interface FirewallStats {
  /** Ports whose traffic the driver filters. */
  ports: number;
  /** Security-group rules of the groups it knows. */
  rules: number;
  /** Remote-group member (and address-group) addresses it matches on. */
  members: number;
}

export interface FirewallDriver {
  readonly name: FirewallDriverName;
  /** True when the driver does ARP/MAC anti-spoofing itself (the agent then installs none). */
  readonly providesArpSpoofingProtection: boolean;
  /** True when VM ports must be plugged through a Linux bridge (reported as `ovs_hybrid_plug`). */
  readonly requiresHybridPlug: boolean;
  /**
   * False when no port is ever filtered (security groups disabled): the port pass then builds no
   * firewall view of added or updated ports (nor isolates one it cannot build) and hands only removals.
   */
  readonly filtersPorts: boolean;
  /** Installs what the driver needs before any port is filtered (also after an OVS restart). */
  start(): Promise<void>;
  /** Applies a pass's port changes; resolves once the dataplane enforces them. */
  filterPorts(change: PortFilterChange): Promise<void>;
  /** What the driver enforces now, for the metrics endpoint (in-memory counts, cheap to call). */
  stats?(): FirewallStats;
  /** Ids of ports to refilter because their groups' rules, members or address groups changed. */
  takeRefilterIds?(): Set<string>;
  /**
   * The base conjunction id of (group, remote group, direction, ethertype), allocated if new, as
   * the reference's ConjIdMap singleton hands it to the firewall and to the log driver alike.
   */
  conjId?(sgId: string, remoteId: string, direction: 'ingress' | 'egress', ethertype: 'IPv4' | 'IPv6'): number;
  stop(): Promise<void>;
}
