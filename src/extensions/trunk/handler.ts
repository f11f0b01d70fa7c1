// The trunk handler: what the reference's OVSDB handler and trunk skeleton do, driven by the OVSDB
// replica's events instead of a polling loop. A trunk bridge appearing (os-vif plugged a VLAN-aware
// VM) is wired to br-int once the VM's interface is in it: the parent's patch pair, then every
// subport's, bindings moved to this host, the trunk's status reported. Subports added to or removed
// from a live trunk arrive as SubPort pushes. The VM's interface leaving the trunk bridge takes the
// trunk's ports with it; a trunk bridge deleted takes br-int's ends of its patch pairs.
// Work on one trunk bridge is serialised (the reference's lock on the bridge name).
import { getLogger } from '../../util/log.js';
import { isSubportPatch, isTrunkBridge, isTrunkServicePort, isTrunkIntPatch, parentPatchPair, subportPatchPair, trunkBridgeName } from './names.js';
import type { TrunkOvsdb } from './trunk-rows.js';
import type { Subport, TrunkStatus } from './trunk-rpc.js';

/** The trunk RPC as the handler uses it. */
export interface TrunkServer {
  trunkOfParent(parentPortId: string): Promise<{ id: string; parentPortId: string; subports: Subport[] } | undefined>;
  updateSubportBindings(trunkId: string, subports: readonly Subport[]): Promise<Map<string, string>>;
  updateTrunkStatus(trunkId: string, status: TrunkStatus): Promise<void>;
}

const LOG = getLogger('extensions.trunk');

export interface TrunkTimings {
  /** How long a new trunk bridge may stay without the VM's interface before it is disposed of. */
  waitForVmMs: number;
  /** After the VM's interface went: the reference waits as long before deleting (a VM rebooting). */
  waitBeforeDeleteMs: number;
  /** A trunk the server could not be asked about is tried again after this long. */
  retryMs: number;
  /** How long a subport's new binding may take to reach this agent's cache before it is plugged anyway. */
  waitForBindingMs: number;
}

export const REFERENCE_TIMINGS: TrunkTimings = { waitForVmMs: 60_000, waitBeforeDeleteMs: 6_000, retryMs: 10_000, waitForBindingMs: 5_000 };

/** A trunk wired here: its bridge, parent and subports as last wired. */
export interface WiredTrunk {
  trunkId: string;
  bridge: string;
  parentPortId: string;
  /** Subports wired, by port id: their VLAN on the trunk bridge and MAC. */
  subports: Map<string, { segmentationId: number; mac: string }>;
  status: TrunkStatus;
}

export interface TrunkHandlerDeps {
  rows: TrunkOvsdb;
  rpc: TrunkServer;
  timings: TrunkTimings;
  waitFor<R>(probe: () => R | undefined, timeoutMs: number, describe: () => string): Promise<R>;
  /**
   * Resolves once this agent's copy of the port shows it bound to this host, or after at most
   * `timeoutMs`: a subport's patch end plugged before the server's push of its new binding arrives
   * would be wired from the stale, unbound copy (isolated, then wired again a moment later).
   */
  portBoundHere(portId: string, timeoutMs: number): Promise<void>;
  /** The configured firewall driver's name (the reference warns that iptables_hybrid does not filter subports). */
  firewallDriver: string;
  stopping(): boolean;
}

export class TrunkHandler {
  private readonly locks = new Map<string, Promise<void>>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  readonly trunks = new Map<string, WiredTrunk>();

  constructor(private readonly d: TrunkHandlerDeps) {}

  /** Runs `fn` after every earlier piece of work on this trunk bridge. */
  private locked(bridge: string, what: string, fn: () => Promise<void>): Promise<void> {
    const prev = this.locks.get(bridge) ?? Promise.resolve();
    const next = prev.then(fn).catch((e: unknown) => LOG.error(`trunk bridge ${bridge}: ${what} failed`, e));
    this.locks.set(bridge, next);
    void next.finally(() => {
      if (this.locks.get(bridge) === next) this.locks.delete(bridge);
    });
    return next;
  }

  /** Every trunk bridge there is (start-up, reconnection), and br-int's ends left by bridges gone. */
  async resyncAll(bridges: readonly string[]): Promise<void> {
    await this.removeOrphanedIntPatches();
    await Promise.all(bridges.filter(isTrunkBridge).map((b) => this.trunkBridgeAdded(b)));
  }

  trunkBridgeAdded(bridge: string): Promise<void> {
    return this.locked(bridge, 'wiring', () => this.wireTrunkBridge(bridge));
  }

  trunkBridgeDeleted(bridge: string): Promise<void> {
    this.clearRetry(bridge);
    for (const [id, t] of this.trunks) if (t.bridge === bridge) this.trunks.delete(id);
    return this.locked(bridge, 'removing br-int\'s ends of its patch ports', () => this.removeOrphanedIntPatches());
  }

  /** The VM's interface left the trunk bridge (its metadata names the bridge). */
  async vmInterfaceRemoved(bridge: string, externalIds: ReadonlyMap<string, string>): Promise<void> {
    // Waited outside the lock: a trunk bridge deleted or plugged again meanwhile is handled at once.
    await sleep(this.d.timings.waitBeforeDeleteMs);
    return this.locked(bridge, 'unwiring', async () => {
      if (this.d.rows.parentInterface(bridge)) {
        LOG.debug(`trunk bridge ${bridge} has a VM interface again: kept`);
        return;
      }
      const parentPortId = externalIds.get('iface-id');
      const trunkId = externalIds.get('trunk_id');
      const subportIds = parseSubportIds(externalIds.get('subport_ids'), bridge);
      if (!parentPortId || !trunkId) return;
      await this.d.rows.deleteTrunkBridge(bridge, [parentPatchPair(parentPortId).intName, ...subportIds.map((s) => subportPatchPair(s).intName)]);
      this.trunks.delete(trunkId);
      LOG.info(`trunk ${trunkId}: the VM left ${bridge}; the trunk bridge and its patch ports are deleted`);
    });
  }

  /**
   * A trunk's patch ports changed under it (deleted by hand, a peer or VLAN rewritten): the pairs
   * of every trunk wired here are put back. Queued behind the trunk's own work, so what that work
   * removes on purpose is not put back.
   */
  repairPatches(): Promise<void> {
    return Promise.all([...this.trunks.values()].map((t) => this.locked(t.bridge, 'repairing its patch ports', () => this.repairTrunk(t)))).then(() => undefined);
  }

  private async repairTrunk(t: WiredTrunk): Promise<void> {
    if (this.trunks.get(t.trunkId) !== t || !this.d.rows.bridgeExists(t.bridge)) return;
    const parent = this.d.rows.parentInterface(t.bridge);
    if (!parent) return;
    const parentPair = parentPatchPair(t.parentPortId);
    if (!this.d.rows.pairIntact(t.bridge, parentPair)) {
      LOG.warning(`trunk ${t.trunkId}: patch ports ${parentPair.intName}/${parentPair.trunkName} were changed or deleted; putting them back`);
      await this.d.rows.plugPair(t.bridge, parentPair, { portId: t.parentPortId, mac: parent.externalIds.get('attached-mac') });
    }
    for (const [id, s] of t.subports) {
      const pair = subportPatchPair(id);
      if (this.d.rows.pairIntact(t.bridge, pair, s.segmentationId)) continue;
      LOG.warning(`trunk ${t.trunkId}: patch ports ${pair.intName}/${pair.trunkName} of subport ${id} (VLAN ${s.segmentationId}) were changed or deleted; putting them back`);
      await this.d.rows.plugPair(t.bridge, pair, { portId: id, mac: s.mac }, s.segmentationId);
    }
  }

  /** SubPort pushes: subports added to or removed from a trunk wired here. */
  subportsPushed(subports: readonly Subport[], event: string): Promise<void> {
    const trunkId = subports[0]?.trunkId;
    if (!trunkId) return Promise.resolve();
    const bridge = trunkBridgeName(trunkId);
    if (!this.d.rows.bridgeExists(bridge)) return Promise.resolve();
    if (event !== 'created' && event !== 'deleted') {
      LOG.error(`SubPort push for trunk ${trunkId}: event '${event}' is not handled (only created and deleted are)`);
      return Promise.resolve();
    }
    return this.locked(bridge, `subports ${event}`, async () => {
      const status = event === 'created' ? await this.wireSubports(trunkId, bridge, subports) : await this.unwireSubports(trunkId, bridge, subports.map((s) => s.portId));
      await this.reportStatus(trunkId, status);
    });
  }

  private async wireTrunkBridge(bridge: string): Promise<void> {
    if (this.d.stopping() || !this.d.rows.bridgeExists(bridge)) return;
    let parent;
    try {
      parent = await this.d.waitFor(() => this.d.rows.parentInterface(bridge) ?? (this.d.rows.bridgeExists(bridge) ? undefined : null), this.d.timings.waitForVmMs, () => `no VM interface in trunk bridge ${bridge}`);
    } catch {
      LOG.error(`no port present on trunk bridge ${bridge} in ${this.d.timings.waitForVmMs / 1000} seconds: deleting it and its patch ports`);
      await this.disposeTrunkBridge(bridge);
      return;
    }
    if (parent === null) return;
    const parentPortId = parent.externalIds.get('iface-id');
    if (!parentPortId) {
      LOG.error(`trunk bridge ${bridge}: interface ${parent.name} has no external_ids:iface-id; cannot tell the trunk's parent port`);
      return;
    }
    const rewire = this.d.rows.interfacesOf(bridge).some((i) => isTrunkServicePort(i.name));
    let trunk;
    try {
      trunk = await this.d.rpc.trunkOfParent(parentPortId);
    } catch (e) {
      LOG.error(`trunk bridge ${bridge}: asking the server for the trunk of port ${parentPortId} failed; trying again in ${this.d.timings.retryMs / 1000} s`, e);
      this.retryLater(bridge);
      return;
    }
    if (!trunk) {
      LOG.error(`trunk bridge ${bridge}: port ${parentPortId} has no trunk associated`);
      return;
    }
    if (this.d.firewallDriver === 'iptables_hybrid') LOG.warning(`Firewall driver iptables_hybrid is not compatible with trunk ports. Trunk ${trunk.id} may be insecure.`);
    await this.wireTrunk(bridge, parent.name, parent.externalIds.get('attached-mac'), trunk, rewire);
  }

  private async wireTrunk(bridge: string, parentIface: string, parentMac: string | undefined, trunk: { id: string; parentPortId: string; subports: Subport[] }, rewire: boolean): Promise<void> {
    try {
      await this.d.rows.plugPair(bridge, parentPatchPair(trunk.parentPortId), { portId: trunk.parentPortId, mac: parentMac });
    } catch (e) {
      LOG.error(`trunk ${trunk.id}: plugging its parent port ${trunk.parentPortId} into ${bridge} failed`, e);
      await this.reportStatus(trunk.id, 'ERROR');
      return;
    }
    this.trunks.set(trunk.id, { trunkId: trunk.id, bridge, parentPortId: trunk.parentPortId, subports: new Map(), status: 'ACTIVE' });
    let unwired: TrunkStatus = 'ACTIVE';
    if (rewire) {
      const want = new Set(trunk.subports.map((s) => s.portId));
      const stale = this.connectedSubports(bridge).filter((id) => !want.has(id));
      if (stale.length) unwired = await this.unwireSubports(trunk.id, bridge, stale);
    }
    const wired = await this.wireSubports(trunk.id, bridge, trunk.subports, parentIface);
    await this.reportStatus(trunk.id, wired === 'ACTIVE' && unwired === 'ACTIVE' ? 'ACTIVE' : 'DEGRADED');
    LOG.info(`trunk ${trunk.id}: parent ${trunk.parentPortId} and ${trunk.subports.length} subport(s) wired through ${bridge}`);
  }

  /** Subport ids whose patch end is on the trunk bridge. */
  private connectedSubports(bridge: string): string[] {
    return this.d.rows
      .interfacesOf(bridge)
      .filter((i) => isSubportPatch(i.name))
      .map((i) => i.externalIds.get('iface-id'))
      .filter((id): id is string => id !== undefined);
  }

  private async wireSubports(trunkId: string, bridge: string, subports: readonly Subport[], parentIface?: string): Promise<TrunkStatus> {
    const macs = subports.length ? await this.d.rpc.updateSubportBindings(trunkId, subports) : new Map<string, string>();
    const done: string[] = [];
    const t = this.trunks.get(trunkId);
    for (const s of subports) {
      const mac = macs.get(s.portId);
      try {
        if (!mac) throw new Error('the server did not bind it to this host');
        await this.d.portBoundHere(s.portId, this.d.timings.waitForBindingMs);
        await this.d.rows.plugPair(bridge, subportPatchPair(s.portId), { portId: s.portId, mac }, s.segmentationId);
        done.push(s.portId);
        t?.subports.set(s.portId, { segmentationId: s.segmentationId, mac });
      } catch (e) {
        LOG.error(`Failed to add subport with port ID ${s.portId} to trunk with ID ${trunkId}`, e);
      }
    }
    if (!(await this.updateMetadata(bridge, trunkId, done, [], parentIface))) return 'DEGRADED';
    return done.length === subports.length ? 'ACTIVE' : 'DEGRADED';
  }

  private async unwireSubports(trunkId: string, bridge: string, subportIds: readonly string[]): Promise<TrunkStatus> {
    const done: string[] = [];
    const t = this.trunks.get(trunkId);
    for (const id of subportIds) {
      try {
        t?.subports.delete(id);
        await this.d.rows.unplugPair(bridge, subportPatchPair(id));
        done.push(id);
      } catch (e) {
        LOG.error(`Removing subport ${id} from trunk ${trunkId} failed`, e);
      }
    }
    if (!(await this.updateMetadata(bridge, trunkId, [], subportIds))) return 'DEGRADED';
    return done.length === subportIds.length ? 'ACTIVE' : 'DEGRADED';
  }

  /**
   * The trunk's metadata on the VM's interface (bridge_name, trunk_id, subport_ids): what lets the
   * trunk be unwired when that interface goes, by whichever agent runs then. False: not stored.
   */
  private async updateMetadata(bridge: string, trunkId: string, add: readonly string[], remove: readonly string[], parentIface?: string): Promise<boolean> {
    const iface = this.d.rows.parentInterface(bridge);
    if (!iface || (parentIface !== undefined && iface.name !== parentIface)) {
      // Unwiring a trunk whose VM is gone needs no metadata: it goes with the trunk bridge.
      if (!add.length) return true;
      LOG.error(`Failed to store metadata for trunk ${trunkId}: the VM interface${parentIface ? ` ${parentIface}` : ''} is not in ${bridge}`);
      return false;
    }
    const ids = new Set(parseSubportIds(iface.externalIds.get('subport_ids'), bridge));
    for (const id of add) ids.add(id);
    for (const id of remove) ids.delete(id);
    try {
      await this.d.rows.setParentMetadata(iface.name, { bridge_name: bridge, trunk_id: trunkId, subport_ids: pythonJsonList([...ids]) });
      return true;
    } catch (e) {
      LOG.error(`Failed to store metadata for trunk ${trunkId}`, e);
      return false;
    }
  }

  private async reportStatus(trunkId: string, status: TrunkStatus): Promise<void> {
    const t = this.trunks.get(trunkId);
    if (t) t.status = status;
    try {
      await this.d.rpc.updateTrunkStatus(trunkId, status);
    } catch (e) {
      LOG.error(`reporting trunk ${trunkId} ${status} to the server failed`, e);
    }
  }

  /** No VM came: the trunk bridge goes, with br-int's ends of any patch pair it has. */
  private async disposeTrunkBridge(bridge: string): Promise<void> {
    const peers = this.d.rows.interfacesOf(bridge).map((i) => i.options.get('peer')).filter((p): p is string => p !== undefined);
    await this.d.rows.deleteTrunkBridge(bridge, peers);
  }

  /** br-int's ends of trunk patch pairs whose other end is gone (its trunk bridge was deleted). */
  private async removeOrphanedIntPatches(): Promise<void> {
    const orphans = this.d.rows.intInterfaces().filter((i) => isTrunkIntPatch(i.name) && i.type === 'patch' && !this.d.rows.interfaceExists(i.options.get('peer') ?? ''));
    if (!orphans.length) return;
    await this.d.rows.deleteIntPorts(orphans.map((i) => i.name));
    LOG.info(`removed ${orphans.map((i) => i.name).join(', ')} from br-int: their trunk bridges are gone`);
  }

  private retryLater(bridge: string): void {
    this.clearRetry(bridge);
    const t = setTimeout(() => {
      this.retries.delete(bridge);
      if (!this.d.stopping()) void this.trunkBridgeAdded(bridge);
    }, this.d.timings.retryMs);
    t.unref();
    this.retries.set(bridge, t);
  }

  private clearRetry(bridge: string): void {
    clearTimeout(this.retries.get(bridge));
    this.retries.delete(bridge);
  }

  async stop(): Promise<void> {
    for (const b of [...this.retries.keys()]) this.clearRetry(b);
  }
}

function parseSubportIds(text: string | undefined, bridge: string): string[] {
  if (!text) return [];
  try {
    const v: unknown = JSON.parse(text);
    if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  } catch {
    // Falls through to the warning: someone wrote the column by hand.
  }
  LOG.warning(`trunk bridge ${bridge}: external_ids:subport_ids ${JSON.stringify(text)} is not a JSON list of port ids; taken as empty`);
  return [];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A list of strings as Python's json.dumps writes it (", " between items), as the reference stores it. */
function pythonJsonList(items: readonly string[]): string {
  return `[${items.map((i) => JSON.stringify(i)).join(', ')}]`;
}
