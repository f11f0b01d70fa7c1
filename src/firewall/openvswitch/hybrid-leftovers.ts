// Migration from iptables_hybrid to the openvswitch firewall: a host whose VMs were plugged the
// hybrid way keeps its qvo ports on br-int (nothing is re-plugged), but the old driver's iptables
// chains and ipsets stay in the kernel until someone removes them. As the reference's OVS firewall
// does (openvswitch_firewall/iptables.py), once ports with hybrid plugging are filtered by flows
// the old driver's rules go, once per bridge: the bridge is then marked
// Bridge other_config:iptables_cleaned=true and not looked at again.
// Unlike the reference, which keeps the old driver's empty skeleton (its generic chains and jumps),
// every `neutron-openvswi-` chain, the jumps to it and the driver's ipsets are removed.
import { execCommand, type Exec } from '../iptables/apply.js';
import { parseSave } from '../iptables/save.js';
import { BUILTIN_CHAINS, WRAP_NAME } from '../iptables/tables.js';
import { getLogger } from '../../util/log.js';

const LOG = getLogger('firewall.openvswitch');

/** Prefix of the br-int port os-vif makes for a hybrid-plugged VM (qvo<port id>). */
export const HYBRID_PORT_PREFIX = 'qvo';
/** The Bridge other_config key the reference sets once the hybrid leftovers are gone. */
export const IPTABLES_CLEANED = 'iptables_cleaned';

const OWN_PREFIX = `${WRAP_NAME}-`;
/** Chain shared by every neutron iptables manager of a namespace; it goes only when nothing else uses it. */
const FILTER_TOP = 'neutron-filter-top';
/** The old driver's ipsets: `N` + ethertype + security group id. */
const OWN_IPSET = /^NIPv[46]/;

/** Where the "already cleaned" mark is kept: br-int's Bridge.other_config. */
export interface CleanedMark {
  isCleaned(): Promise<boolean>;
  markCleaned(): Promise<void>;
}

/** The mark in OVSDB, through anything that reads and merges a bridge's other_config. */
export function bridgeCleanedMark(
  bridge: string,
  db: { otherConfig(bridge: string): Map<string, string> | undefined; setBridgeOtherConfig(bridge: string, kv: Record<string, string>): Promise<void> },
): CleanedMark {
  return {
    isCleaned: async () => (db.otherConfig(bridge)?.get(IPTABLES_CLEANED) ?? '').toLowerCase() === 'true',
    markCleaned: () => db.setBridgeOtherConfig(bridge, { [IPTABLES_CLEANED]: 'true' }),
  };
}

/**
 * The iptables-restore input removing the old driver from one iptables-save dump: its rules in
 * built-in chains and in neutron-filter-top deleted, its chains flushed then deleted, and
 * neutron-filter-top with its jumps if nothing but the driver used it. Empty when nothing is left.
 */
export function planLeftoverRemoval(saveText: string): string {
  const out: string[] = [];
  for (const t of parseSave(saveText).values()) {
    const own = [...t.chains.keys()].filter((c) => c.startsWith(OWN_PREFIX));
    const top = t.rules.get(FILTER_TOP);
    const topOnlyOurs = top !== undefined && top.every((r) => /-j neutron-openvswi-\S+$/.test(r));
    if (own.length === 0 && !(top !== undefined && topOnlyOurs && t.chains.has(FILTER_TOP))) continue;
    const lines: string[] = [];
    const builtins = (BUILTIN_CHAINS as Record<string, readonly string[]>)[t.name] ?? [];
    const targetIsGone = (r: string): boolean => /-j neutron-openvswi-\S+$/.test(r) || (topOnlyOurs && r.endsWith(`-j ${FILTER_TOP}`));
    for (const chain of [...builtins, ...(topOnlyOurs ? [] : [FILTER_TOP])]) {
      for (const r of t.rules.get(chain) ?? []) if (targetIsGone(r)) lines.push(`-D ${chain} ${r}`);
    }
    const gone = [...own, ...(topOnlyOurs ? [FILTER_TOP] : [])];
    for (const c of gone) lines.push(`-F ${c}`);
    for (const c of gone) lines.push(`-X ${c}`);
    if (lines.length) out.push(`*${t.name}`, ...lines, 'COMMIT');
  }
  return out.length ? out.join('\n') + '\n' : '';
}

export interface HybridLeftoversOptions {
  /** Runs iptables-save, iptables-restore, ipset (default: for real, in the agent's namespace). */
  exec?: Exec;
  /** Where "cleaned" is remembered; without it the kernel's state alone tells (an idle host's check is one save). */
  mark?: CleanedMark;
}

/** Removes the iptables_hybrid driver's rules and ipsets once hybrid-plugged ports are filtered by flows. */
export class HybridIptablesLeftovers {
  private done = false;
  private readonly exec: Exec;

  constructor(private readonly options: HybridLeftoversOptions = {}) {
    this.exec = options.exec ?? execCommand;
  }

  /**
   * Called after a pass's flows are in place with the br-int port names it filtered: the first
   * time one of them is a hybrid port, the old driver's rules and sets are removed (its ports are
   * filtered by flows from then on, so no window opens). Throws with context if iptables or ipset
   * fail; the next pass then tries again.
   */
  async portsFiltered(vifNames: readonly string[]): Promise<void> {
    if (this.done || !vifNames.some((n) => n.startsWith(HYBRID_PORT_PREFIX))) return;
    if (await this.options.mark?.isCleaned()) {
      this.done = true;
      return;
    }
    const removed = await this.removeAll();
    await this.options.mark?.markCleaned();
    this.done = true;
    if (removed.chains + removed.ipsets > 0) {
      LOG.info(`iptables_hybrid leftovers removed: ${removed.chains} chains, ${removed.ipsets} ipsets (ports with hybrid plugging are filtered by flows now)`);
    }
  }

  /** Every chain, jump and ipset of the old driver, in both families; returns how many went. */
  async removeAll(): Promise<{ chains: number; ipsets: number }> {
    let chains = 0;
    for (const [save, restore] of [['iptables-save', 'iptables-restore'], ['ip6tables-save', 'ip6tables-restore']] as const) {
      const text = await this.exec(save, []).catch((e: unknown) => {
        throw new Error(`reading the iptables_hybrid leftovers: ${(e as Error).message}`);
      });
      const plan = planLeftoverRemoval(text);
      if (!plan) continue;
      chains += plan.split('\n').filter((l) => l.startsWith('-X ')).length;
      await this.exec(restore, ['--noflush'], plan).catch((e: unknown) => {
        throw new Error(`removing the iptables_hybrid leftovers (${restore} --noflush):\n${plan}${(e as Error).message}`);
      });
    }
    // Sets after the rules that referred to them: a referenced set cannot be destroyed.
    const names = (await this.exec('ipset', ['list', '-n']).catch((e: unknown) => {
      throw new Error(`listing ipsets of the iptables_hybrid driver: ${(e as Error).message}`);
    }))
      .split('\n')
      .map((l) => l.trim())
      .filter((n) => OWN_IPSET.test(n));
    for (const n of names) {
      await this.exec('ipset', ['destroy', n]).catch((e: unknown) => {
        throw new Error(`destroying ipset ${n} of the iptables_hybrid driver: ${(e as Error).message}`);
      });
    }
    return { chains, ipsets: names.length };
  }
}
