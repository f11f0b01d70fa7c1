// A LocalIPAssociation as the server sends it (neutron.objects.local_ip, version 1.0): the port it
// binds, that port's fixed IP, and the Local IP object with its address. Anything else is refused.
import { isJsonObject, type JsonObject } from '../../util/json.js';

export interface LocalIpAssociation {
  /** `<local_ip_id>_<fixed_port_id>`. */
  id: string;
  localIpId: string;
  fixedPortId: string;
  fixedIp: string;
  localIpAddress: string;
}

/** The association from its cached object, or a reason it cannot be used. */
export function parseAssociation(o: JsonObject): LocalIpAssociation | string {
  const lip = o['local_ip'];
  const fields = { id: o['id'], localIpId: o['local_ip_id'], fixedPortId: o['fixed_port_id'], fixedIp: o['fixed_ip'], localIpAddress: isJsonObject(lip) ? lip['local_ip_address'] : undefined };
  const missing = Object.entries(fields).filter(([, v]) => typeof v !== 'string' || v === '').map(([k]) => k);
  if (missing.length) return `LocalIPAssociation ${String(o['id'])}: no ${missing.join(', ')}`;
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(fields.localIpAddress as string) || !/^\d+\.\d+\.\d+\.\d+$/.test(fields.fixedIp as string)) {
    return `LocalIPAssociation ${String(o['id'])}: only IPv4 Local IPs have flows (local IP ${String(fields.localIpAddress)}, fixed IP ${String(fields.fixedIp)})`;
  }
  return fields as LocalIpAssociation;
}
