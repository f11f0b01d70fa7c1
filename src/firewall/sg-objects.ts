// Security-group objects parsed from the neutron OVO primitives the resource cache holds
// (spec rpc.md §5: SecurityGroup 1.5, SecurityGroupRule 1.2, AddressGroup 1.2, Port 1.7), validated
// once at this edge into the firewall's types. A malformed object is an error naming its type and
// id; `parseOrSkip` logs it and the caller goes on without it, as a bad push must not stop filtering.
import { isIP } from 'node:net';
import { fromPrimitive } from '../rpc/ovo.js';
import { isJsonObject as isObj, type JsonObject as JsonObj, type JsonValue as Json } from '../util/json.js';
import type { IpAddress, Mac } from '../openflow/flow.js';
import { getLogger } from '../util/log.js';
import type { Direction, Ethertype, FirewallPort, PortWiring, SecurityGroupRule } from './types.js';

const LOG = getLogger('firewall.sg_objects');

export class NeutronObjectError extends Error {
  constructor(
    readonly objectType: string,
    readonly objectId: string | undefined,
    problem: string,
  ) {
    super(`${objectType} ${objectId ?? '(no id)'}: ${problem}`);
    this.name = 'NeutronObjectError';
  }
}

/** A SecurityGroup without its rules: those are cached (and pushed) as SecurityGroupRule objects. */
export interface SecurityGroupHeader {
  id: string;
  stateful: boolean;
}

export interface AddressGroup {
  id: string;
  /** CIDRs (or bare addresses) as stored in neutron. */
  addresses: string[];
}

/** The fields of a neutron Port that security groups need. */
export type SgPort = Pick<
  FirewallPort,
  'id' | 'mac' | 'fixedIps' | 'allowedAddressPairs' | 'securityGroupIds' | 'portSecurityEnabled' | 'deviceOwner' | 'networkId'
>;

/** Reads fields of one object, each failure naming the object. */
class Fields {
  readonly id: string | undefined;
  constructor(
    private readonly type: string,
    private readonly data: JsonObj,
  ) {
    const id = data['id'];
    this.id = typeof id === 'string' && id !== '' ? id : undefined;
  }

  fail(problem: string): never {
    throw new NeutronObjectError(this.type, this.id, problem);
  }

  requireId(): string {
    return this.id ?? this.fail('no id');
  }

  string(name: string): string {
    const v = this.data[name];
    if (typeof v !== 'string' || v === '') this.fail(`${name} = ${show(v)}: expected a non-empty string`);
    return v;
  }

  optionalString(name: string): string | undefined {
    const v = this.data[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') this.fail(`${name} = ${show(v)}: expected a string`);
    return v === '' ? undefined : v;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[]): T {
    const v = this.data[name];
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(`${name} = ${show(v)}: expected one of ${allowed.join(', ')}`);
    return v as T;
  }

  optionalBoolean(name: string, dflt: boolean): boolean {
    const v = this.data[name];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'boolean') this.fail(`${name} = ${show(v)}: expected a boolean`);
    return v;
  }

  optionalPort(name: string): number | undefined {
    const v = this.data[name];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) this.fail(`${name} = ${show(v)}: expected an integer 0-65535`);
    return v;
  }

  /** A list of nested objects (primitives already unwrapped); absent or null is empty. */
  objects(name: string): JsonObj[] {
    const v = this.data[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every(isObj)) this.fail(`${name}: expected a list of objects`);
    return v as JsonObj[];
  }

  strings(name: string): string[] {
    const v = this.data[name];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) this.fail(`${name}: expected a list of strings`);
    return v as string[];
  }

  raw(name: string): Json | undefined {
    return this.data[name];
  }
}

function show(v: Json | undefined): string {
  const s = JSON.stringify(v) ?? 'undefined';
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Plain data of a primitive (or of data already unwrapped); an error if it is no object. */
function dataOf(type: string, v: Json): JsonObj {
  const d = fromPrimitive(v);
  if (!isObj(d)) throw new NeutronObjectError(type, undefined, 'not an object');
  return d;
}

/** `10.0.0.5`, `10.0.0.0/24`, `2001:db8::/64` → its ethertype; undefined if it is neither. */
export function ethertypeOf(addressOrCidr: string): Ethertype | undefined {
  const slash = addressOrCidr.indexOf('/');
  const addr = slash < 0 ? addressOrCidr : addressOrCidr.slice(0, slash);
  const version = isIP(addr);
  if (version === 0) return undefined;
  if (slash >= 0) {
    const len = addressOrCidr.slice(slash + 1);
    if (!/^\d{1,3}$/.test(len) || Number(len) > (version === 4 ? 32 : 128)) return undefined;
  }
  return version === 4 ? 'IPv4' : 'IPv6';
}

/**
 * An allowed address pair's IP as the reference's drivers get it (netaddr's IPNetwork text): the
 * server sends it as stored, `192.0.2.200` or `192.0.2.200/32`; a bare address becomes a host prefix.
 */
function asCidr(addressOrCidr: string): string {
  if (addressOrCidr.includes('/')) return addressOrCidr;
  return `${addressOrCidr}/${isIP(addressOrCidr) === 6 ? 128 : 32}`;
}

/**
 * A MAC in lower-case colon form. neutron keeps the DB text, which any netaddr-parseable spelling
 * may have reached (`FA-16-3E-…`, `fa16.3e11.2233`, bare hex).
 */
export function normalizeMac(text: string): Mac | undefined {
  const hex = text.trim().toLowerCase();
  let digits: string | undefined;
  if (/^[0-9a-f]{1,2}([:-][0-9a-f]{1,2}){5}$/.test(hex)) digits = hex.split(/[:-]/).map((b) => b.padStart(2, '0')).join('');
  else if (/^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/.test(hex)) digits = hex.replace(/\./g, '');
  else if (/^[0-9a-f]{12}$/.test(hex)) digits = hex;
  return digits === undefined ? undefined : digits.match(/../g)!.join(':');
}

const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];
const ETHERTYPES: readonly Ethertype[] = ['IPv4', 'IPv6'];

export function parseSecurityGroupRule(v: Json): SecurityGroupRule {
  const f: Fields = new Fields('SecurityGroupRule', dataOf('SecurityGroupRule', v));
  const rule: SecurityGroupRule = {
    id: f.requireId(),
    securityGroupId: f.string('security_group_id'),
    direction: f.oneOf('direction', DIRECTIONS),
    ethertype: f.oneOf('ethertype', ETHERTYPES),
  };
  // The server stores the protocol as given (name or number); an integer is accepted as its text.
  const proto = f.raw('protocol');
  if (typeof proto === 'number' && Number.isInteger(proto) && proto >= 0 && proto <= 255) rule.protocol = String(proto);
  else {
    const p = f.optionalString('protocol');
    if (p !== undefined) rule.protocol = p;
  }
  const min = f.optionalPort('port_range_min');
  const max = f.optionalPort('port_range_max');
  if (min !== undefined) rule.portRangeMin = min;
  if (max !== undefined) rule.portRangeMax = max;
  // As the reference's shim: the normalized CIDR (host bits cleared) when the server has one.
  const prefix = f.optionalString('normalized_cidr') ?? f.optionalString('remote_ip_prefix');
  if (prefix !== undefined) {
    const et = ethertypeOf(prefix);
    if (et === undefined) f.fail(`remote_ip_prefix = ${JSON.stringify(prefix)}: not an IP prefix`);
    rule.remoteIpPrefix = prefix;
  }
  const rg = f.optionalString('remote_group_id');
  const rag = f.optionalString('remote_address_group_id');
  if (rg !== undefined) rule.remoteGroupId = rg;
  if (rag !== undefined) rule.remoteAddressGroupId = rag;
  return rule;
}

export function parseSecurityGroup(v: Json): SecurityGroupHeader {
  const f: Fields = new Fields('SecurityGroup', dataOf('SecurityGroup', v));
  // `stateful` defaults to true in the object, so a primitive may leave it out.
  return { id: f.requireId(), stateful: f.optionalBoolean('stateful', true) };
}

export function parseAddressGroup(v: Json): AddressGroup {
  const f: Fields = new Fields('AddressGroup', dataOf('AddressGroup', v));
  const id = f.requireId();
  const addresses = f.objects('addresses').map((a) => {
    const address = a['address'];
    if (typeof address !== 'string' || ethertypeOf(address) === undefined) f.fail(`address ${show(address)}: not an IP address or prefix`);
    return address;
  });
  return { id, addresses };
}

export function parseSgPort(v: Json): SgPort {
  const f: Fields = new Fields('Port', dataOf('Port', v));
  const id = f.requireId();
  const macText = f.string('mac_address');
  const mac = normalizeMac(macText) ?? f.fail(`mac_address ${JSON.stringify(macText)}: not a MAC address`);
  const fixedIps: IpAddress[] = f.objects('fixed_ips').map((a) => {
    const ip = a['ip_address'];
    if (typeof ip !== 'string' || isIP(ip) === 0) f.fail(`fixed_ips: ip_address ${show(ip)} is not an IP address`);
    return ip;
  });
  const allowedAddressPairs = f.objects('allowed_address_pairs').map((a) => {
    const ip = a['ip_address'];
    if (typeof ip !== 'string' || ethertypeOf(ip) === undefined) f.fail(`allowed_address_pairs: ip_address ${show(ip)} is not an IP address or prefix`);
    // neutron fills a pair's MAC with the port's when none is given; tolerate it missing here too.
    const pairMac = a['mac_address'];
    const cidr = asCidr(ip);
    if (pairMac === undefined || pairMac === null) return { mac, ip: cidr };
    const m = typeof pairMac === 'string' ? normalizeMac(pairMac) : undefined;
    if (m === undefined) f.fail(`allowed_address_pairs: mac_address ${show(pairMac)} is not a MAC address`);
    return { mac: m, ip: cidr };
  });
  const security = f.raw('security');
  let portSecurityEnabled = true; // the reference's default when the port has no PortSecurity row
  if (isObj(security)) portSecurityEnabled = new Fields('PortSecurity', security).optionalBoolean('port_security_enabled', true);
  else if (security !== undefined && security !== null) f.fail(`security = ${show(security)}: expected an object`);
  return {
    id,
    mac,
    fixedIps,
    allowedAddressPairs,
    securityGroupIds: f.strings('security_group_ids'),
    portSecurityEnabled,
    deviceOwner: f.optionalString('device_owner') ?? '',
    networkId: f.string('network_id'),
  };
}

/**
 * Parses an object the cache holds; a malformed one is logged (type, id, what is wrong) and
 * undefined is returned. Results are remembered per object (the cache replaces an object on every
 * update), so each version is parsed, and a bad one reported, once.
 */
export class ParsedObjects {
  private readonly memo = new WeakMap<JsonObj, { ok: unknown } | { bad: true }>();

  get<T>(data: JsonObj, parse: (v: Json) => T): T | undefined {
    const hit = this.memo.get(data);
    if (hit) return 'ok' in hit ? (hit.ok as T) : undefined;
    try {
      const ok = parse(data);
      this.memo.set(data, { ok });
      return ok;
    } catch (e) {
      if (!(e instanceof NeutronObjectError)) throw e;
      LOG.warning(`malformed ${e.message}; skipped`);
      this.memo.set(data, { bad: true });
      return undefined;
    }
  }
}


/**
 * The port to hand a firewall driver, from the cached Port (primitive or plain data) or a port
 * parsed already, and how the agent wired it. Throws NeutronObjectError for a malformed Port.
 */
export function firewallPortFrom(port: Json | SgPort, wiring: PortWiring): FirewallPort {
  const p = isSgPort(port) ? port : parseSgPort(port);
  return {
    id: p.id,
    mac: p.mac,
    fixedIps: [...p.fixedIps],
    allowedAddressPairs: p.allowedAddressPairs.map((a) => ({ ...a })),
    securityGroupIds: [...p.securityGroupIds],
    portSecurityEnabled: p.portSecurityEnabled,
    deviceOwner: p.deviceOwner,
    networkId: p.networkId,
    ofport: wiring.ofport,
    vifName: wiring.vifName,
    localVlan: wiring.localVlan,
    networkType: wiring.networkType,
    physicalNetwork: wiring.physicalNetwork,
    segmentationId: wiring.segmentationId,
  };
}

function isSgPort(v: Json | SgPort): v is SgPort {
  return isObj(v as Json) && Array.isArray((v as SgPort).fixedIps) && typeof (v as SgPort).mac === 'string';
}
