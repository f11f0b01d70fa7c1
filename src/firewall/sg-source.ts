// Security-group data for the firewall drivers, answered from the agent's resource cache as the
// reference's SecurityGroupServerAPIShim does (spec rpc.md §6.2): no security-group RPC to the
// server, only bulk_pulls for what the cache has never been asked, then pushes keep it current.
// Cache events become SecurityGroupChange notices as in spec rpc.md §6's table.
import type { JsonObject as JsonObj } from '../util/json.js';
import { getLogger } from '../util/log.js';
import {
  ParsedObjects,
  ethertypeOf,
  parseAddressGroup,
  parseSecurityGroup,
  parseSecurityGroupRule,
  parseSgPort,
  type SgPort,
} from './sg-objects.js';
import {
  isTrustedPort,
  type Ethertype,
  type FirewallPort,
  type MemberIps,
  type SecurityGroup,
  type SecurityGroupChange,
  type SecurityGroupInfo,
  type SecurityGroupRule,
  type SecurityGroupSource,
} from './types.js';

/** The neutron object types the source reads. */
type ObjectType = 'Port' | 'SecurityGroup' | 'SecurityGroupRule' | 'AddressGroup' | 'Network' | 'Subnet';

/**
 * What the source needs of the agent's resource cache (src/agent/server/resource-cache.ts is the one
 * implementation): lookups that pull on a miss, lookups of what is cached, and change events.
 */
export interface NeutronObjectCache {
  get(type: ObjectType, id: string): Promise<JsonObj | undefined>;
  query(type: ObjectType, q: { field: string; values: readonly string[] }): Promise<JsonObj[]>;
  match(type: ObjectType, field: string, values: ReadonlySet<string>): JsonObj[];
  on(event: 'object-updated', listener: (type: ObjectType, id: string, old: JsonObj | undefined, now: JsonObj, changed: string[]) => void): unknown;
  on(event: 'object-deleted', listener: (type: ObjectType, id: string, old: JsonObj | undefined) => void): unknown;
}

const LOG = getLogger('firewall.sg_source');

/** Port fields whose change changes the member IPs of the port's groups (the shim's list, plus the MAC members carry). */
const MEMBER_FIELDS = new Set(['security_group_ids', 'fixed_ips', 'allowed_address_pairs', 'mac_address']);

const noEthertypes = (): Set<Ethertype> => new Set();

export class CacheSecurityGroupSource implements SecurityGroupSource {
  private readonly parsed = new ParsedObjects();
  private readonly listeners: Array<(change: SecurityGroupChange) => void> = [];
  private pending: SecurityGroupChange | undefined;

  constructor(private readonly cache: NeutronObjectCache) {
    cache.on('object-updated', (type, _id, old, now, changed) => this.onUpdated(type, old, now, changed));
    cache.on('object-deleted', (type, id, old) => this.onDeleted(type, id, old));
  }

  onChange(listener: (change: SecurityGroupChange) => void): void {
    this.listeners.push(listener);
  }

  async infoFor(ports: readonly FirewallPort[]): Promise<SecurityGroupInfo> {
    // Trusted ports (DHCP, routers) are never filtered; the shim leaves them out the same way.
    const sgIds = [...new Set(ports.filter((p) => !isTrustedPort(p)).flatMap((p) => p.securityGroupIds))];
    const info: SecurityGroupInfo = { securityGroups: new Map(), members: new Map(), addressGroups: new Map() };
    if (sgIds.length === 0) return info;

    const [headers, ruleObjects] = await Promise.all([
      Promise.all(sgIds.map((id) => this.cache.get('SecurityGroup', id))),
      this.cache.query('SecurityGroupRule', { field: 'security_group_id', values: sgIds }),
    ]);
    const rulesBySg = new Map<string, SecurityGroupRule[]>(sgIds.map((id) => [id, []]));
    for (const o of ruleObjects) {
      const r = this.parsed.get(o, parseSecurityGroupRule);
      if (r) rulesBySg.get(r.securityGroupId)?.push(r);
    }
    // Remote groups and address groups, with the ethertypes their rules use: members of other
    // ethertypes are left out, as the reference does.
    const remoteGroups = new Map<string, Set<Ethertype>>();
    const addressGroups = new Map<string, Set<Ethertype>>();
    sgIds.forEach((id, i) => {
      const header = headers[i] ? this.parsed.get(headers[i], parseSecurityGroup) : undefined;
      if (!header) LOG.warning(`security group ${id} is not known to the server (or malformed); treated as stateful`);
      // In the order the server sent them (creation order), as the reference's cache keeps them:
      // the iptables chains list rules in that order.
      const rules = rulesBySg.get(id)!;
      for (const r of rules) {
        if (r.remoteGroupId !== undefined) getOr(remoteGroups, r.remoteGroupId, noEthertypes).add(r.ethertype);
        else if (r.remoteAddressGroupId !== undefined) getOr(addressGroups, r.remoteAddressGroupId, noEthertypes).add(r.ethertype);
      }
      const sg: SecurityGroup = { id, stateful: header?.stateful ?? true, rules };
      info.securityGroups.set(id, sg);
    });

    const [memberPorts, agObjects] = await Promise.all([
      remoteGroups.size > 0 ? this.cache.query('Port', { field: 'security_group_ids', values: [...remoteGroups.keys()] }) : [],
      Promise.all([...addressGroups.keys()].map((id) => this.cache.get('AddressGroup', id))),
    ]);
    for (const [gid, ethertypes] of remoteGroups) info.members.set(gid, this.membersOf(gid, ethertypes, memberPorts));
    [...addressGroups].forEach(([agid, ethertypes], i) => {
      const cidrs: Record<Ethertype, string[]> = { IPv4: [], IPv6: [] };
      const o = agObjects[i];
      const ag = o ? this.parsed.get(o, parseAddressGroup) : undefined;
      if (!ag) LOG.warning(`address group ${agid} is not known to the server (or malformed); its rules match nothing`);
      for (const a of ag?.addresses ?? []) {
        const et = ethertypeOf(a)!;
        if (ethertypes.has(et) && !cidrs[et].includes(a)) cidrs[et].push(a);
      }
      info.addressGroups.set(agid, cidrs);
    });
    return info;
  }

  /** (ip, mac) of the fixed IPs and allowed address pairs of every cached port in the group. */
  private membersOf(gid: string, ethertypes: Set<Ethertype>, ports: readonly JsonObj[]): MemberIps {
    const out: MemberIps = { IPv4: [], IPv6: [] };
    const seen = new Set<string>();
    const add = (ip: string, mac: string) => {
      const et = ethertypeOf(ip);
      if (et === undefined || !ethertypes.has(et) || seen.has(`${ip} ${mac}`)) return;
      seen.add(`${ip} ${mac}`);
      out[et].push([ip, mac]);
    };
    for (const o of ports) {
      const p = this.parsed.get(o, parseSgPort);
      if (!p || !p.securityGroupIds.includes(gid)) continue;
      for (const ip of p.fixedIps) add(ip, p.mac);
      for (const pair of p.allowedAddressPairs) add(pair.ip, pair.mac);
    }
    for (const et of ['IPv4', 'IPv6'] as const) out[et].sort((a, b) => a[0].localeCompare(b[0]) || a[1].localeCompare(b[1]));
    return out;
  }

  private onUpdated(type: ObjectType, old: JsonObj | undefined, now: JsonObj, changed: string[]): void {
    if (type === 'SecurityGroupRule') {
      const r = this.parsed.get(now, parseSecurityGroupRule);
      if (r) this.note('rulesChanged', r.securityGroupId);
      // A rule moved to another group (not something neutron does, but the old group lost it).
      const was = old ? this.parsed.get(old, parseSecurityGroupRule) : undefined;
      if (was && was.securityGroupId !== r?.securityGroupId) this.note('rulesChanged', was.securityGroupId);
    } else if (type === 'SecurityGroup') {
      // The stateful flag is in every rule the drivers get; embedded rules raise their own events.
      if (changed.includes('stateful')) this.note('rulesChanged', String(now['id']));
    } else if (type === 'Port') {
      if (!changed.some((f) => MEMBER_FIELDS.has(f))) return;
      for (const g of this.groupsOf(old)) this.note('membersChanged', g);
      for (const g of this.groupsOf(now)) this.note('membersChanged', g);
    } else if (type === 'AddressGroup') {
      this.addressGroupChanged(String(now['id']));
    }
  }

  private onDeleted(type: ObjectType, id: string, old: JsonObj | undefined): void {
    if (type === 'SecurityGroupRule') {
      const r = old ? this.parsed.get(old, parseSecurityGroupRule) : undefined;
      if (r) this.note('rulesChanged', r.securityGroupId);
    } else if (type === 'SecurityGroup') {
      this.note('rulesChanged', id);
    } else if (type === 'Port') {
      for (const g of this.groupsOf(old)) this.note('membersChanged', g);
    } else if (type === 'AddressGroup') {
      this.addressGroupChanged(id);
    }
  }

  /** The address group, and every group with a cached rule referring to it (the shim's lookup). */
  private addressGroupChanged(agid: string): void {
    this.note('addressGroupsChanged', agid);
    for (const o of this.cache.match('SecurityGroupRule', 'remote_address_group_id', new Set([agid]))) {
      const r = this.parsed.get(o, parseSecurityGroupRule);
      if (r) this.note('rulesChanged', r.securityGroupId);
    }
  }

  private groupsOf(port: JsonObj | undefined): string[] {
    if (!port) return [];
    const p: SgPort | undefined = this.parsed.get(port, parseSgPort);
    return p?.securityGroupIds ?? [];
  }

  /** Changes of one turn (a push of a group with its rules, say) reach listeners as one notice. */
  private note(kind: keyof SecurityGroupChange, id: string): void {
    if (!this.pending) {
      this.pending = { rulesChanged: new Set(), membersChanged: new Set(), addressGroupsChanged: new Set() };
      setImmediate(() => this.flush());
    }
    this.pending[kind].add(id);
  }

  private flush(): void {
    const change = this.pending;
    this.pending = undefined;
    if (!change) return;
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (e) {
        LOG.error(`security-group change listener failed on rules ${[...change.rulesChanged].join(',')} members ${[...change.membersChanged].join(',')}`, e);
      }
    }
  }
}

function getOr<K, V>(m: Map<K, V>, k: K, make: () => V): V {
  let v = m.get(k);
  if (v === undefined) {
    v = make();
    m.set(k, v);
  }
  return v;
}
