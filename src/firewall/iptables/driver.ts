// The iptables_hybrid firewall driver (the reference's OVSHybridIptablesFirewallDriver): VM ports
// are plugged through a Linux bridge (qbr/qvb/qvo/tap), and the host's iptables, ip6tables and
// ipsets filter them there. Each pass regenerates the whole rule set from the ports the driver
// knows and their groups (cheap: pure, from the cache), and applies only what differs from the
// kernel, with one restore per IP version, so a pass with many ports costs a handful of processes.
import type { FirewallDriver, FirewallStats, PortFilterChange } from '../driver.js';
import { isTrustedPort, type FirewallPort, type SecurityGroup, type SecurityGroupSource } from '../types.js';
import { getLogger } from '../../util/log.js';
import { IptablesApplier, enableBridgeNetfilter, execCommand, type Exec } from './apply.js';
import { generateFirewall, type IptablesFirewallState } from './generate.js';
import { conntrackDeletions, type FilterSnapshot } from './conntrack.js';
import { ConntrackZones } from './zones.js';

const log = getLogger('firewall.iptables_hybrid');

export interface IptablesHybridOptions {
  source: SecurityGroupSource;
  /** `[securitygroup] enable_ipset` (default true). */
  enableIpset?: boolean;
  /** How iptables, ipset and sysctl are run (tests run them in a network namespace). */
  exec?: Exec;
  /** Asks the agent for a pass: ports need refiltering (see takeRefilterIds). */
  onRefilterNeeded?: () => void;
}

export class IptablesHybridFirewall implements FirewallDriver {
  readonly name = 'iptables_hybrid';
  readonly providesArpSpoofingProtection = false;
  readonly requiresHybridPlug = true;
  readonly filtersPorts = true;
  private readonly applier: IptablesApplier;
  private readonly exec: Exec;
  private readonly enableIpset: boolean;
  /** Every port the driver filters or accepts, in the order first seen (the order of their accept rules). */
  private readonly ports = new Map<string, FirewallPort>();
  private zones = new ConntrackZones();
  private readonly refilter = new Set<string>();
  private subscribed = false;
  private lastGroups: ReadonlyMap<string, SecurityGroup> = new Map();
  private lastSnapshot: FilterSnapshot | undefined;

  constructor(private readonly opts: IptablesHybridOptions) {
    this.exec = opts.exec ?? execCommand;
    this.applier = new IptablesApplier(this.exec);
    this.enableIpset = opts.enableIpset ?? true;
  }

  stats(): FirewallStats {
    const s = this.lastSnapshot;
    if (!s) return { ports: 0, rules: 0, members: 0 };
    let rules = 0;
    for (const g of s.groups.values()) rules += g.rules.length;
    let members = 0;
    for (const m of s.members.values()) members += m.IPv4.length + m.IPv6.length;
    return { ports: s.ports.size, rules, members };
  }

  async start(): Promise<void> {
    await enableBridgeNetfilter(this.exec);
    // Zones the previous run (or the reference) gave ports: kept, so their connections survive.
    this.zones = await this.applier.readZones();
    if (!this.subscribed) {
      this.subscribed = true;
      this.opts.source.onChange((change) => {
        // groups whose rules refer to a changed remote group, as of the last pass
        const referring = new Set<string>();
        for (const sg of this.lastGroups.values()) {
          if (sg.rules.some((r) => r.remoteGroupId !== undefined && change.membersChanged.has(r.remoteGroupId))) referring.add(sg.id);
        }
        for (const p of this.ports.values()) {
          if (p.securityGroupIds.some((g) => change.rulesChanged.has(g) || referring.has(g))) this.refilter.add(p.id);
        }
        if (this.refilter.size) this.opts.onRefilterNeeded?.();
      });
    }
  }

  takeRefilterIds(): Set<string> {
    const ids = new Set(this.refilter);
    this.refilter.clear();
    return ids;
  }

  async filterPorts(change: PortFilterChange): Promise<void> {
    for (const id of change.removed) this.ports.delete(id);
    for (const p of [...change.added, ...change.updated]) {
      const before = this.ports.get(p.id);
      // port security switched: the port's accept rules move to the end, as in the reference
      if (before && before.portSecurityEnabled !== p.portSecurityEnabled) this.ports.delete(p.id);
      this.ports.set(p.id, p);
    }
    const all = [...this.ports.values()];
    const filtered = all.filter((p) => p.portSecurityEnabled && !isTrustedPort(p));
    const info = await this.opts.source.infoFor(filtered);
    this.lastGroups = info.securityGroups;
    for (const p of filtered) this.zones.allocate(p.id, this.ports.keys());
    const zones = new Map<string, number>();
    for (const p of filtered) zones.set(p.id, this.zones.get(p.id)!);
    const state: IptablesFirewallState = {
      filtered,
      unfiltered: all.filter((p) => !p.portSecurityEnabled && !isTrustedPort(p)),
      trusted: all.filter(isTrustedPort).map((p) => p.id),
      groups: info.securityGroups,
      members: info.members,
      zones,
      enableIpset: this.enableIpset,
    };
    const started = performance.now();
    const result = await this.applier.apply(generateFirewall(state));
    // Only once the new rules are in: a connection cut earlier could be re-admitted by the old ones.
    const snapshot: FilterSnapshot = { ports: new Map(filtered.map((p) => [p.id, p])), groups: info.securityGroups, members: info.members, zones };
    const cut = this.lastSnapshot ? conntrackDeletions(this.lastSnapshot, snapshot) : [];
    this.lastSnapshot = snapshot;
    await this.deleteConntrack(cut);
    log.info(
      `${filtered.length} ports filtered, ${state.unfiltered.length} unfiltered, ${state.trusted.length} trusted; ` +
        `${result.processes} restore processes (${result.tables.join(', ') || 'no table changed'}` +
        `${result.ipsetsChanged.length ? `; ipsets ${result.ipsetsChanged.join(' ')}` : ''}` +
        `${cut.length ? `; ${cut.length} conntrack deletions` : ''}) in ${(performance.now() - started).toFixed(0)} ms`,
    );
  }

  /** Runs `conntrack -D` for each argument list, a few at a time; a failure is logged, the rest still run. */
  private async deleteConntrack(cmds: string[][]): Promise<void> {
    const queue = [...cmds];
    const worker = async (): Promise<void> => {
      for (let args = queue.shift(); args; args = queue.shift()) {
        try {
          await this.exec('conntrack', args);
        } catch (e) {
          // exit status 1 with "0 flow entries have been deleted" means there was nothing to cut
          if (/exited 1: .*0 flow entries/s.test(String(e))) continue;
          log.error(`deleting conntrack entries (conntrack ${args.join(' ')}) failed`, e);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, queue.length) }, worker));
  }

  async stop(): Promise<void> {
    // Rules stay in place: VMs stay filtered while the agent is down or restarting.
  }
}
