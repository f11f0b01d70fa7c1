// DVR's conversation with neutron-server (neutron's dvr_rpc, version 1.0, no namespace, topic
// q-plugin), typed where it arrives: this host's DVR MAC and every host's, a subnet's gateway as
// DVR needs it, and the DVR-serviced ports of a subnet on this host; and the fanout
// `dvr_mac_address_update` the server sends on q-agent-notifier-dvr-update when hosts' MACs change.
import { isJsonObject, type JsonObject, type JsonValue } from '../../util/json.js';
import { normalizeMac } from '../../openflow/flow.js';
import type { ExtensionServer } from '../seam.js';

const PLUGIN_TOPIC = 'q-plugin';
const DVR_VERSION = '1.0';
/** The topic of the server's dvr_mac_address_update casts (topics.AGENT + DVR + UPDATE). */
export const DVR_UPDATE_TOPIC = 'q-agent-notifier-dvr-update';
export const DVR_UPDATE_VERSION = '1.0';

/** One host's DVR MAC. */
export interface DvrHostMac {
  host: string;
  mac: string;
}

/** A subnet as get_subnet_for_dvr answers for it. */
export interface DvrSubnetInfo {
  id: string;
  ipVersion: 4 | 6;
  cidr: string;
  gatewayIp: string | undefined;
  /** The MAC of the port holding the gateway IP (the router interface), if any. */
  gatewayMac: string | undefined;
}

/** A DVR-serviced port of a subnet bound to this host. */
export interface DvrServicedPort {
  id: string;
  deviceOwner: string;
}

/** Why a payload cannot be used: the message names the call and what was wrong. */
export class DvrPayloadError extends Error {
  override name = 'DvrPayloadError';
}

function fail(call: string, what: string, v: JsonValue | undefined): never {
  throw new DvrPayloadError(`${call}: ${what} (got ${JSON.stringify(v)?.slice(0, 200) ?? 'nothing'})`);
}

export function parseHostMac(v: JsonValue | undefined, call: string): DvrHostMac {
  if (!isJsonObject(v)) fail(call, 'expected {host, mac_address}', v);
  const host = v['host'];
  const mac = v['mac_address'];
  if (typeof host !== 'string' || typeof mac !== 'string') fail(call, 'expected {host, mac_address} strings', v);
  try {
    return { host, mac: normalizeMac(mac) };
  } catch (e) {
    return fail(call, e instanceof Error ? e.message : String(e), v);
  }
}

export function parseHostMacs(v: JsonValue | undefined, call: string): DvrHostMac[] {
  if (!Array.isArray(v)) fail(call, 'expected a list of {host, mac_address}', v);
  return v.map((e) => parseHostMac(e, call));
}

export function parseSubnetInfo(v: JsonValue, subnetId: string): DvrSubnetInfo | undefined {
  const call = `get_subnet_for_dvr(${subnetId})`;
  // The server answers {} when the subnet or its gateway port is gone.
  if (isJsonObject(v) && Object.keys(v).length === 0) return undefined;
  if (v === null) return undefined;
  if (!isJsonObject(v)) fail(call, 'expected a subnet', v);
  const ipVersion = v['ip_version'];
  if (ipVersion !== 4 && ipVersion !== 6) fail(call, 'ip_version is not 4 or 6', v['ip_version']);
  const str = (k: string): string | undefined => (typeof v[k] === 'string' && v[k] !== '' ? (v[k] as string) : undefined);
  const gatewayMac = str('gateway_mac');
  return {
    id: str('id') ?? subnetId,
    ipVersion,
    cidr: str('cidr') ?? '',
    gatewayIp: str('gateway_ip'),
    gatewayMac: gatewayMac === undefined ? undefined : normalizeMac(gatewayMac),
  };
}

export function parseServicedPorts(v: JsonValue, subnetId: string): DvrServicedPort[] {
  const call = `get_ports_on_host_by_subnet(${subnetId})`;
  if (!Array.isArray(v)) fail(call, 'expected a list of ports', v);
  return v.map((p) => {
    if (!isJsonObject(p) || typeof p['id'] !== 'string') fail(call, 'a port without an id', p);
    return { id: p['id'], deviceOwner: typeof p['device_owner'] === 'string' ? p['device_owner'] : '' };
  });
}

/** The DVR calls, over the agent's connection to the server. */
export class DvrRpc {
  constructor(
    private readonly server: () => ExtensionServer,
    private readonly host: string,
  ) {}

  private call(method: string, args: JsonObject): Promise<JsonValue> {
    return this.server().call(PLUGIN_TOPIC, method, args, { version: DVR_VERSION, namespace: null });
  }

  /** This host's DVR MAC (the server allocates one on the first ask). */
  async macOfThisHost(): Promise<DvrHostMac> {
    return parseHostMac(await this.call('get_dvr_mac_address_by_host', { host: this.host }), 'get_dvr_mac_address_by_host');
  }

  async allHostMacs(): Promise<DvrHostMac[]> {
    return parseHostMacs(await this.call('get_dvr_mac_address_list', {}), 'get_dvr_mac_address_list');
  }

  /** `fixedIps`: the router interface's (the server then takes the gateway from it); null for a csnat port. */
  async subnetForDvr(subnetId: string, fixedIps: ReadonlyArray<{ subnetId: string; ipAddress: string }> | null): Promise<DvrSubnetInfo | undefined> {
    const ips = fixedIps === null ? null : fixedIps.map((f) => ({ subnet_id: f.subnetId, ip_address: f.ipAddress }));
    return parseSubnetInfo(await this.call('get_subnet_for_dvr', { subnet: subnetId, fixed_ips: ips }), subnetId);
  }

  async portsOnHostBySubnet(subnetId: string): Promise<DvrServicedPort[]> {
    return parseServicedPorts(await this.call('get_ports_on_host_by_subnet', { host: this.host, subnet: subnetId }), subnetId);
  }
}
