// The reference's DHCPExtensionPortInfoAPI.get_port_info: what a reply is made of, read from the
// agent's cache of pushed objects (pulled on a miss): the port (a compute port only), its fixed
// IPs on DHCP-enabled subnets with those subnets' CIDR, gateway, DNS servers and host routes, and
// its network's MTU.
import type { ResourceCache } from '../../agent/server/resource-cache.js';
import type { JsonObject, JsonValue } from '../../util/json.js';
import type { DhcpFixedIp, DhcpPortInfo } from './dhcpv4.js';

const str = (v: JsonValue | undefined): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const objs = (v: JsonValue | undefined): JsonObject[] => (Array.isArray(v) ? v.filter((x): x is JsonObject => typeof x === 'object' && x !== null && !Array.isArray(x)) : []);

function fixedIp(ipAddress: string, subnet: JsonObject): DhcpFixedIp | undefined {
  if (subnet['enable_dhcp'] !== true) return undefined;
  const cidr = str(subnet['cidr']);
  if (!cidr) throw new Error(`subnet ${String(subnet['id'])} has no cidr`);
  return {
    ipAddress,
    ipVersion: subnet['ip_version'] === 6 ? 6 : 4,
    cidr,
    gatewayIp: str(subnet['gateway_ip']),
    dnsNameservers: objs(subnet['dns_nameservers']).map((d) => str(d['address'])).filter((a): a is string => a !== undefined),
    hostRoutes: objs(subnet['host_routes']).flatMap((r) => {
      const destination = str(r['destination']);
      const nexthop = str(r['nexthop']);
      return destination && nexthop ? [{ destination, nexthop }] : [];
    }),
  };
}

/** The port's DHCP data, or undefined when it is unknown or not a compute port (no reply, as the reference). */
export async function dhcpPortInfo(cache: ResourceCache, portId: string): Promise<DhcpPortInfo | undefined> {
  const port = await cache.get('Port', portId);
  if (!port || !String(port['device_owner'] ?? '').startsWith('compute:')) return undefined;
  const fixedIps: DhcpFixedIp[] = [];
  for (const ip of objs(port['fixed_ips'])) {
    const subnetId = str(ip['subnet_id']);
    const address = str(ip['ip_address']);
    if (!subnetId || !address) continue;
    const subnet = await cache.get('Subnet', subnetId);
    if (!subnet) throw new Error(`subnet ${subnetId} of port ${portId} is not known to the server`);
    const f = fixedIp(address, subnet);
    if (f) fixedIps.push(f);
  }
  const networkId = str(port['network_id']);
  const net = networkId ? await cache.get('Network', networkId) : undefined;
  const mtu = typeof net?.['mtu'] === 'number' ? net['mtu'] : 0;
  return { mac: String(port['mac_address'] ?? '').toLowerCase(), fixedIps, mtu };
}
