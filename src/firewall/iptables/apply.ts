// Putting the generated firewall into the kernel: per pass one `ipset restore` for the sets that
// changed, one `iptables-restore --noflush` (and one `ip6tables-restore`) holding every table that
// changed, each table committed atomically, then one `ipset restore` destroying sets no rule uses
// any more. What is there is read first (iptables-save, ipset save): chains of this agent or of the
// reference (same `neutron-openvswi-` names) that already hold the wanted rules are left alone,
// others are rewritten, chains of ports that are gone are removed. Rules of other programs in the
// built-in chains stay where they are; the agent's go first, as the reference puts them.
import { spawn } from 'node:child_process';
import { canonicalCidr } from './addresses.js';
import type { GeneratedFirewall } from './generate.js';
import { parseSave, type SavedTable } from './save.js';
import { BUILTIN_CHAINS, WRAP_NAME, type AgentTable, type IpVersion, type TableName } from './tables.js';
import { ConntrackZones } from './zones.js';

/** Runs a command with `input` on stdin; resolves to its stdout, rejects with its stderr and exit code. */
export type Exec = (cmd: string, args: readonly string[], input?: string) => Promise<string>;

export const execCommand: Exec = (cmd, args, input) =>
  new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`));
    });
    child.stdin.on('error', () => undefined); // a command that exits early closes its stdin; its exit code tells
    child.stdin.end(input ?? '');
  });

const SHARED_USER_CHAINS = ['neutron-filter-top'];
const OWN_PREFIX = `${WRAP_NAME}-`;
/** The reference's ipset names: `N` + ethertype + group id. */
const OWN_IPSET = /^NIPv[46]/;
const IPSET_SWAP_SUFFIX = '-n';

function isOwnChain(chain: string): boolean {
  return chain.startsWith(OWN_PREFIX);
}

function sameList(a: readonly string[] | undefined, b: readonly string[]): boolean {
  return a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The iptables-restore input (without COMMIT framing) taking `current` to the agent's `desired`
 * table, or an empty list when nothing changes.
 */
export function planTable(current: SavedTable | undefined, desired: AgentTable): string[] {
  const decls: string[] = [];
  const deletes: string[] = [];
  const appends: string[] = [];
  const inserts: string[] = [];
  const removes: string[] = [];
  const shared = [...BUILTIN_CHAINS[desired.name], ...SHARED_USER_CHAINS];
  // Built-in and shared chains: the agent's rules first, everyone else's after, untouched.
  for (const chain of shared) {
    const want = desired.chainRules(chain);
    const have = current?.rules.get(chain);
    const wantSet = new Set(want);
    const ours = (have ?? []).filter((r) => wantSet.has(r) || r.includes(` ${OWN_PREFIX}`));
    const foreign = (have ?? []).filter((r) => !(wantSet.has(r) || r.includes(` ${OWN_PREFIX}`)));
    if (want.length === 0 && ours.length === 0) continue;
    if (sameList(have, [...want, ...foreign])) continue;
    if (!BUILTIN_CHAINS[desired.name].includes(chain) && !current?.chains.has(chain)) decls.push(`:${chain} - [0:0]`);
    for (const r of ours) deletes.push(`-D ${chain} ${r}`);
    want.forEach((r, i) => inserts.push(`-I ${chain} ${i + 1} ${r}`));
  }
  // The agent's own chains: rewritten whole when they differ (declaring an existing chain flushes it).
  const wanted = [...desired.chains].filter((c) => !shared.includes(c));
  for (const chain of wanted) {
    const want = desired.chainRules(chain);
    if (sameList(current?.rules.get(chain), want) && current?.chains.has(chain)) continue;
    decls.push(`:${chain} - [0:0]`);
    for (const r of want) appends.push(`-A ${chain} ${r}`);
  }
  for (const chain of current?.chains.keys() ?? []) {
    if (!isOwnChain(chain) || desired.chains.has(chain)) continue;
    decls.push(`:${chain} - [0:0]`);
    removes.push(`-X ${chain}`);
  }
  const body = [...decls, ...deletes, ...appends, ...inserts, ...removes];
  return body.length ? [`*${desired.name}`, ...body, 'COMMIT'] : [];
}

/** The restore input for every table of one IP version that changed ('' when none did). */
export function planRestore(saveText: string, tables: Record<TableName, AgentTable>): string {
  const current = parseSave(saveText);
  const lines = (['raw', 'filter'] as const).flatMap((t) => planTable(current.get(t), tables[t]));
  return lines.length ? lines.join('\n') + '\n' : '';
}

/** Members of the agent's ipsets as `ipset save` lists them (host entries given their /32 or /128). */
export function parseIpsetSave(text: string): Map<string, { family: string; members: Set<string> }> {
  const sets = new Map<string, { family: string; members: Set<string> }>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'create' && f[1]) {
      const i = f.indexOf('family');
      sets.set(f[1], { family: i > 0 ? f[i + 1] ?? 'inet' : 'inet', members: new Set() });
    } else if (f[0] === 'add' && f[1] && f[2]) {
      sets.get(f[1])?.members.add(canonicalCidr(f[2]));
    }
  }
  return sets;
}

export interface IpsetPlan {
  /** `ipset restore -exist` input filling new and changed sets ('' when none). */
  fill: string;
  /** `ipset restore` input destroying the agent's sets nothing needs any more ('' when none). */
  destroy: string;
  changed: string[];
  destroyed: string[];
}

/**
 * New and changed sets are filled under a temporary name and swapped in, so a set is never seen
 * half filled (the reference's refresh); sets no rule refers to are destroyed after the rules.
 */
export function planIpsets(saveText: string, desired: GeneratedFirewall['ipsets']): IpsetPlan {
  const current = parseIpsetSave(saveText);
  const fill: string[] = [];
  const changed: string[] = [];
  for (const [name, want] of desired) {
    const members = want.members.map(canonicalCidr);
    const have = current.get(name);
    if (have && have.family === want.family && have.members.size === members.length && members.every((m) => have.members.has(m))) continue;
    changed.push(name);
    const tmp = `${name}${IPSET_SWAP_SUFFIX}`;
    fill.push(`create ${tmp} hash:net family ${want.family}`, `flush ${tmp}`);
    for (const m of members) fill.push(`add ${tmp} ${m}`);
    fill.push(`create ${name} hash:net family ${want.family}`, `swap ${tmp} ${name}`, `destroy ${tmp}`);
  }
  const destroyed = [...current.keys()].filter((n) => OWN_IPSET.test(n) && !desired.has(n));
  return {
    fill: fill.length ? fill.join('\n') + '\n' : '',
    destroy: destroyed.length ? destroyed.map((n) => `destroy ${n}`).join('\n') + '\n' : '',
    changed,
    destroyed,
  };
}

export interface ApplyResult {
  /** Restore processes run (ipset and ip(6)tables). */
  processes: number;
  /** Tables rewritten, as `iptables filter`. */
  tables: string[];
  ipsetsChanged: string[];
  ipsetsDestroyed: string[];
}

const SAVE: Record<IpVersion, string> = { 4: 'iptables-save', 6: 'ip6tables-save' };
const RESTORE: Record<IpVersion, string> = { 4: 'iptables-restore', 6: 'ip6tables-restore' };

export class IptablesApplier {
  constructor(private readonly exec: Exec = execCommand) {}

  /** Conntrack zones the agent (or the reference) gave ports, read from the raw table. */
  async readZones(): Promise<ConntrackZones> {
    const raw = parseSave(await this.exec(SAVE[4], ['-t', 'raw'])).get('raw');
    return ConntrackZones.fromRawRules(raw?.rules.get(`${OWN_PREFIX}PREROUTING`) ?? []);
  }

  async apply(desired: GeneratedFirewall): Promise<ApplyResult> {
    const result: ApplyResult = { processes: 0, tables: [], ipsetsChanged: [], ipsetsDestroyed: [] };
    const sets = planIpsets(await this.exec('ipset', ['save']), desired.ipsets);
    if (sets.fill) {
      await this.restore('ipset', ['restore', '-exist'], sets.fill, 'filling ipsets');
      result.processes++;
      result.ipsetsChanged = sets.changed;
    }
    for (const v of [4, 6] as const) {
      const input = planRestore(await this.exec(SAVE[v], []), desired.tables[v]);
      if (!input) continue;
      await this.restore(RESTORE[v], ['-w', '10', '--noflush'], input, `applying IPv${v} rules`);
      result.processes++;
      for (const m of input.matchAll(/^\*(\w+)$/gm)) result.tables.push(`${v === 4 ? 'iptables' : 'ip6tables'} ${m[1]}`);
    }
    if (sets.destroy) {
      await this.restore('ipset', ['restore'], sets.destroy, 'destroying unused ipsets');
      result.processes++;
      result.ipsetsDestroyed = sets.destroyed;
    }
    return result;
  }

  private async restore(cmd: string, args: string[], input: string, what: string): Promise<void> {
    try {
      await this.exec(cmd, args, input);
    } catch (e) {
      // the failing line number is in the error; show the input around it
      const lines = input.split('\n');
      const n = Number(/line:? (\d+)/i.exec(String(e))?.[1] ?? 0);
      const from = Math.max(0, n - 4);
      const context = lines.slice(from, n ? n + 3 : 12).map((l, i) => `${from + i + 1}: ${l}`).join('\n');
      throw new Error(`${what}: ${e instanceof Error ? e.message : String(e)}\n${context}`);
    }
  }
}

/**
 * Lets iptables see traffic crossing Linux bridges (the qbr bridges of hybrid plugging): without
 * it no rule of the firewall ever matches. One sysctl process at start.
 */
export async function enableBridgeNetfilter(exec: Exec = execCommand): Promise<void> {
  try {
    await exec('sysctl', ['-w', 'net.bridge.bridge-nf-call-iptables=1', 'net.bridge.bridge-nf-call-ip6tables=1']);
  } catch (e) {
    throw new Error(`cannot enable iptables on bridged traffic (is br_netfilter loaded?): ${e instanceof Error ? e.message : String(e)}`);
  }
}
