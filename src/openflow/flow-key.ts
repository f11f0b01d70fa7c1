// OpenFlow's identity of a flow (table, priority, match) as a string key, shared by whatever keeps
// flow sets: the firewall's owned tables and the bridges' desired-flow registry.
import type { Flow } from './flow.js';

function valueKey(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v);
  const o = v as Record<string, unknown>;
  // Masked<T>: the common case, kept cheap.
  if ('value' in o) return o.mask === undefined ? String(o.value) : `${String(o.value)}/${String(o.mask)}`;
  return Object.keys(o)
    .sort()
    .map((k) => `${k}:${valueKey(o[k])}`)
    .join(',');
}

/**
 * OpenFlow's identity of a flow: table, priority and match. Canonical (fields sorted), so two
 * matches with the same fields are one key whatever order their properties were written in.
 */
export function flowKey(f: Pick<Flow, 'table' | 'priority' | 'match'>): string {
  const m = f.match as Record<string, unknown>;
  let key = `${f.table}|${f.priority}`;
  for (const field of Object.keys(m).sort()) {
    const v = m[field];
    if (v !== undefined) key += `|${field}=${valueKey(v)}`;
  }
  return key;
}
