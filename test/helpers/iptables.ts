// Reading the kernel's iptables, ip6tables and ipset state in a form that compares across runs:
// counters, timestamps and per-boot hash seeds stripped. Used to capture the reference agent's rules
// and to compare ours with them.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** `iptables-save` text without comment lines and with every counter reset to [0:0]. */
export function normalizeIptablesSave(text: string): string {
  return (
    text
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'))
      .join('\n') + '\n'
  );
}

/**
 * `ipset list` text with what differs between identical sets removed (hash seed, memory size),
 * sets sorted by name and members sorted.
 */
export function normalizeIpsetList(text: string): string {
  const sets: string[] = [];
  for (const block of text.split(/\n(?=Name: )/)) {
    if (!block.trim()) continue;
    const lines = block.split('\n').filter((l) => l !== '');
    const head: string[] = [];
    const members: string[] = [];
    let inMembers = false;
    for (const l of lines) {
      if (inMembers) members.push(l.trim());
      else if (l.startsWith('Members:')) inMembers = true;
      else if (l.startsWith('Size in memory:')) continue;
      else head.push(l.startsWith('Header:') ? l.replace(/ initval 0x[0-9a-f]+/, '') : l);
    }
    sets.push([...head, 'Members:', ...members.sort()].join('\n'));
  }
  sets.sort();
  return sets.length ? sets.join('\n\n') + '\n' : '';
}

/** Commands run in this process's network namespace, or in the named one. */
async function out(cmd: string, args: string[], netns?: string): Promise<string> {
  const [c, a] = netns ? ['ip', ['netns', 'exec', netns, cmd, ...args]] : [cmd, args];
  try {
    return (await run(c, a, { maxBuffer: 64 << 20 })).stdout;
  } catch (e) {
    throw new Error(`${cmd} ${args.join(' ')}: ${(e as { stderr?: string }).stderr?.trim() || String(e)}`);
  }
}

/** The normalised rule sets and ipsets of this network namespace. */
export async function saveFirewallState(netns?: string): Promise<{ iptables: string; ip6tables: string; ipset: string }> {
  const [v4, v6, sets] = await Promise.all([out('iptables-save', [], netns), out('ip6tables-save', [], netns), out('ipset', ['list'], netns)]);
  return { iptables: normalizeIptablesSave(v4), ip6tables: normalizeIptablesSave(v6), ipset: normalizeIpsetList(sets) };
}

/** Empties every iptables/ip6tables table and destroys every ipset of this network namespace. */
export async function resetFirewallState(netns?: string): Promise<void> {
  for (const cmd of ['iptables', 'ip6tables']) {
    for (const table of ['raw', 'filter']) {
      await out(cmd, ['-t', table, '-F'], netns);
      await out(cmd, ['-t', table, '-X'], netns);
    }
  }
  await out('ipset', ['destroy'], netns);
}
