// The agent's part of one iptables table (filter or raw, IPv4 or IPv6): which chains it owns and
// the rules it wants in them, in order. Chains the agent creates are "wrapped": prefixed with the
// binary name as the reference's iptables_manager does (`neutron-openvswi-`), so rules of the
// reference agent and of ours are recognised as the same agent's and taken over. Built-in chains
// (INPUT, FORWARD, ...) and the shared `neutron-filter-top` are not wrapped: there the agent's
// rules go first and other rules are left where they are.

/** `neutron-openvswitch-agent` cut to 16 characters, as the reference derives it from argv[0]. */
export const WRAP_NAME = 'neutron-openvswi';
/** Longest wrapped chain name after the prefix: iptables allows 28 characters in all. */
export const MAX_WRAPPED_CHAIN_LEN = 11;
export const MAX_CHAIN_LEN = 28;

export type TableName = 'filter' | 'raw';
export type IpVersion = 4 | 6;

export const BUILTIN_CHAINS: Record<TableName, readonly string[]> = {
  filter: ['INPUT', 'FORWARD', 'OUTPUT'],
  raw: ['PREROUTING', 'OUTPUT'],
};

/** The full name of a wrapped chain: `neutron-openvswi-<name cut to 11>`. */
export function wrappedChain(name: string): string {
  return `${WRAP_NAME}-${name.slice(0, MAX_WRAPPED_CHAIN_LEN)}`;
}

/**
 * Inserts the comment match where iptables-save prints it: before the target (`-j`), or at the
 * end of a rule without one.
 */
export function withComment(rule: string, comment: string | undefined): string {
  if (!comment) return rule;
  const c = `-m comment --comment "${comment}"`;
  if (rule.startsWith('-j')) return `${c} ${rule}`;
  const j = rule.indexOf(' -j ');
  return j < 0 ? `${rule} ${c}` : `${rule.slice(0, j)} ${c} ${rule.slice(j + 1)}`;
}

export interface TableRule {
  /** Full chain name. */
  chain: string;
  /** The rule as iptables-save prints it after `-A <chain> `. */
  spec: string;
  /** Before the agent's other rules of the chain. */
  top: boolean;
}

export class AgentTable {
  /** Chains the agent owns (full names), wrapped and unwrapped. */
  readonly chains = new Set<string>();
  /** Per chain, its rules in the order added (thousands of ports: looked up by chain, never scanned). */
  private readonly byChain = new Map<string, TableRule[]>();
  private readonly specs = new Map<string, Set<string>>();

  constructor(
    readonly version: IpVersion,
    readonly name: TableName,
  ) {}

  /** Declares a wrapped chain; returns its full name. */
  addChain(shortName: string): string {
    const full = wrappedChain(shortName);
    this.chains.add(full);
    return full;
  }

  addUnwrappedChain(full: string): void {
    this.chains.add(full.slice(0, MAX_CHAIN_LEN));
  }

  /**
   * Adds a rule. `$name` in the rule is a jump to wrapped chain `name`. A rule added twice is
   * kept once, at its last place (as the reference's duplicate sweep leaves it): an allowed
   * address pair may repeat a fixed IP, for one.
   */
  addRule(chain: string, rule: string, opts: { top?: boolean; comment?: string } = {}): void {
    if (!this.chains.has(chain) && !BUILTIN_CHAINS[this.name].includes(chain)) {
      throw new Error(`${this.label}: rule for unknown chain ${chain}: ${rule}`);
    }
    const spec = withComment(
      rule.split(' ').map((w) => (w.startsWith('$') ? wrappedChain(w.slice(1)) : w)).join(' '),
      opts.comment,
    );
    let list = this.byChain.get(chain);
    let specs = this.specs.get(chain);
    if (!list || !specs) {
      this.byChain.set(chain, (list = []));
      this.specs.set(chain, (specs = new Set()));
    }
    if (specs.has(spec)) list.splice(list.findIndex((r) => r.spec === spec), 1);
    specs.add(spec);
    list.push({ chain, spec, top: opts.top ?? false });
  }

  get label(): string {
    return `${this.version === 4 ? 'iptables' : 'ip6tables'} ${this.name}`;
  }

  /** The agent's rules of a chain in their final order (top rules first). */
  chainRules(chain: string): string[] {
    const of = this.byChain.get(chain) ?? [];
    return [...of.filter((r) => r.top), ...of.filter((r) => !r.top)].map((r) => r.spec);
  }
}
