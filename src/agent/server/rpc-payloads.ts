// What neutron-server sends the agent, parsed once where it arrives (plugin-rpc.ts) so the rest of
// the agent holds typed values. Malformed parts are left out and the well-formed rest of the same
// message is kept. fdb entries are checked only when the handler acts on their network: the server
// fans l2population out to every host, and a host must not spend time on (or log) the entries of
// networks it does not have (checking 200,000 entries takes a second).
import { isIP } from 'node:net';
import { isJsonObject, type JsonObject, type JsonValue } from '../../util/json.js';
import { getLogger } from '../../util/log.js';
import { parseNetworkType, type NetworkType } from '../../config/index.js';

const LOG = getLogger('agent.rpc');

/** One remote port of an l2population message: its MAC (lower case) and IP. */
export interface FdbEntry {
  mac: string;
  ip: string;
}

/** The entries of one VTEP, checked on first use. */
export class FdbEntries {
  private checked: { good: FdbEntry[]; malformed: Array<[string, string]> } | undefined;

  constructor(private readonly raw: readonly JsonValue[]) {}

  /** How many entries the message lists, well-formed or not. */
  get count(): number {
    return this.raw.length;
  }

  /**
   * The well-formed entries, after a warning for each malformed one (`where`: method, network,
   * VTEP). Checked one at a time: a single malformed entry would make the whole batch
   * unencodable, losing the good entries of the same message. Entries that are not even a pair
   * of strings are dropped silently.
   */
  good(where: string): FdbEntry[] {
    this.checked ??= checkEntries(this.raw);
    for (const [mac, ip] of this.checked.malformed) LOG.warning(`${where}: ignoring malformed fdb entry [${JSON.stringify(mac)}, ${JSON.stringify(ip)}]`);
    return this.checked.good;
  }
}

/** The l2population view of one network: its remote ports, by the VTEP they are behind. */
export interface FdbNetwork {
  networkId: string;
  networkType: NetworkType | undefined;
  segmentId: number | undefined;
  /** By VTEP IP; a VTEP whose entries are all malformed stays, with no good entry. */
  ports: Map<string, FdbEntries>;
}

/** update_fdb_entries' chg_ip: the IPs a remote port had and has, by network and VTEP. */
export interface FdbIpChange {
  networkId: string;
  vtep: string;
  before: FdbEntries;
  after: FdbEntries;
}

export interface DeviceListResult {
  failedDevicesUp: Set<string>;
  failedDevicesDown: Set<string>;
}

/** The (mac, ip) entry that means "flood this network to that VTEP". */
export const FLOODING_ENTRY: Readonly<FdbEntry> = { mac: '00:00:00:00:00:00', ip: '0.0.0.0' };

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function checkEntries(raw: readonly JsonValue[]): { good: FdbEntry[]; malformed: Array<[string, string]> } {
  const out = { good: [] as FdbEntry[], malformed: [] as Array<[string, string]> };
  for (const e of raw) {
    if (!Array.isArray(e) || typeof e[0] !== 'string' || typeof e[1] !== 'string') continue;
    const mac = e[0].toLowerCase();
    const ip = e[1];
    if (MAC_RE.test(mac) && (isIP(ip) !== 0 || ip === FLOODING_ENTRY.ip)) out.good.push({ mac, ip });
    else out.malformed.push([mac, ip]);
  }
  return out;
}

const entriesOf = (v: JsonValue | undefined): FdbEntries => new FdbEntries(Array.isArray(v) ? v : []);

/** add_fdb_entries / remove_fdb_entries: `{net_id: {network_type, segment_id, ports: {vtep: [[mac, ip]]}}}`. */
export function parseFdbNetworks(fdb: JsonValue, method: string): FdbNetwork[] {
  if (!isJsonObject(fdb)) {
    LOG.warning(`${method}: no fdb_entries object; ignored`);
    return [];
  }
  const out: FdbNetwork[] = [];
  for (const [networkId, v] of Object.entries(fdb)) {
    if (!isJsonObject(v)) continue;
    const ports = new Map<string, FdbEntries>();
    for (const [vtep, entries] of Object.entries(isJsonObject(v['ports']) ? v['ports'] : {})) {
      // A VTEP without an entry list is left out; one with only malformed entries stays.
      if (Array.isArray(entries)) ports.set(vtep, entriesOf(entries));
    }
    out.push({
      networkId,
      networkType: typeof v['network_type'] === 'string' ? parseNetworkType(v['network_type']) : undefined,
      segmentId: typeof v['segment_id'] === 'number' ? v['segment_id'] : undefined,
      ports,
    });
  }
  return out;
}

/** update_fdb_entries: only the chg_ip action exists; others are logged and left out. */
export function parseFdbIpChanges(fdb: JsonValue): FdbIpChange[] {
  if (!isJsonObject(fdb)) return [];
  const out: FdbIpChange[] = [];
  for (const [action, nets] of Object.entries(fdb)) {
    if (action !== 'chg_ip') {
      LOG.warning(`update_fdb_entries: unknown action '${action}'; ignored`);
      continue;
    }
    if (!isJsonObject(nets)) continue;
    for (const [networkId, byVtep] of Object.entries(nets)) {
      if (!isJsonObject(byVtep)) continue;
      for (const [vtep, change] of Object.entries(byVtep)) {
        if (!isJsonObject(change)) continue;
        out.push({ networkId, vtep, before: entriesOf(change['before']), after: entriesOf(change['after']) });
      }
    }
  }
  return out;
}

/** "network <id> (<n> on <vtep>, ...)" for logs. */
export function fdbSummary(networks: FdbNetwork[]): string {
  return networks
    .map((n) => {
      const where = [...n.ports].map(([vtep, e]) => `${e.count} on ${vtep}`);
      return `network ${n.networkId} (${where.join(', ') || 'no ports'})`;
    })
    .join('; ');
}

/** tunnel_sync's answer: the tunnel endpoints the server knows. */
export function parseTunnelSync(res: JsonValue): string[] {
  const tunnels = isJsonObject(res) && Array.isArray(res['tunnels']) ? res['tunnels'] : [];
  return tunnels.flatMap((t) => (isJsonObject(t) && typeof t['ip_address'] === 'string' ? [t['ip_address']] : []));
}

/** update_device_list's answer: the devices the server could not update. */
export function parseDeviceListResult(res: JsonValue): DeviceListResult {
  const o: JsonObject = isJsonObject(res) ? res : {};
  const ids = (v: JsonValue | undefined) => new Set(Array.isArray(v) ? v.map(String) : []);
  return { failedDevicesUp: ids(o['failed_devices_up']), failedDevicesDown: ids(o['failed_devices_down']) };
}

/** The segment of a single-segment network, from a cached Network object; undefined otherwise. */
export function singleSegment(network: JsonObject | undefined): { networkType: NetworkType | undefined; segmentationId: number | undefined } | undefined {
  const segments = network && Array.isArray(network['segments']) ? network['segments'].filter(isJsonObject) : [];
  if (segments.length !== 1) return undefined;
  const s = segments[0]!;
  return {
    networkType: typeof s['network_type'] === 'string' ? parseNetworkType(s['network_type']) : undefined,
    segmentationId: typeof s['segmentation_id'] === 'number' ? s['segmentation_id'] : undefined,
  };
}
