// The openvswitch (conntrack) firewall driver on br-int: the reference's OVSFirewallDriver, made
// incremental. Each port, each network (its remote-member flows) and the driver (base flows)
// own a set of flows; a pass recomputes the sets of what it touched and sends one batch with the
// difference — adds first, then strict deletes of what nobody wants — so a packet that stays
// allowed is never dropped while rules change. Every flow carries br-int's per-run cookie.
import type { OVSBridge } from '../../bridges/ovs-bridge.js';
import type { Flow } from '../../openflow/flow.js';
import { INT } from '../../bridges/tables.js';
import { getLogger } from '../../util/log.js';
import type { FirewallDriver, FirewallStats, PortFilterChange } from '../driver.js';
import { type FirewallPort, type SecurityGroupChange, type SecurityGroupInfo, type SecurityGroupSource, isTrustedPort } from '../types.js';
import { CONJ_ID_BLOCK_SIZE, ConjIdMap } from './conj-ids.js';
import { OwnedFlowTable } from './flow-table.js';
import { type PortFlowOptions, OVS_FIREWALL_TABLES, baseFlows, filteredPortFlows, sharedTrackedFlows, unfilteredPortFlows } from './port-flows.js';
import { HybridIptablesLeftovers } from './hybrid-leftovers.js';
import { type FirewallRule, toFirewallRule } from './rules.js';
import { type ConjRef, type RemoteMembers, networkMemberFlows, portRuleFlows } from './sg-flows.js';

const LOG = getLogger('firewall.openvswitch');

export interface OVSFirewallOptions {
  /** `[securitygroup] permitted_ethertypes`. */
  permittedEthertypes?: readonly string[];
  /** `[agent] explicitly_egress_direct`. */
  explicitlyEgressDirect?: boolean;
  /** The ofport of the patch port a port's network leaves br-int by (patch-tun, int-<physbr>), for egress-direct flows. */
  egressPatchOfport?: (port: FirewallPort) => number | undefined;
  /** Asks the agent for a pass: ports need refiltering (see takeRefilterIds). */
  onRefilterNeeded?: () => void;
  /**
   * Removes what iptables_hybrid left once hybrid-plugged (qvo) ports are filtered by flows
   * (default: one checking the kernel's state only; give one with a CleanedMark on br-int to
   * remember it as the reference does; false: never).
   */
  hybridLeftovers?: HybridIptablesLeftovers | false;
}

interface PortState {
  port: FirewallPort;
  filtered: boolean;
  conjRefs: ConjRef[];
  /** What the port's flows were computed from: unchanged inputs, unchanged flows. */
  signature?: string;
  /** The port's own flows (classification, anti-spoofing, conntrack) and what they were computed from. */
  base?: { signature: string; flows: Flow[] };
}

const portOwner = (id: string): string => `port:${id}`;
const netOwner = (vlan: number): string => `net:${vlan}`;

/** A local VLAN the port can be classified by (the reference reads it from Port.other_config:tag). */
function hasLocalVlan(p: FirewallPort): boolean {
  return Number.isInteger(p.localVlan) && p.localVlan >= 1 && p.localVlan <= 4094;
}

export class OVSFirewallDriver implements FirewallDriver {
  readonly name = 'openvswitch';
  readonly providesArpSpoofingProtection = true;
  readonly requiresHybridPlug = false;
  readonly filtersPorts = true;

  private readonly table = new OwnedFlowTable();
  private conjIds = new ConjIdMap();
  private readonly ports = new Map<string, PortState>();
  /** Rules of every group a filtered port is in, as last fetched. */
  private readonly groupRules = new Map<string, FirewallRule[]>();
  /** Members of remote groups and CIDRs of address groups, by remote id. */
  private readonly remoteMembers = new Map<string, RemoteMembers>();
  private refilter = new Set<string>();
  /** Bumped when a group's rules change, so ports of unchanged groups are not recomputed. */
  private readonly groupVersions = new Map<string, number>();
  private groupVersionSeq = 0;
  /** Bumped when conjunction ids are freed (ids of other groups may be handed out anew). */
  private conjEpoch = 0;
  /** Set by the first start(); a later start() follows an OVS restart. */
  private started = false;
  private sharedInstalled = false;
  private queue: Promise<void> = Promise.resolve();
  /**
   * Conjunction ids each network's member flows carry, by `direction/ethertype/remote/id`. As in
   * the reference they accumulate while ports use them and go only when their group's ids are
   * freed, so a removed remote-group rule leaves its (inert) member flows until then.
   */
  private readonly networkConjRefs = new Map<number, Map<string, ConjRef>>();
  private readonly flowOptions: Omit<PortFlowOptions, 'egressDirectPatchOfport'>;
  private readonly hybridLeftovers: HybridIptablesLeftovers | undefined;

  constructor(
    private readonly intBr: OVSBridge,
    private readonly source: SecurityGroupSource,
    private readonly options: OVSFirewallOptions = {},
  ) {
    this.flowOptions = {
      permittedEthertypes: options.permittedEthertypes ?? [],
      explicitlyEgressDirect: options.explicitlyEgressDirect ?? false,
      warn: (msg) => LOG.warning(msg),
    };
    this.hybridLeftovers = options.hybridLeftovers === false ? undefined : (options.hybridLeftovers ?? new HybridIptablesLeftovers());
    source.onChange((change) => this.onSecurityGroupChange(change));
  }

  /**
   * Base flows; conjunction ids continue above those a previous run left in the firewall tables.
   * Started again (the agent's answer to an ovs-vswitchd restart, which left br-int empty), it puts
   * back at once every flow it had, ports' filters included: otherwise the ports would pass
   * unfiltered through br-int's NORMAL flows until the pass that re-adds them (seconds).
   */
  stats(): FirewallStats {
    let rules = 0;
    for (const r of this.groupRules.values()) rules += r.length;
    let members = 0;
    for (const m of this.remoteMembers.values()) members += m.IPv4.length + m.IPv6.length;
    return { ports: this.ports.size, rules, members };
  }

  start(): Promise<void> {
    return this.serialized(() => (this.started ? this.reinstall() : this.reset()));
  }

  private async reinstall(): Promise<void> {
    this.table.switchWiped();
    await this.apply();
    LOG.info(`firewall: every flow put back on ${this.intBr.name} after its switch restarted (${this.ports.size} ports)`);
  }

  private serialized(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined); // the caller sees the error; the next task still runs
    return run;
  }

  private async reset(): Promise<void> {
    this.table.clear();
    this.ports.clear();
    this.groupRules.clear();
    this.remoteMembers.clear();
    this.groupVersions.clear();
    this.networkConjRefs.clear();
    this.sharedInstalled = false;
    this.conjIds = new ConjIdMap(await this.highestConjId());
    this.table.set('base', baseFlows());
    this.started = true;
    await this.apply();
  }

  async stop(): Promise<void> {}

  conjId(sgId: string, remoteId: string, direction: 'ingress' | 'egress', ethertype: 'IPv4' | 'IPv6'): number {
    return this.conjIds.get(sgId, remoteId, direction, ethertype);
  }

  takeRefilterIds(): Set<string> {
    const ids = this.refilter;
    this.refilter = new Set();
    return ids;
  }

  /** Every flow the driver wants on br-int now, in a stable order (for tests and the pipeline view). */
  desiredFlows(): Flow[] {
    return this.table.flows();
  }

  /** Passes run one at a time: each reads and updates the flow sets the previous one left. */
  filterPorts(change: PortFilterChange): Promise<void> {
    return this.serialized(() => this.filter(change));
  }

  private async filter(change: PortFilterChange): Promise<void> {
    const removed = new Set(change.removed);
    const touchedVlans = new Set<number>();
    const maybeUnusedGroups = new Set<string>();
    for (const id of removed) {
      const st = this.ports.get(id);
      if (!st) continue;
      this.ports.delete(id);
      this.table.set(portOwner(id), []);
      if (st.filtered) touchedVlans.add(st.port.localVlan);
      for (const sg of st.port.securityGroupIds) maybeUnusedGroups.add(sg);
    }
    const ports = [...change.added, ...change.updated].filter((p) => !removed.has(p.id));
    const filtered = ports.filter((p) => p.portSecurityEnabled && !isTrustedPort(p));
    const info = filtered.length > 0 ? await this.source.infoFor(filtered) : undefined;
    if (info) this.learn(info);
    for (const p of ports) {
      const prev = this.ports.get(p.id);
      if (prev) {
        if (prev.filtered) touchedVlans.add(prev.port.localVlan);
        for (const sg of prev.port.securityGroupIds) if (!p.securityGroupIds.includes(sg)) maybeUnusedGroups.add(sg);
      }
      if (!hasLocalVlan(p) || !(p.ofport > 0)) {
        LOG.warning(`Tag was not found for port ${p.id} (${p.vifName}, ofport ${p.ofport}, local VLAN ${p.localVlan}): not filtered`);
        if (prev) {
          this.ports.delete(p.id);
          this.table.set(portOwner(p.id), []);
        }
        continue;
      }
      try {
        if (p.portSecurityEnabled && !isTrustedPort(p)) {
          this.setFilteredPort(p);
          touchedVlans.add(p.localVlan);
        } else {
          this.ports.set(p.id, { port: p, filtered: false, conjRefs: [] });
          this.table.set(portOwner(p.id), unfilteredPortFlows(p, this.portFlowOptions(p)));
        }
      } catch (err) {
        // One port's bad data (an unparsable address, say) must not keep the others unfiltered.
        LOG.error(`cannot compute firewall flows of port ${p.id} (${p.vifName}, ofport ${p.ofport}); its previous flows stay`, err);
      }
    }
    for (const v of this.releaseUnusedConjIds(maybeUnusedGroups)) touchedVlans.add(v);
    this.updateNetworks(touchedVlans);
    await this.apply();
    // After the flows: the ports are filtered by them before the old driver's rules go.
    await this.hybridLeftovers?.portsFiltered([...change.added, ...change.updated].map((p) => p.vifName)).catch((err: unknown) => {
      LOG.error('iptables_hybrid leftovers not removed; the next pass tries again', err);
    });
  }

  private portFlowOptions(p: FirewallPort): PortFlowOptions {
    return { ...this.flowOptions, egressDirectPatchOfport: this.options.egressPatchOfport?.(p) };
  }

  private learn(info: SecurityGroupInfo): void {
    for (const [id, sg] of info.securityGroups) {
      const rules: FirewallRule[] = [];
      for (const r of sg.rules) {
        try {
          rules.push(toFirewallRule(r));
        } catch (err) {
          LOG.error(`security group ${id}: rule ${r.id} skipped`, err);
        }
      }
      if (JSON.stringify(this.groupRules.get(id)) !== JSON.stringify(rules)) this.groupVersions.set(id, ++this.groupVersionSeq);
      this.groupRules.set(id, rules);
    }
    for (const [id, m] of info.members) {
      this.remoteMembers.set(id, {
        IPv4: m.IPv4.map(([ip, mac]) => ({ ip, mac })),
        IPv6: m.IPv6.map(([ip, mac]) => ({ ip, mac })),
      });
    }
    for (const [id, cidrs] of info.addressGroups) {
      this.remoteMembers.set(id, { IPv4: cidrs.IPv4.map((ip) => ({ ip })), IPv6: cidrs.IPv6.map((ip) => ({ ip })) });
    }
  }

  private setFilteredPort(p: FirewallPort): void {
    const options = this.portFlowOptions(p);
    // The port's own flows follow the port and its patch; its rule flows also its groups and the conjunction ids.
    const baseSignature = JSON.stringify([p, options.egressDirectPatchOfport ?? null]);
    const signature = `${baseSignature} ${JSON.stringify([p.securityGroupIds.map((id) => this.groupVersions.get(id) ?? 0), this.conjEpoch])}`;
    const prev = this.ports.get(p.id);
    if (prev?.filtered && prev.signature === signature) {
      // A refilter for remote members only: the port's own flows stay as they are.
      prev.port = p;
      return;
    }
    const groups = p.securityGroupIds.map((id) => ({ id, rules: this.groupRules.get(id) ?? [] }));
    const rules = portRuleFlows(p.ofport, groups, this.conjIds);
    if (!this.sharedInstalled) {
      this.table.set('shared', sharedTrackedFlows());
      this.sharedInstalled = true;
    }
    // A rule change leaves the port's own flows as they are: the same objects again let the flow
    // table skip them (1,000 ports carry some 40 such flows each).
    const base = prev?.filtered && prev.base?.signature === baseSignature ? prev.base : { signature: baseSignature, flows: filteredPortFlows(p, options) };
    this.ports.set(p.id, { port: p, filtered: true, conjRefs: rules.conjRefs, signature, base });
    let refs = this.networkConjRefs.get(p.localVlan);
    if (!refs) this.networkConjRefs.set(p.localVlan, (refs = new Map()));
    for (const r of rules.conjRefs) refs.set(`${r.direction}/${r.ethertype}/${r.remoteId}/${r.conjId}`, r);
    this.table.set(portOwner(p.id), [...base.flows, ...rules.flows]);
  }

  /** The member flows of a network follow the remote-group rules of its filtered ports. */
  private updateNetworks(vlans: Set<number>): void {
    if (vlans.size === 0) return;
    for (const vlan of vlans) {
      const refs = [...(this.networkConjRefs.get(vlan)?.values() ?? [])];
      try {
        this.table.set(netOwner(vlan), networkMemberFlows(vlan, refs, (id) => this.remoteMembers.get(id)));
      } catch (err) {
        LOG.error(`cannot compute remote-group member flows of local VLAN ${vlan}; the previous ones stay`, err);
      }
    }
  }

  /**
   * Conjunction ids of a group no filtered port is in any more go back to the pool (the
   * reference frees them when a group has no ports left), and leave the networks' member flows.
   * Returns the networks whose member flows change.
   */
  private releaseUnusedConjIds(groups: Set<string>): Set<number> {
    const touched = new Set<number>();
    if (groups.size === 0) return touched;
    const inUse = new Set<string>();
    for (const s of this.ports.values()) if (s.filtered) for (const sg of s.port.securityGroupIds) inUse.add(sg);
    const freed = new Set<number>();
    for (const sg of groups) {
      if (inUse.has(sg)) continue;
      // Only this group's own ids: ids it appears in as a remote belong to groups still in use.
      for (const base of this.conjIds.deleteOwner(sg)) freed.add(base);
      this.groupRules.delete(sg);
      this.groupVersions.delete(sg);
    }
    if (freed.size === 0) return touched;
    this.conjEpoch++;
    for (const [vlan, refs] of this.networkConjRefs) {
      for (const [k, r] of refs) {
        if (freed.has(r.conjId - (r.conjId % CONJ_ID_BLOCK_SIZE))) {
          refs.delete(k);
          touched.add(vlan);
        }
      }
      if (refs.size === 0) this.networkConjRefs.delete(vlan);
    }
    return touched;
  }

  private onSecurityGroupChange(change: SecurityGroupChange): void {
    const before = this.refilter.size;
    for (const s of this.ports.values()) {
      if (!s.filtered) continue;
      const groups = s.port.securityGroupIds;
      const refers = (pred: (r: FirewallRule) => boolean) => groups.some((g) => (this.groupRules.get(g) ?? []).some(pred));
      if (
        groups.some((g) => change.rulesChanged.has(g)) ||
        refers((r) => r.remoteGroupId !== undefined && change.membersChanged.has(r.remoteGroupId)) ||
        refers((r) => r.remoteAddressGroupId !== undefined && change.addressGroupsChanged.has(r.remoteAddressGroupId))
      ) {
        this.refilter.add(s.port.id);
      }
    }
    const added = this.refilter.size - before;
    if (added > 0) {
      // When the notice arrived: with the refilter pass's own line, where a change's time went.
      const ids = (set: Set<string>) => (set.size ? [...set].join(',') : '-');
      LOG.debug(`security groups changed (rules ${ids(change.rulesChanged)}, members ${ids(change.membersChanged)}, address groups ${ids(change.addressGroupsChanged)}): ${added} ports to refilter`);
      this.options.onRefilterNeeded?.();
    }
  }

  private async highestConjId(): Promise<number> {
    let max = 0;
    const tables = new Set<number>(OVS_FIREWALL_TABLES);
    for (const f of await this.intBr.ofSwitch.dumpFlows()) {
      if (!tables.has(f.table)) continue;
      const id = f.flow?.match.conjId;
      if (id !== undefined && id > max) max = id;
    }
    return max;
  }

  /** One batch: adds before deletes, so a flow being replaced is never missing. */
  private async apply(): Promise<void> {
    const changes = this.table.changes();
    const { add, remove } = changes;
    if (add.length === 0 && remove.length === 0) return;
    const batch = this.intBr.batch().add(...add);
    for (const f of remove) batch.delete({ table: f.table, priority: f.priority, match: f.match, strict: true });
    try {
      await batch.commit();
    } catch (err) {
      // Left pending: the next pass sends them again.
      throw new Error(`firewall flows on ${this.intBr.name} (${add.length} adds, ${remove.length} deletes): ${(err as Error).message}`);
    }
    this.table.markApplied(changes);
    LOG.debug(`firewall: ${add.length} flows added, ${remove.length} deleted on ${this.intBr.name}`);
  }
}

/** The tables the driver programs (for stale-cookie cleanup and the pipeline view). */
export const OVS_FIREWALL_ALL_TABLES = [INT.TRANSIENT_TABLE, ...OVS_FIREWALL_TABLES, INT.ACCEPTED_EGRESS_TRAFFIC_TABLE, INT.ACCEPTED_INGRESS_TRAFFIC_TABLE, INT.DROPPED_TRAFFIC_TABLE, INT.ACCEPTED_EGRESS_TRAFFIC_NORMAL_TABLE];
