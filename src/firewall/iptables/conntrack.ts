// Cutting connections the rules no longer allow. iptables only judges the first packet of a
// connection; later ones pass as ESTABLISHED while conntrack remembers it. So when a rule goes, a
// remote group loses a member, a port leaves a group or the port goes, the matching entries of the
// port's conntrack zone are deleted, as the reference does (`conntrack -D ... -w <zone>`).
import type { Direction, Ethertype, MemberIps, SecurityGroup, SecurityGroupRule } from '../types.js';
import { ipVersionOf } from './addresses.js';
import type { IptablesPort } from './generate.js';

/** What the driver filtered in one pass: enough to tell what a later pass no longer allows. */
export interface FilterSnapshot {
  /** The filtered ports (port security on, not trusted). */
  ports: ReadonlyMap<string, IptablesPort>;
  groups: ReadonlyMap<string, SecurityGroup>;
  members: ReadonlyMap<string, MemberIps>;
  zones: ReadonlyMap<string, number>;
}

const FAMILY: Record<Ethertype, string> = { IPv4: 'ipv4', IPv6: 'ipv6' };

/** A rule's meaning, without its id: a rule re-created identically still allows the same. */
function ruleKey(r: SecurityGroupRule): string {
  return JSON.stringify([r.direction, r.ethertype, r.protocol ?? null, r.portRangeMin ?? null, r.portRangeMax ?? null, r.remoteIpPrefix ?? null, r.remoteGroupId ?? null, r.remoteAddressGroupId ?? null]);
}

/** conntrack's name for a rule's protocol (`0` is any; ICMP of IPv6 is icmpv6 to conntrack). */
function conntrackProtocol(protocol: string | undefined, ethertype: Ethertype): string | undefined {
  if (protocol === undefined || protocol === '') return undefined;
  if (protocol === '0') return 'ip';
  if (ethertype === 'IPv6' && ['icmp', 'icmpv6', 'ipv6-icmp', '1', '58'].includes(protocol)) return 'icmpv6';
  return protocol;
}

/**
 * `conntrack -D` argument lists for the port: entries to (ingress) or from (egress) each of its
 * addresses of the ethertype in its zone, optionally only of a protocol or with a remote address.
 */
function deleteArgs(port: IptablesPort, zone: number, ethertype: Ethertype, direction: Direction, opts: { protocol?: string | undefined; remoteIp?: string } = {}): string[][] {
  const out: string[][] = [];
  const version = ethertype === 'IPv4' ? 4 : 6;
  for (const ip of port.fixedIps) {
    if (ipVersionOf(ip) !== version) continue;
    const args = ['-D'];
    const proto = conntrackProtocol(opts.protocol, ethertype);
    if (proto) args.push('-p', proto);
    args.push('-f', FAMILY[ethertype], direction === 'ingress' ? '-d' : '-s', ip, '-w', String(zone));
    if (opts.remoteIp) args.push(direction === 'ingress' ? '-s' : '-d', opts.remoteIp.split('/')[0]!);
    out.push(args);
  }
  return out;
}

function allOf(port: IptablesPort, zone: number): string[][] {
  return (['IPv4', 'IPv6'] as const).flatMap((e) => (['ingress', 'egress'] as const).flatMap((d) => deleteArgs(port, zone, e, d)));
}

/** The `conntrack` invocations (argument lists) that cut what `next` no longer allows of `prev`. */
export function conntrackDeletions(prev: FilterSnapshot, next: FilterSnapshot): string[][] {
  const cmds = new Map<string, string[]>();
  const add = (list: string[][]): void => {
    for (const a of list) cmds.set(a.join(' '), a);
  };
  for (const [id, before] of prev.ports) {
    const zone = prev.zones.get(id);
    if (zone === undefined) continue;
    const now = next.ports.get(id);
    // the port is gone or no longer filtered, or it left a group: all its connections go
    if (!now || now.securityGroupIds.length === 0 || before.securityGroupIds.some((g) => !now.securityGroupIds.includes(g))) {
      add(allOf(before, zone));
      continue;
    }
    // rules removed from its groups
    for (const g of now.securityGroupIds) {
      const was = prev.groups.get(g);
      const is = next.groups.get(g);
      if (!was || !is) continue;
      const kept = new Set(is.rules.map(ruleKey));
      for (const r of was.rules) if (!kept.has(ruleKey(r))) add(deleteArgs(now, zone, r.ethertype, r.direction, { protocol: r.protocol }));
    }
    // members gone from remote groups its rules refer to
    for (const g of now.securityGroupIds) {
      for (const r of next.groups.get(g)?.rules ?? []) {
        if (!r.remoteGroupId) continue;
        const before = new Set((prev.members.get(r.remoteGroupId)?.[r.ethertype] ?? []).map(([ip]) => ip));
        for (const [ip] of next.members.get(r.remoteGroupId)?.[r.ethertype] ?? []) before.delete(ip);
        for (const ip of before) {
          for (const d of ['ingress', 'egress'] as const) add(deleteArgs(now, zone, r.ethertype, d, { remoteIp: ip }));
        }
      }
    }
  }
  return [...cmds.values()];
}
