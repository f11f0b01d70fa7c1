// The flows a bridge wants, as the agent's own flow mods leave them: every batch a bridge commits
// (pipelines, ports, networks, tunnels, l2population, the OVS firewall) passes through here before
// it goes to the switch, so the registry is the switch's content as the agent means it. The flow
// audit compares it with a dump. Keyed by OpenFlow's identity of a flow (table, priority, match):
// an add replaces, a strict delete removes one key, a non-strict delete removes every flow whose
// match has each field of the filter with the same value (the agent's deletes name fields exactly
// as its adds wrote them, so this is OpenFlow's "covered by" for every delete the agent sends).
import type { Flow, FlowFilter, FlowMod, Match } from '../openflow/flow.js';
import { flowKey } from '../openflow/flow-key.js';

function fieldKey(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v);
  const o = v as Record<string, unknown>;
  if ('value' in o) return o.mask === undefined ? String(o.value) : `${String(o.value)}/${String(o.mask)}`;
  return JSON.stringify(o, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
}

/** Every field the filter names is in the flow's match with the same value (registers one by one). */
function covers(filter: Match, flow: Match): boolean {
  const f = filter as Record<string, unknown>;
  const m = flow as Record<string, unknown>;
  for (const k of Object.keys(f)) {
    const want = f[k];
    if (want === undefined) continue;
    const have = m[k];
    if (have === undefined) return false;
    if (k === 'regs') {
      const wr = want as Record<string, unknown>;
      const hr = have as Record<string, unknown>;
      for (const r of Object.keys(wr)) if (hr[r] === undefined || fieldKey(hr[r]) !== fieldKey(wr[r])) return false;
    } else if (fieldKey(have) !== fieldKey(want)) return false;
  }
  return true;
}

function outputsTo(flow: Flow, port: number): boolean {
  return flow.actions.some((a) => a.type === 'output' && a.port === port);
}

export class DesiredFlows {
  private readonly byKey = new Map<string, Flow>();
  /** Keys by table and by in_port: the agent's deletes name one or the other, never a full scan. */
  private readonly byTable = new Map<number, Set<string>>();
  private readonly byInPort = new Map<number, Set<string>>();

  get size(): number {
    return this.byKey.size;
  }

  /** The wanted flow of this identity (flowKey), if any. */
  get(key: string): Flow | undefined {
    return this.byKey.get(key);
  }

  /** Key → flow, for the audit. */
  entries(): IterableIterator<[string, Flow]> {
    return this.byKey.entries();
  }

  /** Apply the bridge's mods as the switch will (`cookie`: the bridge's own; deletes of others' cookies change nothing here). */
  apply(mods: readonly FlowMod[], cookie: bigint): void {
    for (const mod of mods) {
      if (mod.command === 'add') this.put(mod.flow);
      else if (mod.command === 'modify') this.modify(mod.flow);
      else this.delete(mod.filter, cookie);
    }
  }

  clear(): void {
    this.byKey.clear();
    this.byTable.clear();
    this.byInPort.clear();
  }

  private put(flow: Flow): void {
    const key = flowKey(flow);
    if (!this.byKey.has(key)) {
      index(this.byTable, flow.table, key);
      if (flow.match.inPort !== undefined) index(this.byInPort, flow.match.inPort, key);
    }
    this.byKey.set(key, flow);
  }

  /**
   * Non-strict modify: new instructions for every flow of the table the match covers. A meter goes
   * with the modify's instructions, as on the switch: the modify's meter, or none.
   */
  private modify(flow: Flow): void {
    for (const key of this.candidates({ table: flow.table, match: flow.match })) {
      const f = this.byKey.get(key)!;
      if (f.table === flow.table && covers(flow.match, f.match)) {
        const { meter: _replaced, ...kept } = f;
        this.byKey.set(key, {
          ...kept,
          actions: flow.actions,
          ...(flow.gotoTable !== undefined ? { gotoTable: flow.gotoTable } : {}),
          ...(flow.meter !== undefined ? { meter: flow.meter } : {}),
        });
      }
    }
  }

  /** `cookie`: the bridge's, which a flow without one carries (flows of requested cookies carry theirs). */
  private delete(filter: FlowFilter, cookie: bigint): void {
    const mask = filter.cookieMask ?? 0n;
    const wanted = (filter.cookie ?? 0n) & mask;
    const cookieOk = (f: Flow): boolean => mask === 0n || ((f.cookie ?? cookie) & mask) === wanted;
    if (filter.table === undefined && !filter.match && !filter.strict && filter.outPort === undefined) {
      if (mask === 0n) this.clear();
      else for (const [key, f] of [...this.byKey]) if (cookieOk(f)) this.remove(key, f);
      return;
    }
    if (filter.strict) {
      const match = filter.match ?? {};
      const priority = filter.priority ?? 0x8000;
      const tables = filter.table !== undefined ? [filter.table] : [...this.byTable.keys()];
      for (const table of tables) {
        const key = flowKey({ table, priority, match });
        const f = this.byKey.get(key);
        if (f && cookieOk(f) && (filter.outPort === undefined || outputsTo(f, filter.outPort))) this.remove(key, f);
      }
      return;
    }
    const match = filter.match ?? {};
    for (const key of [...this.candidates(filter)]) {
      const f = this.byKey.get(key)!;
      if (filter.table !== undefined && f.table !== filter.table) continue;
      if (!cookieOk(f)) continue;
      if (filter.outPort !== undefined && !outputsTo(f, filter.outPort)) continue;
      if (covers(match, f.match)) this.remove(key, f);
    }
  }

  private candidates(filter: FlowFilter): Iterable<string> {
    const inPort = filter.match?.inPort;
    if (inPort !== undefined) return this.byInPort.get(inPort) ?? [];
    if (filter.table !== undefined) return this.byTable.get(filter.table) ?? [];
    return this.byKey.keys();
  }

  private remove(key: string, f: Flow): void {
    this.byKey.delete(key);
    unindex(this.byTable, f.table, key);
    if (f.match.inPort !== undefined) unindex(this.byInPort, f.match.inPort, key);
  }
}

function index(m: Map<number, Set<string>>, k: number, key: string): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(key);
}

function unindex(m: Map<number, Set<string>>, k: number, key: string): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(key);
  if (s.size === 0) m.delete(k);
}
