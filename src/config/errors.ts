// Errors raised while loading the agent configuration.
//
// Unlike oslo.config (which validates lazily and reports "Value for option X
// from LocationInfo(...) is not valid"), every problem found while loading is
// collected and thrown as ONE ConfigError whose message names the file (and
// line), the section, the option and what was expected.

/** Where a value came from: a file (with line), the command line, or the built-in default. */
export type OptionOrigin =
  | { readonly kind: 'file'; readonly file: string; readonly line: number; readonly section: string }
  | { readonly kind: 'cli'; readonly flag: string }
  | { readonly kind: 'default' };

export interface ConfigProblem {
  /** Canonical group name: 'DEFAULT', 'ovs', 'agent', ... (undefined for file/CLI-level problems). */
  readonly group?: string;
  readonly option?: string;
  /** Value as shown to the operator (secrets already redacted). */
  readonly value?: string;
  readonly origin?: OptionOrigin;
  /** What was wrong / expected, e.g. "expected an integer between 0 and 65535". */
  readonly reason: string;
}

export function formatOrigin(origin: OptionOrigin): string {
  switch (origin.kind) {
    case 'file': return `${origin.file}:${origin.line}`;
    case 'cli': return origin.flag ? `command line ${origin.flag}` : 'command line';
    case 'default': return 'default value';
  }
}

/** One line per problem: "<file>:<line>: [<group>] <option> = '<value>': <reason>". */
export function formatProblem(p: ConfigProblem): string {
  const parts: string[] = [];
  if (p.origin) parts.push(formatOrigin(p.origin));
  if (p.option !== undefined) {
    let s = `[${p.group ?? 'DEFAULT'}] ${p.option}`;
    if (p.value !== undefined) s += ` = '${p.value}'`;
    parts.push(s);
  }
  parts.push(p.reason);
  return parts.join(': ');
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: readonly ConfigProblem[];
  constructor(problems: ConfigProblem | readonly ConfigProblem[]) {
    const list = Array.isArray(problems) ? (problems as readonly ConfigProblem[]) : [problems as ConfigProblem];
    super(list.length === 1
      ? formatProblem(list[0]!)
      : `${list.length} configuration problems:\n` + list.map((p) => '  ' + formatProblem(p)).join('\n'));
    this.problems = list;
  }
  /** File of the first problem, if it came from a file. */
  get file(): string | undefined {
    const o = this.problems[0]?.origin;
    return o?.kind === 'file' ? o.file : undefined;
  }
}

/** `--help`/`-h` on the command line: the caller prints `usage` and exits 0. */
export class HelpRequested extends Error {
  override readonly name = 'HelpRequested';
  constructor(readonly usage: string) {
    super('help requested');
  }
}

/** `--version` on the command line: the caller prints `version` and exits 0. */
export class VersionRequested extends Error {
  override readonly name = 'VersionRequested';
  constructor(readonly version: string) {
    super('version requested');
  }
}
