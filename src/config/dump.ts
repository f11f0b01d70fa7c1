// The configuration as the agent runs with it, logged at DEBUG at start-up as the reference does
// (oslo.config's log_opt_values): every option of every group, secret ones masked.
import { GROUP_NAMES, groupOptions } from './options.js';
import type { AgentConfig } from './loader.js';
import { shownOptionValue } from '../util/redact.js';

function pyText(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (Array.isArray(v)) return `[${v.map((x) => `'${String(x)}'`).join(', ')}]`;
  if (typeof v === 'object') return `{${Object.entries(v as Record<string, unknown>).map(([k, x]) => `'${k}': '${String(x)}'`).join(', ')}}`;
  return String(v);
}

/** Lines of the dump, in oslo's layout; `argv` is the command line the agent got. */
export function configDumpLines(cfg: AgentConfig, argv: readonly string[]): string[] {
  const lines = [
    '*'.repeat(80),
    'Configuration options gathered from:',
    `command line args: [${argv.map((a) => `'${a}'`).join(', ')}]`,
    `config files: [${cfg.configFiles.map((f) => `'${f}'`).join(', ')}]`,
    '='.repeat(80),
  ];
  const values = cfg as unknown as Record<string, Record<string, unknown>>;
  for (const g of GROUP_NAMES) {
    for (const [name, def] of groupOptions(g)) {
      const key = g === 'DEFAULT' ? name : `${g}.${name}`;
      const v = values[g]![name];
      const text = def.secret ? (v === null || v === undefined ? 'None' : shownOptionValue(true, String(v))) : pyText(v);
      lines.push(`${key} = ${text}`);
    }
  }
  lines.push('*'.repeat(80));
  return lines;
}
