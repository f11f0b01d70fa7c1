// The reference's iptables_hybrid rules captured by test/integration/firewall/iptables-capture.ts:
// per scenario the input (ports, groups, members, zones) and what the reference left in iptables,
// ip6tables and ipset. Loaded here into the generator's input.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { IptablesFirewallState, IptablesPort } from '../../src/firewall/iptables/generate.js';
import type { MemberIps, SecurityGroup } from '../../src/firewall/types.js';

export const IPTABLES_FIXTURES = 'test/fixtures/reference/iptables';

/** What the generator is given for a scenario, as captured (the .json fixture). */
export interface CapturedInput {
  ports: Array<{
    id: string;
    mac: string;
    fixedIps: string[];
    allowedAddressPairs: Array<{ mac: string; ip: string }>;
    securityGroupIds: string[];
    portSecurityEnabled: boolean;
    deviceOwner: string;
    networkId: string;
    /** The conntrack zone the reference gave the port (raw table); none without port security. */
    zone: number | undefined;
  }>;
  securityGroups: Array<{
    id: string;
    stateful: boolean;
    rules: Array<{
      id: string;
      direction: 'ingress' | 'egress';
      ethertype: 'IPv4' | 'IPv6';
      protocol?: string;
      portRangeMin?: number;
      portRangeMax?: number;
      remoteIpPrefix?: string;
      remoteGroupId?: string;
    }>;
  }>;
  /** Remote group id -> [ip, mac] of its members, by ethertype. */
  members: Record<string, { IPv4: Array<[string, string]>; IPv6: Array<[string, string]> }>;
  /** `[securitygroup] enable_ipset` of the capture (absent: true). */
  enableIpset?: boolean;
}

export interface IptablesScenario {
  name: string;
  input: CapturedInput;
  iptables: string;
  ip6tables: string;
  ipset: string;
}

export function iptablesScenarios(): IptablesScenario[] {
  if (!existsSync(IPTABLES_FIXTURES)) return [];
  return readdirSync(IPTABLES_FIXTURES)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const name = f.slice(0, -'.json'.length);
      const read = (ext: string): string => readFileSync(join(IPTABLES_FIXTURES, `${name}.${ext}`), 'utf8');
      return { name, input: JSON.parse(read('json')) as CapturedInput, iptables: read('iptables'), ip6tables: read('ip6tables'), ipset: read('ipset') };
    });
}

/** The generator's input for a captured scenario, with the capture's enable_ipset. */
export function stateOf(input: CapturedInput, enableIpset = input.enableIpset ?? true): IptablesFirewallState {
  const toPort = (p: CapturedInput['ports'][number]): IptablesPort => ({
    id: p.id, mac: p.mac, fixedIps: p.fixedIps, allowedAddressPairs: p.allowedAddressPairs,
    securityGroupIds: p.securityGroupIds, portSecurityEnabled: p.portSecurityEnabled, deviceOwner: p.deviceOwner,
  });
  const trusted = (p: CapturedInput['ports'][number]): boolean => p.deviceOwner.startsWith('network:');
  const groups = new Map<string, SecurityGroup>(
    input.securityGroups.map((g) => [g.id, { id: g.id, stateful: g.stateful, rules: g.rules.map((r) => ({ ...r, securityGroupId: g.id })) }]),
  );
  const members = new Map<string, MemberIps>(Object.entries(input.members));
  const zones = new Map<string, number>();
  for (const p of input.ports) if (p.zone !== undefined) zones.set(p.id, p.zone);
  return {
    filtered: input.ports.filter((p) => p.portSecurityEnabled && !trusted(p)).map(toPort),
    unfiltered: input.ports.filter((p) => !p.portSecurityEnabled && !trusted(p)).map(toPort),
    trusted: input.ports.filter(trusted).map((p) => p.id),
    groups,
    members,
    zones,
    enableIpset,
  };
}

/**
 * Without ipsets the reference expands a remote-group rule into one rule per member, in the order
 * of a Python set: it changes with the interpreter's hash seed, run to run. This sorts each run of
 * such rules (same chain, same rule but for the -s/-d address) by address, on both sides of a
 * comparison; every other rule keeps its place.
 */
export function sortMemberRuns(saveText: string): string {
  const lines = saveText.split('\n');
  const key = (l: string): string | undefined => {
    const m = /^-A (\S+) (-[sd]) (\S+) (.*-j RETURN)$/.exec(l);
    return m ? `${m[1]} ${m[2]} ${m[4]}` : undefined;
  };
  const out: string[] = [];
  for (let i = 0; i < lines.length; ) {
    const k = key(lines[i]!);
    let j = i + 1;
    if (k !== undefined) while (j < lines.length && key(lines[j]!) === k) j++;
    out.push(...lines.slice(i, j).sort());
    i = j;
  }
  return out.join('\n');
}
