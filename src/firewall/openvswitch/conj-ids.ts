// Conjunction ids as the reference allocates them, so the same sequence of operations gives the
// same ids: one block of 8 per (security group, remote group, direction, ethertype) — 4 priority
// offsets × (established, new) — numbered upwards from above the highest id already on br-int.
import type { Direction, Ethertype } from '../types.js';

export const CONJ_ID_BLOCK_SIZE = 8;
/** Past this the numbering wraps to 0 (conj_id is 32 bits). */
export const MAX_CONJ_ID = 2 ** 32 - 8;

type Key = string;
const keyOf = (sgId: string, remoteId: string, direction: Direction, ethertype: Ethertype): Key =>
  JSON.stringify([sgId, remoteId, direction, ethertype]);

export class ConjIdMap {
  private readonly ids = new Map<Key, number>();
  private readonly free: number[] = [];
  private maxId: number;

  /** @param highestExisting the highest conj_id found in br-int's firewall tables (0 if none). */
  constructor(highestExisting = 0) {
    this.maxId = ConjIdMap.next(highestExisting - (highestExisting % CONJ_ID_BLOCK_SIZE));
  }

  private static next(id: number): number {
    const n = id + CONJ_ID_BLOCK_SIZE;
    return n >= MAX_CONJ_ID ? 0 : n;
  }

  /** The base id (a multiple of 8) of this combination; allocated on first use, freed ids first. */
  get(sgId: string, remoteId: string, direction: Direction, ethertype: Ethertype): number {
    const k = keyOf(sgId, remoteId, direction, ethertype);
    let id = this.ids.get(k);
    if (id === undefined) {
      id = this.free.length > 0 ? this.free.shift()! : (this.maxId = ConjIdMap.next(this.maxId));
      this.ids.set(k, id);
    }
    return id;
  }

  /** Free every id whose group or remote group is this one; returns the freed (remoteId, baseId) pairs. */
  deleteSg(sgId: string): Array<{ remoteId: string; conjId: number }> {
    const out: Array<{ remoteId: string; conjId: number }> = [];
    for (const [k, id] of [...this.ids]) {
      const [sg, remote] = JSON.parse(k) as [string, string];
      if (sg === sgId || remote === sgId) {
        this.ids.delete(k);
        this.free.push(id);
        out.push({ remoteId: remote, conjId: id });
      }
    }
    return out;
  }

  /** Free the ids of this group's own rules (not those where it is only the remote group). */
  deleteOwner(sgId: string): number[] {
    const out: number[] = [];
    for (const [k, id] of [...this.ids]) {
      if ((JSON.parse(k) as [string])[0] !== sgId) continue;
      this.ids.delete(k);
      this.free.push(id);
      out.push(id);
    }
    return out;
  }

  /** Ids currently allocated (for tests and diagnostics). */
  allocated(): Map<string, number> {
    return new Map([...this.ids].map(([k, v]) => [k, v]));
  }
}
