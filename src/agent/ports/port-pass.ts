// One reconciliation pass over the ports of br-int (agent-loop.md §4): classify what changed since
// the last pass, fetch the details of ports to wire, plan every flow and OVSDB write, commit them,
// hand the ports to the firewall, then report their states to the server.
import type { VifPort } from '../../ovsdb/ops.js';
import { IntegrationBridge } from '../../bridges/br-int.js';
import { DEAD_VLAN_TAG, INT_BR_ALL_TABLES, PHY_BR_ALL_TABLES, TUN_BR_ALL_TABLES, isTunnelType } from '../../bridges/tables.js';
import { setupArpSpoofingProtection } from './anti-spoofing.js';
import { installAcceptedEgressDirect } from './egress-direct.js';
import type { AgentContext } from '../context.js';
import { buildDeviceDetails, type BoundDeviceDetails, type DeviceDetails } from './device-details.js';
import type { DeviceReports } from '../server/device-reports.js';
import type { Networks } from '../networks/networks.js';
import { PassBatches } from './pass-batches.js';
import { PassPlan, classifyPorts, type PortChanges, type WiredPort } from './pass-plan.js';
import type { PortFilter } from './port-filter.js';
import type { ExtensionManager } from '../../extensions/manager.js';
import type { ExtensionPort } from '../../extensions/seam.js';
import { portWiring, taggedPortSettings } from './port-settings.js';
import { firewallPortFrom } from '../../firewall/sg-objects.js';
import type { FirewallPort } from '../../firewall/types.js';
import { agentProvidesAntiSpoofing } from '../settings.js';
import type { TunnelPorts } from '../networks/tunnels.js';
import { getLogger } from '../../util/log.js';
import { notePass, type PortState } from '../status/metrics.js';
import { Progress } from './progress.js';

const LOG = getLogger('agent');
const MAX_DEVICE_RETRIES = 5;

export class PortPass {
  private readonly wired = new Map<string, WiredPort>();
  /** Ports the server changed (or whose details failed) since the last pass. */
  private readonly pendingUpdated = new Set<string>();
  private readonly pendingDeleted = new Set<string>();
  /** Consecutive detail failures per port. */
  private readonly retries = new Map<string, number>();
  /** The security-group firewall, when one is configured. */
  portFilter: PortFilter | undefined;
  /** The L2 extensions of `[agent] extensions`, once loaded. */
  extensions: ExtensionManager | undefined;
  /** The last full sync that completed: when (wall-clock ms), how many ports, how long. */
  lastFullSync: { at: number; ports: number; seconds: number } | undefined;

  constructor(
    private readonly ctx: AgentContext,
    private readonly networks: Networks,
    private readonly tunnels: TunnelPorts,
    private readonly reports: DeviceReports,
  ) {}

  get portCount(): number {
    return this.wired.size;
  }

  /** Ports by state, for the metrics endpoint. */
  portStates(): Record<PortState, number> {
    const states: Record<PortState, number> = { bound: 0, isolated: 0, retrying: 0 };
    for (const w of this.wired.values()) states[w.lvm ? 'bound' : 'isolated']++;
    for (const id of this.retries.keys()) if (!this.wired.has(id)) states.retrying++;
    return states;
  }

  /** Wired ports, for changes that touch them outside a pass (network updates). */
  wiredPorts(): IterableIterator<WiredPort> {
    return this.wired.values();
  }

  noteUpdated(id: string): void {
    this.pendingUpdated.add(id);
  }

  noteDeleted(id: string): void {
    this.pendingDeleted.add(id);
    this.pendingUpdated.delete(id);
  }

  /** classify → fetch details → plan → commit → firewall → report; stale flows go after the first full sync. */
  async run(): Promise<void> {
    const { sync, settings } = this.ctx;
    if (!sync.rpcReady) return; // ports are wired once the server can tell us what they are
    if (!sync.passesMayRun) return; // the bridges are being set up again; that kicks a full pass
    if (sync.tunnelSyncNeeded && settings.tunnelTypes.length > 0) await this.tunnels.sync();
    const full = sync.fullSync;
    sync.fullSync = false;
    const provisioning = sync.provisioningNeeded;
    sync.provisioningNeeded = false;

    const changes = this.classify(full);
    const refilter = this.portFilter?.takeRefilterIds?.() ?? new Set<string>();
    const plan = new PassPlan(new PassBatches(this.ctx.bridges));
    this.planUnwiring(changes, plan);
    const tStart = performance.now();
    const toWire = [...changes.added, ...changes.updated].filter((v) => !changes.deleted.includes(v.ifaceId));
    const progress = new Progress(LOG, toWire.length, 'fetching port details');
    let tDetails = tStart;
    try {
      const details = await this.fetchDetails(toWire, () => progress.advance());
      progress.setPhase('writing OVSDB and flows');
      for (const [vif, d] of details) this.planPort(vif, d, provisioning, plan);
      tDetails = performance.now();
      await this.commit(changes, plan, refilter);
    } finally {
      progress.finish();
    }
    this.reportStates(plan);
    const tWired = performance.now();
    const seconds = (tWired - tStart) / 1000;
    notePass({ full, ports: toWire.length + changes.removed.length + changes.deleted.length, seconds, failed: plan.failed });
    if (full) this.lastFullSync = { at: Date.now(), ports: this.wired.size, seconds };
    const ms = (a: number, b: number) => (b - a).toFixed(0);
    if (toWire.length || changes.removed.length || changes.deleted.length) {
      LOG.info(
        `pass: ${changes.added.length} added, ${changes.updated.length} updated, ${changes.removed.length} removed, ${changes.deleted.length} deleted; ` +
          `details ${ms(tStart, tDetails)} ms, OVSDB+flows ${ms(tDetails, tWired)} ms`,
      );
    } else if (refilter.size) {
      LOG.info(`pass: ${refilter.size} ports refiltered (their security groups changed) in ${ms(tStart, tWired)} ms`);
    }
    await this.finish(full, plan.failed);
  }

  // ---- classify

  private currentVifs(): Map<string, VifPort> {
    const out = new Map<string, VifPort>();
    for (const v of this.ctx.ops.vifPorts(this.ctx.settings.integrationBridge)) {
      if (v.ofport === undefined || v.ofport <= 0) continue; // not ready yet: its ofport update triggers a pass
      out.set(v.ifaceId, v);
    }
    return out;
  }

  private classify(full: boolean): PortChanges {
    const changes = classifyPorts(this.currentVifs(), this.wired, this.pendingUpdated, this.pendingDeleted, full);
    for (const v of [...changes.added, ...changes.updated]) this.pendingUpdated.delete(v.ifaceId);
    this.pendingDeleted.clear();
    return changes;
  }

  // ---- plan: ports that go

  private planUnwiring(changes: PortChanges, plan: PassPlan): void {
    const { batches } = plan;
    for (const w of [...changes.moved, ...changes.removed]) {
      IntegrationBridge.deletePortFlows(batches.int, w.ofport);
      if (agentProvidesAntiSpoofing(this.ctx.settings)) IntegrationBridge.deleteArpSpoofingProtection(batches.int, w.ofport);
    }
    for (const w of changes.removed) {
      this.networks.unbind(w, batches);
      this.wired.delete(w.ifaceId);
      plan.down.push(w.ifaceId);
      this.retries.delete(w.ifaceId);
    }
    // Ports deleted on the server: isolated on the dead VLAN, then unbound.
    for (const id of changes.deleted) {
      this.reports.forget(id);
      const vif = changes.vifs.get(id);
      const w = this.wired.get(id);
      if (vif) this.markDead(vif, plan);
      if (w) {
        this.networks.unbind(w, batches);
        w.lvm = undefined;
        w.details = undefined;
      }
    }
  }

  // ---- fetch details

  /** Details of added and updated ports, from the cache (pulled from the server on a miss). */
  private fetchDetails(toWire: VifPort[], onEach: () => void): Promise<Array<[VifPort, DeviceDetails | Error]>> {
    return Promise.all(
      toWire.map(async (vif): Promise<[VifPort, DeviceDetails | Error]> => {
        try {
          const port = await this.ctx.cache.get('Port', vif.ifaceId);
          const d = buildDeviceDetails(vif.ifaceId, port, this.ctx.settings.host);
          // A cached Port can lag its network's segmentation change; the Network push is authoritative.
          if (d.kind === 'bound' && d.networkType === 'vlan') d.segmentationId = this.networks.currentVlanSegment(d.networkId) ?? d.segmentationId;
          return [vif, d];
        } catch (e) {
          return [vif, e instanceof Error ? e : new Error(String(e))];
        } finally {
          onEach();
        }
      }),
    );
  }

  // ---- plan: ports that stay or come

  private planPort(vif: VifPort, d: DeviceDetails | Error, provisioning: boolean, plan: PassPlan): void {
    if (d instanceof Error) {
      plan.failed++;
      this.noteFailure(vif.ifaceId, d);
      return;
    }
    const prev = this.wired.get(vif.ifaceId);
    const w: WiredPort = { ifaceId: vif.ifaceId, portName: vif.portName, ofport: vif.ofport!, ...(prev?.lvm ? { lvm: prev.lvm } : {}) };
    if (d.kind === 'bound' && d.adminStateUp) {
      this.planBound(vif, d, prev, w, provisioning, plan);
    } else {
      // Unknown, unbound or admin down: isolated on the dead VLAN.
      if (d.kind === 'unbound') LOG.warning(`Device ${vif.ifaceId} not defined on plugin or binding failed`);
      if (prev) this.networks.unbind(prev, plan.batches);
      w.lvm = undefined;
      this.markDead(vif, plan);
      if (d.kind === 'bound') {
        plan.down.push(vif.ifaceId);
        // Admin down: the firewall sees it on the dead VLAN, as the reference's drivers read its tag.
        plan.wiring.set(vif.ifaceId, portWiring(vif, DEAD_VLAN_TAG, d));
        plan.extensionPorts.push(this.extensionPort(vif, d, undefined));
      }
    }
    this.wired.set(vif.ifaceId, w);
  }

  /** Bound and up: local VLAN (provisioned on first use), tag, alive, anti-spoofing. */
  private planBound(vif: VifPort, d: BoundDeviceDetails, prev: WiredPort | undefined, w: WiredPort, provisioning: boolean, plan: PassPlan): void {
    const { batches } = plan;
    if (prev?.lvm && (prev.lvm.networkId !== d.networkId || prev.lvm.segmentationId !== d.segmentationId)) {
      this.networks.unbind(prev, batches);
    }
    const { lvm, created } = this.networks.ensureLocalVlan(d);
    if (created || provisioning) this.networks.provision(lvm, batches);
    lvm.vifPorts.add(vif.ifaceId);
    w.lvm = lvm;
    w.details = d;
    plan.portSettings.push(taggedPortSettings(vif.portName, lvm, d));
    IntegrationBridge.stopDroppingPort(batches.int, vif.ofport!);
    if (agentProvidesAntiSpoofing(this.ctx.settings)) setupArpSpoofingProtection(batches.int, vif.ofport!, d);
    if (this.ctx.settings.egressDirect) installAcceptedEgressDirect(batches.int, this.ctx.bridges, vif.ofport!, d, lvm.vlan);
    plan.up.push(vif.ifaceId);
    plan.wiring.set(vif.ifaceId, portWiring(vif, lvm.vlan, d));
    plan.extensionPorts.push(this.extensionPort(vif, d, lvm.vlan));
    // As the reference: a tunnel network nothing floods to yet asks the server for its whole fdb.
    if (isTunnelType(d.networkType) && lvm.tunOfports.size === 0) plan.tunnelsMissing = true;
    this.retries.delete(vif.ifaceId);
  }

  private extensionPort(vif: VifPort, d: BoundDeviceDetails, localVlan: number | undefined): ExtensionPort {
    return {
      portId: vif.ifaceId, portName: vif.portName, ofport: vif.ofport!, mac: vif.mac || d.macAddress, networkId: d.networkId, physicalNetwork: d.physicalNetwork, localVlan,
      deviceOwner: d.deviceOwner, portSecurityEnabled: d.portSecurityEnabled, interfaceType: this.ctx.ops.replica.iface(vif.ifaceName)?.type ?? '',
      qosPolicyId: d.qosPolicyId, networkQosPolicyId: d.qosNetworkPolicyId,
      segment: { networkType: d.networkType, segmentationId: d.segmentationId, physicalNetwork: d.physicalNetwork },
      fixedIps: d.fixedIps,
    };
  }

  private noteFailure(id: string, e: Error): void {
    const n = (this.retries.get(id) ?? 0) + 1;
    this.retries.set(id, n);
    if (n > MAX_DEVICE_RETRIES) {
      LOG.warning(`Device ${id} failed for ${MAX_DEVICE_RETRIES} times and won't be retried anymore`, e);
      return;
    }
    LOG.warning(`device ${id}: details unavailable (attempt ${n}), will retry`, e);
    this.pendingUpdated.add(id);
  }

  /**
   * Isolate a port on the dead VLAN. The drop flow is added even when the tag is already 4095:
   * after a restart the previous run's drop flow carries a stale cookie and is cleaned up, so
   * skipping it (as for the tag) would leave dead ports without one. The port's anti-spoofing
   * flows go: at priority 9/10 they would shadow the priority-2 drop, and a freshly started
   * agent never installs them for a dead port either.
   */
  private markDead(vif: VifPort, plan: PassPlan): void {
    const ofport = vif.ofport!;
    const intBatch = plan.batches.int;
    (vif.tag !== DEAD_VLAN_TAG ? plan.portSettings : plan.portSettingsKept).push({ port: vif.portName, tag: DEAD_VLAN_TAG });
    IntegrationBridge.deleteArpSpoofingProtection(intBatch, ofport);
    IntegrationBridge.deleteAllowedMacs(intBatch, ofport);
    IntegrationBridge.dropPort(intBatch, ofport);
  }

  // ---- commit

  /**
   * Provisioning flows before the tags: a tagged port must find its VLAN's flows in place. Filters
   * before the tags too, so a port never passes traffic unfiltered; a removed port's filter goes
   * after it is isolated.
   */
  private async commit(changes: PortChanges, plan: PassPlan, refilter: Set<string>): Promise<void> {
    await plan.batches.commitProvisioning();
    if (this.portFilter?.filtersPorts) {
      const added = this.firewallPorts(changes.added, plan);
      const updated = this.firewallPorts(changes.updated, plan);
      const handed = new Set([...changes.added, ...changes.updated].map((v) => v.ifaceId));
      updated.push(...this.refilterPorts([...refilter].filter((id) => !handed.has(id))));
      if (added.length || updated.length) await this.portFilter.filterPorts({ added, updated, removed: [] });
    }
    await this.handleExtensionPorts(plan);
    await this.ctx.drift.writePorts(plan.portSettings, 'replace', plan.portSettingsKept);
    await plan.batches.int.commit();
    const removed = [...new Set([...changes.removed.map((w) => w.ifaceId), ...changes.deleted])];
    if (this.portFilter && removed.length) await this.portFilter.filterPorts({ added: [], updated: [], removed });
    if (this.extensions && removed.length) await this.extensions.deletePorts(removed);
  }

  /** Extensions apply to a port before its tag is written: what they enforce holds from its first packet. */
  private async handleExtensionPorts(plan: PassPlan): Promise<void> {
    if (!this.extensions || this.extensions.empty) return;
    const ports = plan.extensionPorts.filter((p) => plan.wiring.has(p.portId));
    for (const [id, e] of await this.extensions.handlePorts(ports)) {
      plan.failed++;
      this.noteFailure(id, e);
    }
  }

  /** Wired ports whose groups' rules or members changed, as they are wired now. */
  private refilterPorts(ids: string[]): FirewallPort[] {
    return ids.flatMap((id) => {
      const w = this.wired.get(id);
      const port = this.ctx.cache.getCached('Port', id);
      if (!w?.lvm || !w.details || !port) return [];
      try {
        return [firewallPortFrom(port, portWiring(w, w.lvm.vlan, w.details))];
      } catch (e) {
        LOG.warning(`port ${id}: not refiltered`, e);
        return [];
      }
    });
  }

  /** The bound ports among `vifs` as a firewall driver takes them, from the cached Port and their wiring. */
  private firewallPorts(vifs: VifPort[], plan: PassPlan): FirewallPort[] {
    return vifs.flatMap((v) => {
      const wiring = plan.wiring.get(v.ifaceId);
      if (!wiring) return [];
      try {
        const port = this.ctx.cache.getCached('Port', v.ifaceId);
        if (!port) throw new Error('the port is not in the resource cache');
        return [firewallPortFrom(port, wiring)];
      } catch (e) {
        this.isolateUnfiltered(v, plan, e instanceof Error ? e : new Error(String(e)));
        return [];
      }
    });
  }

  /** Fail closed: a port the firewall cannot be told about stays on the dead VLAN, never tagged unfiltered. */
  private isolateUnfiltered(vif: VifPort, plan: PassPlan, e: Error): void {
    LOG.error(`port ${vif.ifaceId} (${vif.portName}): cannot be filtered, isolated on the dead VLAN until it can`, e);
    const tagged = plan.portSettings.findIndex((s) => s.port === vif.portName);
    if (tagged >= 0) plan.portSettings.splice(tagged, 1);
    const up = plan.up.indexOf(vif.ifaceId);
    if (up >= 0) plan.up.splice(up, 1);
    plan.wiring.delete(vif.ifaceId);
    this.markDead(vif, plan);
    plan.failed++;
    this.noteFailure(vif.ifaceId, e);
  }

  // ---- report

  private reportStates(plan: PassPlan): void {
    const { up, down } = plan;
    if (up.length || down.length) {
      LOG.info(`Configuration for devices up ${JSON.stringify(up)} and devices down ${JSON.stringify(down)} completed.`);
    }
    const lookup = (id: string) => ({ port: this.ctx.cache.getCached('Port', id), details: this.wired.get(id)?.details });
    this.reports.queuePass(up, down, !this.ctx.sync.firstSyncDone || plan.tunnelsMissing, lookup);
  }

  /** After the first full pass without failures, flows of the previous run go. */
  private async finish(full: boolean, failed: number): Promise<void> {
    const { sync, scheduler } = this.ctx;
    if (full && !sync.staleFlowsCleaned && failed === 0) {
      // Only now are all flows still needed re-added with this run's cookies.
      await this.cleanupStaleFlows();
      this.ctx.vlans.releaseUnusedHints();
      sync.staleFlowsCleaned = true;
    }
    if (failed > 0) scheduler.scheduleRetry();
    else scheduler.resetRetryDelay();
    if (!sync.firstSyncDone && failed === 0) {
      sync.firstSyncDone = true;
      await this.extensions?.firstSyncDone();
      LOG.info(`first full sync done: ${this.wired.size} ports, ${this.ctx.vlans.size} local VLANs`);
    }
  }

  private async cleanupStaleFlows(): Promise<void> {
    const b = this.ctx.bridges;
    await b.int.cleanupStaleFlows(INT_BR_ALL_TABLES);
    for (const p of b.phys.values()) await p.bridge.cleanupStaleFlows(PHY_BR_ALL_TABLES);
    const tun = b.tun;
    if (!tun) return;
    // br-tun's flows for other hosts' ports (and the tunnels' own) are this run's only once the
    // server has sent the fdb entries again, which it does while answering the first pass's
    // update_device_list: until the fdb handlers queued meanwhile have run, the previous run's stay.
    // In the background: this pass holds the lock those handlers wait for.
    void this.reports.answered()
      .then(() => this.ctx.scheduler.withLock(async () => {
        if (!this.ctx.sync.stopping) await tun.cleanupStaleFlows(TUN_BR_ALL_TABLES);
      }))
      .catch((e: unknown) => LOG.error(`${tun.name}: deleting the previous run's flows failed; they stay until the next restart`, e));
  }
}
