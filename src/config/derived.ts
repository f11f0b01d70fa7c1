// Values the agent derives from raw options (neutron_lib.utils.helpers.parse_mappings,
// neutron_lib.placement.utils.parse_rp_*), with the reference's error texts.
// Pure functions; errors are ValueProblem so the loader can attach file/section/option.
import { ValueProblem } from './options.js';

/** One `key:value` of a mappings option, trimmed; a problem naming it when either side is missing. */
function splitMapping(mapping: string): [string, string] {
  const parts = mapping.split(':');
  if (parts.length !== 2) throw new ValueProblem(`Invalid mapping: '${mapping}'`);
  const key = parts[0]!.trim();
  if (!key) throw new ValueProblem(`Missing key in mapping: '${mapping}'`);
  const value = parts[1]!.trim();
  if (!value) throw new ValueProblem(`Missing value in mapping: '${mapping}'`);
  return [key, value];
}

/** parse_mappings(unique_values=True, unique_keys=True) → Map key → value. */
export function parseMappings(items: readonly string[]): Map<string, string> {
  const mappings = new Map<string, string>();
  const values = new Set<string>();
  for (const raw of items) {
    const mapping = raw.trim();
    if (!mapping) continue;
    const [key, value] = splitMapping(mapping);
    if (mappings.has(key)) throw new ValueProblem(`Key ${key} in mapping: '${mapping}' not unique`);
    if (values.has(value)) throw new ValueProblem(`Value ${value} in mapping: '${mapping}' not unique`);
    mappings.set(key, value);
    values.add(value);
  }
  return mappings;
}

/**
 * parse_mappings(unique_keys=False) → Map key → values, in the order given, each value once per key
 * ([FDB] shared_physical_device_mappings: one physical network may share several devices).
 */
export function parseMultiMappings(items: readonly string[]): Map<string, string[]> {
  const mappings = new Map<string, string[]>();
  for (const raw of items) {
    const mapping = raw.trim();
    if (!mapping) continue;
    const [key, value] = splitMapping(mapping);
    const values = mappings.get(key) ?? [];
    if (!values.includes(value)) values.push(value);
    mappings.set(key, values);
  }
  return mappings;
}

/** OVS agent wrapper around parse_mappings for [ovs] bridge_mappings. */
export function parseBridgeMappings(items: readonly string[]): Map<string, string> {
  try {
    return parseMappings(items);
  } catch (e) {
    if (e instanceof ValueProblem) throw new ValueProblem(`Parsing bridge_mappings failed: ${e.message}.`);
    throw e;
  }
}

export interface DirectionalRate {
  readonly egress: number | null;
  readonly ingress: number | null;
}
export interface AnyDirectionRate {
  readonly any: number | null;
}

const PY_INT = /^\s*[+-]?\d+(?:_\d+)*\s*$/;

function parseRate(s: string): number | null {
  if (!s) return null;
  const n = PY_INT.test(s) ? Number(s.replace(/_/g, '')) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ValueProblem(`Cannot parse string value to an integer. Expected: non-negative integer value, got: ${s}`);
  }
  return n;
}

function parseRpOptions<K extends string>(options: readonly string[], keys: readonly K[]): Map<string, Record<K, number | null>> {
  const rv = new Map<string, Record<K, number | null>>();
  for (let option of options) {
    if (!option.includes(':')) option += ':'.repeat(keys.length);
    const values = option.split(':');
    if (values.length !== keys.length + 1) {
      throw new ValueProblem(`Expected a tuple with ${keys.length + 1} values, got: ${option}`);
    }
    const name = values.shift()!;
    if (rv.has(name)) throw new ValueProblem(`Same resource name listed multiple times: "${name}"`);
    const entry = {} as Record<K, number | null>;
    keys.forEach((k, i) => { entry[k] = parseRate(values[i]!); });
    rv.set(name, entry);
  }
  return rv;
}

function wrap<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof ValueProblem) throw new ValueProblem(`Cannot parse ${what}. ${e.message}`);
    throw e;
  }
}

function toRecord<V>(m: Map<string, V>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const [k, v] of m) out[k] = v;
  return out;
}

/** parse_rp_bandwidths: "<bridge>:<egress>:<ingress>" → {bridge: {egress, ingress}} (kbps). */
export function parseRpBandwidths(items: readonly string[]): Record<string, DirectionalRate> {
  return wrap('resource_provider_bandwidths', () => toRecord(parseRpOptions(items, ['egress', 'ingress'] as const)));
}

// An empty hypervisor name stands for [DEFAULT] host.
function setDefaultHypervisor<V>(m: Map<string, V>, host: string): void {
  if (m.has('') && m.has(host)) {
    throw new ValueProblem(`Found configuration for "${host}" hypervisor and one without hypervisor name specified that would override it.`);
  }
  if (m.has('')) {
    const v = m.get('')!;
    m.delete('');
    m.set(host, v);
  }
}

export function parseRpPpWithDirection(items: readonly string[], host: string): Record<string, DirectionalRate> {
  return wrap('resource_provider_packet_processing_with_direction', () => {
    const m = parseRpOptions(items, ['egress', 'ingress'] as const);
    setDefaultHypervisor(m, host);
    return toRecord(m);
  });
}

export function parseRpPpWithoutDirection(items: readonly string[], host: string): Record<string, AnyDirectionRate> {
  return wrap('resource_provider_packet_processing_without_direction', () => {
    const m = parseRpOptions(items, ['any'] as const);
    setDefaultHypervisor(m, host);
    return toRecord(m);
  });
}

export interface InventoryDefaults {
  readonly allocation_ratio?: number;
  readonly min_unit?: number;
  readonly max_unit?: number;
  readonly reserved?: number;
  readonly step_size?: number;
}

const INVENTORY_OPTIONS = ['allocation_ratio', 'max_unit', 'min_unit', 'reserved', 'step_size'];
const PY_FLOAT = /^\s*[+-]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+(?:_\d+)*)?\s*$/;

/** parse_rp_inventory_defaults: string values → numbers, unknown keys rejected. */
export function parseRpInventoryDefaults(d: Readonly<Record<string, string>>): InventoryDefaults {
  const unexpected = Object.keys(d).filter((k) => !INVENTORY_OPTIONS.includes(k));
  if (unexpected.length) {
    throw new ValueProblem(`Cannot parse inventory_defaults. Unexpected options: ${unexpected.join(',')}`);
  }
  const out: Record<string, number> = {};
  if ('allocation_ratio' in d) {
    const s = d['allocation_ratio']!;
    const n = PY_FLOAT.test(s) ? Number(s.replace(/_/g, '')) : NaN;
    if (Number.isNaN(n) || n < 0) {
      throw new ValueProblem(`Cannot parse inventory_defaults.allocation_ratio. Expected: non-negative float, got: ${s}`);
    }
    out['allocation_ratio'] = n;
  }
  for (const key of ['min_unit', 'max_unit', 'reserved', 'step_size']) {
    if (!(key in d)) continue;
    const s = d[key]!;
    const n = PY_INT.test(s) ? Number(s.replace(/_/g, '')) : NaN;
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new ValueProblem(`Cannot parse inventory_defaults.${key}. Expected: non-negative int, got: ${s}`);
    }
    out[key] = n;
  }
  // Keep the configured key order, as the reference dict does.
  const ordered: Record<string, number> = {};
  for (const k of Object.keys(d)) ordered[k] = out[k]!;
  return ordered as InventoryDefaults;
}

/** default_rp_hypervisors: every mapped bridge → configured hypervisor or the default. */
export function defaultRpHypervisors(hypervisors: Readonly<Record<string, string>>,
  bridgeMappings: ReadonlyMap<string, string>, defaultHypervisor: string): Record<string, string> {
  const rv: Record<string, string> = {};
  for (const bridge of bridgeMappings.values()) {
    rv[bridge] = Object.prototype.hasOwnProperty.call(hypervisors, bridge) ? hypervisors[bridge]! : defaultHypervisor;
  }
  return rv;
}

export const TUNNEL_NETWORK_TYPES = ['gre', 'vxlan', 'geneve'] as const;
export type TunnelType = (typeof TUNNEL_NETWORK_TYPES)[number];

export function isTunnelType(t: string | undefined): t is TunnelType {
  return (TUNNEL_NETWORK_TYPES as readonly (string | undefined)[]).includes(t);
}

/** The ml2 network types the agent has flows for. */
export const NETWORK_TYPES = ['local', 'flat', 'vlan', ...TUNNEL_NETWORK_TYPES] as const;
export type KnownNetworkType = (typeof NETWORK_TYPES)[number];
/**
 * A network_type the server sent that the agent has no flows for: kept as its text, because the
 * reference still allocates a local VLAN and logs it as unknown where it would provision it.
 */
export type UnknownNetworkType = string & { readonly unknownNetworkType: true };
/** One network type for the project: the known ones compare as literals, an unknown one keeps its text. */
export type NetworkType = KnownNetworkType | UnknownNetworkType;

/** A network_type as the server spelt it, made a NetworkType (the one place that does). */
export function parseNetworkType(text: string): NetworkType {
  return (NETWORK_TYPES as readonly string[]).includes(text) ? (text as KnownNetworkType) : (text as UnknownNetworkType);
}

// neutron_lib.api.validators.MAC_PATTERN (unicast, so the 2nd hex digit is even).
const MAC_PATTERN = /^[0-9A-Fa-f][aceACE02468](:[0-9A-Fa-f]{2}){5}$/;

export function validateBaseMac(mac: string): void {
  if (!MAC_PATTERN.test(mac)) throw new ValueProblem(`Base MAC: '${mac}' is not a valid input`);
}
