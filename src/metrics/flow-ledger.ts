// The flows the agent has installed on each bridge, kept from the flow mods it sent, so /metrics
// can say how many flows each table holds without dumping the bridges on every scrape. Flow
// identity is OpenFlow's: table, priority and match (an add with the same three replaces).
// Deletes follow OpenFlow's selection: strict (same priority and match) or non-strict (every
// flow whose match has at least the filter's fields with the filter's values), cookie under mask.
import type { Flow, FlowFilter, FlowMod, Match } from '../openflow/flow.js';

const ALL_ONES = 0xffffffffffffffffn;

interface Entry {
  table: number;
  priority: number;
  cookie: bigint;
  /** The match's fields, each as canonical text, so non-strict deletes compare field by field. */
  fields: Map<string, string>;
  outputs: number[];
}

/** One bridge's flows, indexed the ways deletes select them: by table and by in_port. */
class BridgeFlows {
  readonly byKey = new Map<string, Entry>();
  private readonly byTable = new Map<number, Map<string, Entry>>();
  private readonly byInPort = new Map<string, Map<string, Entry>>();

  add(e: Entry): void {
    const key = identity(e.table, e.priority, e.fields);
    this.remove(key);
    this.byKey.set(key, e);
    index(this.byTable, e.table, key, e);
    const inPort = e.fields.get('inPort');
    if (inPort !== undefined) index(this.byInPort, inPort, key, e);
  }

  remove(key: string): void {
    const e = this.byKey.get(key);
    if (!e) return;
    this.byKey.delete(key);
    this.byTable.get(e.table)?.delete(key);
    const inPort = e.fields.get('inPort');
    if (inPort !== undefined) this.byInPort.get(inPort)?.delete(key);
  }

  delete(f: FlowFilter): void {
    const want = matchFields(f.match);
    if (f.strict && f.table !== undefined) {
      const key = identity(f.table, f.priority ?? 0x8000, want);
      const e = this.byKey.get(key);
      if (e && selects(f, want, e)) this.remove(key);
      return;
    }
    // The smallest set that holds every flow the filter can select.
    let candidates: ReadonlyMap<string, Entry> = this.byKey;
    const byTable = f.table !== undefined ? (this.byTable.get(f.table) ?? new Map<string, Entry>()) : undefined;
    if (byTable && byTable.size < candidates.size) candidates = byTable;
    const inPort = want.get('inPort');
    const byInPort = inPort !== undefined ? (this.byInPort.get(inPort) ?? new Map<string, Entry>()) : undefined;
    if (byInPort && byInPort.size < candidates.size) candidates = byInPort;
    const gone = [...candidates].filter(([, e]) => selects(f, want, e)).map(([k]) => k);
    for (const k of gone) this.remove(k);
  }
}

function index<K>(m: Map<K, Map<string, Entry>>, k: K, key: string, e: Entry): void {
  let inner = m.get(k);
  if (!inner) m.set(k, (inner = new Map()));
  inner.set(key, e);
}

export class FlowLedger {
  private readonly bridges = new Map<string, BridgeFlows>();

  /** Applies what the switch did with `mods` (those in `refused` excluded). */
  apply(bridge: string, mods: readonly FlowMod[], refused: ReadonlySet<number> = new Set()): void {
    let flows = this.bridges.get(bridge);
    if (!flows) {
      flows = new BridgeFlows();
      this.bridges.set(bridge, flows);
    }
    for (let i = 0; i < mods.length; i++) {
      const mod = mods[i]!;
      if (refused.has(i)) continue;
      if (mod.command === 'add') flows.add(entryOf(mod.flow));
      else if (mod.command === 'delete') flows.delete(mod.filter);
      // modify changes actions only: the count stays.
    }
  }

  /** The bridge lost every flow (ovs-vswitchd restarted, the bridge was re-created). */
  clear(bridge?: string): void {
    if (bridge === undefined) this.bridges.clear();
    else this.bridges.delete(bridge);
  }

  /** Flows per table of each bridge. */
  counts(): Map<string, Map<number, number>> {
    const out = new Map<string, Map<number, number>>();
    for (const [bridge, flows] of this.bridges) {
      const perTable = new Map<number, number>();
      for (const e of flows.byKey.values()) perTable.set(e.table, (perTable.get(e.table) ?? 0) + 1);
      out.set(bridge, perTable);
    }
    return out;
  }
}

function entryOf(flow: Flow): Entry {
  const outputs = flow.actions.flatMap((a) => (a.type === 'output' && typeof a.port === 'number' ? [a.port] : []));
  return { table: flow.table, priority: flow.priority, cookie: flow.cookie ?? 0n, fields: matchFields(flow.match), outputs };
}

function identity(table: number, priority: number, fields: Map<string, string>): string {
  const parts = [...fields].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`);
  return `${table}/${priority}/${parts.join(',')}`;
}

/** Each match field as canonical text; registers count as one field each (reg0..reg7). */
export function matchFields(match: Match | undefined): Map<string, string> {
  const fields = new Map<string, string>();
  if (!match) return fields;
  for (const [name, value] of Object.entries(match) as Array<[string, unknown]>) {
    if (value === undefined) continue;
    if (name === 'regs' && typeof value === 'object' && value !== null) {
      for (const [reg, v] of Object.entries(value as Record<string, unknown>)) if (v !== undefined) fields.set(`reg${reg}`, canonical(v));
    } else {
      fields.set(name, canonical(value));
    }
  }
  return fields;
}

function selects(f: FlowFilter, want: Map<string, string>, e: Entry): boolean {
  if (f.table !== undefined && f.table !== e.table) return false;
  if (f.cookieMask !== undefined && f.cookieMask !== 0n) {
    const mask = f.cookieMask & ALL_ONES;
    if ((e.cookie & mask) !== ((f.cookie ?? 0n) & mask)) return false;
  }
  if (f.outPort !== undefined && !e.outputs.includes(f.outPort)) return false;
  if (f.strict) {
    return (f.priority ?? 0x8000) === e.priority && identity(0, 0, want) === identity(0, 0, e.fields);
  }
  for (const [k, v] of want) if (e.fields.get(k) !== v) return false;
  return true;
}

/** JSON with sorted keys; bigints as hex; absent masks dropped. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return `0x${x.toString(16)}`;
    if (x && typeof x === 'object' && !Array.isArray(x)) {
      return Object.fromEntries(Object.entries(x as Record<string, unknown>).filter(([, y]) => y !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)));
    }
    return x;
  });
}
