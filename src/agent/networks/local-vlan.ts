// Local VLAN bookkeeping (agent-loop.md §3): each (network, segment) wired on this host gets a VLAN
// id on br-int from 1..4094. Allocation follows the reference's CPython set.pop() on a pool of small
// ints — the lowest free id at or after a moving finger, wrapping around — so the same sequence of
// events gives the same tags (and the same flows) as the reference agent.
import { DEAD_VLAN_TAG, type NetworkType } from '../../bridges/tables.js';

export const MIN_VLAN_TAG = 1;
export const MAX_VLAN_TAG = 4094;

export interface LocalVlanMapping {
  readonly vlan: number;
  readonly networkId: string;
  readonly networkType: NetworkType;
  readonly physicalNetwork: string | undefined;
  readonly segmentationId: number | undefined;
  /** Port ids of this network on this host. */
  readonly vifPorts: Set<string>;
  /** Tunnel ofports this network floods to (l2population). */
  readonly tunOfports: Set<number>;
}

export class NoVlanAvailable extends Error {
  constructor(networkId: string, segmentationId: number | undefined) {
    super(`No local VLAN available for net-id=${networkId}, seg-id=${segmentationId ?? 'None'}`);
    this.name = 'NoVlanAvailable';
  }
}

/** The key the reference writes into Port.other_config and restores tags under. */
export function hintKey(networkId: string, segmentationId: number | undefined): string {
  return `${networkId}/${segmentationId ?? 'None'}`;
}

export class LocalVlanManager {
  private readonly free = new Uint8Array(MAX_VLAN_TAG + 1);
  private freeCount = 0;
  private finger = 0;
  private readonly byNetwork = new Map<string, Map<string, LocalVlanMapping>>();
  /** VLANs reserved at start-up for networks whose ports already carried a tag. */
  private readonly hints = new Map<string, number>();

  constructor() {
    for (let v = MIN_VLAN_TAG; v <= MAX_VLAN_TAG; v++) this.free[v] = 1;
    this.freeCount = MAX_VLAN_TAG - MIN_VLAN_TAG + 1;
  }

  /** Reserve the tag a port already had, so its network gets it again (first port wins). */
  addHint(networkId: string, segmentationId: number | undefined, tag: number): void {
    const key = hintKey(networkId, segmentationId);
    if (tag < MIN_VLAN_TAG || tag > MAX_VLAN_TAG || tag === DEAD_VLAN_TAG) return;
    if (this.hints.has(key) || !this.free[tag]) return;
    this.take(tag);
    this.hints.set(key, tag);
  }

  /** Give unused hints back to the pool (end of the first full sync). */
  releaseUnusedHints(): void {
    for (const tag of this.hints.values()) this.giveBack(tag);
    this.hints.clear();
  }

  get(networkId: string, segmentationId: number | undefined): LocalVlanMapping | undefined {
    return this.byNetwork.get(networkId)?.get(String(segmentationId ?? 'None'));
  }

  /** All segments of a network that are wired here. */
  segments(networkId: string): LocalVlanMapping[] {
    return [...(this.byNetwork.get(networkId)?.values() ?? [])];
  }

  *all(): IterableIterator<LocalVlanMapping> {
    for (const segs of this.byNetwork.values()) yield* segs.values();
  }

  get size(): number {
    let n = 0;
    for (const segs of this.byNetwork.values()) n += segs.size;
    return n;
  }

  allocate(networkId: string, networkType: NetworkType, physicalNetwork: string | undefined, segmentationId: number | undefined): LocalVlanMapping {
    const existing = this.get(networkId, segmentationId);
    if (existing) return existing;
    const key = hintKey(networkId, segmentationId);
    let vlan = this.hints.get(key);
    if (vlan !== undefined) this.hints.delete(key);
    else vlan = this.pop(networkId, segmentationId);
    const lvm: LocalVlanMapping = {
      vlan,
      networkId,
      networkType,
      physicalNetwork,
      segmentationId,
      vifPorts: new Set(),
      tunOfports: new Set(),
    };
    let segs = this.byNetwork.get(networkId);
    if (!segs) this.byNetwork.set(networkId, (segs = new Map()));
    segs.set(String(segmentationId ?? 'None'), lvm);
    return lvm;
  }

  /**
   * A VLAN network's segmentation id changed: the mapping keeps its local VLAN (so ports keep their
   * tags) and is filed under the new segment.
   */
  resegment(lvm: LocalVlanMapping, segmentationId: number): LocalVlanMapping {
    const segs = this.byNetwork.get(lvm.networkId);
    if (!segs?.delete(String(lvm.segmentationId ?? 'None'))) return lvm;
    const moved: LocalVlanMapping = { ...lvm, segmentationId };
    segs.set(String(segmentationId), moved);
    return moved;
  }

  release(lvm: LocalVlanMapping): void {
    const segs = this.byNetwork.get(lvm.networkId);
    if (!segs?.delete(String(lvm.segmentationId ?? 'None'))) return;
    if (segs.size === 0) this.byNetwork.delete(lvm.networkId);
    this.giveBack(lvm.vlan);
  }

  private take(tag: number): void {
    this.free[tag] = 0;
    this.freeCount--;
  }

  private giveBack(tag: number): void {
    if (!this.free[tag]) {
      this.free[tag] = 1;
      this.freeCount++;
    }
  }

  private pop(networkId: string, segmentationId: number | undefined): number {
    if (this.freeCount === 0) throw new NoVlanAvailable(networkId, segmentationId);
    for (let i = 0; i <= MAX_VLAN_TAG; i++) {
      const v = (this.finger + i) % (MAX_VLAN_TAG + 1);
      if (v >= MIN_VLAN_TAG && this.free[v]) {
        this.finger = v + 1;
        this.take(v);
        return v;
      }
    }
    throw new NoVlanAvailable(networkId, segmentationId);
  }
}
