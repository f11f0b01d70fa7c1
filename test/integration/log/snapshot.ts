// What the log extension leaves on a host, comparable across agents and runs: br-int's flows in the
// tables logging uses (91 accepted egress, 92 accepted ingress, 93 dropped) with their cookies, and
// br-int's Controller limits. Cookies are random in both agents: the bridge's own (the one on
// table 93's priority-0 drop) becomes `$bridge`, every other `$cN`, numbered in the order of the
// sorted flows, so two snapshots are equal when the same flows share a cookie in both.
// Logged packets' lines are compared by loggedLines(): ids named, the packet's varying fields masked.
import type { PrivateOvs } from '../../../lab/ovs.js';

export const LOG_TABLES = [91, 92, 93] as const;

export interface LogSnapshot {
  flows: string[];
  /** br-int's Controller rows: "rate/burst" each, sorted. */
  controllerLimits: string[];
}

function normaliseFlow(line: string): { cookie: string; text: string } {
  const cookie = /cookie=(0x[0-9a-f]+)/.exec(line)?.[1] ?? '0x0';
  const text = line
    .trim()
    .replace(/cookie=0x[0-9a-f]+, ?/, '')
    .replace(/\b(duration=[0-9.]+s|n_packets=\d+|n_bytes=\d+|idle_age=\d+|hard_age=\d+), ?/g, '')
    // The reference's ovs-ofctl adds set OFPFF_RESET_COUNTS; a flag, not a difference in the flow.
    .replace(/\breset_counts,? ?/g, '')
    .replace(/, (?=actions=)/, ' ')
    .replace(/ +/g, ' ')
    .trim();
  return { cookie, text };
}

export async function logSnapshot(ovs: PrivateOvs): Promise<LogSnapshot> {
  const lines: { cookie: string; text: string }[] = [];
  for (const t of LOG_TABLES) {
    const out = await ovs.ofctl('-O', 'OpenFlow13', 'dump-flows', 'br-int', `table=${t}`);
    for (const l of out.split('\n')) if (l.includes('cookie=')) lines.push(normaliseFlow(l));
  }
  lines.sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  const bridge = lines.find((l) => /^table=93, priority=0 /.test(l.text))?.cookie;
  const names = new Map<string, string>();
  const name = (c: string): string => {
    if (c === bridge) return '$bridge';
    let n = names.get(c);
    if (n === undefined) names.set(c, (n = `$c${names.size + 1}`));
    return n;
  };
  const flows = lines.map((l) => `cookie=${name(l.cookie)}, ${l.text}`);
  const limits = await ovs.vsctl('--bare', '--columns=controller_rate_limit,controller_burst_limit', 'find', 'Controller', `target!=""`);
  const controllerLimits = limits.split('\n\n').map((r) => r.split('\n').map((x) => x.trim() || '-').join('/')).filter((r) => r !== '-/-' && r !== '-').sort();
  return { flows, controllerLimits };
}

/**
 * The lines of logged packets, comparable: ids named (`<A>`, `<log-a>`), the list of log ids
 * sorted (the reference prints a Python set), and the packet fields that differ from one run to
 * the next (checksums, IP ids, sequence numbers, source ports, timestamps, window) masked.
 * Only lines matching `keep` are returned (background traffic a namespace sends varies).
 */
export function loggedLines(text: string, ids: ReadonlyMap<string, string>, keep: RegExp): string[] {
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const m = / (?:INFO|WARNING) neutron\.services\.logapi\.drivers\.openvswitch\.ovs_firewall_log \[[^\]]*\] (.*)$/.exec(raw);
    if (!m) continue;
    let line = m[1]!;
    for (const [n, id] of ids) line = line.split(id).join(`<${n}>`);
    line = line.replace(/log_resource_ids=\[([^\]]*)\]/, (_a, l: string) => `log_resource_ids=[${l.split(', ').sort().join(', ')}]`);
    line = line.replace(/\b(csum|identification|seq|ack|src_port|ts_val|ts_ecr|window_size|id)=\d+/g, '$1=N');
    line = line.replace(/data=b(['"])(?:\\.|(?!\1).)*\1/g, "data=b'...'");
    if (keep.test(line)) out.push(line);
  }
  return out;
}
