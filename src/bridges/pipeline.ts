// Flows and names derived from the table declarations of tables.ts.
import type { Flow } from '../openflow/flow.js';
import { dropFlow, gotoFlow, normalFlow } from './flows.js';
import { INT_PIPELINE, PHYS_PIPELINE, TUN_PIPELINE, type TableSpec } from './tables.js';

export type BridgeKind = 'int' | 'tun' | 'phys';

const PIPELINES: Record<BridgeKind, readonly TableSpec[]> = { int: INT_PIPELINE, tun: TUN_PIPELINE, phys: PHYS_PIPELINE };

/** Table names of a bridge kind, by id, for people reading flows. */
export function tableNames(kind: BridgeKind): Map<number, string> {
  return new Map(PIPELINES[kind].map((t) => [t.id, t.name]));
}

/** The miss flow of each declared table that has one, for the tables `include` keeps. */
export function missFlows(pipeline: readonly TableSpec[], include: (t: TableSpec) => boolean = () => true): Flow[] {
  const idOf = new Map(pipeline.map((t) => [t.name, t.id]));
  const flows: Flow[] = [];
  for (const t of pipeline) {
    if (!include(t)) continue;
    const miss = t.miss;
    if (miss.kind === 'drop') flows.push(dropFlow(t.id, miss.priority));
    else if (miss.kind === 'normal') flows.push(normalFlow(t.id, miss.priority));
    else if (miss.kind === 'goto') {
      const target = idOf.get(miss.table);
      if (target === undefined) throw new Error(`table ${t.name}: miss goes to ${miss.table}, which the pipeline does not declare`);
      flows.push(gotoFlow(t.id, miss.priority, target));
    }
  }
  return flows;
}
