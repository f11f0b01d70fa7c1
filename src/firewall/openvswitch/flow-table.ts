// The firewall's flows on br-int as sets owned by ports, networks and the driver itself.
// Replacing an owner's set yields only the flow mods that change the switch: flows that are new
// or whose actions changed are added (an add with the same table, priority and match replaces
// the flow in place), flows no owner wants any more are strictly deleted. Two owners may want
// the same flow (the same MAC on two ports of a network, say): it stays while either wants it.
import type { Flow } from '../../openflow/flow.js';
import { formatActions, formatMatch } from '../../openflow/text.js';

/** OpenFlow's identity of a flow: table, priority and match. */
export function flowKey(f: Pick<Flow, 'table' | 'priority' | 'match'>): string {
  return `table=${f.table},priority=${f.priority}${formatMatch(f.match).map((m) => `,${m}`).join('')}`;
}

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
  /** key → actions text of the flow on the switch. */
  private readonly installed = new Map<string, { flow: Flow; actions: string }>();
  private pendingAdd = new Map<string, Flow>();
  private pendingRemove = new Map<string, Flow>();

  /** The flows an owner wants now (replacing what it wanted before). An empty list releases it. */
  set(owner: string, flows: readonly Flow[]): void {
    const next = new Map<string, Flow>();
    for (const f of flows) next.set(flowKey(f), f);
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
      let e = this.byKey.get(key);
      if (!e) this.byKey.set(key, (e = { owners: [], flows: new Map() }));
      if (!e.owners.includes(owner)) e.owners.push(owner);
      e.flows.set(owner, f);
      this.reconcile(key);
    }
  }

  has(owner: string): boolean {
    return this.owned.has(owner);
  }

  owners(): string[] {
    return [...this.owned.keys()];
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
    if (onSwitch && onSwitch.actions === formatActions(want)) this.pendingAdd.delete(key);
    else this.pendingAdd.set(key, want);
  }

  /** The mods that bring the switch to the wanted state (still pending until markApplied). */
  changes(): FlowChanges {
    return { add: [...this.pendingAdd.values()], remove: [...this.pendingRemove.values()] };
  }

  /** The switch took these changes; later changes to the same flows stay pending. */
  markApplied(done: FlowChanges): void {
    for (const flow of done.add) {
      const key = flowKey(flow);
      if (this.pendingAdd.get(key) !== flow) continue;
      this.pendingAdd.delete(key);
      this.installed.set(key, { flow, actions: formatActions(flow) });
    }
    for (const flow of done.remove) {
      const key = flowKey(flow);
      if (this.pendingRemove.get(key) !== flow) continue;
      this.pendingRemove.delete(key);
      this.installed.delete(key);
    }
  }

  /** Every flow wanted now, sorted by table, priority (highest first) and text: a stable rendering. */
  flows(): Flow[] {
    const out: Flow[] = [];
    for (const e of this.byKey.values()) out.push(e.flows.get(e.owners[e.owners.length - 1]!)!);
    return sortFlows(out);
  }

  /** Forget everything, including what is on the switch (after an OVS restart wiped it). */
  clear(): void {
    this.owned.clear();
    this.byKey.clear();
    this.installed.clear();
    this.pendingAdd = new Map();
    this.pendingRemove = new Map();
  }
}

export function sortFlows(flows: Flow[]): Flow[] {
  const keyed = flows.map((f) => ({ f, k: flowKey(f) }));
  keyed.sort((a, b) => a.f.table - b.f.table || b.f.priority - a.f.priority || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  return keyed.map((x) => x.f);
}
