// What a security-group firewall driver is given: the port as the agent wired it, and the
// security groups, rules and remote members that apply to it. The same data the reference hands
// its drivers (spec firewall.md §2), typed and parsed once where it arrives from neutron objects.
import type { IpAddress, Mac } from '../openflow/flow.js';

export type Ethertype = 'IPv4' | 'IPv6';
export type Direction = 'ingress' | 'egress';

/** A port to filter, as the agent knows it after wiring it on br-int. */
export interface FirewallPort extends PortWiring {
  /** Neutron port id (the reference's `device`). */
  id: string;
  mac: Mac;
  /** Fixed IPs, bare addresses. */
  fixedIps: IpAddress[];
  /** Allowed address pairs; `ip` may be an address or a CIDR. */
  allowedAddressPairs: Array<{ mac: Mac; ip: string }>;
  securityGroupIds: string[];
  portSecurityEnabled: boolean;
  deviceOwner: string;
  networkId: string;
}

/** How the agent wired a port: what a FirewallPort adds to the neutron data. */
export interface PortWiring {
  /** The OVS port on br-int (for hybrid plugging the `qvo…` veth end). */
  ofport: number;
  vifName: string;
  /** Local VLAN of the port's network on br-int; also its conntrack zone with the OVS firewall. */
  localVlan: number;
  networkType: string;
  physicalNetwork: string | undefined;
  segmentationId: number | undefined;
}

/** A port whose device_owner starts with `network:` is trusted (DHCP, router ports): never filtered. */
export function isTrustedPort(p: Pick<FirewallPort, 'deviceOwner'>): boolean {
  return p.deviceOwner.startsWith('network:');
}

export interface SecurityGroupRule {
  id: string;
  securityGroupId: string;
  direction: Direction;
  ethertype: Ethertype;
  /** As neutron stores it: a name (`tcp`, `icmp`, `ipv6-icmp` …), a number as text, or absent (any). */
  protocol?: string;
  portRangeMin?: number;
  portRangeMax?: number;
  remoteIpPrefix?: string;
  remoteGroupId?: string;
  remoteAddressGroupId?: string;
}

export interface SecurityGroup {
  id: string;
  stateful: boolean;
  rules: SecurityGroupRule[];
}

/** IPs (with the MAC of the port that holds them) of each member of a remote group, by ethertype. */
export type MemberIps = Record<Ethertype, Array<[ip: IpAddress, mac: Mac]>>;

/**
 * Everything that applies to a set of ports: their groups' rules, the members of every group a
 * rule refers to, and the CIDRs of every address group a rule refers to.
 */
export interface SecurityGroupInfo {
  securityGroups: Map<string, SecurityGroup>;
  /** Remote group id → member IPs. */
  members: Map<string, MemberIps>;
  /** Address group id → CIDRs, by ethertype. */
  addressGroups: Map<string, Record<Ethertype, string[]>>;
}

/** Which security groups changed in a way that needs ports refiltered (spec rpc.md §6, cache events). */
export interface SecurityGroupChange {
  /** Groups whose rules changed (or that were deleted): ports in them are refiltered. */
  rulesChanged: Set<string>;
  /** Groups whose members changed (ports joined, left, or changed IPs/MACs): ports whose rules refer to them are refiltered. */
  membersChanged: Set<string>;
  /** Address groups whose addresses changed: ports whose rules refer to them are refiltered. */
  addressGroupsChanged: Set<string>;
}

/** Where drivers get security-group data from: the agent's resource cache, as the reference's cache shim. */
export interface SecurityGroupSource {
  /** The groups, rules, remote members and address groups that apply to these ports; pulls what is not cached. */
  infoFor(ports: readonly FirewallPort[]): Promise<SecurityGroupInfo>;
  /** Called after cached groups, rules, member ports or address groups changed. */
  onChange(listener: (change: SecurityGroupChange) => void): void;
}
