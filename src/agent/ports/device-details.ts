// Device details built locally from the cached Port object, as the Zed agent answers
// get_devices_details_list_and_failed_devices from its cache (rpc.md §6.1).
import { isJsonObject, type JsonObject, type JsonValue } from '../../util/json.js';
import { parseNetworkType, type NetworkType } from '../../config/index.js';

export interface FixedIp {
  subnetId: string;
  ipAddress: string;
}

export interface AllowedAddressPair {
  macAddress: string;
  ipAddress: string;
}

export interface BoundDeviceDetails {
  kind: 'bound';
  device: string;
  networkId: string;
  macAddress: string;
  adminStateUp: boolean;
  networkType: NetworkType;
  segmentationId: number | undefined;
  physicalNetwork: string | undefined;
  fixedIps: FixedIp[];
  allowedAddressPairs: AllowedAddressPair[];
  deviceOwner: string;
  portSecurityEnabled: boolean;
  migratingTo: string | undefined;
  /** The port's own QoS policy and its network's, as the Port object carries them. */
  qosPolicyId: string | undefined;
  qosNetworkPolicyId: string | undefined;
}

export type DeviceDetails =
  | BoundDeviceDetails
  /** Unknown to the server, unbound, or binding failed: the port goes to the dead VLAN. */
  | { kind: 'unbound'; device: string }
  /** The ACTIVE binding is on another host (live migration destination not yet active). */
  | { kind: 'no_active_binding'; device: string };

/** The port has no ACTIVE binding at all: a failed device, retried later. */
export class DeviceDetailsError extends Error {
  override name = 'DeviceDetailsError';
}

const str = (v: JsonValue | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
const list = (v: JsonValue | undefined): JsonObject[] => (Array.isArray(v) ? v.filter(isJsonObject) : []);

function parseProfile(v: JsonValue | undefined): JsonObject {
  if (isJsonObject(v)) return v;
  if (typeof v === 'string' && v) {
    try {
      const p: unknown = JSON.parse(v);
      if (isJsonObject(p as JsonValue)) return p as JsonObject;
    } catch {
      return {};
    }
  }
  return {};
}

export function buildDeviceDetails(portId: string, port: JsonObject | undefined, host: string): DeviceDetails {
  if (!port) return { kind: 'unbound', device: portId };
  const levels = list(port['binding_levels']).sort((a, b) => Number(a['level'] ?? 0) - Number(b['level'] ?? 0));
  const last = levels[levels.length - 1];
  const segment = last && isJsonObject(last['segment']) ? last['segment'] : undefined;
  if (!segment) return { kind: 'unbound', device: portId };
  const active = list(port['bindings']).find((b) => b['status'] === 'ACTIVE');
  if (!active) throw new DeviceDetailsError(`port ${portId} has no ACTIVE binding`);
  const profile = parseProfile(active['profile']);
  const migratingTo = str(profile['migrating_to']);
  const owner = str(port['device_owner']) ?? '';
  if (owner.startsWith('compute:') && str(active['host']) !== host && migratingTo === undefined) {
    return { kind: 'no_active_binding', device: portId };
  }
  const security = isJsonObject(port['security']) ? port['security'] : {};
  const seg = segment['segmentation_id'];
  return {
    kind: 'bound',
    device: portId,
    networkId: str(port['network_id']) ?? str(segment['network_id']) ?? '',
    macAddress: (str(port['mac_address']) ?? '').toLowerCase().replace(/-/g, ':'),
    adminStateUp: port['admin_state_up'] !== false,
    networkType: parseNetworkType(str(segment['network_type']) ?? 'local'),
    segmentationId: typeof seg === 'number' ? seg : undefined,
    physicalNetwork: str(segment['physical_network']),
    fixedIps: list(port['fixed_ips']).map((f) => ({ subnetId: str(f['subnet_id']) ?? '', ipAddress: str(f['ip_address']) ?? '' })),
    allowedAddressPairs: list(port['allowed_address_pairs']).map((p) => ({
      macAddress: (str(p['mac_address']) ?? '').toLowerCase(),
      ipAddress: str(p['ip_address']) ?? '',
    })),
    deviceOwner: owner,
    portSecurityEnabled: security['port_security_enabled'] !== false,
    migratingTo,
    qosPolicyId: str(port['qos_policy_id']),
    qosNetworkPolicyId: str(port['qos_network_policy_id']),
  };
}
