// The firewall's flows on br-int as sets owned by ports, networks and the driver itself.
// Replacing an owner's set yields only the flow mods that change the switch: flows that are new
// or whose actions changed are added (an add with the same table, priority and match replaces
// the flow in place), flows no owner wants any more are strictly deleted. Two owners may want
// the same flow (the same MAC on two ports of a network, say): it stays while either wants it.
import type { Flow } from '../../openflow/flow.js';
import { flowKey } from '../../openflow/flow-key.js';

export { flowKey };

/** Flow objects are never changed once made: a flow handed in again keeps the key computed before. */
const keys = new WeakMap<Flow, string>();
function keyOf(f: Flow): string {
  let k = keys.get(f);
  if (k === undefined) keys.set(f, (k = flowKey(f)));
  return k;
}

const actionsKey = (f: Flow): string =>
  JSON.stringify([f.actions, f.gotoTable ?? null, f.meter ?? null], (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

export interface FlowChanges {
  /** Flows to add (new, or their actions changed). */
  add: Flow[];
  /** Flows to remove with a strict delete. */
  remove: Flow[];
}

interface Entry {
  /** Owners wanting this key, the last one's flow is the one installed. */
  owners: string[];
  flows: Map<string, Flow>;
}

export class OwnedFlowTable {
  private readonly owned = new Map<string, Map<string, Flow>>();
  private readonly byKey = new Map<string, Entry>();
  /** key → the flow on the switch and its actions key. */
  private readonly installed = new Map<string, { flow: Flow; actions: string }>();
  private pendingAdd = new Map<string, Flow>();
  private pendingRemove = new Map<string, Flow>();

  /** The flows an owner wants now (replacing what it wanted before). An empty list releases it. */
  set(owner: string, flows: readonly Flow[]): void {
    const next = new Map<string, Flow>();
    for (const f of flows) next.set(keyOf(f), f);
    const prev = this.owned.get(owner) ?? new Map<string, Flow>();
    if (next.size === 0) this.owned.delete(owner);
    else this.owned.set(owner, next);
    for (const key of prev.keys()) {
      if (next.has(key)) continue;
      const e = this.byKey.get(key)!;
      e.owners = e.owners.filter((o) => o !== owner);
      e.flows.delete(owner);
      if (e.owners.length === 0) this.byKey.delete(key);
      this.reconcile(key);
    }
    for (const [key, f] of next) {
      if (prev.get(key) === f) continue; // the very flow this owner already wanted: nothing to reconcile
      let e = this.byKey.get(key);
      if (!e) this.byKey.set(key, (e = { owners: [], flows: new Map() }));
      if (!e.flows.has(owner)) e.owners.push(owner);
      e.flows.set(owner, f);
      this.reconcile(key);
    }
  }

  has(owner: string): boolean {
    return this.owned.has(owner);
  }

  private reconcile(key: string): void {
    const e = this.byKey.get(key);
    const onSwitch = this.installed.get(key);
    if (!e) {
      this.pendingAdd.delete(key);
      if (onSwitch) this.pendingRemove.set(key, onSwitch.flow);
      return;
    }
    const want = e.flows.get(e.owners[e.owners.length - 1]!)!;
    this.pendingRemove.delete(key);
    if (onSwitch && (onSwitch.flow === want || onSwitch.actions === actionsKey(want))) this.pendingAdd.delete(key);
    else this.pendingAdd.set(key, want);
  }

  /** The mods that bring the switch to the wanted state (pending until markApplied). */
  changes(): FlowChanges & { keys: { add: string[]; remove: string[] } } {
    return {
      add: [...this.pendingAdd.values()],
      remove: [...this.pendingRemove.values()],
      keys: { add: [...this.pendingAdd.keys()], remove: [...this.pendingRemove.keys()] },
    };
  }

  /** The switch took these changes; later changes to the same flows stay pending. */
  markApplied(done: ReturnType<OwnedFlowTable['changes']>): void {
    done.keys.add.forEach((key, i) => {
      const flow = done.add[i]!;
      if (this.pendingAdd.get(key) !== flow) return;
      this.pendingAdd.delete(key);
      this.installed.set(key, { flow, actions: actionsKey(flow) });
    });
    done.keys.remove.forEach((key, i) => {
      if (this.pendingRemove.get(key) !== done.remove[i]) return;
      this.pendingRemove.delete(key);
      this.installed.delete(key);
    });
  }

  /** Every flow wanted now, sorted by table, priority (highest first) and key: a stable rendering. */
  flows(): Flow[] {
    const keyed: Array<{ f: Flow; k: string }> = [];
    for (const [k, e] of this.byKey) keyed.push({ f: e.flows.get(e.owners[e.owners.length - 1]!)!, k });
    keyed.sort((a, b) => a.f.table - b.f.table || b.f.priority - a.f.priority || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
    return keyed.map((x) => x.f);
  }

  /** The switch lost every flow (ovs-vswitchd restarted): every flow wanted is pending again. */
  switchWiped(): void {
    this.installed.clear();
    this.pendingRemove = new Map();
    this.pendingAdd = new Map();
    for (const [key, e] of this.byKey) this.pendingAdd.set(key, e.flows.get(e.owners[e.owners.length - 1]!)!);
  }

  /** Forget everything, including what is on the switch. */
  clear(): void {
    this.owned.clear();
    this.byKey.clear();
    this.installed.clear();
    this.pendingAdd = new Map();
    this.pendingRemove = new Map();
  }
}
