// iptables-save text: reading what the kernel holds, and writing what the agent wants in the same
// form, so both compare line by line.
import { BUILTIN_CHAINS, type AgentTable, type TableName } from './tables.js';

/** One table of an iptables-save dump: chain declarations (name -> policy or '-') and rules per chain. */
export interface SavedTable {
  name: string;
  /** Chain -> policy (`ACCEPT`, `DROP`) for built-ins, `-` for user chains; in dump order. */
  chains: Map<string, string>;
  /** Chain -> its rules (text after `-A <chain> `), in order. */
  rules: Map<string, string[]>;
}

/** Parses iptables-save output (comments and counters ignored). */
export function parseSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let cur: SavedTable | undefined;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('*')) {
      cur = { name: line.slice(1), chains: new Map(), rules: new Map() };
      tables.set(cur.name, cur);
    } else if (line === 'COMMIT') {
      cur = undefined;
    } else if (!cur) {
      throw new Error(`iptables-save line ${i + 1} outside a table: ${line}`);
    } else if (line.startsWith(':')) {
      const [name, policy] = line.slice(1).split(' ');
      cur.chains.set(name!, policy ?? '-');
      if (!cur.rules.has(name!)) cur.rules.set(name!, []);
    } else if (line.startsWith('-A ')) {
      const sp = line.indexOf(' ', 3);
      const chain = sp < 0 ? line.slice(3) : line.slice(3, sp);
      const spec = sp < 0 ? '' : line.slice(sp + 1);
      const list = cur.rules.get(chain) ?? [];
      list.push(spec);
      cur.rules.set(chain, list);
    } else {
      throw new Error(`iptables-save line ${i + 1} not understood: ${line}`);
    }
  }
  return tables;
}

function builtinsOf(name: string): readonly string[] {
  return (BUILTIN_CHAINS as Record<string, readonly string[]>)[name] ?? [];
}

/**
 * A dump in one canonical order: tables by name, built-in chains in their fixed order, then user
 * chains sorted, each chain's rules in their order; counters zero. Whether a kernel lists chains by
 * name or by creation, equal rule sets give equal text.
 */
export function canonicalSave(text: string): string {
  const out: string[] = [];
  for (const t of [...parseSave(text).values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    out.push(`*${t.name}`);
    const builtins = builtinsOf(t.name).filter((c) => t.chains.has(c));
    const others = [...t.chains.keys()].filter((c) => !builtins.includes(c)).sort();
    for (const c of [...builtins, ...others]) out.push(`:${c} ${t.chains.get(c)} [0:0]`);
    for (const c of [...builtins, ...others]) for (const r of t.rules.get(c) ?? []) out.push(`-A ${c} ${r}`);
    out.push('COMMIT');
  }
  return out.join('\n') + '\n';
}

/** The table as iptables-save would print it on a host where only the agent has rules. */
export function renderTable(table: AgentTable): string {
  const builtins = BUILTIN_CHAINS[table.name as TableName];
  const own = [...table.chains].sort();
  const lines = [`*${table.name}`, ...builtins.map((c) => `:${c} ACCEPT [0:0]`), ...own.map((c) => `:${c} - [0:0]`)];
  for (const c of [...builtins, ...own]) for (const r of table.chainRules(c)) lines.push(`-A ${c} ${r}`);
  lines.push('COMMIT');
  return lines.join('\n') + '\n';
}
