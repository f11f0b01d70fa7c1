// Command-line parsing with oslo.config's argparse behaviour for the agent:
// repeated --config-file / --config-dir (kept in argv order, because each file is
// parsed when argparse meets it), the oslo.log/neutron CLI options (--debug/-d,
// --log-file, --log-dir, --state_path, ...) which beat every file, and --help.
import { ConfigError } from './errors.js';
import { cliOptions, GROUP_NAMES, groupOptions, type OptionDef } from './options.js';

export interface ConfigSource {
  readonly kind: 'file' | 'dir';
  /** Path as given on the command line. */
  readonly path: string;
}

export interface CliValue {
  /** Raw string for value options; boolean for flags such as --debug / --nodebug. */
  readonly raw: string | boolean;
  /** The flag as written, for error messages. */
  readonly flag: string;
}

export interface ParsedArgs {
  readonly sources: readonly ConfigSource[];
  /** [DEFAULT] option name → last value given on the command line. */
  readonly values: ReadonlyMap<string, CliValue>;
  readonly help: boolean;
  readonly version: boolean;
}

interface FlagTarget {
  readonly option: string;
  readonly takesValue: boolean;
  /** For boolean flags: the value set (false for --noX). */
  readonly flagValue?: boolean;
}

function longNames(name: string, def: OptionDef<unknown>): string[] {
  const names = new Set<string>([name.replace(/_/g, '-'), name]);
  for (const a of def.cli?.aliases ?? []) names.add(a);
  return [...names];
}

function flagTable(): Map<string, FlagTarget> {
  const table = new Map<string, FlagTarget>();
  for (const [name, def] of cliOptions()) {
    const isBool = def.kind === 'bool';
    for (const n of longNames(name, def)) {
      table.set(`--${n}`, isBool ? { option: name, takesValue: false, flagValue: true } : { option: name, takesValue: true });
      if (isBool) table.set(`--no${n}`, { option: name, takesValue: false, flagValue: false });
    }
    if (def.cli?.short) {
      table.set(`-${def.cli.short}`, isBool ? { option: name, takesValue: false, flagValue: true } : { option: name, takesValue: true });
    }
  }
  return table;
}

function usageError(reason: string): ConfigError {
  return new ConfigError({ origin: { kind: 'cli', flag: '' }, reason: `${reason} (see --help)` });
}

export function parseArgs(argv: readonly string[]): ParsedArgs {
  const table = flagTable();
  const sources: ConfigSource[] = [];
  const values = new Map<string, CliValue>();
  let help = false;
  let version = false;

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') { help = true; continue; }
    if (arg === '--version') { version = true; continue; }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const inline = eq > 0 ? arg.slice(eq + 1) : undefined;

    const takeValue = (): string => {
      if (inline !== undefined) return inline;
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('-') && next.length > 1)) {
        throw usageError(`argument ${flag}: expected one argument`);
      }
      i++;
      return next;
    };

    if (flag === '--config-file' || flag === '--config_file') {
      sources.push({ kind: 'file', path: takeValue() });
      continue;
    }
    if (flag === '--config-dir' || flag === '--config_dir') {
      sources.push({ kind: 'dir', path: takeValue() });
      continue;
    }
    const target = table.get(flag);
    if (!target) throw usageError(`unrecognized arguments: ${arg}`);
    if (target.takesValue) {
      values.set(target.option, { raw: takeValue(), flag });
    } else {
      if (inline !== undefined) throw usageError(`argument ${flag}: ignored explicit argument '${inline}'`);
      values.set(target.option, { raw: target.flagValue ?? true, flag });
    }
  }
  return { sources, values, help, version };
}

function describeDefault(def: OptionDef<unknown>): string {
  if (def.secret) return '<secret>';
  if (typeof def.default === 'function') return '<hostname of this machine>';
  const d = def.default;
  if (d === null || d === undefined) return '<None>';
  if (Array.isArray(d)) return d.join(',');
  if (typeof d === 'object') return Object.entries(d as Record<string, string>).map(([k, v]) => `${k}:${v}`).join(',');
  return String(d);
}

function typeName(def: OptionDef<unknown>): string {
  let t: string = {
    str: 'string', bool: 'boolean', int: 'integer', float: 'floating point', port: 'port',
    ip: 'IP address', hostaddress: 'host address', list: 'list', dict: 'dict',
  }[def.kind];
  if (def.choices) t += `, one of ${def.choices.join('|')}`;
  if (def.kind !== 'port' && (def.min !== undefined || def.max !== undefined)) {
    t += `, ${def.min ?? ''}..${def.max ?? ''}`;
  }
  return t;
}

/** Usage text in the spirit of argparse, followed by every configuration-file option. */
export function usageText(prog = 'neutron-openvswitch-agent'): string {
  const out: string[] = [];
  out.push(`usage: ${prog} [-h] [--config-dir DIR] [--config-file PATH] [--debug] [--log-file PATH] [--log-dir LOG_DIR] [--state_path STATE_PATH] [--version] ...`);
  out.push('');
  out.push('Open vSwitch L2 agent for OpenStack Neutron.');
  out.push('');
  out.push('command line options:');
  out.push('  -h, --help            show this help message and exit');
  out.push('  --config-file PATH    Path to a config file to use. Repeatable; files are parsed in');
  out.push('                        command-line order and a later file overrides an earlier one.');
  out.push('                        Default: neutron.conf and neutron-openvswitch-agent.conf in');
  out.push('                        ~/.neutron/, ~/, /etc/neutron/, /etc/.');
  out.push('  --config-dir DIR      Parse every DIR/*.conf, sorted by name, at this position.');
  out.push('  --version             show program\'s version number and exit');
  for (const [name, def] of cliOptions()) {
    const longs = longNames(name, def).map((n) => `--${n}`);
    const flags = [...(def.cli?.short ? [`-${def.cli.short}`] : []), ...longs];
    let head = flags.join(', ');
    if (def.kind === 'bool') head += `, --no${name.replace(/_/g, '-')}`;
    else head += ` ${def.cli?.metavar ?? name.toUpperCase()}`;
    out.push(`  ${head}`);
    out.push(`                        ${def.help}`);
  }
  out.push('');
  out.push('configuration file options ([section] option (type) = default):');
  for (const group of GROUP_NAMES) {
    out.push('');
    out.push(`[${group}]`);
    for (const [name, def] of groupOptions(group)) {
      out.push(`  ${name} (${typeName(def)}) = ${describeDefault(def)}`);
      out.push(`      ${def.help}`);
      const dep = def.deprecatedNames.map((d) => `[${d.group ?? group}] ${d.name ?? name}`);
      if (dep.length) out.push(`      Deprecated spelling: ${dep.join(', ')}`);
    }
  }
  return out.join('\n') + '\n';
}
